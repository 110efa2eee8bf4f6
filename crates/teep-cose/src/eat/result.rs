//! Attestation Results in the passport model.

use alloc::vec::Vec;

use super::claims::EatClaims;
use super::error::EatError;
use crate::{CoseError, PublicKey, Signer};

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
