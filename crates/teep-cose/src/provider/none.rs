//! The stand-in default when no provider is compiled in (neither `aws-lc-rs` nor
//! `rust-crypto`): every operation fails until the embedder installs its own provider, except
//! SHA-256, which the crate needs for key thumbprints anyway.

use alloc::boxed::Box;

use super::{CryptoProvider, RawSigner};
use crate::key::{PrivateKey, PublicKey};
use crate::{Algorithm, CoseError};

const NOT_INSTALLED: &str =
    "no crypto provider installed (build with `aws-lc-rs` or `rust-crypto`, or call \
     set_default_provider)";

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
        Err(CoseError::Crypto(NOT_INSTALLED.into()))
    }

    fn verify(
        &self,
        _key: &PublicKey,
        _alg: Algorithm,
        _msg: &[u8],
        _sig: &[u8],
    ) -> Result<(), CoseError> {
        Err(CoseError::Crypto(NOT_INSTALLED.into()))
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).into()
    }

    fn fill_random(&self, _buf: &mut [u8]) -> Result<(), CoseError> {
        Err(CoseError::Crypto(NOT_INSTALLED.into()))
    }
}
