//! CBOR diagnostic notation (RFC 8949 §8) for inspection output.

use crate::cbor::Reader;
use crate::cbor::Type;
use alloc::format;
use alloc::string::{String, ToString};

/// CBOR diagnostic notation; byte strings holding exactly one CBOR item are shown `<< >>`.
pub fn diag(bytes: &[u8]) -> String {
    let mut r = Reader::new(bytes, "");
    let mut out = String::new();
    let mut items = 0;
    while !r.at_end() {
        if items > 0 {
            out.push_str(", ");
        }
        if diag_item(&mut r, &mut out, 0).is_err() {
            return format!("h'{}'", hex::encode_upper(bytes));
        }
        items += 1;
    }
    out
}

fn nested(b: &[u8]) -> Option<String> {
    if b.is_empty() {
        return None;
    }
    let mut r = Reader::new(b, "");
    let mut out = String::new();
    diag_item(&mut r, &mut out, 0).ok()?;
    if r.at_end() {
        Some(out)
    } else {
        None
    }
}

fn diag_item(r: &mut Reader<'_>, out: &mut String, depth: usize) -> Result<(), ()> {
    if depth > crate::limits::MAX_CBOR_DEPTH {
        return Err(());
    }
    let t = r.datatype().map_err(|_| ())?;
    match t {
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
            out.push_str(&r.u64().map_err(|_| ())?.to_string())
        }
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => match r.i64() {
            Ok(v) => out.push_str(&v.to_string()),
            Err(_) => {
                let v = r.d.int().map_err(|_| ())?;
                out.push_str(&v.to_string());
            }
        },
        Type::Bytes => {
            let b = r.bytes().map_err(|_| ())?;
            let structured = b.first().map(|f| matches!(f >> 5, 4..=6)).unwrap_or(false);
            let printable = !b.is_empty()
                && b.iter()
                    .all(|c| (0x20..0x7f).contains(c) && *c != b'\'' && *c != b'\\');
            match nested(b) {
                Some(inner) if b.len() > 1 && (structured || !printable) => {
                    out.push_str("<< ");
                    out.push_str(&inner);
                    out.push_str(" >>");
                }
                _ if printable => {
                    out.push('\'');
                    out.push_str(core::str::from_utf8(b).unwrap_or_default());
                    out.push('\'');
                }
                Some(inner) if b.len() > 1 => {
                    out.push_str("<< ");
                    out.push_str(&inner);
                    out.push_str(" >>");
                }
                _ => out.push_str(&format!("h'{}'", hex::encode_upper(b))),
            }
        }
        Type::String => out.push_str(&format!("{:?}", r.str().map_err(|_| ())?)),
        Type::Array => {
            let n = r.array().map_err(|_| ())?;
            out.push('[');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                diag_item(r, out, depth + 1)?;
            }
            out.push(']');
        }
        Type::Map => {
            let n = r.map().map_err(|_| ())?;
            out.push('{');
            for i in 0..n {
                if i > 0 {
                    out.push_str(", ");
                }
                diag_item(r, out, depth + 1)?;
                out.push_str(": ");
                diag_item(r, out, depth + 1)?;
            }
            out.push('}');
        }
        Type::Tag => {
            let t = r.tag().map_err(|_| ())?;
            out.push_str(&format!("{t}("));
            diag_item(r, out, depth + 1)?;
            out.push(')');
        }
        Type::Bool => out.push_str(if r.bool().map_err(|_| ())? {
            "true"
        } else {
            "false"
        }),
        Type::Null => {
            r.null().map_err(|_| ())?;
            out.push_str("null");
        }
        _ => {
            let raw = r.raw().map_err(|_| ())?;
            out.push_str(&format!("h'{}' / other /", hex::encode_upper(raw)));
        }
    }
    Ok(())
}
