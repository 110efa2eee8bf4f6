//! The reversible JSON form of generic CBOR, and the hex forms of byte strings.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use serde_json::{json, Map, Value as Json};

use super::generic_view;
use crate::cbor::Value;
use crate::error::JsonError;

/// Reversible JSON form of a generic CBOR value.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Integer(i) => {
            if let Ok(x) = i64::try_from(*i) {
                json!(x)
            } else if let Ok(x) = u64::try_from(*i) {
                json!(x)
            } else {
                json!({ "int": i.to_string() })
            }
        }
        Value::Bytes(b) => {
            let mut m = Map::new();
            m.insert("hex".into(), json!(hex::encode(b)));
            if let Some(d) = generic_view(b) {
                m.insert("decoded".into(), d);
            }
            Json::Object(m)
        }
        Value::Text(s) => json!(s),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => {
            json!({ "map": entries.iter().map(|(k, v)| json!([value_to_json(k), value_to_json(v)])).collect::<Vec<_>>() })
        }
        Value::Tag(t, inner) => json!({ "tag": t, "value": value_to_json(inner) }),
        Value::Bool(b) => json!(b),
        Value::Null => Json::Null,
        Value::Undefined => json!({ "simple": 23 }),
        Value::Simple(s) => json!({ "simple": s }),
        Value::Float(f) => json!({ "float": f }),
    }
}

/// Inverse of [`value_to_json`].
pub fn value_from_json(j: &Json, path: &str) -> Result<Value, JsonError> {
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                Value::Integer(i128::from(u))
            } else {
                return Err(JsonError::new(
                    path,
                    "expected an integer (floats are written {\"float\": x})",
                ));
            }
        }
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| value_from_json(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Json::Object(o) => {
            if let Some(h) = o.get("hex") {
                Value::Bytes(hex_from_json(h, &format!("{path}.hex"))?)
            } else if let Some(Json::Array(entries)) = o.get("map") {
                let mut out = Vec::with_capacity(entries.len());
                for (i, e) in entries.iter().enumerate() {
                    let p = format!("{path}.map[{i}]");
                    match e.as_array().map(|a| a.as_slice()) {
                        Some([k, v]) => {
                            out.push((value_from_json(k, &p)?, value_from_json(v, &p)?))
                        }
                        _ => return Err(JsonError::new(p, "expected [key, value]")),
                    }
                }
                Value::Map(out)
            } else if let (Some(t), Some(v)) = (o.get("tag"), o.get("value")) {
                let t = t
                    .as_u64()
                    .ok_or_else(|| JsonError::new(format!("{path}.tag"), "expected uint"))?;
                Value::Tag(t, Box::new(value_from_json(v, &format!("{path}.value"))?))
            } else if let Some(f) = o.get("float") {
                Value::Float(
                    f.as_f64().ok_or_else(|| {
                        JsonError::new(format!("{path}.float"), "expected number")
                    })?,
                )
            } else if let Some(s) = o.get("simple") {
                match s.as_u64() {
                    Some(23) => Value::Undefined,
                    Some(n) if n <= 255 && !(20..=22).contains(&n) && !(24..=31).contains(&n) => {
                        Value::Simple(n as u8)
                    }
                    _ => {
                        return Err(JsonError::new(
                            format!("{path}.simple"),
                            "expected simple value 0..=19, 23 or 32..=255",
                        ))
                    }
                }
            } else if let Some(i) = o.get("int").and_then(Json::as_str) {
                let v: i128 = i.parse().map_err(|_| {
                    JsonError::new(format!("{path}.int"), "expected decimal integer")
                })?;
                if !(-(1i128 << 64)..(1i128 << 64)).contains(&v) {
                    return Err(JsonError::new(
                        format!("{path}.int"),
                        "integer outside the CBOR range",
                    ));
                }
                Value::Integer(v)
            } else {
                return Err(JsonError::new(
                    path,
                    "expected one of {hex}, {map}, {tag, value}, {float}, {simple}, {int}",
                ));
            }
        }
    })
}

/// A hex string.
pub(super) fn hex_from_json(j: &Json, path: &str) -> Result<Vec<u8>, JsonError> {
    let s = j
        .as_str()
        .ok_or_else(|| JsonError::new(path, "expected hex string"))?;
    hex::decode(s).map_err(|e| JsonError::new(path, format!("expected hex string: {e}")))
}

/// Nested-CBOR bstr: accepts a hex string or `{"hex": ...}` (`decoded` is ignored).
pub(super) fn embedded_cbor_from_json(j: &Json, path: &str) -> Result<Vec<u8>, JsonError> {
    match j {
        Json::String(_) => hex_from_json(j, path),
        Json::Object(o) => match o.get("hex") {
            Some(h) => hex_from_json(h, &format!("{path}.hex")),
            None => Err(JsonError::new(path, "expected {\"hex\": ...}")),
        },
        _ => Err(JsonError::new(
            path,
            "expected hex string or {\"hex\": ...}",
        )),
    }
}

/// `{"hex": ..., "decoded": ...}` of a bstr that carries CBOR (`decoded` only if rendered).
pub(super) fn embedded_cbor_to_json(bytes: &[u8], decoded: Option<Json>) -> Json {
    let mut m = Map::new();
    m.insert("hex".into(), json!(hex::encode(bytes)));
    if let Some(d) = decoded {
        m.insert("decoded".into(), d);
    }
    Json::Object(m)
}
