//! The stand-in default when no provider is compiled in (neither `aws-lc-rs` nor
//! `rust-crypto`): every operation fails until the embedder installs its own provider, except
//! SHA-256, which the crate needs for key thumbprints anyway.

use alloc::boxed::Box;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::{CryptoProvider, HmacKey, RawSigner};
use crate::key::{PrivateKey, PublicKey};
use crate::{Algorithm, CoseError, CryptoError};

/// Refuses every operation but hashing.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NoProvider;

impl CryptoProvider for NoProvider {
    fn name(&self) -> &'static str {
        "none"
    }

    fn signing_key(
        &self,
        _key: &PrivateKey,
        _alg: Algorithm,
    ) -> Result<Box<dyn RawSigner>, CoseError> {
        Err(CryptoError::NotInstalled.into())
    }

    fn verify(
        &self,
        _key: &PublicKey,
        _alg: Algorithm,
        _msg: &[u8],
        _sig: &[u8],
    ) -> Result<(), CoseError> {
        Err(CryptoError::NotInstalled.into())
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).into()
    }

    fn fill_random(&self, _buf: &mut [u8]) -> Result<(), CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn hmac_sha256(&self, _key: &[u8], _data: &[u8]) -> Result<[u8; 32], CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn hmac_sha256_key(&self, _key: &[u8]) -> Result<Box<dyn HmacKey>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn hmac_sha256_verify(
        &self,
        _key: &[u8],
        _data: &[u8],
        _tag: &[u8],
    ) -> Result<(), CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn hkdf_sha256_extract(
        &self,
        _salt: &[u8],
        _ikm: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn hkdf_sha256_expand(
        &self,
        _prk: &[u8],
        _info: &[u8],
        _okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn ecdh_p256(
        &self,
        _private: &PrivateKey,
        _peer: &PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn aes_key_wrap(&self, _kek: &[u8], _key: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn aes_key_unwrap(
        &self,
        _kek: &[u8],
        _wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn aes_gcm_seal(
        &self,
        _key: &[u8],
        _nonce: &[u8; 12],
        _aad: &[u8],
        _plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn aes_gcm_open(
        &self,
        _key: &[u8],
        _nonce: &[u8; 12],
        _aad: &[u8],
        _sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn x25519(
        &self,
        _scalar: &[u8; 32],
        _peer: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn x25519_public(&self, _scalar: &[u8; 32]) -> Result<[u8; 32], CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn chacha20_poly1305_seal(
        &self,
        _key: &[u8; 32],
        _nonce: &[u8; 12],
        _aad: &[u8],
        _plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn chacha20_poly1305_open(
        &self,
        _key: &[u8; 32],
        _nonce: &[u8; 12],
        _aad: &[u8],
        _sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::NotInstalled)
    }

    fn aes_ctr(&self, _key: &[u8], _iv: &[u8; 16], _data: &mut [u8]) -> Result<(), CryptoError> {
        Err(CryptoError::NotInstalled)
    }
}
