//! Catalog entries from SUIT envelopes. The TAM delivers an envelope exactly as its TC Signer
//! signed it, so it only reads metadata: component id, manifest component id, sequence number,
//! image digest and signer kid. This reader is deliberately shallow (ciborium over the few
//! members it needs) and bounded; full SUIT processing is the agent's job.

use ciborium::Value;

use crate::model::{encode_component_id, NewTc};

/// Largest envelope accepted into the catalog.
pub const MAX_ENVELOPE: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("SUIT_Envelope: {0}")]
    Envelope(String),
    #[error("SUIT_Envelope.suit-manifest: {0}")]
    Manifest(String),
    #[error("SUIT_Envelope.suit-authentication-wrapper: {0}")]
    Auth(String),
}

fn int_key(k: &Value) -> Option<i64> {
    k.as_integer().and_then(|i| i64::try_from(i).ok())
}

fn get(m: &[(Value, Value)], key: i64) -> Option<&Value> {
    m.iter()
        .find(|(k, _)| int_key(k) == Some(key))
        .map(|(_, v)| v)
}

fn parse_cid(v: &Value) -> Option<Vec<Vec<u8>>> {
    v.as_array()?
        .iter()
        .map(|p| p.as_bytes().cloned())
        .collect()
}

/// Metadata of one envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeInfo {
    pub component_id: Vec<Vec<u8>>,
    pub manifest_component_id: Option<Vec<Vec<u8>>>,
    pub sequence: u64,
    /// SUIT_Digest bytes (`[alg, digest]`, encoded) of the image, if the manifest sets one.
    pub image_digest: Option<Vec<u8>>,
    pub signer_kid: Option<Vec<u8>>,
    /// The envelope without tag 107: what goes into an Update's manifest-list.
    pub untagged: Vec<u8>,
}

/// Reads what the catalog needs; accepts tagged (107) and untagged envelopes.
pub fn envelope_info(bytes: &[u8]) -> Result<EnvelopeInfo, EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE {
        return Err(EnvelopeError::Envelope(format!(
            "{} bytes, limit {MAX_ENVELOPE}",
            bytes.len()
        )));
    }
    let v: Value = ciborium::from_reader(bytes)
        .map_err(|e| EnvelopeError::Envelope(format!("not CBOR ({e})")))?;
    let (v, untagged) = match v {
        Value::Tag(107, inner) => {
            let mut out = Vec::new();
            ciborium::into_writer(&*inner, &mut out)
                .map_err(|e| EnvelopeError::Envelope(e.to_string()))?;
            (*inner, out)
        }
        Value::Tag(t, _) => {
            return Err(EnvelopeError::Envelope(format!(
                "tag {t}, expected 107 or none"
            )))
        }
        other => (other, bytes.to_vec()),
    };
    let Value::Map(env) = v else {
        return Err(EnvelopeError::Envelope("expected a map".into()));
    };
    let auth = get(&env, 2)
        .and_then(Value::as_bytes)
        .ok_or_else(|| EnvelopeError::Auth("missing (key 2, bstr)".into()))?;
    let manifest_bstr = get(&env, 3)
        .and_then(Value::as_bytes)
        .ok_or_else(|| EnvelopeError::Manifest("missing (key 3, bstr)".into()))?;

    let auth: Value = ciborium::from_reader(auth.as_slice())
        .map_err(|_| EnvelopeError::Auth("not CBOR".into()))?;
    let blocks = auth
        .as_array()
        .ok_or_else(|| EnvelopeError::Auth("expected an array".into()))?;
    if blocks.len() < 2 {
        return Err(EnvelopeError::Auth(
            "no signature: the catalog takes signed envelopes only".into(),
        ));
    }
    let mut signer_kid = None;
    for b in &blocks[1..] {
        let b = b
            .as_bytes()
            .ok_or_else(|| EnvelopeError::Auth("authentication block is not a bstr".into()))?;
        let opened = teep_cose::open(b)
            .map_err(|e| EnvelopeError::Auth(format!("authentication block: {e}")))?;
        if signer_kid.is_none() {
            signer_kid = opened.signatures.iter().find_map(|s| s.kid.clone());
        }
    }

    let manifest: Value = ciborium::from_reader(manifest_bstr.as_slice())
        .map_err(|_| EnvelopeError::Manifest("not CBOR".into()))?;
    let manifest = match manifest {
        Value::Tag(1070, inner) => *inner,
        m => m,
    };
    let Value::Map(m) = manifest else {
        return Err(EnvelopeError::Manifest("expected a map".into()));
    };
    let sequence = get(&m, 2)
        .and_then(|v| v.as_integer())
        .and_then(|i| u64::try_from(i).ok())
        .ok_or_else(|| {
            EnvelopeError::Manifest(
                "suit-manifest-sequence-number (2): missing or not a uint".into(),
            )
        })?;
    let common = get(&m, 3)
        .and_then(Value::as_bytes)
        .ok_or_else(|| EnvelopeError::Manifest("suit-common (3): missing or not a bstr".into()))?;
    let common: Value = ciborium::from_reader(common.as_slice())
        .map_err(|_| EnvelopeError::Manifest("suit-common: not CBOR".into()))?;
    let common = common
        .as_map()
        .ok_or_else(|| EnvelopeError::Manifest("suit-common: expected a map".into()))?;
    let components = get(common, 2).and_then(Value::as_array).ok_or_else(|| {
        EnvelopeError::Manifest("suit-common.suit-components (2): missing".into())
    })?;
    let dependencies: Vec<i64> = get(common, 1)
        .and_then(Value::as_map)
        .map(|d| d.iter().filter_map(|(k, _)| int_key(k)).collect())
        .unwrap_or_default();
    // The TC is the first component that is not a dependency.
    let component_id = components
        .iter()
        .enumerate()
        .find(|(i, _)| !dependencies.contains(&(*i as i64)))
        .and_then(|(_, c)| parse_cid(c))
        .ok_or_else(|| {
            EnvelopeError::Manifest(
                "suit-common.suit-components: no component that is not a dependency".into(),
            )
        })?;
    let manifest_component_id = get(&m, 5).and_then(parse_cid);
    let image_digest = get(common, 4)
        .and_then(Value::as_bytes)
        .and_then(|seq| shared_image_digest(seq));
    Ok(EnvelopeInfo {
        component_id,
        manifest_component_id,
        sequence,
        image_digest,
        signer_kid,
        untagged,
    })
}

