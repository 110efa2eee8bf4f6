//! Trust-anchor updates on the device (RFC 9397 §5; format in
//! [`teep_proto::trust_anchor_update`]): a manifest for the reserved component
//! `['TEEP-Agent', 'trust-anchors', KIND]` arriving in an Update adds, rotates or removes a
//! TAM or TC-signer trust anchor in the TEE.
//!
//! Rules, each checked before anything changes:
//! * the manifest verifies with an anchor of the same KIND the TEE holds now (a TC-signer key
//!   cannot change the TAM anchors, nor the reverse), its digest and payload check out (the
//!   SUIT processor runs it against a staging store);
//! * its sequence number is higher than the last update of that KIND installed (the same
//!   manifest again is accepted and changes nothing, as a resent Update must be);
//! * the payload is a `trust-anchor-update` with a valid COSE_Key; "remove" names an anchor
//!   the TEE holds and never the last one of its KIND.
//!
//! Then the anchor set changes and the manifest is recorded (so the TC list shows it and the
//! TAM does not send it again); a failure of the second undoes the first. The two are
//! separate sealed writes, so a sealed write-ahead record (the envelope and the anchor that
//! signed it) is kept across them: after a crash between them, the same update sent again
//! verifies with the recorded signer (which a rotation has already removed) and completes,
//! the anchor change being idempotent. A refusal is a
//! [`ManifestFailure`] with a failing SUIT report: the Agent answers Error
//! ERR_MANIFEST_PROCESSING_FAILED, and nothing changed.

use bytes::Bytes;
use teep_agent::agent::{DeviceError, ManifestFailure, ManifestResult};
use teep_cose::PublicKey;
use teep_proto::trust_anchor_update::{AnchorKind, AnchorOp, TrustAnchorUpdate};
use teep_proto::ComponentId;
use teep_suit::report::{ReportReason, ReportResult, SuitRecord};
use teep_suit::{
    ComponentStore, ManifestRecord, PayloadFetcher, Processor, StoreBatch, StoreError, SuitReport,
    TrustAnchors,
};
use teep_tee::{Tee, TrustAnchorKind};

use crate::device::TeeComponentStore;

