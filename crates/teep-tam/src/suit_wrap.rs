//! Wraps a raw TA binary into a signed SUIT envelope with an integrated payload (TEEP
//! Appendix E, example 2 layout) for `tc add --ta`. Only this one fixed template is needed, so
//! it is built directly with ciborium; maps are written in deterministic key order.

use ciborium::Value;
use teep_cose::Signer;

/// Vendor namespace of TAs wrapped by this TAM: UUIDv5(DNS, "teep.tam.local").
fn vendor_id() -> uuid::Uuid {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, b"teep.tam.local")
}

/// Identifiers of a wrapped TA.
pub struct TaIds {
    pub vendor_id: [u8; 16],
    pub class_id: [u8; 16],
    pub component_id: Vec<Vec<u8>>,
    pub manifest_component_id: Vec<Vec<u8>>,
}

/// `['TEEP-Device', 'SecureFS', class-id, 'ta']` with class-id = UUIDv5(vendor-id, name).
pub fn ta_ids(name: &str) -> TaIds {
    let vendor = vendor_id();
    let class = uuid::Uuid::new_v5(&vendor, name.as_bytes());
    let base = vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        class.as_bytes().to_vec(),
    ];
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

fn enc(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(v, &mut out);
    out
}

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

fn cid_value(c: &[Vec<u8>]) -> Value {
    Value::Array(c.iter().map(|p| Value::Bytes(p.clone())).collect())
}

/// SUIT_Digest `[-16 (SHA-256), digest]`, encoded.
fn suit_digest(data: &[u8]) -> Vec<u8> {
    enc(&Value::Array(vec![
        int(-16),
        Value::Bytes(teep_cose::sha256(data).to_vec()),
    ]))
}

pub fn wrap_ta(
    ids: &TaIds,
    binary: &[u8],
    sequence: u64,
    signer: &dyn Signer,
) -> Result<Vec<u8>, teep_cose::CoseError> {
    const REPORT: i64 = 15;
    let shared = Value::Array(vec![
        int(20),
        Value::Map(vec![
            (int(1), Value::Bytes(ids.vendor_id.to_vec())),
            (int(2), Value::Bytes(ids.class_id.to_vec())),
            (int(3), Value::Bytes(suit_digest(binary))),
            (int(14), Value::Integer((binary.len() as u64).into())),
        ]),
        int(1),
        int(REPORT),
        int(2),
        int(REPORT),
    ]);
    let common = Value::Map(vec![
        (int(2), Value::Array(vec![cid_value(&ids.component_id)])),
        (int(4), Value::Bytes(enc(&shared))),
    ]);
    let validate = Value::Array(vec![int(3), int(REPORT)]);
    let install = Value::Array(vec![
        int(20),
        Value::Map(vec![(int(21), Value::Text("#tc".into()))]),
        int(21),
        int(REPORT),
        int(3),
        int(REPORT),
    ]);
    let uninstall = Value::Array(vec![int(33), int(REPORT)]);
    let manifest = Value::Map(vec![
        (int(1), int(1)),
        (int(2), Value::Integer(sequence.into())),
        (int(3), Value::Bytes(enc(&common))),
        (int(5), cid_value(&ids.manifest_component_id)),
        (int(7), Value::Bytes(enc(&validate))),
        (int(20), Value::Bytes(enc(&install))),
        (int(24), Value::Bytes(enc(&uninstall))),
    ]);
    // The digest covers the manifest as it appears at key 3, bstr header included.
    let manifest_bstr = enc(&Value::Bytes(enc(&manifest)));
    let digest = suit_digest(&manifest_bstr);
    let signature = teep_cose::sign1_detached(&digest, signer)?;
    let auth = Value::Array(vec![Value::Bytes(digest), Value::Bytes(signature)]);
    let envelope = Value::Map(vec![
        (int(2), Value::Bytes(enc(&auth))),
        (int(3), Value::Bytes(enc(&manifest))),
        (Value::Text("#tc".into()), Value::Bytes(binary.to_vec())),
    ]);
    Ok(enc(&envelope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_ta_reads_back_with_its_ids_and_sequence() {
        let signer = teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(
            teep_cose::KeyType::P256,
        ));
        let ids = ta_ids("hello");
        let env = wrap_ta(&ids, b"Hello, Secure World!", 3, &signer).unwrap();
        let info = crate::catalog::envelope_info(&env).unwrap();
        assert_eq!(info.component_id, ids.component_id);
        assert_eq!(info.manifest_component_id, Some(ids.manifest_component_id));
        assert_eq!(info.sequence, 3);
        assert_eq!(info.signer_kid, Some(signer.kid()));
        assert_eq!(
            info.image_digest,
            Some(suit_digest(b"Hello, Secure World!"))
        );
    }
}
