//! [`PrivateKey`]: a P-256 or Ed25519 private key with its public half.

use alloc::format;
use alloc::vec::Vec;
#[cfg(feature = "std")]
use std::path::Path;

use zeroize::Zeroizing;

use super::detect::{parse_any, Parsed};
#[cfg(feature = "std")]
use super::file::{read_limited, with_path};
use super::public::{PublicInner, PublicKey};
use crate::provider::CryptoProvider;
use crate::{Algorithm, CryptoError, KeyError, KeyType};

#[derive(Clone)]
pub(super) enum PrivateInner {
    P256(p256::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A P-256 or Ed25519 private key (zeroized on drop by the underlying types).
#[derive(Clone)]
pub struct PrivateKey {
    pub(super) inner: PrivateInner,
    pub(super) public: PublicKey,
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PrivateKey({}, kid {})",
            self.key_type(),
            hex::encode(self.public.thumbprint)
        )
    }
}

impl PrivateKey {
    pub(super) fn from_p256(sk: p256::SecretKey) -> Self {
        let public = PublicKey::from_p256(&sk.public_key());
        Self {
            inner: PrivateInner::P256(sk),
            public,
        }
    }

    pub(super) fn from_ed25519(sk: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey::new(PublicInner::Ed25519(sk.verifying_key().to_bytes()));
        Self {
            inner: PrivateInner::Ed25519(sk),
            public,
        }
    }

    /// Generates a fresh key with the default provider (see
    /// [`set_default_provider`](crate::set_default_provider)).
    ///
    /// # Panics
    /// If the provider cannot supply randomness (no key can be made safely then; without
    /// `std` until a provider with a random source is installed). Services use
    /// [`PrivateKey::try_generate`] to report that as an error.
    pub fn generate(kt: KeyType) -> Self {
        match Self::try_generate(kt) {
            Ok(k) => k,
            Err(e) => panic!("no randomness for key generation: {e}"),
        }
    }

    /// Generates a fresh key with the default provider, or says why it could not.
    pub fn try_generate(kt: KeyType) -> Result<Self, CryptoError> {
        Self::generate_with(kt, crate::default_provider())
    }

    /// Generates a key with `provider` (its own generator, or its `fill_random`).
    pub fn generate_with(kt: KeyType, provider: &dyn CryptoProvider) -> Result<Self, CryptoError> {
        provider.generate_key(kt)
    }

    /// A key whose secret comes from `fill`: the Ed25519 seed directly, the P-256 scalar by
    /// rejection sampling.
    pub(crate) fn from_random(
        kt: KeyType,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CryptoError>,
    ) -> Result<Self, CryptoError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        loop {
            fill(&mut seed[..])?;
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
    #[cfg(feature = "std")]
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let data = read_limited(path)?;
        Self::from_bytes_any(&data).map_err(|e| with_path(path, e))
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

    /// P-256 ECDH with `peer` through the default provider: the shared x-coordinate, as
    /// ECDH-ES and ECDH-SS key agreement (RFC 9053 section 6.3) take it.
    pub fn ecdh(&self, peer: &PublicKey) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        crate::default_provider().ecdh_p256(self, peer)
    }

    /// The private scalar (P-256) or seed (Ed25519), for providers.
    pub fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        match &self.inner {
            PrivateInner::P256(sk) => Zeroizing::new(sk.to_bytes().to_vec()),
            PrivateInner::Ed25519(sk) => Zeroizing::new(sk.to_bytes().to_vec()),
        }
    }
}
