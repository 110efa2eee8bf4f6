//! Entity Attestation Tokens (RFC 9711) as profiled by TEEP (draft-ietf-teep-protocol
//! section 5): a claims set with the claims TEEP needs typed, every other claim kept as data,
//! deterministic encoding, strict decoding, signing as COSE_Sign1 and a JSON view.
//!
//! The same claims set serves as Evidence (signed by the Attester, background-check model)
//! and as an Attestation Result (signed by the Verifier, passport model).

use ciborium::value::{Integer, Value};
use serde_json::{json, Map as JsonMap, Value as Json};

use crate::cbor::{self, int};
use crate::{open, CoseError, PublicKey, Signer};

/// Claim keys (IANA "CBOR Web Token Claims").
pub mod claim {
    /// iss (RFC 8392).
    pub const ISS: i64 = 1;
    /// iat (RFC 8392).
    pub const IAT: i64 = 6;
    /// cnf (RFC 8747).
    pub const CNF: i64 = 8;
    /// eat_nonce (RFC 9711).
    pub const EAT_NONCE: i64 = 10;
    /// ueid.
    pub const UEID: i64 = 256;
    /// oemid.
    pub const OEMID: i64 = 258;
    /// hwmodel.
    pub const HWMODEL: i64 = 259;
    /// hwversion.
    pub const HWVERSION: i64 = 260;
    /// eat_profile.
    pub const EAT_PROFILE: i64 = 265;
    /// manifests (RFC 9711; the TEEP draft's example wrongly uses 273).
    pub const MANIFESTS: i64 = 272;
}

/// The TEEP EAT profile identifier (draft-ietf-teep-protocol section 5).
pub const TEEP_EAT_PROFILE: &str = "urn:ietf:rfc:rfcXXXX";

/// Largest encoded claims set accepted.
pub const MAX_CLAIMS_LEN: usize = 64 * 1024;

/// Shortest `eat_nonce` (RFC 9711 section 4.1: `bstr .size (8..64)`).
pub const EAT_NONCE_MIN: usize = 8;
/// Longest `eat_nonce`. A TEEP challenge may be up to 512 bytes, so callers must check.
pub const EAT_NONCE_MAX: usize = 64;

/// What went wrong with an EAT.
#[derive(Debug, thiserror::Error)]
pub enum EatError {
    /// A claim breaks a rule; `path` names it (`EAT.ueid`).
    #[error("{path}: {reason}")]
    Claim {
        /// Which claim.
        path: String,
        /// Which rule.
        reason: String,
    },
    /// The COSE layer failed (parse or signature).
    #[error("EAT signature: {0}")]
    Cose(#[from] CoseError),
    /// The nonce is absent or differs from the expected one.
    #[error("EAT.eat_nonce: {0}")]
    Nonce(&'static str),
}

fn claim_err(path: &str, reason: impl Into<String>) -> EatError {
    EatError::Claim {
        path: format!("EAT.{path}"),
        reason: reason.into(),
    }
}

/// `oemid`: an IEEE OUI/random id (bstr) or an IANA Private Enterprise Number (int).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OemId {
    /// 3-byte OUI, 16-byte random id (or another length from older peers).
    Bytes(Vec<u8>),
    /// Private Enterprise Number.
    Pen(u64),
}

/// `hwversion` = [version, ?version-scheme] (RFC 9711 section 4.2.5). RFC 9711 says text;
/// libteep sends a bstr, which is accepted and kept as such.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HwVersion {
    /// The version string.
    pub version: VersionString,
    /// CoSWID version scheme (1 = multipartnumeric, ...).
    pub scheme: Option<i64>,
}

/// Version as text (RFC 9711) or bytes (libteep).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionString {
    /// Text, as RFC 9711 specifies.
    Text(String),
    /// Bytes, as libteep encodes it.
    Bytes(Vec<u8>),
}

/// `cnf` (RFC 8747): exactly one confirmation method.
#[derive(Clone, Debug, PartialEq)]
pub enum Confirmation {
    /// 1: COSE_Key.
    Key(PublicKey),
    /// 2: Encrypted_COSE_Key, kept as data.
    EncryptedKey(Value),
    /// 3: kid.
    Kid(Vec<u8>),
}

/// `eat_profile`: URI or OID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EatProfile {
    /// Text URI.
    Uri(String),
    /// Unwrapped OID bytes.
    Oid(Vec<u8>),
}

/// One entry of `manifests`: [content-type, manifest].
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestEntry {
    /// CoAP content format (uint) or media type (tstr).
    pub content_type: Value,
    /// The manifest (bstr-wrapped or embedded), kept as data.
    pub format: Value,
}

