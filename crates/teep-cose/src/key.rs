//! P-256 and Ed25519 keys: generation, PEM (PKCS#8, SEC1, SPKI), DER, JWK (RFC 7517 / 8037)
//! and COSE_Key (RFC 9052 section 7), auto-detected on load, and the RFC 9679 COSE Key
//! thumbprint that TEEP uses as `kid`.

use std::path::Path;

use base64::Engine as _;
use ciborium::value::Value;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cbor::{self, int};
use crate::provider::CryptoProvider;
use crate::{Algorithm, CoseError, KeyError, KeyType};

/// Key files larger than this are not keys.
const MAX_KEY_FILE: u64 = 64 * 1024;

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

fn b64u(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn unb64u(field: &str, s: &str) -> Result<Vec<u8>, KeyError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| KeyError::Format(format!("JWK.{field}: invalid base64url: {e}")))
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum PublicInner {
    /// SEC1 uncompressed point 0x04 || x || y, validated on the curve.
    P256([u8; 65]),
    /// Compressed Edwards point, validated as a point.
    Ed25519([u8; 32]),
}

/// A P-256 or Ed25519 public key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    inner: PublicInner,
    thumbprint: [u8; 32],
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({}, kid {})",
            self.key_type(),
            hex::encode(self.thumbprint)
        )
    }
}

impl PublicKey {
    fn new(inner: PublicInner) -> Self {
        let mut k = Self {
            inner,
            thumbprint: [0; 32],
        };
        // RFC 9679: SHA-256 over the deterministic COSE_Key with only the required members,
        // which is exactly our public COSE_Key encoding.
        use sha2::Digest as _;
        k.thumbprint = sha2::Sha256::digest(k.to_cose_key()).into();
        k
    }

    /// P-256 key from a SEC1 point (uncompressed or compressed).
    pub fn from_p256_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        let pk = p256::PublicKey::from_sec1_bytes(bytes)
            .map_err(|_| KeyError::Format("not a valid P-256 point".into()))?;
        Ok(Self::from_p256(&pk))
    }

    fn from_p256(pk: &p256::PublicKey) -> Self {
        use p256::elliptic_curve::sec1::ToSec1Point as _;
        let point = pk.to_sec1_point(false);
        let enc = point.as_bytes();
        let mut raw = [0u8; 65];
        raw.copy_from_slice(enc);
        Self::new(PublicInner::P256(raw))
    }

    /// Ed25519 key from its 32-byte encoding.
    pub fn from_ed25519_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            KeyError::Format(format!("Ed25519 key must be 32 bytes, got {}", bytes.len()))
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(&arr)
            .map_err(|_| KeyError::Format("not a valid Ed25519 point".into()))?;
        Ok(Self::new(PublicInner::Ed25519(arr)))
    }

    /// The raw public key as providers take it: SEC1 uncompressed (65 bytes) or Ed25519 (32).
    pub fn raw(&self) -> &[u8] {
        match &self.inner {
            PublicInner::P256(r) => r,
            PublicInner::Ed25519(r) => r,
        }
    }

    /// Key type.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            PublicInner::P256(_) => KeyType::P256,
            PublicInner::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// RFC 9679 COSE Key thumbprint (SHA-256), the `kid` we emit and match.
    pub fn thumbprint(&self) -> [u8; 32] {
        self.thumbprint
    }

    /// Verifies with the default provider.
    pub fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), CoseError> {
        crate::default_provider().verify(self, alg, msg, sig)
    }

    /// Verifies with a chosen provider.
    pub fn verify_with(
        &self,
        provider: &dyn CryptoProvider,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), CoseError> {
        provider.verify(self, alg, msg, sig)
    }

    /// Auto-detects SPKI (PEM or DER), JWK, COSE_Key, or any private key form (whose public
    /// part is taken).
    pub fn from_bytes_any(data: &[u8]) -> Result<Self, KeyError> {
        match parse_any(data)? {
            Parsed::Private(k) => Ok(k.public_key()),
            Parsed::Public(k) => Ok(k),
        }
    }

    /// Reads a key file in any format [`PublicKey::from_bytes_any`] accepts.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let data = read_limited(path)?;
        Self::from_bytes_any(&data).map_err(|e| with_path(path, e))
    }

    /// Decodes a COSE_Key (private members are ignored).
    pub fn from_cose_key(cbor: &[u8]) -> Result<Self, KeyError> {
        let v = cbor::decode_value(cbor).map_err(|e| KeyError::Format(format!("COSE_Key: {e}")))?;
        Self::from_cose_key_value(&v)
    }

    /// Decodes a COSE_Key already parsed as a CBOR value (for example the EAT `cnf` claim).
    pub fn from_cose_key_value(v: &Value) -> Result<Self, KeyError> {
        Ok(cose_key_from_value(v)?.0)
    }

    /// SubjectPublicKeyInfo PEM.
    pub fn to_spki_pem(&self) -> String {
        let r = match &self.inner {
            PublicInner::P256(raw) => p256::PublicKey::from_sec1_bytes(raw)
                .ok()
                .and_then(|k| k.to_public_key_pem(p256::pkcs8::LineEnding::LF).ok()),
            PublicInner::Ed25519(raw) => ed25519_dalek::VerifyingKey::from_bytes(raw)
                .ok()
                .and_then(|k| k.to_public_key_pem(p256::pkcs8::LineEnding::LF).ok()),
        };
        // The stored point was validated on construction, so encoding cannot fail.
        r.unwrap_or_default()
    }

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

