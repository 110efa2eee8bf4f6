//! JWK (RFC 7517, RFC 8037): export with the thumbprint as `kid`, and strict import.

use alloc::{boxed::Box, format, string::String, vec, vec::Vec};

use base64::Engine as _;
use serde_json::json;

use super::detect::Parsed;
use super::private::PrivateKey;
use super::public::{PublicInner, PublicKey};
use crate::{KeyError, KeyType};

fn b64u(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unb64u(field: &str, s: &str) -> Result<Vec<u8>, KeyError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| KeyError::Format(format!("JWK.{field}: invalid base64url: {e}")))
}

impl PublicKey {
    /// JWK (RFC 7517 / RFC 8037) with `kid` = base64url of the thumbprint.
    pub fn to_jwk(&self) -> serde_json::Value {
        match &self.inner {
            PublicInner::P256(raw) => json!({
                "kty": "EC", "crv": "P-256",
                "x": b64u(&raw[1..33]), "y": b64u(&raw[33..65]),
                "kid": b64u(&self.thumbprint),
            }),
            PublicInner::Ed25519(raw) => json!({
                "kty": "OKP", "crv": "Ed25519",
                "x": b64u(raw),
                "kid": b64u(&self.thumbprint),
            }),
        }
    }
}

impl PrivateKey {
    /// Private JWK (includes `d`).
    pub fn to_jwk(&self) -> serde_json::Value {
        let mut j = self.public.to_jwk();
        let d = self.secret_bytes();
        j["d"] = serde_json::Value::String(b64u(&d));
        j
    }
}

fn jwk_str<'a>(v: &'a serde_json::Value, field: &str) -> Result<Option<&'a str>, KeyError> {
    match v.get(field) {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::Format(format!("JWK.{field}: expected a string"))),
    }
}

fn jwk_bytes(v: &serde_json::Value, field: &str, len: usize) -> Result<Option<Vec<u8>>, KeyError> {
    match jwk_str(v, field)? {
        None => Ok(None),
        Some(s) => {
            let b = unb64u(field, s)?;
            if b.len() != len {
                return Err(KeyError::Format(format!(
                    "JWK.{field}: expected {len} bytes, got {}",
                    b.len()
                )));
            }
            Ok(Some(b))
        }
    }
}

pub(super) fn parse_jwk(v: &serde_json::Value) -> Result<Parsed, KeyError> {
    // A JWK Set with one key is accepted too.
    if let Some(keys) = v.get("keys").and_then(|k| k.as_array()) {
        return match keys.as_slice() {
            [one] => parse_jwk(one),
            _ => Err(KeyError::Format(format!(
                "JWK Set: expected exactly one key, got {}",
                keys.len()
            ))),
        };
    }
    let kty = jwk_str(v, "kty")?.ok_or_else(|| KeyError::Format("JWK.kty: missing".into()))?;
    let crv = jwk_str(v, "crv")?.ok_or_else(|| KeyError::Format("JWK.crv: missing".into()))?;
    let x = jwk_bytes(v, "x", 32)?.ok_or_else(|| KeyError::Format("JWK.x: missing".into()))?;
    let d = jwk_bytes(v, "d", 32)?;
    let public = match (kty, crv) {
        ("EC", "P-256") => {
            let y =
                jwk_bytes(v, "y", 32)?.ok_or_else(|| KeyError::Format("JWK.y: missing".into()))?;
            let mut raw = vec![4u8];
            raw.extend_from_slice(&x);
            raw.extend_from_slice(&y);
            PublicKey::from_p256_sec1(&raw)
                .map_err(|_| KeyError::Format("JWK: (x, y) is not a P-256 point".into()))?
        }
        ("OKP", "Ed25519") => PublicKey::from_ed25519_bytes(&x)
            .map_err(|e| KeyError::Format(format!("JWK.x: {e}")))?,
        (k, c) => {
            return Err(KeyError::Unsupported(format!(
                "JWK kty `{k}` crv `{c}` (expected EC/P-256 or OKP/Ed25519)"
            )))
        }
    };
    match d {
        None => Ok(Parsed::Public(public)),
        Some(d) => {
            let k = match public.key_type() {
                KeyType::P256 => PrivateKey::from_p256_scalar(&d)?,
                KeyType::Ed25519 => PrivateKey::from_ed25519_seed(&d)?,
            };
            if k.public != public {
                return Err(KeyError::Format(
                    "JWK: private key `d` does not match the public key".into(),
                ));
            }
            Ok(Parsed::Private(Box::new(k)))
        }
    }
}
