//! Minimal CBOR helpers: a well-formedness walker and a deterministic encoder.
//!
//! Hand-rolled because ciborium (under coset) accepts indefinite lengths and non-minimal
//! heads and does not report where an item ends, and because encoding COSE structures
//! directly lets us write the payload once instead of cloning it into a `Value` tree.

use alloc::{format, string::String, vec::Vec};

use ciborium::value::{Integer, Value};

/// Deepest nesting accepted from outside.
pub(crate) const MAX_DEPTH: usize = 32;

/// Writes a CBOR head (major type + argument) in preferred (shortest) form.
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u8::MAX as u64 {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

pub(crate) fn write_bstr(out: &mut Vec<u8>, b: &[u8]) {
    write_head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn write_int(out: &mut Vec<u8>, v: i128) {
    if v >= 0 {
        write_head(out, 0, v as u64);
    } else {
        write_head(out, 1, (-1 - v) as u64);
    }
}

/// Encodes a value deterministically (RFC 8949 section 4.2.1): preferred heads, map keys
/// sorted by their encoded bytes. Duplicate keys are the caller's responsibility.
pub(crate) fn encode_deterministic(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Integer(i) => write_int(out, i128::from(*i)),
        Value::Bytes(b) => write_bstr(out, b),
        Value::Text(s) => write_text(out, s),
        Value::Array(a) => {
            write_head(out, 4, a.len() as u64);
            for x in a {
                encode_deterministic(x, out);
            }
        }
        Value::Map(m) => {
            let mut entries: Vec<(Vec<u8>, &Value)> = m
                .iter()
                .map(|(k, v)| {
                    let mut kb = Vec::new();
                    encode_deterministic(k, &mut kb);
                    (kb, v)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            write_head(out, 5, entries.len() as u64);
            for (k, v) in entries {
                out.extend_from_slice(&k);
                encode_deterministic(v, out);
            }
        }
        Value::Tag(t, inner) => {
            write_head(out, 6, *t);
            encode_deterministic(inner, out);
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
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

/// Reads a head at `pos`: (major, additional info, argument, offset after the head).
fn head(data: &[u8], pos: usize) -> Result<(u8, u8, u64, usize), String> {
    let ib = *data.get(pos).ok_or("truncated: expected a data item")?;
    let major = ib >> 5;
    let ai = ib & 0x1f;
    let (arg, len) = match ai {
        0..=23 => (ai as u64, 0),
        24..=27 => {
            let n = 1usize << (ai - 24);
            let bytes = data
                .get(pos + 1..pos + 1 + n)
                .ok_or("truncated: head argument runs past the end")?;
            let mut v = 0u64;
            for b in bytes {
                v = (v << 8) | *b as u64;
            }
            (v, n)
        }
        28..=30 => return Err(format!("reserved additional information {ai}")),
        _ => {
            return Err(match major {
                7 => "unexpected break".into(),
                0 | 1 | 6 => format!("invalid additional information 31 for major type {major}"),
                _ => "indefinite-length item not allowed".into(),
            })
        }
    };
    Ok((major, ai, arg, pos + 1 + len))
}

/// Returns the offset just past the data item starting at `pos`, checking that it is
/// well-formed, definite-length, within `data` and at most [`MAX_DEPTH`] deep.
pub(crate) fn skip(data: &[u8], pos: usize, depth: usize) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nesting deeper than {MAX_DEPTH}"));
    }
    let (major, ai, arg, mut p) = head(data, pos)?;
    match major {
        0 | 1 => Ok(p),
        2 | 3 => {
            let remaining = (data.len() - p) as u64;
            if arg > remaining {
                return Err(format!(
                    "string length {arg} exceeds the {remaining} bytes left"
                ));
            }
            let end = p + arg as usize;
            if major == 3 && core::str::from_utf8(&data[p..end]).is_err() {
                return Err("text string is not valid UTF-8".into());
            }
            Ok(end)
        }
        4 | 5 => {
            let items = if major == 5 {
                arg.checked_mul(2)
            } else {
                Some(arg)
            };
            let remaining = (data.len() - p) as u64;
            // Every item takes at least one byte, so a larger count cannot be satisfied.
            match items {
                Some(n) if n <= remaining => {
                    for _ in 0..n {
                        p = skip(data, p, depth + 1)?;
                    }
                    Ok(p)
                }
                _ => Err(format!(
                    "{} of {arg} entries cannot fit in the {remaining} bytes left",
                    if major == 5 { "map" } else { "array" }
                )),
            }
        }
        6 => skip(data, p, depth + 1),
        _ => {
            if ai == 24 && arg < 32 {
                return Err(format!("simple value {arg} in two-byte form"));
            }
            Ok(p)
        }
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
