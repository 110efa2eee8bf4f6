//! A human-readable JSON view of claims sets and CBOR values.

use alloc::{format, string::ToString, vec, vec::Vec};

use ciborium::value::Value;
use serde_json::{json, Map as JsonMap, Value as Json};

use super::claims::{Confirmation, EatClaims, EatProfile, OemId, VersionString};
use crate::cbor;

impl EatClaims {
    /// Human view: claims by name, byte strings in hex, unknown claims keyed by their number.
    pub fn to_json(&self) -> Json {
        let mut o = JsonMap::new();
        if let Some(s) = &self.iss {
            o.insert("iss".into(), json!(s));
        }
        if let Some(t) = self.iat {
            o.insert("iat".into(), json!(t));
        }
        if let Some(c) = &self.cnf {
            o.insert(
                "cnf".into(),
                match c {
                    Confirmation::Key(k) => json!({ "COSE_Key": k.to_jwk() }),
                    Confirmation::EncryptedKey(v) => {
                        json!({ "Encrypted_COSE_Key": value_to_json(v) })
                    }
                    Confirmation::Kid(k) => json!({ "kid": hex::encode(k) }),
                },
            );
        }
        if let Some(n) = &self.eat_nonce {
            o.insert("eat_nonce".into(), json!(hex::encode(n)));
        }
        if let Some(u) = &self.ueid {
            o.insert("ueid".into(), json!(hex::encode(u)));
        }
        if let Some(x) = &self.oemid {
            o.insert(
                "oemid".into(),
                match x {
                    OemId::Bytes(b) => json!(hex::encode(b)),
                    OemId::Pen(n) => json!(n),
                },
            );
        }
        if let Some(h) = &self.hwmodel {
            o.insert("hwmodel".into(), json!(hex::encode(h)));
        }
        if let Some(h) = &self.hwversion {
            let v = match &h.version {
                VersionString::Text(t) => json!(t),
                VersionString::Bytes(b) => match core::str::from_utf8(b) {
                    Ok(s) => json!({ "bytes": s }),
                    Err(_) => json!({ "hex": hex::encode(b) }),
                },
            };
            let mut a = vec![v];
            if let Some(s) = h.scheme {
                a.push(json!(s));
            }
            o.insert("hwversion".into(), Json::Array(a));
        }
        if let Some(p) = &self.eat_profile {
            o.insert(
                "eat_profile".into(),
                match p {
                    EatProfile::Uri(u) => json!(u),
                    EatProfile::Oid(b) => json!({ "oid": hex::encode(b) }),
                },
            );
        }
        if let Some(ms) = &self.manifests {
            let a: Vec<Json> = ms
                .iter()
                .map(|e| json!([value_to_json(&e.content_type), value_to_json(&e.format)]))
                .collect();
            o.insert("manifests".into(), Json::Array(a));
        }
        for (k, v) in &self.other {
            let key = match k {
                Value::Text(t) => t.clone(),
                other => match cbor::as_i64(other) {
                    Some(n) => n.to_string(),
                    None => format!("{other:?}"),
                },
            };
            o.insert(key, value_to_json(v));
        }
        Json::Object(o)
    }
}

/// CBOR value to JSON for display: bytes as hex strings, map keys as strings.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Integer(i) => {
            let n = i128::from(*i);
            match i64::try_from(n) {
                Ok(x) => json!(x),
                Err(_) => json!(n.to_string()),
            }
        }
        Value::Bytes(b) => json!(hex::encode(b)),
        Value::Text(t) => json!(t),
        Value::Float(f) => json!(f),
        Value::Bool(b) => json!(b),
        Value::Null => Json::Null,
        Value::Array(a) => Json::Array(a.iter().map(value_to_json).collect()),
        Value::Map(m) => {
            let mut o = JsonMap::new();
            for (k, v) in m {
                let key = match k {
                    Value::Text(t) => t.clone(),
                    other => match value_to_json(other) {
                        Json::String(s) => s,
                        j => j.to_string(),
                    },
                };
                o.insert(key, value_to_json(v));
            }
            Json::Object(o)
        }
        Value::Tag(t, inner) => json!({ "tag": t, "value": value_to_json(inner) }),
        _ => Json::Null,
    }
}