/// Why a trust-anchor update was refused (the Agent's err-msg).
#[derive(Debug, thiserror::Error)]
pub enum AnchorUpdateError {
    #[error("trust-anchor update ({kind}): sequence {got} is not above the installed {installed}")]
    Rollback {
        kind: &'static str,
        got: u64,
        installed: u64,
    },
    #[error("trust-anchor update ({kind}): signed by no {kind} trust anchor of this device")]
    Untrusted { kind: &'static str },
    #[error("trust-anchor update ({kind}): {source}")]
    Payload {
        kind: &'static str,
        #[source]
        source: teep_proto::trust_anchor_update::TrustAnchorUpdateError,
    },
    #[error("trust-anchor update ({kind}): key: {reason}")]
    Key { kind: &'static str, reason: String },
    #[error("trust-anchor update ({kind}): remove: the key is not a {kind} trust anchor")]
    NotAnAnchor { kind: &'static str },
    #[error(
        "trust-anchor update ({kind}): remove: refusing to remove the last {kind} trust anchor"
    )]
    LastAnchor { kind: &'static str },
    #[error("trust-anchor update ({kind}): {what}")]
    Tee { kind: &'static str, what: String },
}

/// The kind of trust anchor `envelope` updates, when it is a trust-anchor update (its first
/// component is the reserved one); `None` for any other manifest, or one that does not decode
/// (the processor then says why).
pub fn update_kind(envelope: &[u8]) -> Option<AnchorKind> {
    let env = teep_suit::decode_envelope_unverified(
        Bytes::copy_from_slice(envelope),
        &Default::default(),
    )
    .ok()?;
    AnchorKind::of_component(env.component_ids().first()?)
}

fn tee_kind(kind: AnchorKind) -> TrustAnchorKind {
    match kind {
        AnchorKind::Tam => TrustAnchorKind::Tam,
        AnchorKind::TcSigner => TrustAnchorKind::TcSigner,
    }
}

/// What an update does to the anchor set: the key to add and the key to remove.
#[derive(Debug, Default, PartialEq)]
pub struct Change {
    pub add: Option<PublicKey>,
    pub remove: Option<PublicKey>,
}

/// The change `op` with `key` makes to `current`, the manifest having been signed by
/// `signer` (one of `current`); refused when it would leave no anchor or remove one not held.
pub fn plan(
    kind: AnchorKind,
    current: &[PublicKey],
    signer: &PublicKey,
    op: AnchorOp,
    key: PublicKey,
) -> Result<Change, AnchorUpdateError> {
    let kind = kind.name();
    let held = current.contains(&key);
    Ok(match op {
        AnchorOp::Add if held => Change::default(),
        AnchorOp::Add => Change {
            add: Some(key),
            remove: None,
        },
        AnchorOp::Replace if &key == signer => Change::default(),
        AnchorOp::Replace => Change {
            add: (!held).then_some(key),
            remove: Some(signer.clone()),
        },
        AnchorOp::Remove if !held => return Err(AnchorUpdateError::NotAnAnchor { kind }),
        AnchorOp::Remove if current.len() <= 1 => {
            return Err(AnchorUpdateError::LastAnchor { kind })
        }
        AnchorOp::Remove => Change {
            add: None,
            remove: Some(key),
        },
    })
}

/// Reads through to the TEE's store and keeps the batch instead of committing it.
struct Staging<'t> {
    inner: TeeComponentStore<'t>,
    batch: Option<StoreBatch>,
}

impl ComponentStore for Staging<'_> {
    fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, StoreError> {
        self.inner.read_component(id)
    }
    fn manifest(&self, id: &ComponentId) -> Result<Option<ManifestRecord>, StoreError> {
        self.inner.manifest(id)
    }
    fn commit(&mut self, batch: StoreBatch) -> Result<(), StoreError> {
        self.batch = Some(batch);
        Ok(())
    }
}

/// Applies the trust-anchor update `envelope` of `kind` (see the module comment).
pub fn apply(
    tee: &dyn Tee,
    template: &Processor,
    fetcher: &mut dyn PayloadFetcher,
    kind: AnchorKind,
    envelope: &[u8],
    nonce: Option<&[u8]>,
) -> Result<ManifestResult, ManifestFailure> {
    let name = kind.name();
    if let Some(done) = already_applied(tee, envelope, nonce) {
        // The same update again (a resent Update): already applied. Checked first, because
        // a rotation's signer is no anchor any more.
        return Ok(done);
    }
    let anchors = tee
        .trust_anchors(tee_kind(kind))
        .map_err(|e| refused(None, nonce, tee_error(name, e)))?;
    // This very update was interrupted after the anchors changed: it resumes with the anchor
    // that signed it, which a rotation has taken out of the set.
    let resumed = pending(tee).filter(|p| p.envelope == envelope);
    let mut verifying = anchors.clone();
    if let Some(p) = &resumed {
        if !verifying.contains(&p.signer) {
            verifying.push(p.signer.clone());
        }
    }
    let mut processor = template.clone();
    processor.anchors = TrustAnchors::new(verifying.clone());
    let mut staging = Staging {
        inner: TeeComponentStore { tee },
        batch: None,
    };
    let outcome = processor.install(Bytes::copy_from_slice(envelope), &mut staging, fetcher);
    let mut report = outcome.report;
    report.nonce = nonce.map(<[u8]>::to_vec);
    let summary = match outcome.result {
        Ok(s) => s,
        Err(e) => {
            return Err(ManifestFailure {
                error: DeviceError::suit(e),
                report: report.encode(),
            })
        }
    };
    let fail = |e: AnchorUpdateError| refused(Some(report.clone()), nonce, e);
    let installed = tee
        .manifest(&summary.manifest_component_id)
        .map_err(|e| fail(tee_error(name, e)))?;
    if let Some(r) = &installed {
        if r.sequence_number >= summary.sequence_number {
            return Err(fail(AnchorUpdateError::Rollback {
                kind: name,
                got: summary.sequence_number,
                installed: r.sequence_number,
            }));
        }
    }
    let signer = signer_of(envelope, &verifying)
        .ok_or_else(|| fail(AnchorUpdateError::Untrusted { kind: name }))?;
    let batch = staging.batch.take().unwrap_or_default();
    let payload = batch
        .components
        .iter()
        .find(|(id, _)| AnchorKind::of_component(id) == Some(kind))
        .and_then(|(_, c)| c.clone())
        .unwrap_or_default();
    let update = TrustAnchorUpdate::decode(&payload)
        .map_err(|source| fail(AnchorUpdateError::Payload { kind: name, source }))?;
    let key = PublicKey::from_cose_key(&update.cose_key).map_err(|e| {
        fail(AnchorUpdateError::Key {
            kind: name,
            reason: e.to_string(),
        })
    })?;
    let change = match plan(kind, &anchors, &signer, update.op, key) {
        // A removal the interrupted run already made.
        Err(AnchorUpdateError::NotAnAnchor { .. }) if resumed.is_some() => Change::default(),
        planned => planned.map_err(fail)?,
    };
    write_pending(tee, envelope, &signer).map_err(|e| fail(tee_error(name, e)))?;
    if let Err(e) = change_anchors(tee, kind, &change) {
        let _ = tee.agent_delete(PENDING);
        return Err(fail(e));
    }
    let mut store = TeeComponentStore { tee };
    if let Err(e) = store.commit(batch) {
        // Undo the anchor change: the update is applied whole or not at all.
        let undo = Change {
            add: change.remove.clone(),
            remove: change.add.clone(),
        };
        if change_anchors(tee, kind, &undo).is_ok() {
            let _ = tee.agent_delete(PENDING);
        }
        return Err(fail(AnchorUpdateError::Tee {
            kind: name,
            what: format!("recording the manifest: {e}"),
        }));
    }
    // Recorded: a failure to forget the write-ahead record only leaves a stale one, which
    // matches no other envelope and is replaced by the next update.
    let _ = tee.agent_delete(PENDING);
    if resumed.is_some() {
        tracing::info!(kind = name, "interrupted trust-anchor update completed");
    }
    tracing::info!(kind = name, op = update.op.name(), "trust anchors updated");
    Ok(result(&summary, &report))
}

/// The Agent's sealed record naming the trust-anchor update in progress.
const PENDING: &str = "trust-anchor-update.pending";

/// A trust-anchor update whose anchor change may have happened without its manifest record.
struct Pending {
    envelope: Vec<u8>,
    signer: PublicKey,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PendingRecord {
    /// The envelope, hex.
    envelope: String,
    /// The anchor that signed it, COSE_Key in hex.
    signer: String,
}

fn write_pending(
    tee: &dyn Tee,
    envelope: &[u8],
    signer: &PublicKey,
) -> Result<(), teep_tee::TeeError> {
    let record = PendingRecord {
        envelope: hex::encode(envelope),
        signer: hex::encode(signer.to_cose_key()),
    };
    // Serialising two strings cannot fail.
    let bytes = serde_json::to_vec(&record).unwrap_or_default();
    tee.agent_put(PENDING, &bytes)
}

/// The update in progress, if one is recorded; an unreadable record counts as none (it can
/// only name an envelope, and no envelope matches it then).
fn pending(tee: &dyn Tee) -> Option<Pending> {
    let bytes = tee.agent_get(PENDING).ok()??;
    let r: PendingRecord = serde_json::from_slice(&bytes).ok()?;
    Some(Pending {
        envelope: hex::decode(r.envelope).ok()?,
        signer: PublicKey::from_cose_key(&hex::decode(r.signer).ok()?).ok()?,
    })
}

/// The result of `envelope` when the TEE records it as installed already, byte for byte.
fn already_applied(tee: &dyn Tee, envelope: &[u8], nonce: Option<&[u8]>) -> Option<ManifestResult> {
    let env = teep_suit::decode_envelope_unverified(
        Bytes::copy_from_slice(envelope),
        &Default::default(),
    )
    .ok()?;
    let mcid = match env.manifest_component_id() {
        Some(id) => id.clone(),
        None => {
            teep_suit::ManifestBuilder::default_manifest_component_id(env.component_ids().first()?)
        }
    };
    let record = tee.manifest(&mcid).ok()??;
    if record.envelope != envelope {
        return None;
    }
    let mut report = SuitReport::new();
    report.digest = Some(env.digest().clone());
    report.nonce = nonce.map(<[u8]>::to_vec);
    Some(ManifestResult {
        manifest_id: mcid,
        sequence_number: record.sequence_number,
        report: report.encode(),
    })
}

/// Adds, then removes (a rotation never leaves the set empty); a failed removal takes the
/// added key out again.
fn change_anchors(
    tee: &dyn Tee,
    kind: AnchorKind,
    change: &Change,
) -> Result<(), AnchorUpdateError> {
    let name = kind.name();
    let k = tee_kind(kind);
    if let Some(a) = &change.add {
        tee.add_trust_anchor(k, a).map_err(|e| tee_error(name, e))?;
    }
    if let Some(r) = &change.remove {
        if let Err(e) = tee.remove_trust_anchor(k, r) {
            if let Some(a) = &change.add {
                let _ = tee.remove_trust_anchor(k, a);
            }
            return Err(tee_error(name, e));
        }
    }
    Ok(())
}

/// The anchor whose signature verifies the envelope.
fn signer_of(envelope: &[u8], anchors: &[PublicKey]) -> Option<PublicKey> {
    let verified = teep_suit::verify_envelope(
        Bytes::copy_from_slice(envelope),
        &TrustAnchors::new(anchors.to_vec()),
    )
    .ok()?;
    match verified.authenticator {
        teep_suit::Authenticator::Signer { index, .. } => anchors.get(index).cloned(),
        teep_suit::Authenticator::Mac { .. } => None,
    }
}

fn tee_error(kind: &'static str, e: teep_tee::TeeError) -> AnchorUpdateError {
    AnchorUpdateError::Tee {
        kind,
        what: e.to_string(),
    }
}

fn result(summary: &teep_suit::Summary, report: &SuitReport) -> ManifestResult {
    ManifestResult {
        manifest_id: summary.manifest_component_id.clone(),
        sequence_number: summary.sequence_number,
        report: report.encode(),
    }
}

/// A refusal after the processor ran (or before): its report, marked failed with the reason.
fn refused(
    report: Option<SuitReport>,
    nonce: Option<&[u8]>,
    e: AnchorUpdateError,
) -> ManifestFailure {
    let mut report = report.unwrap_or_default();
    report.nonce = nonce.map(<[u8]>::to_vec);
    report.result = ReportResult::Failure {
        code: 0,
        record: SuitRecord::default(),
        reason: match e {
            AnchorUpdateError::Untrusted { .. } => ReportReason::Unauthorised,
            AnchorUpdateError::Tee { .. } => ReportReason::OperationFailed,
            _ => ReportReason::ConditionFailed,
        },
        detail: e.to_string(),
    };
    ManifestFailure {
        error: DeviceError::tee(e),
        report: report.encode(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(seed: u8) -> PublicKey {
        teep_cose::PrivateKey::from_p256_scalar(&[seed; 32])
            .unwrap()
            .public_key()
    }

    /// RFC 9397 §5 update rules, without a TEE: add is idempotent, replace swaps the signer
    /// for the key, remove never takes the last anchor nor one not held.
    #[test]
    fn plan_follows_add_replace_remove() {
        let t = AnchorKind::Tam;
        let (a, b) = (k(1), k(2));
        let one = std::slice::from_ref(&a);
        assert_eq!(
            plan(t, one, &a, AnchorOp::Add, b.clone()).unwrap(),
            Change {
                add: Some(b.clone()),
                remove: None
            }
        );
        assert_eq!(
            plan(t, one, &a, AnchorOp::Add, a.clone()).unwrap(),
            Change::default()
        );
        assert_eq!(
            plan(t, one, &a, AnchorOp::Replace, b.clone()).unwrap(),
            Change {
                add: Some(b.clone()),
                remove: Some(a.clone())
            }
        );
        assert_eq!(
            plan(t, one, &a, AnchorOp::Replace, a.clone()).unwrap(),
            Change::default()
        );
        assert!(matches!(
            plan(t, one, &a, AnchorOp::Remove, a.clone()),
            Err(AnchorUpdateError::LastAnchor { kind: "tam" })
        ));
        assert!(matches!(
            plan(t, one, &a, AnchorOp::Remove, b.clone()),
            Err(AnchorUpdateError::NotAnAnchor { .. })
        ));
        assert_eq!(
            plan(t, &[a.clone(), b.clone()], &a, AnchorOp::Remove, a.clone()).unwrap(),
            Change {
                add: None,
                remove: Some(a)
            }
        );
    }
}
