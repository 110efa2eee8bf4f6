//! The Agent's Evidence (draft-ietf-teep-protocol-26 §5): an EAT with the claims the TEEP
//! profile requires, signed as COSE_Sign1 by the device attestation key.

use alloc::{format, string::String, vec, vec::Vec};
use ciborium::value::Value;
use teep_cbor::SuitReference;
use teep_cose::eat::{
    Confirmation, EatClaims, EatProfile, HwVersion, ManifestEntry, OemId, VersionString,
};
use teep_cose::{PublicKey, Signer};

use crate::agent::InstalledManifest;
use crate::tc_id::TcId;

/// CoAP content format of each `manifests` entry's body (RFC 9711 §4.2.15): 60,
/// `application/cbor`, as the TEEP draft's example uses until a content format for
/// SUIT_Reference is allocated.
pub const MANIFEST_CONTENT_FORMAT: u16 = 60;

/// One `manifests` entry (RFC 9711 §4.2.15): `[content-format, bstr .cbor body]`.
fn manifest_entry(body: Vec<u8>) -> ManifestEntry {
    ManifestEntry {
        content_type: Value::Integer(MANIFEST_CONTENT_FORMAT.into()),
        format: Value::Bytes(body),
    }
}

/// A body that names something without a digest: `[uri, version]`. Used for the TEE's own
/// firmware (the software TEE is not installed by a SUIT manifest, so there is no manifest
/// digest to reference) and for a manifest whose device cannot give its digest.
fn named_body(uri: String, version: Value) -> Vec<u8> {
    let mut body = Vec::new();
    // Encoding a Value of text and an integer or text into a Vec cannot fail.
    let _ = ciborium::into_writer(&Value::Array(vec![Value::Text(uri), version]), &mut body);
    body
}

