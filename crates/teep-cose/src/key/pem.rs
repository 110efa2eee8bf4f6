//! PEM and DER: PKCS#8 and SEC1 private keys, SubjectPublicKeyInfo public keys.

use alloc::{boxed::Box, format, string::String, string::ToString};

use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};

use super::detect::Parsed;
use super::private::{PrivateInner, PrivateKey};
use super::public::{PublicInner, PublicKey};
use crate::KeyError;

impl PublicKey {
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
}

impl PrivateKey {
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
}

pub(super) fn parse_der(der: &[u8]) -> Result<Parsed, KeyError> {
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
pub(super) fn parse_pem(text: &str) -> Result<Parsed, KeyError> {
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
