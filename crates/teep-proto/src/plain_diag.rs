//! Diagnostic notation of the generic values that error messages name (duplicate map keys),
//! for builds without the `diag` feature: cbor-diag needs `std`.
//!
//! Integers, short text and byte strings, booleans, null and undefined are written exactly as
//! cbor-diag writes them (a test compares the two); anything else falls back to its `Debug`
//! form.

use alloc::format;
use alloc::string::{String, ToString};

use crate::cbor::Value;

pub(crate) fn value_to_diag(v: &Value) -> String {
    match v {
        Value::Integer(n) => {
            let argument = if *n >= 0 { *n } else { -1 - *n };
            format!("{n}{}", encoding_indicator(argument))
        }
        Value::Text(s) if s.len() < 24 => {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        }
        Value::Bytes(b) if b.len() < 24 => {
            let mut out = String::from("h'");
            for byte in b {
                out.push_str(&format!("{byte:02x}"));
            }
            out.push('\'');
            out
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Undefined => "undefined".into(),
        other => format!("{other:?}"),
    }
}

/// cbor-diag marks a head with a 1-, 2-, 4- or 8-byte argument as `_0` … `_3`.
fn encoding_indicator(argument: i128) -> &'static str {
    match argument {
        0..=23 => "",
        24..=0xff => "_0",
        0x100..=0xffff => "_1",
        0x1_0000..=0xffff_ffff => "_2",
        _ => "_3",
    }
}

#[cfg(all(test, feature = "diag"))]
mod tests {
    use alloc::vec;

    use super::*;

    #[test]
    fn matches_cbor_diag() {
        let mut values = vec![
            Value::Text(String::new()),
            Value::Text("a".into()),
            Value::Text("é\"\\'\t".into()),
            Value::Bytes(vec![]),
            Value::Bytes(vec![1, 2, 0xff]),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::Undefined,
        ];
        for n in [
            0i128,
            1,
            23,
            24,
            255,
            256,
            65535,
            65536,
            0xffff_ffff,
            0x1_0000_0000,
            (1 << 64) - 1,
        ] {
            values.push(Value::Integer(n));
            values.push(Value::Integer(-1 - n));
        }
        for v in values {
            assert_eq!(
                value_to_diag(&v),
                crate::diag::to_diag_compact(&v.to_vec()).unwrap(),
                "{v:?}"
            );
        }
    }
}
