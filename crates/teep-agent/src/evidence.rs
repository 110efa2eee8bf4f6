//! The Agent's Evidence (draft-ietf-teep-protocol-26 §5): an EAT with the claims the TEEP
//! profile requires, signed as COSE_Sign1 by the device attestation key.

use alloc::{format, string::String, vec, vec::Vec};
use ciborium::value::Value;
use teep_cose::eat::{
    Confirmation, EatClaims, EatProfile, HwVersion, ManifestEntry, OemId, VersionString,
};
use teep_cose::{PublicKey, Signer};
use teep_proto::ComponentId;

use crate::tc_id::TcId;

/// Content type written in each `manifests` entry: the installed manifest is named, not copied.
pub const MANIFEST_REFERENCE_TYPE: &str = "application/suit-report+cose";

/// Inputs of one Evidence.
#[derive(Debug, Clone)]
pub struct EvidenceClaims {
    /// The QueryRequest challenge (or token in the passport model) → `eat_nonce`; `None` leaves
    /// the claim out rather than signing an empty nonce, which RFC 9711 forbids.
    pub nonce: Option<Vec<u8>>,
    pub ueid: Vec<u8>,
    pub oemid: Vec<u8>,
    pub hwmodel: Vec<u8>,
    pub hwversion: String,
    /// Installed manifests (manifest component id, sequence number) → `manifests`.
    pub manifests: Vec<(ComponentId, u64)>,
    /// The Agent's TEEP public key → `cnf` as a COSE_Key, so a TAM in open enrollment can learn it.
    pub teep_key: PublicKey,
}

/// Why no Evidence could be produced.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("signing Evidence: {0}")]
    Sign(teep_cose::CoseError),
}

/// Builds and signs the EAT; a non-empty `x5chain` (the certificates endorsing `signer`'s
/// key, leaf first) goes into the protected header (RFC 9360 §2).
pub fn sign_evidence(
    claims: &EvidenceClaims,
    signer: &dyn Signer,
    x5chain: &[Vec<u8>],
) -> Result<Vec<u8>, EvidenceError> {
    // First entry: the TEE's own firmware (TEEP maps "TEE firmware type and version" to
    // `manifests`), so the claim is present even before any TC is installed.
    let tee_entry = ManifestEntry {
        content_type: Value::Text(MANIFEST_REFERENCE_TYPE.into()),
        format: Value::Array(vec![
            Value::Text(format!(
                "urn:teep:tee:{}",
                String::from_utf8_lossy(&claims.hwmodel)
            )),
            Value::Text(claims.hwversion.clone()),
        ]),
    };
    let manifests = core::iter::once(tee_entry)
        .chain(claims.manifests.iter().map(|(id, seq)| ManifestEntry {
            content_type: Value::Text(MANIFEST_REFERENCE_TYPE.into()),
            format: Value::Array(vec![
                Value::Text(format!("urn:teep:manifest:{}", TcId(id.clone()))),
                Value::Integer((*seq).into()),
            ]),
        }))
        .collect::<Vec<_>>();
    let eat = EatClaims {
        eat_nonce: claims.nonce.clone(),
        ueid: Some(claims.ueid.clone()),
        oemid: Some(OemId::Bytes(claims.oemid.clone())),
        hwmodel: Some(claims.hwmodel.clone()),
        hwversion: Some(HwVersion {
            version: VersionString::Text(claims.hwversion.clone()),
            scheme: None,
        }),
        eat_profile: Some(EatProfile::Uri(teep_cose::eat::TEEP_EAT_PROFILE.into())),
        manifests: if manifests.is_empty() {
            None
        } else {
            Some(manifests)
        },
        cnf: Some(Confirmation::Key(claims.teep_key.clone())),
        ..Default::default()
    };
    eat.sign_with_x5chain(signer, x5chain)
        .map_err(EvidenceError::Sign)
}
