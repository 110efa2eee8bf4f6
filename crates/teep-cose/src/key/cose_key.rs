//! COSE_Key (RFC 9052 section 7, RFC 9053): the deterministic public encoding the RFC 9679
//! thumbprint is computed over, the private form with `d`, and strict decoding.

use alloc::{format, string::String, vec, vec::Vec};

use ciborium::value::Value;

use super::private::PrivateKey;
use super::public::{PublicInner, PublicKey};
use crate::cbor::{self, int};
use crate::{Algorithm, KeyError, KeyType};

// COSE_Key labels and values (RFC 9052 section 7, RFC 9053).
const KTY: i64 = 1;
const KID: i64 = 2;
const ALG: i64 = 3;
const CRV: i64 = -1;
const X: i64 = -2;
const Y: i64 = -3;
const D: i64 = -4;
const KTY_OKP: i64 = 1;
const KTY_EC2: i64 = 2;
const CRV_P256: i64 = 1;
const CRV_ED25519: i64 = 6;

impl PublicKey {
    /// Decodes a COSE_Key (private members are ignored).
    pub fn from_cose_key(cbor: &[u8]) -> Result<Self, KeyError> {
        let v = cbor::decode_value(cbor).map_err(|e| KeyError::Format(format!("COSE_Key: {e}")))?;
        Self::from_cose_key_value(&v)
    }

    /// Decodes a COSE_Key already parsed as a CBOR value (for example the EAT `cnf` claim).
    pub fn from_cose_key_value(v: &Value) -> Result<Self, KeyError> {
        Ok(cose_key_from_value(v)?.0)
    }

    /// COSE_Key as a CBOR value with only the required members (deterministic order on
    /// encoding).
    pub fn to_cose_key_value(&self) -> Value {
        Value::Map(self.cose_key_entries())
    }

    fn cose_key_entries(&self) -> Vec<(Value, Value)> {
        match &self.inner {
            PublicInner::P256(raw) => vec![
                (int(KTY), int(KTY_EC2)),
                (int(CRV), int(CRV_P256)),
                (int(X), Value::Bytes(raw[1..33].to_vec())),
                (int(Y), Value::Bytes(raw[33..65].to_vec())),
            ],
            PublicInner::Ed25519(raw) => vec![
                (int(KTY), int(KTY_OKP)),
                (int(CRV), int(CRV_ED25519)),
                (int(X), Value::Bytes(raw.to_vec())),
            ],
        }
    }

    /// Deterministically encoded COSE_Key {1: kty, -1: crv, -2: x, (-3: y)}.
    pub fn to_cose_key(&self) -> Vec<u8> {
        cbor::to_vec(&self.to_cose_key_value())
    }
}

impl PrivateKey {
    /// Private COSE_Key (includes -4 `d`), deterministically encoded.
    pub fn to_cose_key(&self) -> Vec<u8> {
        let mut entries = self.public.cose_key_entries();
        entries.push((int(D), Value::Bytes(self.secret_bytes().to_vec())));
        cbor::to_vec(&Value::Map(entries))
    }
}

/// Strict COSE_Key decoding: unique labels, known kty/crv, sizes checked, `d` consistent.
pub(super) fn cose_key_from_value(v: &Value) -> Result<(PublicKey, Option<PrivateKey>), KeyError> {
    let err = |m: String| KeyError::Format(format!("COSE_Key{m}"));
    let Value::Map(m) = v else {
        return Err(err(format!(": expected map, got {}", cbor::type_name(v))));
    };
    cbor::check_unique_keys(m).map_err(|e| err(format!(": {e}")))?;
    let get = |label: i64| {
        m.iter()
            .find(|(k, _)| cbor::as_i64(k) == Some(label))
            .map(|(_, v)| v)
    };
    let get_int = |label: i64, name: &str| -> Result<Option<i64>, KeyError> {
        match get(label) {
            None => Ok(None),
            Some(v) => cbor::as_i64(v)
                .map(Some)
                .ok_or_else(|| err(format!(".{name}: expected int, got {}", cbor::type_name(v)))),
        }
    };
    let get_bytes = |label: i64, name: &str| -> Result<Option<&Vec<u8>>, KeyError> {
        match get(label) {
            None => Ok(None),
            Some(Value::Bytes(b)) if b.len() == 32 => Ok(Some(b)),
            Some(Value::Bytes(b)) => {
                Err(err(format!(".{name}: expected 32 bytes, got {}", b.len())))
            }
            Some(v) => Err(err(format!(
                ".{name}: expected bstr, got {}",
                cbor::type_name(v)
            ))),
        }
    };
    if let Some(kid) = get(KID) {
        if !matches!(kid, Value::Bytes(_)) {
            return Err(err(format!(
                ".kid: expected bstr, got {}",
                cbor::type_name(kid)
            )));
        }
    }
    let kty = get_int(KTY, "kty")?.ok_or_else(|| err(".kty: missing".into()))?;
    let crv = get_int(CRV, "crv")?.ok_or_else(|| err(".crv: missing".into()))?;
    let x = get_bytes(X, "x")?.ok_or_else(|| err(".x: missing".into()))?;
    let d = get_bytes(D, "d")?;
    let public = match (kty, crv) {
        (KTY_EC2, CRV_P256) => {
            let raw = match get(Y) {
                Some(Value::Bytes(y)) if y.len() == 32 => {
                    let mut raw = vec![4u8];
                    raw.extend_from_slice(x);
                    raw.extend_from_slice(y);
                    raw
                }
                // Point compression: y is the sign bit (RFC 9053 section 7.1.1).
                Some(Value::Bool(sign)) => {
                    let mut raw = vec![if *sign { 3u8 } else { 2u8 }];
                    raw.extend_from_slice(x);
                    raw
                }
                Some(Value::Bytes(y)) => {
                    return Err(err(format!(".y: expected 32 bytes, got {}", y.len())))
                }
                Some(v) => {
                    return Err(err(format!(
                        ".y: expected bstr or bool, got {}",
                        cbor::type_name(v)
                    )))
                }
                None => return Err(err(".y: missing".into())),
            };
            PublicKey::from_p256_sec1(&raw)
                .map_err(|_| err(": (x, y) is not a P-256 point".into()))?
        }
        (KTY_OKP, CRV_ED25519) => {
            PublicKey::from_ed25519_bytes(x).map_err(|e| err(format!(".x: {e}")))?
        }
        (KTY_EC2 | KTY_OKP, c) => {
            return Err(KeyError::Unsupported(format!(
                "COSE_Key.crv {c} with kty {kty} (expected P-256 (1) or Ed25519 (6))"
            )))
        }
        (k, _) => {
            return Err(KeyError::Unsupported(format!(
                "COSE_Key.kty {k} (expected EC2 (2) or OKP (1))"
            )))
        }
    };
    if let Some(alg) = get_int(ALG, "alg")? {
        let a = Algorithm::from_cose(alg);
        if a.key_type() != Some(public.key_type()) {
            return Err(err(format!(
                ".alg: {a} does not fit a {} key",
                public.key_type()
            )));
        }
    }
    let private = match d {
        None => None,
        Some(d) => {
            let k = match public.key_type() {
                KeyType::P256 => PrivateKey::from_p256_scalar(d)?,
                KeyType::Ed25519 => PrivateKey::from_ed25519_seed(d)?,
            };
            if k.public != public {
                return Err(err(".d: does not match the public key".into()));
            }
            Some(k)
        }
    };
    Ok((public, private))
}