/// The body of an installed manifest's entry: its SUIT_Reference (TEEP-26 §5;
/// draft-ietf-suit-report: `[uri, SUIT_Digest]`, the digest its authentication wrapper signs)
/// when the device gave the digest, the URI being the manifest's `suit-reference-uri` or
/// else `urn:teep:manifest:<tc-id>`. Without a digest a SUIT_Reference cannot be formed, so
/// the entry keeps naming the manifest as `[uri, sequence-number]`.
fn installed_manifest_body(m: &InstalledManifest) -> Vec<u8> {
    let uri = match &m.reference_uri {
        Some(u) => u.clone(),
        None => format!("urn:teep:manifest:{}", TcId(m.component_id.clone())),
    };
    match &m.digest {
        Some(digest) => SuitReference {
            uri,
            digest: digest.clone(),
        }
        .encode(),
        None => named_body(uri, Value::Integer(m.sequence_number.into())),
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
    /// Installed manifests → `manifests`, one SUIT_Reference each.
    pub manifests: Vec<InstalledManifest>,
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
    let tee_entry = manifest_entry(named_body(
        format!("urn:teep:tee:{}", String::from_utf8_lossy(&claims.hwmodel)),
        Value::Text(claims.hwversion.clone()),
    ));
    let manifests = core::iter::once(tee_entry)
        .chain(
            claims
                .manifests
                .iter()
                .map(|m| manifest_entry(installed_manifest_body(m))),
        )
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
    use teep_cbor::SuitDigest;
    use teep_cose::{PrivateKey, SoftwareSigner};
    use teep_proto::ComponentId;

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
            manifests: vec![InstalledManifest {
                component_id: ComponentId::from(vec![b"TEEP-Device".to_vec(), b"hello".to_vec()]),
                sequence_number: 4,
                digest: Some(SuitDigest {
                    algorithm: -16,
                    bytes: vec![0xab; 32],
                }),
                reference_uri: None,
            }],
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

    fn bodies(c: &EvidenceClaims) -> Vec<Vec<u8>> {
        let attestation = signer(9);
        let bytes = sign_evidence(c, &attestation, &[]).unwrap();
        let eat = EatClaims::verify(&bytes, &Signer::public_key(&attestation)).unwrap();
        eat.manifests
            .unwrap()
            .into_iter()
            .map(|e| match e.format {
                Value::Bytes(b) => b,
                other => panic!("body not bstr-wrapped: {other:?}"),
            })
            .collect()
    }

    /// TEEP-26 §5 (manifests carries a SUIT_Reference) and draft-ietf-suit-report
    /// (`SUIT_Reference = [uri: tstr, digest: SUIT_Digest]`, `SUIT_Digest = [alg int, bstr]`):
    /// an installed manifest's body is exactly that array, byte for byte, with the
    /// `urn:teep:manifest:` URI when the manifest has no suit-reference-uri.
    #[test]
    fn teep_26_5_installed_manifest_body_is_exactly_a_suit_reference() {
        let (c, _) = sample();
        let body = &bodies(&c)[1];
        let uri = format!(
            "urn:teep:manifest:{}",
            TcId(c.manifests[0].component_id.clone())
        );
        // array(2), then the URI as text (one-byte length: 0x78 len).
        assert!((24..256).contains(&uri.len()), "{uri}");
        let mut want = vec![0x82, 0x78, uri.len() as u8];
        want.extend_from_slice(uri.as_bytes());
        want.extend_from_slice(&[0x82, 0x2f, 0x58, 32]);
        want.extend_from_slice(&[0xab; 32]);
        assert_eq!(body, &want);
    }

    /// draft-ietf-suit-report's CDDL for SUIT_Reference (verbatim) and suit-manifest's
    /// SUIT_Digest with its hash algorithms (extension socket left out).
    const SUIT_REFERENCE_CDDL: &str = r#"
SUIT_Reference = [
    suit-report-manifest-uri : tstr,
    suit-report-manifest-digest : SUIT_Digest
]
SUIT_Digest = [
  suit-digest-algorithm-id : suit-cose-hash-algs,
  suit-digest-bytes : bstr,
]
suit-cose-hash-algs = -16 / -18 / -43 / -44 / -45
"#;

    /// draft-ietf-suit-report SUIT_Reference, checked by a CDDL validator on the bytes sent,
    /// with and without a suit-reference-uri; the TEE's own entry (no manifest) and the
    /// draft example's map form are not SUIT_References and the validator says so.
    #[test]
    fn suit_report_reference_body_validates_against_the_cddl() {
        let (mut c, _) = sample();
        let valid = |b: &[u8]| cddl::validate_cbor_from_slice(SUIT_REFERENCE_CDDL, b, None);
        for uri in [None, Some("https://tam.example/hello.suit".to_string())] {
            c.manifests[0].reference_uri = uri;
            let b = bodies(&c);
            assert!(valid(&b[1]).is_ok(), "{:?}", valid(&b[1]));
            assert!(valid(&b[0]).is_err(), "the TEE entry is no SUIT_Reference");
        }
        let mut map = Vec::new();
        ciborium::into_writer(
            &Value::Map(vec![
                (Value::Integer(1.into()), Value::Text("u".into())),
                (
                    Value::Integer(0.into()),
                    Value::Array(vec![
                        Value::Integer((-16).into()),
                        Value::Bytes(vec![1; 32]),
                    ]),
                ),
            ]),
            &mut map,
        )
        .unwrap();
        assert!(valid(&map).is_err());
    }

    /// The manifest's own suit-reference-uri (suit-manifest §8.4.3) is the reference's URI
    /// when present (DIGEST §8.6: the reference URI equals the manifest's reference-uri).
    #[test]
    fn teep_26_5_reference_uri_is_the_manifests_own() {
        let (mut c, _) = sample();
        c.manifests[0].reference_uri = Some("https://tam.example/hello.suit".into());
        let v: Value = ciborium::from_reader(bodies(&c)[1].as_slice()).unwrap();
        let Value::Array(a) = v else { panic!() };
        assert_eq!(a[0], Value::Text("https://tam.example/hello.suit".into()));
        assert_eq!(
            a[1],
            Value::Array(vec![
                Value::Integer((-16).into()),
                Value::Bytes(vec![0xab; 32])
            ])
        );
    }

    /// A device that cannot give the digest: no SUIT_Reference can be formed, the entry names
    /// the manifest and its sequence number as before. The TEE's own entry has no SUIT
    /// manifest behind it and stays `[urn:teep:tee:<model>, hwversion]`.
    #[test]
    fn rfc_9711_manifests_without_digest_keep_the_named_body() {
        let (mut c, _) = sample();
        c.manifests[0].digest = None;
        let b = bodies(&c);
        let tee: Value = ciborium::from_reader(b[0].as_slice()).unwrap();
        assert_eq!(
            tee,
            Value::Array(vec![
                Value::Text("urn:teep:tee:model".into()),
                Value::Text("1.2".into())
            ])
        );
        let tc: Value = ciborium::from_reader(b[1].as_slice()).unwrap();
        let Value::Array(a) = tc else { panic!() };
        assert_eq!(a[1], Value::Integer(4.into()));
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
