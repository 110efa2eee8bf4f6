//! CBOR for COSE: the well-formedness walk and the deterministic writer are teep-cbor's;
//! this module keeps the walker's error texts and the encoding of ciborium values.
//!
//! ciborium (under coset) builds the value trees but accepts indefinite lengths and does not
//! report where an item ends, so every input is walked strictly first; encoding COSE
//! structures directly lets us write the payload once instead of cloning it into a tree.

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};

use ciborium::value::{Integer, Value};
use teep_cbor::{DepthLimit, ErrorKind, MapKeys, Reader, Rules};

pub(crate) use teep_cbor::{
    write_bytes as write_bstr, write_head, write_int128 as write_int, write_text, MAX_DEPTH,
};

/// The walker's rules: nesting counted per item, counts bounded by the bytes left, two-byte
/// simple values below 32 rejected, any map keys (uniqueness is checked on values).
const RULES: Rules = Rules {
    depth: DepthLimit::Items,
    bound_counts: true,
    two_byte_simple: false,
    map_keys: MapKeys::Any,
    shortest_heads: false,
};

/// Encodes a value deterministically (RFC 8949 section 4.2.1): preferred heads, map keys
/// sorted by their encoded bytes. Duplicate keys are the caller's responsibility.
pub(crate) fn encode_deterministic(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Integer(i) => write_int(out, i128::from(*i)),
        Value::Bytes(b) => write_bstr(out, b),
        Value::Text(s) => write_text(out, s),
        Value::Array(a) => {
            teep_cbor::write_array_head(out, a.len());
            for x in a {
                encode_deterministic(x, out);
            }
        }
        Value::Map(m) => teep_cbor::write_map_sorted(
            out,
            m.iter().map(|(k, v)| (k, v)),
            |o, k| encode_deterministic(k, o),
            |o, v| encode_deterministic(v, o),
        ),
        Value::Tag(t, inner) => {
            teep_cbor::write_tag(out, *t);
            encode_deterministic(inner, out);
        }
        Value::Bool(b) => teep_cbor::write_bool(out, *b),
        Value::Null => teep_cbor::write_null(out),
        // ciborium writes floats in the shortest lossless width, which is the preferred form.
        other => {
            let _ = ciborium::into_writer(other, &mut *out);
        }
    }
}

/// Deterministic encoding into a fresh vector.
pub(crate) fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_deterministic(v, &mut out);
    out
}

/// Major type of the item starting at `pos` (callers check `pos < data.len()`).
pub(crate) fn major(data: &[u8], pos: usize) -> Option<u8> {
    data.get(pos).map(|b| b >> 5)
}

/// Returns the offset just past the data item starting at `pos`, checking that it is
/// well-formed, definite-length, within `data` and at most [`MAX_DEPTH`] deep, where `depth`
/// is the nesting of the item at `pos`.
pub(crate) fn skip(data: &[u8], pos: usize, depth: usize) -> Result<usize, String> {
    let mut r = Reader::with_rules(data, RULES);
    r.set_position(pos);
    r.set_depth(depth);
    r.skip().map_err(|e| describe(e.kind))?;
    Ok(r.position())
}

/// The walker's words for each fault.
fn describe(kind: ErrorKind) -> String {
    match kind {
        ErrorKind::TooDeep => format!("nesting deeper than {MAX_DEPTH}"),
        ErrorKind::EndOfInput => "truncated: expected a data item".into(),
        ErrorKind::TruncatedHead { .. } => "truncated: head argument runs past the end".into(),
        ErrorKind::Reserved { initial } if initial & 0x1f == 31 => format!(
            "invalid additional information 31 for major type {}",
            initial >> 5
        ),
        ErrorKind::Reserved { initial } => {
            format!("reserved additional information {}", initial & 0x1f)
        }
        ErrorKind::Break => "unexpected break".into(),
        ErrorKind::Indefinite { .. } => "indefinite-length item not allowed".into(),
        ErrorKind::TruncatedString { len, remaining } => {
            format!("string length {len} exceeds the {remaining} bytes left")
        }
        ErrorKind::InvalidUtf8 => "text string is not valid UTF-8".into(),
        ErrorKind::CountPastEnd {
            major,
            count,
            remaining,
        } => format!(
            "{} of {count} entries cannot fit in the {remaining} bytes left",
            if major == 5 { "map" } else { "array" }
        ),
        ErrorKind::TwoByteSimple { value } => format!("simple value {value} in two-byte form"),
        other => other.to_string(),
    }
}

/// Checks that `data` is exactly one well-formed definite-length item.
pub(crate) fn check_single(data: &[u8]) -> Result<(), String> {
    let end = skip(data, 0, 0)?;
    if end != data.len() {
        return Err(format!(
            "{} trailing bytes after the data item",
            data.len() - end
        ));
    }
    Ok(())
}

/// Decodes one item after [`check_single`] passed.
pub(crate) fn decode_value(data: &[u8]) -> Result<Value, String> {
    check_single(data)?;
    ciborium::from_reader(data).map_err(|e| format!("invalid CBOR: {e}"))
}

/// Integer of a value if it fits in i64.
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

pub(crate) fn int(v: i64) -> Value {
    Value::Integer(Integer::from(v))
}

/// Short description of a value's type for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "int",
        Value::Bytes(_) => "bstr",
        Value::Text(_) => "tstr",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Tag(..) => "tag",
        Value::Bool(_) => "bool",
        Value::Null => "null",
        Value::Float(_) => "float",
        _ => "other",
    }
}

/// Rejects a map with two equal keys (RFC 8949 section 5.6: such a map is invalid).
pub(crate) fn check_unique_keys(m: &[(Value, Value)]) -> Result<(), String> {
    let mut keys: Vec<Vec<u8>> = m.iter().map(|(k, _)| to_vec(k)).collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err("duplicate map key".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walker_accepts_and_rejects() {
        assert!(check_single(&[0x82, 0x01, 0x41, 0xff]).is_ok());
        assert!(check_single(&[0x82, 0x01])
            .unwrap_err()
            .contains("cannot fit"));
        assert!(check_single(&[0x82, 0x01, 0x18])
            .unwrap_err()
            .contains("truncated"));
        assert!(check_single(&[0x01, 0x02])
            .unwrap_err()
            .contains("trailing"));
        assert!(check_single(&[0x5f, 0x41, 0x00, 0xff])
            .unwrap_err()
            .contains("indefinite"));
        assert!(
            check_single(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                .unwrap_err()
                .contains("exceeds")
        );
        assert!(
            check_single(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
                .unwrap_err()
                .contains("cannot fit")
        );
        assert!(check_single(&[0x1c]).unwrap_err().contains("reserved"));
        assert!(check_single(&[0xf8, 0x10]).is_err());
        let deep = vec![0x81; 100];
        assert!(check_single(&deep).unwrap_err().contains("nesting"));
    }

    #[test]
    fn deterministic_map_order_is_bytewise() {
        let v = Value::Map(vec![
            (int(-1), int(1)),
            (int(24), int(2)),
            (int(10), int(3)),
        ]);
        // 10 (0x0a) < 24 (0x18 0x18) < -1 (0x20)
        assert_eq!(
            to_vec(&v),
            vec![0xa3, 0x0a, 0x03, 0x18, 0x18, 0x02, 0x20, 0x01]
        );
    }
}