#[derive(Clone)]
enum PrivateInner {
    P256(p256::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A P-256 or Ed25519 private key (zeroized on drop by the underlying types).
#[derive(Clone)]
pub struct PrivateKey {
    inner: PrivateInner,
    public: PublicKey,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey({}, kid {})",
            self.key_type(),
            hex::encode(self.public.thumbprint)
        )
    }
}

impl PrivateKey {
    fn from_p256(sk: p256::SecretKey) -> Self {
        let public = PublicKey::from_p256(&sk.public_key());
        Self {
            inner: PrivateInner::P256(sk),
            public,
        }
    }

    fn from_ed25519(sk: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey::new(PublicInner::Ed25519(sk.verifying_key().to_bytes()));
        Self {
            inner: PrivateInner::Ed25519(sk),
            public,
        }
    }

    /// Generates a fresh key from the operating system's generator.
    ///
    /// # Panics
    /// If the operating system cannot provide randomness (no key can be made safely then);
    /// use [`PrivateKey::generate_with`] to handle that as an error.
    pub fn generate(kt: KeyType) -> Self {
        match Self::generate_with(kt, &crate::provider::RUST_CRYPTO) {
            Ok(k) => k,
            Err(e) => panic!("no randomness for key generation: {e}"),
        }
    }