/// An EAT claims set. Unknown claims are kept in `other` in received order and written back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EatClaims {
    /// 1 iss.
    pub iss: Option<String>,
    /// 6 iat (seconds since the epoch).
    pub iat: Option<i64>,
    /// 8 cnf.
    pub cnf: Option<Confirmation>,
    /// 10 eat_nonce (TEEP: one bstr of 8..64 bytes).
    pub eat_nonce: Option<Vec<u8>>,
    /// 256 ueid (7..33 bytes).
    pub ueid: Option<Vec<u8>>,
    /// 258 oemid.
    pub oemid: Option<OemId>,
    /// 259 hwmodel (1..32 bytes).
    pub hwmodel: Option<Vec<u8>>,
    /// 260 hwversion.
    pub hwversion: Option<HwVersion>,
    /// 265 eat_profile.
    pub eat_profile: Option<EatProfile>,
    /// 272 manifests.
    pub manifests: Option<Vec<ManifestEntry>>,
    /// Every other claim, as data.
    pub other: Vec<(Value, Value)>,
}

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

    /// Signs the encoded claims as COSE_Sign1 (tagged).
    ///
    /// Refuses an `eat_nonce` outside 8..64 bytes: a signed token carrying one breaks RFC 9711
    /// and every strict decoder (ours included). [`encode`](Self::encode) stays permissive
    /// because it also serves to build byte templates.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
        self.check_nonce_size()?;
        crate::sign1(&self.encode(), signer)
    }

    fn check_nonce_size(&self) -> Result<(), CoseError> {
        match &self.eat_nonce {
            Some(n) if !(EAT_NONCE_MIN..=EAT_NONCE_MAX).contains(&n.len()) => {
                Err(CoseError::Malformed {
                    path: "EAT.eat_nonce".into(),
                    reason: format!(
                        "{} bytes; RFC 9711 takes {EAT_NONCE_MIN}..{EAT_NONCE_MAX}",
                        n.len()
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// Parses a signed EAT without checking the signature (to pick the key by kid or iss).
    pub fn open_unverified(bytes: &[u8]) -> Result<(crate::Opened, Self), EatError> {
        let opened = open(bytes)?;
        let payload = opened
            .payload
            .as_deref()
            .ok_or_else(|| claim_err("", "detached EAT payloads are not supported"))?;
        let claims = Self::decode(payload)?;
        Ok((opened, claims))
    }

    /// Verifies a signed EAT with `key` and decodes its claims.
    pub fn verify(bytes: &[u8], key: &PublicKey) -> Result<Self, EatError> {
        let opened = open(bytes)?;
        opened.verify(key)?;
        let payload = opened
            .payload
            .as_deref()
            .ok_or_else(|| claim_err("", "detached EAT payloads are not supported"))?;
        Self::decode(payload)
    }

    /// Checks `eat_nonce` equals `expected` (freshness).
    pub fn check_nonce(&self, expected: &[u8]) -> Result<(), EatError> {
        match &self.eat_nonce {
            None => Err(EatError::Nonce("missing")),
            Some(n) if n.as_slice() == expected => Ok(()),
            Some(_) => Err(EatError::Nonce(
                "does not match the challenge or token sent",
            )),
        }
    }

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
                VersionString::Bytes(b) => match std::str::from_utf8(b) {
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

/// An Attestation Result in the passport model: an EAT claims set signed by the Verifier,
/// carrying the nonce the relying party (TAM) sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttestationResult {
    /// The claims the Verifier vouches for.
    pub claims: EatClaims,
}

impl AttestationResult {
    /// Signs as COSE_Sign1 with the Verifier's key.
    pub fn sign(&self, verifier: &dyn Signer) -> Result<Vec<u8>, CoseError> {
        self.claims.sign(verifier)
    }

    /// Verifies the Verifier's signature and decodes the claims.
    pub fn verify(bytes: &[u8], verifier_key: &PublicKey) -> Result<Self, EatError> {
        Ok(Self {
            claims: EatClaims::verify(bytes, verifier_key)?,
        })
    }

    /// Verifies and checks freshness against the nonce (token or challenge) the TAM sent.
    pub fn verify_fresh(
        bytes: &[u8],
        verifier_key: &PublicKey,
        expected_nonce: &[u8],
    ) -> Result<Self, EatError> {
        let ar = Self::verify(bytes, verifier_key)?;
        ar.claims.check_nonce(expected_nonce)?;
        Ok(ar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyType, PrivateKey, SoftwareSigner};

    fn with_nonce(len: usize) -> EatClaims {
        EatClaims {
            eat_nonce: Some(vec![0x5a; len]),
            ..Default::default()
        }
    }

    #[test]
    fn sign_accepts_nonces_of_8_to_64_bytes() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        for len in [EAT_NONCE_MIN, 32, EAT_NONCE_MAX] {
            let signed = with_nonce(len).sign(&signer).unwrap();
            let back = EatClaims::verify(&signed, &signer.public_key()).unwrap();
            assert_eq!(back.eat_nonce, Some(vec![0x5a; len]));
        }
    }

    #[test]
    fn sign_rejects_nonces_outside_8_to_64_bytes() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        for len in [0, 7, 65, 512] {
            let err = with_nonce(len).sign(&signer).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("EAT.eat_nonce: {len} bytes; RFC 9711 takes 8..64")
            );
        }
    }

    #[test]
    fn sign_without_nonce_still_works() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        let signed = EatClaims::default().sign(&signer).unwrap();
        let back = EatClaims::verify(&signed, &signer.public_key()).unwrap();
        assert_eq!(back.eat_nonce, None);
    }
}
