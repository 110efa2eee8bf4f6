//! CBOR encoding (deterministic) and strict decoding of an [`EatClaims`] set.

use alloc::{format, string::ToString, vec, vec::Vec};

use ciborium::value::{Integer, Value};

use super::claims::{
    Confirmation, EatClaims, EatProfile, HwVersion, ManifestEntry, OemId, VersionString,
};
use super::error::{claim_err, EatError};
use super::{claim, EAT_NONCE_MAX, EAT_NONCE_MIN, MAX_CLAIMS_LEN};
use crate::cbor::{self, int};
use crate::PublicKey;

fn bytes_in(path: &str, v: &Value, min: usize, max: usize) -> Result<Vec<u8>, EatError> {
    match v {
        Value::Bytes(b) if (min..=max).contains(&b.len()) => Ok(b.clone()),
        Value::Bytes(b) => Err(claim_err(
            path,
            format!("expected bstr of {min}..{max} bytes, got {}", b.len()),
        )),
        v => Err(claim_err(
            path,
            format!("expected bstr, got {}", cbor::type_name(v)),
        )),
    }
}

fn is_known(k: i64) -> bool {
    use claim::*;
    matches!(
        k,
        ISS | IAT | CNF | EAT_NONCE | UEID | OEMID | HWMODEL | HWVERSION | EAT_PROFILE | MANIFESTS
    )
}

impl EatClaims {
    /// The claims set as a CBOR map value.
    pub fn to_value(&self) -> Value {
        use claim::*;
        let mut m: Vec<(Value, Value)> = Vec::new();
        if let Some(s) = &self.iss {
            m.push((int(ISS), Value::Text(s.clone())));
        }
        if let Some(t) = self.iat {
            m.push((int(IAT), int(t)));
        }
        if let Some(c) = &self.cnf {
            let inner = match c {
                Confirmation::Key(k) => (int(1), k.to_cose_key_value()),
                Confirmation::EncryptedKey(v) => (int(2), v.clone()),
                Confirmation::Kid(k) => (int(3), Value::Bytes(k.clone())),
            };
            m.push((int(CNF), Value::Map(vec![inner])));
        }
        if let Some(n) = &self.eat_nonce {
            m.push((int(EAT_NONCE), Value::Bytes(n.clone())));
        }
        if let Some(u) = &self.ueid {
            m.push((int(UEID), Value::Bytes(u.clone())));
        }
        if let Some(o) = &self.oemid {
            let v = match o {
                OemId::Bytes(b) => Value::Bytes(b.clone()),
                OemId::Pen(n) => Value::Integer(Integer::from(*n)),
            };
            m.push((int(OEMID), v));
        }
        if let Some(h) = &self.hwmodel {
            m.push((int(HWMODEL), Value::Bytes(h.clone())));
        }
        if let Some(h) = &self.hwversion {
            let mut a = vec![match &h.version {
                VersionString::Text(t) => Value::Text(t.clone()),
                VersionString::Bytes(b) => Value::Bytes(b.clone()),
            }];
            if let Some(s) = h.scheme {
                a.push(int(s));
            }
            m.push((int(HWVERSION), Value::Array(a)));
        }
        if let Some(p) = &self.eat_profile {
            let v = match p {
                EatProfile::Uri(u) => Value::Text(u.clone()),
                EatProfile::Oid(o) => Value::Bytes(o.clone()),
            };
            m.push((int(EAT_PROFILE), v));
        }
        if let Some(ms) = &self.manifests {
            let a = ms
                .iter()
                .map(|e| Value::Array(vec![e.content_type.clone(), e.format.clone()]))
                .collect();
            m.push((int(MANIFESTS), Value::Array(a)));
        }
        m.extend(self.other.iter().cloned());
        Value::Map(m)
    }

    /// Deterministic CBOR (RFC 8949 section 4.2.1 ordering, preferred serialization).
    pub fn encode(&self) -> Vec<u8> {
        cbor::to_vec(&self.to_value())
    }

