//! Wraps a raw TA binary into a signed SUIT envelope with an integrated payload (TEEP
//! Appendix E, example 2 layout) for `tc add --ta`, with teep-suit's [`ManifestBuilder`].

use teep_cbor::TAM_TC_NAMESPACE_DNS;
use teep_cose::Signer;
pub use teep_suit::BuildError;
use teep_suit::{ComponentId, ManifestBuilder};

/// Vendor namespace of TAs wrapped by this TAM: UUIDv5(DNS, [`TAM_TC_NAMESPACE_DNS`]), the
/// one agents derive a bare TC name under.
fn vendor_id() -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, TAM_TC_NAMESPACE_DNS.as_bytes())
}

/// Identifiers of a wrapped TA.
pub struct TaIds {
    pub vendor_id: [u8; 16],
    pub class_id: [u8; 16],
    pub component_id: ComponentId,
    pub manifest_component_id: ComponentId,
}

/// `['TEEP-Device', 'SecureFS', class-id, 'ta']` with class-id = UUIDv5(vendor-id, name).
pub fn ta_ids(name: &str) -> TaIds {
    let vendor = vendor_id();
    let class = uuid::Uuid::new_v5(&vendor, name.as_bytes());
    let base = ComponentId::new(vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        class.as_bytes().to_vec(),
    ]);
    let mut component_id = base.clone();
    component_id.push(b"ta".to_vec());
    let mut manifest_component_id = base;
    manifest_component_id.push(b"suit".to_vec());
    TaIds {
        vendor_id: *vendor.as_bytes(),
        class_id: *class.as_bytes(),
        component_id,
        manifest_component_id,
    }
}

/// Builds the TEEP Appendix E (example 2) envelope for a TA: integrated payload `#tc`,
/// vendor/class checks, image digest and size, install = fetch + image-match, uninstall =
/// unlink, manifest component id `[..., 'suit']`; untagged, signed by `signer` (COSE_Sign1).
pub fn wrap_ta(
    ids: &TaIds,
    binary: &[u8],
    sequence: u64,
    signer: &dyn Signer,
) -> Result<Vec<u8>, BuildError> {
    let builder = ManifestBuilder::new(ids.component_id.clone(), binary.to_vec())
        .vendor_id(ids.vendor_id.to_vec())
        .class_id(ids.class_id.to_vec())
        .sequence_number(sequence)
        .integrated()
        .manifest_component_id(ids.manifest_component_id.clone());
    // Randomness is only used when encrypting the payload, which a wrapped TA never is.
    let (envelope, _) = builder.build(signer, &[0u8; 64])?;
    Ok(envelope)
}

