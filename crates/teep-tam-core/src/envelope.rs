//! The one change the TAM makes to a catalog SUIT envelope before sending it: leaving out the
//! integrated payloads for a device that already holds the binary (-26 §4.3, requested-tc-info
//! `have-binary`: the agent "only needs an Update message with a SUIT Manifest that authorizes
//! installing it").
//!
//! Sound because nothing signed changes: the authentication wrapper (key 2) signs the digest of
//! the manifest (key 3) alone; an integrated payload is an envelope member outside it, bound to
//! the manifest only through the image-digest the device checks (DIGEST §8.1). The kept members
//! are copied byte for byte, in their order, so the envelope stays canonical. Integrated
//! dependencies (trust-domains: `"text key": bstr .cbor SUIT_Envelope`) are manifests, not the
//! binary, and stay.
//!
//! Whether the device can then install depends on the signed manifest, which the TAM cannot
//! change: an install sequence that fetches `#tc` unconditionally (-26's integrated-payload
//! example) needs the device to resolve `#tc` from the binary it holds.

use alloc::vec::Vec;

use teep_cbor::{Reader, Type};

/// SUIT_Envelope_Tagged.
const SUIT_ENVELOPE_TAG: u64 = 107;
/// SUIT_Envelope key of the authentication wrapper, first in any envelope.
const AUTHENTICATION: u64 = 2;

/// `envelope` without its integrated payloads; `None` when it has none (send it as it is) or
/// does not read as a definite-length SUIT_Envelope (then it goes unchanged: the TAM never
/// sends less than the catalog holds because of a form it does not understand).
pub fn without_integrated_payloads(envelope: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(envelope);
    if r.datatype().ok()? == Type::Tag && r.tag().ok()? != SUIT_ENVELOPE_TAG {
        return None;
    }
    let prefix = r.position();
    let len = r.map().ok()?;
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut dropped = false;
    for _ in 0..len {
        let start = r.position();
        let text_key = r.datatype().ok()? == Type::String;
        r.raw().ok()?;
        let value = r.raw().ok()?;
        let end = r.position();
        if text_key && !is_envelope(value) {
            dropped = true;
        } else {
            kept.push(envelope.get(start..end)?);
        }
    }
    if !r.at_end() || !dropped {
        return None;
    }
    let mut out = Vec::with_capacity(envelope.len());
    out.extend_from_slice(envelope.get(..prefix)?);
    teep_cbor::write_map_head(&mut out, kept.len());
    for member in kept {
        out.extend_from_slice(member);
    }
    Some(out)
}

/// Whether an integrated member is `bstr .cbor SUIT_Envelope` (an integrated dependency): a
/// map, tagged 107 or not, whose first key is the authentication wrapper.
fn is_envelope(value: &[u8]) -> bool {
    let mut r = Reader::new(value);
    let Ok(inner) = r.bytes() else {
        return false;
    };
    let mut r = Reader::new(inner);
    if r.datatype().ok() == Some(Type::Tag) && r.tag().ok() != Some(SUIT_ENVELOPE_TAG) {
        return false;
    }
    matches!(r.map(), Ok(n) if n > 0) && r.uint().ok() == Some(AUTHENTICATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::Value;

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }

    fn int(n: i64) -> Value {
        Value::Integer(n.into())
    }

    /// auth, manifest, then the given text-keyed members.
    fn envelope(members: Vec<(&str, Vec<u8>)>) -> Value {
        let mut m = vec![
            (int(2), Value::Bytes(vec![0x81, 0x40])),
            (int(3), Value::Bytes(vec![0xa1, 0x01, 0x01])),
        ];
        for (k, v) in members {
            m.push((Value::Text(k.into()), Value::Bytes(v)));
        }
        Value::Map(m)
    }

    #[test]
    fn have_binary_drops_integrated_payload_and_keeps_the_signed_members() {
        let with = cbor(&envelope(vec![("#tc", b"the binary".to_vec())]));
        let without = without_integrated_payloads(&with).unwrap();
        assert_eq!(without, cbor(&envelope(vec![])));
        // Keys 2 and 3 byte for byte: the signature still verifies.
        assert!(with.ends_with(b"the binary"));
        assert_eq!(&without[1..], &with[1..without.len()]);
    }

    #[test]
    fn have_binary_keeps_integrated_dependencies_and_the_tag() {
        let dependency = cbor(&envelope(vec![]));
        let tagged = cbor(&Value::Tag(
            107,
            Box::new(envelope(vec![
                ("#dep", dependency.clone()),
                ("#tc", vec![1, 2, 3]),
            ])),
        ));
        let out = without_integrated_payloads(&tagged).unwrap();
        assert_eq!(
            out,
            cbor(&Value::Tag(
                107,
                Box::new(envelope(vec![("#dep", dependency)]))
            ))
        );
    }

    #[test]
    fn have_binary_leaves_an_envelope_without_payloads_or_unreadable_alone() {
        assert_eq!(without_integrated_payloads(&cbor(&envelope(vec![]))), None);
        assert_eq!(without_integrated_payloads(b"\xa1"), None);
        assert_eq!(without_integrated_payloads(b""), None);
        assert_eq!(
            without_integrated_payloads(&cbor(&Value::Tag(
                99,
                Box::new(envelope(vec![("#tc", vec![1])]))
            ))),
            None
        );
        let mut trailing = cbor(&envelope(vec![("#tc", vec![1])]));
        trailing.push(0);
        assert_eq!(without_integrated_payloads(&trailing), None);
    }
}