/// Image digest set by override/set-parameters in the shared sequence (first component).
fn shared_image_digest(seq: &[u8]) -> Option<Vec<u8>> {
    let v: Value = ciborium::from_reader(seq).ok()?;
    let items = v.as_array()?;
    for pair in items.chunks(2) {
        if let [cmd, arg] = pair {
            if matches!(int_key(cmd), Some(19) | Some(20)) {
                if let Some(d) = arg
                    .as_map()
                    .and_then(|m| get(m, 3))
                    .and_then(Value::as_bytes)
                {
                    return Some(d.clone());
                }
            }
        }
    }
    None
}

/// A catalog entry for a signed envelope.
pub fn new_tc(name: Option<&str>, bytes: &[u8]) -> Result<NewTc, EnvelopeError> {
    let info = envelope_info(bytes)?;
    let name = match name {
        Some(n) => n.to_string(),
        None => crate::model::component_id_text(&info.component_id),
    };
    Ok(NewTc {
        name,
        component_id: encode_component_id(&info.component_id),
        manifest_component_id: info
            .manifest_component_id
            .as_ref()
            .map(|c| encode_component_id(c)),
        sequence: info.sequence,
        envelope: info.untagged,
        payload_digest: info.image_digest,
        signer_kid: info.signer_kid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../../shared/spec/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn reads_teep_appendix_e_uri_manifest() {
        let b = spec("teep-protocol/common/derived/suit_uri.cbor");
        let info = envelope_info(&b).unwrap();
        assert_eq!(
            info.component_id.first().map(|p| p.as_slice()),
            Some(&b"TEEP-Device"[..])
        );
        assert_eq!(
            info.component_id.last().map(|p| p.as_slice()),
            Some(&b"ta"[..])
        );
        assert_eq!(
            info.manifest_component_id
                .as_ref()
                .and_then(|m| m.last())
                .map(|p| p.as_slice()),
            Some(&b"suit"[..])
        );
        assert!(info.image_digest.is_some());
        assert!(info.signer_kid.is_some() || info.signer_kid.is_none());
    }

    #[test]
    fn rejects_garbage_with_the_member_named() {
        assert!(matches!(
            envelope_info(&[0xa0]),
            Err(EnvelopeError::Auth(_))
        ));
        assert!(matches!(
            envelope_info(&[0x01]),
            Err(EnvelopeError::Envelope(_))
        ));
        assert!(matches!(
            envelope_info(&[0xff, 0x00]),
            Err(EnvelopeError::Envelope(_))
        ));
    }
}
