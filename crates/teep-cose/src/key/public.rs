//! [`PublicKey`]: a validated P-256 or Ed25519 public key and its RFC 9679 thumbprint.

use alloc::format;
#[cfg(feature = "std")]
use std::path::Path;

use super::detect::{parse_any, Parsed};
#[cfg(feature = "std")]
use super::file::{read_limited, with_path};
use crate::provider::CryptoProvider;
use crate::{Algorithm, CoseError, KeyError, KeyType};

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum PublicInner {
    /// SEC1 uncompressed point 0x04 || x || y, validated on the curve.
    P256([u8; 65]),
    /// Compressed Edwards point, validated as a point.
    Ed25519([u8; 32]),
}

/// A P-256 or Ed25519 public key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    pub(super) inner: PublicInner,
    pub(super) thumbprint: [u8; 32],
}

impl core::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PublicKey({}, kid {})",
            self.key_type(),
            hex::encode(self.thumbprint)
        )
    }
}

impl PublicKey {
    pub(super) fn new(inner: PublicInner) -> Self {
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

    pub(super) fn from_p256(pk: &p256::PublicKey) -> Self {
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
    #[cfg(feature = "std")]
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let data = read_limited(path)?;
        Self::from_bytes_any(&data).map_err(|e| with_path(path, e))
    }
}