    /// Generates a key with randomness from `provider`.
    pub fn generate_with(kt: KeyType, provider: &dyn CryptoProvider) -> Result<Self, CoseError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        loop {
            provider.fill_random(&mut seed[..])?;
            match kt {
                KeyType::Ed25519 => {
                    return Ok(Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(
                        &seed,
                    )))
                }
                KeyType::P256 => {
                    // Rejection sampling: values >= n (probability ~2^-32) or zero are retried.
                    if let Ok(sk) = p256::SecretKey::from_slice(&seed[..]) {
                        return Ok(Self::from_p256(sk));
                    }
                }
            }
        }
    }

    /// P-256 key from its 32-byte scalar.
    pub fn from_p256_scalar(d: &[u8]) -> Result<Self, KeyError> {
        p256::SecretKey::from_slice(d)
            .map(Self::from_p256)
            .map_err(|_| KeyError::Format("not a valid P-256 private scalar".into()))
    }

    /// Ed25519 key from its 32-byte seed.
    pub fn from_ed25519_seed(d: &[u8]) -> Result<Self, KeyError> {
        let seed: [u8; 32] = d.try_into().map_err(|_| {
            KeyError::Format(format!(
                "Ed25519 private key must be 32 bytes, got {}",
                d.len()
            ))
        })?;
        Ok(Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(
            &seed,
        )))
    }

    /// Auto-detects PEM (PKCS#8 or SEC1 `EC PRIVATE KEY`), DER, JWK or COSE_Key.
    pub fn from_bytes_any(data: &[u8]) -> Result<Self, KeyError> {
        match parse_any(data)? {
            Parsed::Private(k) => Ok(*k),
            Parsed::Public(_) => Err(KeyError::NotPrivate("key")),
        }
    }

    /// Reads a key file in any format [`PrivateKey::from_bytes_any`] accepts.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let data = read_limited(path)?;
        Self::from_bytes_any(&data).map_err(|e| with_path(path, e))
    }

    /// PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> String {
        let r = match &self.inner {
            PrivateInner::P256(sk) => sk.to_pkcs8_pem(p256::pkcs8::LineEnding::LF),
            PrivateInner::Ed25519(sk) => sk.to_pkcs8_pem(p256::pkcs8::LineEnding::LF),
        };
        // Encoding a valid in-memory key cannot fail.
        r.map(|s| s.to_string()).unwrap_or_default()
    }

    /// SEC1 PEM (`EC PRIVATE KEY`), for P-256 only.
    pub fn to_sec1_pem(&self) -> Option<String> {
        match &self.inner {
            PrivateInner::P256(sk) => sk
                .to_sec1_pem(p256::pkcs8::LineEnding::LF)
                .ok()
                .map(|s| s.to_string()),
            PrivateInner::Ed25519(_) => None,
        }
    }

    /// Private JWK (includes `d`).
    pub fn to_jwk(&self) -> serde_json::Value {
        let mut j = self.public.to_jwk();
        let d = self.secret_bytes();
        j["d"] = serde_json::Value::String(b64u(&d));
        j
    }

    /// Private COSE_Key (includes -4 `d`), deterministically encoded.
    pub fn to_cose_key(&self) -> Vec<u8> {
        let mut entries = self.public.cose_key_entries();
        entries.push((int(D), Value::Bytes(self.secret_bytes().to_vec())));
        cbor::to_vec(&Value::Map(entries))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Key type.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type()
    }

    /// ESP256 or Ed25519.
    pub fn default_algorithm(&self) -> Algorithm {
        self.key_type().default_algorithm()
    }

    /// The private scalar (P-256) or seed (Ed25519), for providers.
    pub fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        match &self.inner {
            PrivateInner::P256(sk) => Zeroizing::new(sk.to_bytes().to_vec()),
            PrivateInner::Ed25519(sk) => Zeroizing::new(sk.to_bytes().to_vec()),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Format detection

enum Parsed {
    Private(Box<PrivateKey>),
    Public(PublicKey),
}

fn read_limited(path: &Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyError::Format(format!(
            "{}: {} bytes is too large for a key file (limit {MAX_KEY_FILE})",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(io)
}

fn with_path(path: &Path, e: KeyError) -> KeyError {
    match e {
        KeyError::Format(m) => KeyError::Format(format!("{}: {m}", path.display())),
        KeyError::Unsupported(m) => KeyError::Unsupported(format!("{}: {m}", path.display())),
        other => other,
    }
}

fn parse_any(data: &[u8]) -> Result<Parsed, KeyError> {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(|| KeyError::Format("empty key data".into()))?;
    let trimmed = &data[start..];
    if trimmed.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| KeyError::Format("PEM: not valid UTF-8".into()))?;
        return parse_pem(text);
    }
    if trimmed[0] == b'{' {
        let v: serde_json::Value = serde_json::from_slice(trimmed)
            .map_err(|e| KeyError::Format(format!("JWK: invalid JSON: {e}")))?;
        return parse_jwk(&v);
    }
    match data[0] >> 5 {
        // A CBOR map: COSE_Key. DER starts with 0x30 (SEQUENCE), major type 1.
        5 => {
            let v =
                cbor::decode_value(data).map_err(|e| KeyError::Format(format!("COSE_Key: {e}")))?;
            let (public, private) = cose_key_from_value(&v)?;
            Ok(match private {
                Some(k) => Parsed::Private(Box::new(k)),
                None => Parsed::Public(public),
            })
        }
        _ if data[0] == 0x30 => parse_der(data),
        _ => Err(KeyError::Format(
            "unrecognised key format (expected PEM, DER, JWK or COSE_Key)".into(),
        )),
    }
}

fn parse_der(der: &[u8]) -> Result<Parsed, KeyError> {
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
        return Ok(Parsed::Private(Box::new(PrivateKey::from_p256(k))));
    }
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
        return Ok(Parsed::Private(Box::new(PrivateKey::from_ed25519(k))));
    }
    if let Ok(k) = p256::SecretKey::from_sec1_der(der) {
        return Ok(Parsed::Private(Box::new(PrivateKey::from_p256(k))));
    }
    if let Ok(k) = p256::PublicKey::from_public_key_der(der) {
        return Ok(Parsed::Public(PublicKey::from_p256(&k)));
    }
    if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
        return Ok(Parsed::Public(PublicKey::new(PublicInner::Ed25519(
            k.to_bytes(),
        ))));
    }
    Err(KeyError::Format(
        "DER: not a P-256 or Ed25519 PKCS#8, SEC1 or SubjectPublicKeyInfo key".into(),
    ))
}

