//! The RustCrypto provider: pure Rust (p256 0.14, ed25519-dalek 3, sha2 0.11), usable without
//! `std` when given a random source.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use super::{check_alg, sig_len_check, CryptoProvider, RawSigner};
use crate::key::{PrivateKey, PublicKey};
use crate::{Algorithm, CoseError, KeyType};

/// Fills a buffer from an entropy source, e.g. a hardware generator on a `no_std` target.
pub type RandomFn = fn(&mut [u8]) -> Result<(), CoseError>;

/// RustCrypto: pure Rust (p256 0.14, ed25519-dalek 3, sha2 0.11); RFC 6979 deterministic ECDSA.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoProvider {
    /// `None`: the operating system's generator (`std` only).
    random: Option<RandomFn>,
}

impl RustCryptoProvider {
    /// Randomness from the operating system; without the `std` feature `fill_random` fails.
    pub const fn new() -> Self {
        Self { random: None }
    }

    /// Randomness from `random`: how a `no_std` embedder supplies its hardware generator, e.g.
    /// `static P: RustCryptoProvider = RustCryptoProvider::with_random(trng_fill);` and then
    /// `set_default_provider(&P)` at start-up.
    pub const fn with_random(random: RandomFn) -> Self {
        Self {
            random: Some(random),
        }
    }
}

struct RcEcdsa(p256::ecdsa::SigningKey);
struct RcEd25519(ed25519_dalek::SigningKey);

impl RawSigner for RcEcdsa {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CoseError> {
        use p256::ecdsa::signature::Signer as _;
        let sig: p256::ecdsa::Signature = self
            .0
            .try_sign(msg)
            .map_err(|e| CoseError::Crypto(format!("p256 signing failed: {e}")))?;
        Ok(sig.to_bytes().to_vec())
    }
}

impl RawSigner for RcEd25519 {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CoseError> {
        use ed25519_dalek::Signer as _;
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl CryptoProvider for RustCryptoProvider {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn signing_key(
        &self,
        key: &PrivateKey,
        alg: Algorithm,
    ) -> Result<Box<dyn RawSigner>, CoseError> {
        check_alg(alg, key.key_type())?;
        let secret = key.secret_bytes();
        match key.key_type() {
            KeyType::P256 => p256::ecdsa::SigningKey::from_slice(&secret)
                .map(|k| Box::new(RcEcdsa(k)) as Box<dyn RawSigner>)
                .map_err(|e| CoseError::Crypto(format!("p256 rejected key: {e}"))),
            KeyType::Ed25519 => {
                let seed: [u8; 32] = secret[..]
                    .try_into()
                    .map_err(|_| CoseError::Crypto("Ed25519 seed is not 32 bytes".into()))?;
                Ok(Box::new(RcEd25519(ed25519_dalek::SigningKey::from_bytes(
                    &seed,
                ))))
            }
        }
    }

    fn verify(
        &self,
        key: &PublicKey,
        alg: Algorithm,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), CoseError> {
        check_alg(alg, key.key_type())?;
        sig_len_check(sig)?;
        let bad = || CoseError::BadSignature(alg.name());
        match key.key_type() {
            KeyType::P256 => {
                use p256::ecdsa::signature::Verifier as _;
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.raw())
                    .map_err(|_| CoseError::Crypto("invalid P-256 public key".into()))?;
                let s = p256::ecdsa::Signature::from_slice(sig).map_err(|_| bad())?;
                vk.verify(msg, &s).map_err(|_| bad())
            }
            KeyType::Ed25519 => {
                let pk: [u8; 32] = key
                    .raw()
                    .try_into()
                    .map_err(|_| CoseError::Crypto("invalid Ed25519 public key".into()))?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk)
                    .map_err(|_| CoseError::Crypto("invalid Ed25519 public key".into()))?;
                let s: [u8; 64] = sig.try_into().map_err(|_| bad())?;
                vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&s))
                    .map_err(|_| bad())
            }
        }
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).into()
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), CoseError> {
        match self.random {
            Some(random) => random(buf),
            None => os_random(buf),
        }
    }
}

#[cfg(feature = "std")]
fn os_random(buf: &mut [u8]) -> Result<(), CoseError> {
    getrandom::fill(buf).map_err(|e| CoseError::Crypto(format!("getrandom: {e}")))
}

#[cfg(not(feature = "std"))]
fn os_random(_buf: &mut [u8]) -> Result<(), CoseError> {
    Err(CoseError::Crypto(
        "no random source: without `std` install a provider built with \
         RustCryptoProvider::with_random"
            .into(),
    ))
}