    /// Strict decoding: well-formed definite-length CBOR, a map with unique int or text
    /// keys, known claims type-checked, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, EatError> {
        if bytes.len() > MAX_CLAIMS_LEN {
            return Err(claim_err(
                "",
                format!("{} bytes exceed the limit of {MAX_CLAIMS_LEN}", bytes.len()),
            ));
        }
        let v = cbor::decode_value(bytes).map_err(|e| EatError::Claim {
            path: "EAT".into(),
            reason: e,
        })?;
        Self::from_value(v)
    }

    /// Decodes from a parsed CBOR value (see [`EatClaims::decode`]).
    pub fn from_value(v: Value) -> Result<Self, EatError> {
        use claim::*;
        let Value::Map(m) = v else {
            return Err(EatError::Claim {
                path: "EAT".into(),
                reason: format!("expected claims map, got {}", cbor::type_name(&v)),
            });
        };
        cbor::check_unique_keys(&m).map_err(|e| EatError::Claim {
            path: "EAT".into(),
            reason: e,
        })?;
        let mut c = EatClaims::default();
        for (k, v) in m {
            let key = match (&k, cbor::as_i64(&k)) {
                (_, Some(n)) => n,
                (Value::Text(_), None) => {
                    c.other.push((k, v));
                    continue;
                }
                _ => {
                    return Err(EatError::Claim {
                        path: "EAT".into(),
                        reason: format!(
                            "claim key must be int or tstr, got {}",
                            cbor::type_name(&k)
                        ),
                    })
                }
            };
            if !is_known(key) {
                c.other.push((k, v));
                continue;
            }
            match key {
                ISS => match v {
                    Value::Text(s) => c.iss = Some(s),
                    v => {
                        return Err(claim_err(
                            "iss",
                            format!("expected tstr, got {}", cbor::type_name(&v)),
                        ))
                    }
                },
                IAT => match cbor::as_i64(&v) {
                    Some(t) => c.iat = Some(t),
                    None => {
                        return Err(claim_err(
                            "iat",
                            format!("expected int, got {}", cbor::type_name(&v)),
                        ))
                    }
                },
                CNF => c.cnf = Some(decode_cnf(v)?),
                EAT_NONCE => match &v {
                    Value::Array(_) => {
                        return Err(claim_err(
                            "eat_nonce",
                            "the TEEP profile requires a single bstr, not an array",
                        ))
                    }
                    _ => {
                        c.eat_nonce = Some(bytes_in("eat_nonce", &v, EAT_NONCE_MIN, EAT_NONCE_MAX)?)
                    }
                },
                UEID => c.ueid = Some(bytes_in("ueid", &v, 7, 33)?),
                OEMID => {
                    c.oemid = Some(match v {
                        Value::Bytes(b) if !b.is_empty() && b.len() <= 32 => OemId::Bytes(b),
                        Value::Integer(i) => OemId::Pen(u64::try_from(i).map_err(|_| {
                            claim_err("oemid", "Private Enterprise Number must be a uint")
                        })?),
                        v => {
                            return Err(claim_err(
                                "oemid",
                                format!(
                                    "expected bstr of 1..32 bytes or uint, got {}",
                                    cbor::type_name(&v)
                                ),
                            ))
                        }
                    })
                }
                HWMODEL => c.hwmodel = Some(bytes_in("hwmodel", &v, 1, 32)?),
                HWVERSION => c.hwversion = Some(decode_hwversion(v)?),
                EAT_PROFILE => {
                    c.eat_profile = Some(match v {
                        Value::Text(s) => EatProfile::Uri(s),
                        Value::Bytes(b) => EatProfile::Oid(b),
                        v => {
                            return Err(claim_err(
                                "eat_profile",
                                format!(
                                    "expected tstr (URI) or bstr (OID), got {}",
                                    cbor::type_name(&v)
                                ),
                            ))
                        }
                    })
                }
                MANIFESTS => c.manifests = Some(decode_manifests(v)?),
                _ => c.other.push((k, v)),
            }
        }
        Ok(c)
    }
}

fn decode_cnf(v: Value) -> Result<Confirmation, EatError> {
    let Value::Map(m) = v else {
        return Err(claim_err(
            "cnf",
            format!("expected map, got {}", cbor::type_name(&v)),
        ));
    };
    if m.len() != 1 {
        return Err(claim_err(
            "cnf",
            format!("expected exactly one confirmation method, got {}", m.len()),
        ));
    }
    let Some((k, v)) = m.into_iter().next() else {
        return Err(claim_err("cnf", "empty map"));
    };
    match cbor::as_i64(&k) {
        Some(1) => PublicKey::from_cose_key_value(&v)
            .map(Confirmation::Key)
            .map_err(|e| claim_err("cnf.COSE_Key", e.to_string())),
        Some(2) => Ok(Confirmation::EncryptedKey(v)),
        Some(3) => match v {
            Value::Bytes(b) => Ok(Confirmation::Kid(b)),
            v => Err(claim_err(
                "cnf.kid",
                format!("expected bstr, got {}", cbor::type_name(&v)),
            )),
        },
        _ => Err(claim_err(
            "cnf",
            "unknown confirmation method (expected 1 COSE_Key, 2 Encrypted_COSE_Key or 3 kid)",
        )),
    }
}

fn decode_hwversion(v: Value) -> Result<HwVersion, EatError> {
    let Value::Array(mut a) = v else {
        return Err(claim_err(
            "hwversion",
            format!("expected array, got {}", cbor::type_name(&v)),
        ));
    };
    if a.is_empty() || a.len() > 2 {
        return Err(claim_err(
            "hwversion",
            format!("expected [version, ?scheme], got {} elements", a.len()),
        ));
    }
    let scheme = if a.len() == 2 {
        let s = a.pop().unwrap_or(Value::Null);
        Some(cbor::as_i64(&s).ok_or_else(|| {
            claim_err(
                "hwversion.scheme",
                format!("expected int, got {}", cbor::type_name(&s)),
            )
        })?)
    } else {
        None
    };
    let version = match a.pop() {
        Some(Value::Text(t)) => VersionString::Text(t),
        Some(Value::Bytes(b)) => VersionString::Bytes(b),
        Some(v) => {
            return Err(claim_err(
                "hwversion.version",
                format!("expected tstr, got {}", cbor::type_name(&v)),
            ))
        }
        None => return Err(claim_err("hwversion", "empty")),
    };
    Ok(HwVersion { version, scheme })
}

fn decode_manifests(v: Value) -> Result<Vec<ManifestEntry>, EatError> {
    let Value::Array(a) = v else {
        return Err(claim_err(
            "manifests",
            format!("expected array, got {}", cbor::type_name(&v)),
        ));
    };
    a.into_iter()
        .enumerate()
        .map(|(i, e)| match e {
            Value::Array(mut p) if p.len() == 2 => {
                let format = p.pop().unwrap_or(Value::Null);
                let content_type = p.pop().unwrap_or(Value::Null);
                if !matches!(content_type, Value::Integer(_) | Value::Text(_)) {
                    return Err(claim_err(
                        &format!("manifests[{i}].content-type"),
                        format!(
                            "expected uint or tstr, got {}",
                            cbor::type_name(&content_type)
                        ),
                    ));
                }
                Ok(ManifestEntry {
                    content_type,
                    format,
                })
            }
            other => Err(claim_err(
                &format!("manifests[{i}]"),
                format!(
                    "expected [content-type, manifest], got {}",
                    cbor::type_name(&other)
                ),
            )),
        })
        .collect()
}