/// Walks PEM blocks; `EC PARAMETERS` (as OpenSSL writes before SEC1 keys) is skipped and the
/// first key block decides.
fn parse_pem(text: &str) -> Result<Parsed, KeyError> {
    let mut rest = text;
    while let Some(b) = rest.find("-----BEGIN ") {
        let after = &rest[b + 11..];
        let label_end = after
            .find("-----")
            .ok_or_else(|| KeyError::Format("PEM: unterminated BEGIN line".into()))?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let end = rest
            .find(&end_marker)
            .ok_or_else(|| KeyError::Format(format!("PEM: missing `{end_marker}`")))?;
        let block = &rest[b..end + end_marker.len()];
        rest = &rest[end + end_marker.len()..];
        let fail = |what: &str, e: String| KeyError::Format(format!("PEM {what}: {e}"));
        match label {
            "EC PARAMETERS" => continue,
            "PRIVATE KEY" => {
                let p = p256::SecretKey::from_pkcs8_pem(block);
                if let Ok(k) = p {
                    return Ok(Parsed::Private(Box::new(PrivateKey::from_p256(k))));
                }
                return match ed25519_dalek::SigningKey::from_pkcs8_pem(block) {
                    Ok(k) => Ok(Parsed::Private(Box::new(PrivateKey::from_ed25519(k)))),
                    Err(e) => Err(KeyError::Unsupported(format!(
                        "PKCS#8 PRIVATE KEY is neither P-256 nor Ed25519 ({e})"
                    ))),
                };
            }
            "EC PRIVATE KEY" => {
                return p256::SecretKey::from_sec1_pem(block)
                    .map(|k| Parsed::Private(Box::new(PrivateKey::from_p256(k))))
                    .map_err(|e| fail("EC PRIVATE KEY (SEC1, P-256 only)", e.to_string()))
            }
            "PUBLIC KEY" => {
                if let Ok(k) = p256::PublicKey::from_public_key_pem(block) {
                    return Ok(Parsed::Public(PublicKey::from_p256(&k)));
                }
                return match ed25519_dalek::VerifyingKey::from_public_key_pem(block) {
                    Ok(k) => Ok(Parsed::Public(PublicKey::new(PublicInner::Ed25519(
                        k.to_bytes(),
                    )))),
                    Err(e) => Err(KeyError::Unsupported(format!(
                        "PUBLIC KEY is neither P-256 nor Ed25519 ({e})"
                    ))),
                };
            }
            other => {
                return Err(KeyError::Unsupported(format!("PEM label `{other}`")));
            }
        }
    }
    Err(KeyError::Format("PEM: no key block found".into()))
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

fn parse_jwk(v: &serde_json::Value) -> Result<Parsed, KeyError> {
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

/// Strict COSE_Key decoding: unique labels, known kty/crv, sizes checked, `d` consistent.
fn cose_key_from_value(v: &Value) -> Result<(PublicKey, Option<PrivateKey>), KeyError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cose_key_round_trip_both_types() {
        for kt in [KeyType::P256, KeyType::Ed25519] {
            let k = PrivateKey::generate(kt);
            let priv2 = PrivateKey::from_bytes_any(&k.to_cose_key()).unwrap();
            assert_eq!(priv2.public_key(), k.public_key());
            let pub2 = PublicKey::from_bytes_any(&k.public_key().to_cose_key()).unwrap();
            assert_eq!(pub2, k.public_key());
            assert!(PrivateKey::from_bytes_any(&k.public_key().to_cose_key()).is_err());
        }
    }

    #[test]
    fn rejects_inconsistent_private_part() {
        let a = PrivateKey::generate(KeyType::P256);
        let b = PrivateKey::generate(KeyType::P256);
        let mut j = a.to_jwk();
        j["d"] = b.to_jwk()["d"].clone();
        let err = PrivateKey::from_bytes_any(j.to_string().as_bytes()).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
}
