//! Trust-anchor updates made by the TAM (RFC 9397 §5; format in
//! [`teep_proto::trust_anchor_update`]): a manifest that adds, rotates or removes a TAM or
//! TC-signer trust anchor on devices, signed by an anchor of that kind the devices hold,
//! added to the catalog and delivered like any Trusted Component (assign it; `teep tam
//! trust-anchor`).
//!
//! Each update of a kind gets the next sequence number of its reserved component, so a device
//! applies them in order and refuses an older one. Whoever holds the signing key decides what
//! devices trust: a TAM anchor's private key (the TAM's TEEP key) can rotate the TAM anchors,
//! a TC-signer key the TC-signer anchors.

use teep_cose::{PublicKey, Signer};
use teep_proto::trust_anchor_update::{AnchorKind, AnchorOp, TrustAnchorUpdate};

use crate::catalog::TcSignerAnchors;
use crate::model::TcRecord;
use crate::ops::{add_envelope, OpsError, Result};
use crate::Store;

/// The signed envelope of one update: `op` with `key`, sequence number `sequence`.
pub fn build_manifest(
    kind: AnchorKind,
    op: AnchorOp,
    key: &PublicKey,
    sequence: u64,
    signer: &dyn Signer,
) -> Result<Vec<u8>> {
    let payload = TrustAnchorUpdate {
        op,
        cose_key: key.to_cose_key(),
    }
    .encode();
    // The randomness only serves payload encryption, which an anchor update does not use.
    let (envelope, _) = teep_suit::ManifestBuilder::new(kind.component_id(), payload)
        .sequence_number(sequence)
        .integrated()
        .build(signer, &[0u8; 64])
        .map_err(|e| OpsError::Invalid(format!("building the trust-anchor update: {e}")))?;
    Ok(envelope)
}

/// The name an update of `kind` has in the catalog.
pub fn catalog_name(kind: AnchorKind) -> String {
    format!("trust-anchors-{}", kind.name())
}

/// Builds the next update of `kind` (sequence = the catalog's highest for it + 1) and adds it
/// to the catalog; assign it to deliver it.
pub async fn add(
    store: &Store,
    kind: AnchorKind,
    op: AnchorOp,
    key: &PublicKey,
    signer: &dyn Signer,
    now: i64,
) -> Result<TcRecord> {
    let cid = kind.component_id().encode();
    let next = store
        .list_tcs()
        .await?
        .iter()
        .filter(|t| t.component_id == cid)
        .map(|t| t.sequence + 1)
        .max()
        .unwrap_or(1);
    let envelope = build_manifest(kind, op, key, next, signer)?;
    // The catalog's signature check, with the signer as the anchor: the device checks it
    // against its own anchors of `kind`.
    let anchors = TcSignerAnchors::new(vec![signer.public_key()]);
    add_envelope(store, &anchors, Some(&catalog_name(kind)), &envelope, now).await
}
