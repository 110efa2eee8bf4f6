//! The [`Signer`] trait: what COSE signing needs from a private key, so a hardware key store
//! can sign without handing out key material.

use alloc::{boxed::Box, vec::Vec};

use crate::encrypt::KeyAgreement;
use crate::provider::{check_alg, CryptoProvider, RawSigner};
use crate::{Algorithm, CoseError, PrivateKey, PublicKey};

/// A signing key: software, or a hardware key store.
pub trait Signer: Send + Sync {
    /// Algorithm written into the protected header.
    fn algorithm(&self) -> Algorithm;
    /// Key identifier written into the protected header: the RFC 9679 thumbprint of
    /// [`Signer::public_key`].
    fn kid(&self) -> Vec<u8> {
        self.public_key().thumbprint().to_vec()
    }
    /// The public half, for thumbprints and for peers' trust stores.
    fn public_key(&self) -> PublicKey;
    /// Signs the `Sig_structure` bytes; ECDSA signatures are raw `r || s`.
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CoseError>;
    /// The same key's key agreement (P-256 ECDH, or X25519 for an Ed25519 key), to decrypt what peers encrypt to it
    /// (-26 §8.2: the Agent encrypts its EAT and SUIT reports to the TAM's key). `None` by
    /// default: a key store that cannot agree keys does not decrypt.
    fn key_agreement(&self) -> Option<&dyn KeyAgreement> {
        None
    }
}

/// A [`Signer`] over an in-memory [`PrivateKey`], prepared once with a provider.
pub struct SoftwareSigner {
    key: PrivateKey,
    public: PublicKey,
    alg: Algorithm,
    raw: Box<dyn RawSigner>,
    provider: &'static dyn CryptoProvider,
}

impl core::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("alg", &self.alg)
            .field("key", &self.key)
            .field("provider", &self.provider.name())
            .finish()
    }
}

impl SoftwareSigner {
    /// Signs with the key's default algorithm (ESP256 or Ed25519) and the default provider.
    ///
    /// # Panics
    /// Never for keys of this crate: the default algorithm always fits and built-in providers
    /// accept every valid key. Use [`SoftwareSigner::with_provider`] for fallible construction.
    pub fn new(key: PrivateKey) -> Self {
        let alg = key.default_algorithm();
        match Self::with_provider(key, alg, crate::default_provider()) {
            Ok(s) => s,
            Err(e) => panic!("default provider rejected a valid key: {e}"),
        }
    }

    /// Signs with `alg` (e.g. ES256 or EdDSA for older peers) and the default provider.
    pub fn with_algorithm(key: PrivateKey, alg: Algorithm) -> Result<Self, CoseError> {
        Self::with_provider(key, alg, crate::default_provider())
    }

    /// Signs with `alg` through `provider`.
    pub fn with_provider(
        key: PrivateKey,
        alg: Algorithm,
        provider: &'static dyn CryptoProvider,
    ) -> Result<Self, CoseError> {
        check_alg(alg, key.key_type())?;
        let raw = provider.signing_key(&key, alg)?;
        Ok(Self {
            public: key.public_key(),
            key,
            alg,
            raw,
            provider,
        })
    }

    /// The private key.
    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// The provider that signs.
    pub fn provider(&self) -> &'static dyn CryptoProvider {
        self.provider
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
    fn kid(&self) -> Vec<u8> {
        self.public.thumbprint().to_vec()
    }
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CoseError> {
        self.raw.sign(tbs)
    }
    fn key_agreement(&self) -> Option<&dyn KeyAgreement> {
        // P-256: ECDH; Ed25519: X25519 on the key's Montgomery form (encrypt::x25519).
        Some(self as &dyn KeyAgreement)
    }
}

/// A signer whose signatures carry another identifier of the same computation
/// ([`Algorithm::same_computation`]): the signature bytes are the inner key's own, only the
/// algorithm written into the protected header differs. Used to answer a peer in the id it
/// signed with (ES256 for ESP256, EdDSA for Ed25519). `S` is any handle to a signer
/// (`&dyn Signer`, `Arc<dyn Signer>`, ...).
pub struct Relabeled<S> {
    pub inner: S,
    pub algorithm: Algorithm,
}

impl<S> Signer for Relabeled<S>
where
    S: core::ops::Deref + Send + Sync,
    S::Target: Signer,
{
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    fn kid(&self) -> Vec<u8> {
        self.inner.kid()
    }
    fn public_key(&self) -> PublicKey {
        self.inner.public_key()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CoseError> {
        self.inner.sign(tbs)
    }
    fn key_agreement(&self) -> Option<&dyn KeyAgreement> {
        self.inner.key_agreement()
    }
}
