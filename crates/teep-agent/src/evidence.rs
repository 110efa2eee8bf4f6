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

/// CoAP content format of each `manifests` entry's body (RFC 9711 §4.2.15): 60,
/// `application/cbor`, as the TEEP draft's example uses until a content format for
/// SUIT_Reference is allocated.
pub const MANIFEST_CONTENT_FORMAT: u16 = 60;

/// One `manifests` entry (RFC 9711 §4.2.15): `[content-format, bstr .cbor body]`. The body
/// names the manifest, `[uri, sequence-number or version]`: the device interface gives the
/// Agent no manifest digest, so it cannot form a SUIT_Reference (whose digest is required).
fn manifest_entry(uri: String, version: Value) -> ManifestEntry {
    let mut body = Vec::new();
    // Encoding a Value of text and an integer into a Vec cannot fail.
    let _ = ciborium::into_writer(&Value::Array(vec![Value::Text(uri), version]), &mut body);
    ManifestEntry {
        content_type: Value::Integer(MANIFEST_CONTENT_FORMAT.into()),
        format: Value::Bytes(body),
    }
}

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
    let tee_entry = manifest_entry(
        format!("urn:teep:tee:{}", String::from_utf8_lossy(&claims.hwmodel)),
        Value::Text(claims.hwversion.clone()),
    );
    let manifests = core::iter::once(tee_entry)
        .chain(claims.manifests.iter().map(|(id, seq)| {
            manifest_entry(
                format!("urn:teep:manifest:{}", TcId(id.clone())),
                Value::Integer((*seq).into()),
            )
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

#[cfg(test)]
mod tests {
    use super::*;
    use teep_cose::{PrivateKey, SoftwareSigner};

    fn signer(seed: u8) -> SoftwareSigner {
        SoftwareSigner::new(PrivateKey::from_p256_scalar(&[seed; 32]).unwrap())
    }

    fn sample() -> (EvidenceClaims, SoftwareSigner) {
        let teep = signer(3);
        let claims = EvidenceClaims {
            nonce: Some(vec![5; 16]),
            ueid: vec![1; 17],
            oemid: vec![0, 0x1b, 0x63],
            hwmodel: b"model".to_vec(),
            hwversion: "1.2".into(),
            manifests: vec![(
                ComponentId::from(vec![b"TEEP-Device".to_vec(), b"hello".to_vec()]),
                4,
            )],
            teep_key: Signer::public_key(&teep),
        };
        (claims, signer(9))
    }

    /// RFC 9711 §4.2.15: each `manifests` entry is `[content-format uint, bstr-wrapped body]`,
    /// the TEE's own first, then one per installed manifest.
    #[test]
    fn rfc_9711_manifests_are_content_format_and_bstr_wrapped_body() {
        let (c, attestation) = sample();
        let bytes = sign_evidence(&c, &attestation, &[]).unwrap();
        let eat = EatClaims::verify(&bytes, &Signer::public_key(&attestation)).unwrap();
        let m = eat.manifests.unwrap();
        assert_eq!(m.len(), 2);
        for e in &m {
            assert_eq!(
                e.content_type,
                Value::Integer(MANIFEST_CONTENT_FORMAT.into())
            );
            let Value::Bytes(body) = &e.format else {
                panic!("body not bstr-wrapped: {e:?}");
            };
            let v: Value = ciborium::from_reader(body.as_slice()).unwrap();
            assert!(matches!(v, Value::Array(ref a) if a.len() == 2), "{v:?}");
        }
    }

    /// TEEP-26 §5 / RFC 8747 §3.2: `cnf` carries the TEEP key itself (COSE_Key, label 1), so a
    /// TAM that does not know the device yet can learn it; the kid form could not enroll it.
    #[test]
    fn teep_26_5_cnf_is_the_teep_key_as_cose_key() {
        let (c, attestation) = sample();
        let bytes = sign_evidence(&c, &attestation, &[]).unwrap();
        let eat = EatClaims::verify(&bytes, &Signer::public_key(&attestation)).unwrap();
        assert_eq!(eat.cnf, Some(Confirmation::Key(c.teep_key.clone())));
        assert_eq!(eat.eat_nonce, c.nonce);
    }

    /// TEEP-26 §4.3 / RFC 9782: Evidence is labelled `application/eat+cwt` without the
    /// `eat_profile` parameter, which would make it the TEEP Attestation Result type.
    #[test]
    fn teep_26_4_3_evidence_label_has_no_eat_profile_parameter() {
        assert_eq!(crate::agent::EAT_MEDIA_TYPE, "application/eat+cwt");
        assert!(crate::agent::TEEP_RESULT_MEDIA_TYPE
            .ends_with(&format!("eat_profile={}", teep_cose::eat::TEEP_EAT_PROFILE)));
    }
}
