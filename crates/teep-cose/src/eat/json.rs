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
                    Confirmation::Key(k) => json!({
                        "COSE_Key": k.to_jwk(),
                        "thumbprint": hex::encode(k.thumbprint()),
                    }),
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
                    OemId::Bytes(b) => bytes_or_text(b),
                    OemId::Pen(n) => json!(n),
                },
            );
        }
        if let Some(h) = &self.hwmodel {
            o.insert("hwmodel".into(), bytes_or_text(h));
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
                    Some(n) => claim_name(n).map_or_else(|| n.to_string(), Into::into),
                    None => format!("{other:?}"),
                },
            };
            o.insert(key, value_to_json(v));
        }
        Json::Object(o)
    }
}

/// Name of a claim key registered in the IANA CWT Claims registry (RFC 8392, RFC 8747,
/// RFC 9711 §10.2) by its JWT name, so a claim teep does not model is still shown by name.
pub fn claim_name(key: i64) -> Option<&'static str> {
    Some(match key {
        1 => "iss",
        2 => "sub",
        3 => "aud",
        4 => "exp",
        5 => "nbf",
        6 => "iat",
        7 => "cti",
        8 => "cnf",
        10 => "eat_nonce",
        256 => "ueid",
        257 => "sueids",
        258 => "oemid",
        259 => "hwmodel",
        260 => "hwversion",
        261 => "uptime",
        262 => "oemboot",
        263 => "dbgstat",
        264 => "location",
        265 => "eat_profile",
        266 => "submods",
        267 => "bootcount",
        268 => "bootseed",
        269 => "dloas",
        270 => "swname",
        271 => "swversion",
        272 => "manifests",
        273 => "measurements",
        274 => "measres",
        275 => "intuse",
        _ => return None,
    })
}

/// Bytes a person may read (hwmodel, oemid): the text when they are printable ASCII, else
/// `h'…'` (diagnostic notation, so hex is never mistaken for text).
fn bytes_or_text(b: &[u8]) -> Json {
    match core::str::from_utf8(b) {
        Ok(t) if !t.is_empty() && t.bytes().all(|c| (0x20..0x7f).contains(&c)) => json!(t),
        _ => json!(format!("h'{}'", hex::encode(b))),
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