/// Builds the TEEP Appendix E (example 1) envelope for a TA fetched from `uri`: the same
/// manifest as [`wrap_ta`] but with `suit-parameter-uri` naming where the device fetches the
/// payload, and no integrated payload; the image digest and size bind what it gets.
pub fn wrap_ta_by_uri(
    ids: &TaIds,
    binary: &[u8],
    sequence: u64,
    uri: &str,
    signer: &dyn Signer,
) -> Result<Vec<u8>, BuildError> {
    let builder = ManifestBuilder::new(ids.component_id.clone(), binary.to_vec())
        .vendor_id(ids.vendor_id.to_vec())
        .class_id(ids.class_id.to_vec())
        .sequence_number(sequence)
        .uri(uri)
        .manifest_component_id(ids.manifest_component_id.clone());
    let (envelope, _) = builder.build(signer, &[0u8; 64])?;
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{verify, TcSignerAnchors};

    fn signer() -> teep_cose::SoftwareSigner {
        teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(teep_cose::KeyType::P256))
    }

    #[test]
    fn wrapped_ta_verifies_and_reads_back_with_its_ids_and_sequence() {
        let signer = signer();
        let ids = ta_ids("hello");
        let env = wrap_ta(&ids, b"Hello, Secure World!", 3, &signer).unwrap();
        let anchors = TcSignerAnchors::new(vec![signer.public_key()]);
        let info = verify(&env, &anchors).unwrap();
        assert_eq!(info.component_id, ids.component_id);
        assert_eq!(info.manifest_component_id, Some(ids.manifest_component_id));
        assert_eq!(info.sequence, 3);
        assert_eq!(info.signer_kid, Some(signer.kid()));
        assert_eq!(
            info.image_digest,
            Some(teep_suit::codec::encode_digest(&teep_suit::Digest::sha256(
                b"Hello, Secure World!"
            )))
        );
        assert_eq!(info.untagged, env);
        // teep-suit sees the payload and the vendor/class the device checks.
        let v = teep_suit::verify_envelope(
            env,
            &teep_suit::TrustAnchors::new(vec![signer.public_key()]),
        )
        .unwrap();
        assert_eq!(
            v.integrated("#tc").map(|b| b.as_ref()),
            Some(&b"Hello, Secure World!"[..])
        );
        assert!(matches!(
            v.manifest.shared_parameter(2),
            Some(teep_suit::Parameter::ClassId(c)) if c.as_ref() == ids.class_id
        ));
    }

    #[test]
    fn wrapped_ta_is_refused_under_another_signer() {
        let env = wrap_ta(&ta_ids("x"), b"x", 1, &signer()).unwrap();
        let other = TcSignerAnchors::new(vec![signer().public_key()]);
        assert!(verify(&env, &other).is_err());
    }

    #[test]
    fn name_to_uuid_rule_is_the_one_devices_use() {
        // Fixed: the agent's TC-ID parser derives the same UUID from a bare name; changing the
        // rule would orphan TAs already installed.
        let ids = ta_ids("hello");
        assert_eq!(
            uuid::Uuid::from_bytes(ids.vendor_id),
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"teep.tam.local")
        );
        assert_eq!(hex::encode(ids.class_id), HELLO_CLASS);
        assert_eq!(ids.component_id[2], ids.class_id);
        assert_eq!(ids.component_id[3], b"ta");
        assert_eq!(ids.manifest_component_id[3], b"suit");
    }

    /// Each command of a sequence: its code and the labels of the parameters it sets.
    type Sequence = Vec<(i64, Vec<i64>)>;

    /// The command codes and parameter labels of each sequence of a manifest.
    fn shape(env: &[u8]) -> Vec<(&'static str, Sequence)> {
        let e = teep_suit::decode_envelope_unverified(env.to_vec(), &Default::default()).unwrap();
        let m = &e.manifest;
        let seq = |s: Option<&teep_suit::CommandSequence>| {
            s.map(|s| {
                s.commands
                    .iter()
                    .map(|c| {
                        let labels = match &c.arg {
                            teep_suit::CommandArg::Parameters(ps) => {
                                ps.iter().map(|p| p.label()).collect()
                            }
                            _ => vec![],
                        };
                        (c.code.to_cbor(), labels)
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        vec![
            ("shared", seq(m.common.shared_sequence.as_ref())),
            ("install", seq(m.install.as_ref().and_then(|s| s.get()))),
            ("uninstall", seq(m.uninstall.as_ref())),
        ]
    }

    /// draft-ietf-teep-protocol-26 Appendix E Example 1 (`suit_uri`): a by-URI wrap has the
    /// example's shape, command for command and parameter for parameter (the example's URI
    /// names example.org, so devices are tested against this equivalent instead).
    #[test]
    fn by_uri_wrap_has_the_shape_of_appendix_e_example_1() {
        let spec = std::fs::read(format!(
            "{}/../../../shared/spec/teep-protocol/common/derived/suit_uri.cbor",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let uri = "https://tam.example.org/tam/payloads/00";
        let ours =
            wrap_ta_by_uri(&ta_ids("hello"), b"Hello, Secure World!", 1, uri, &signer()).unwrap();
        assert_eq!(shape(&ours), shape(&spec));
        let v = teep_suit::decode_envelope_unverified(ours, &Default::default()).unwrap();
        assert!(v.integrated("#tc").is_none(), "no integrated payload");
    }

    const HELLO_CLASS: &str = "7ac04443ef3a51c9bef7b380b76c5e6d";
}
