//! The TAM's own attestation (draft-ietf-teep-protocol-26 §4.2 attestation-payload of a
//! QueryRequest, §7.1.2): what a TAM sends an Agent that answered ERR_ATTESTATION_REQUIRED.
//!
//! The Agent verifies it as an Attestation Result (§7.2.1.1): signed by a Verifier it trusts,
//! `eat_nonce` = the challenge of its Error, `cnf` naming the key that signs the QueryRequest
//! by key ID (RFC 9679 thumbprint: "the hash of the TAM's key"). [`TamAttestation`] is the
//! source of such a result; a deployment plugs a real Verifier behind it (one that appraised
//! the TAM's own Evidence). [`SignedAttestationResult`] is the built-in source: it signs the
//! result itself with a configured Verifier key. Whoever holds that key vouches for the TAM:
//! an Agent trusting its public key trusts any TAM that key signs for, so it belongs to
//! whoever would otherwise run the Verifier, not on every TAM host by default.

use alloc::{string::String, sync::Arc, vec::Vec};

use teep_cose::eat::{AttestationResult, Confirmation, EatClaims, EatProfile, TEEP_EAT_PROFILE};
use teep_cose::{PublicKey, Signer};

/// attestation-payload-format of an Attestation Result under the TEEP EAT profile (-26 §4.3:
/// the format an absent attestation-payload-format stands for).
pub const TEEP_EAT_MEDIA_TYPE: &str = "application/eat+cwt; eat_profile=urn:ietf:rfc:rfcXXXX";

/// Why the TAM could not attest itself.
#[derive(Debug, thiserror::Error)]
pub enum TamAttestationError {
    /// The challenge cannot be an `eat_nonce` (RFC 9711 §4.1: 8..64 bytes).
    #[error("Error.challenge: {len} bytes; eat_nonce takes 8..64")]
    Challenge { len: usize },
    /// The source failed (signing, or a remote Verifier).
    #[error("TAM attestation: {0}")]
    Failed(String),
}

/// A source of the TAM's own attestation: an Attestation Result about the TAM bound to an
/// Agent's challenge and confirming the TEEP key that signs the QueryRequest carrying it.
pub trait TamAttestation: Send + Sync {
    /// The attestation-payload-format of what [`attest`](Self::attest) returns.
    fn format(&self) -> &str {
        TEEP_EAT_MEDIA_TYPE
    }

    /// An attestation-payload with `eat_nonce` = `challenge` and `cnf` naming `tam_key`;
    /// `now_ms` for an `iat` claim.
    fn attest(
        &self,
        challenge: &[u8],
        tam_key: &PublicKey,
        now_ms: i64,
    ) -> Result<Vec<u8>, TamAttestationError>;
}

/// The built-in source: an Attestation Result signed with a configured Verifier key over fixed
/// claims about the TAM (`tam_attestation_key`, `[tam_attestation_claims]`). See the module
/// comment on what holding that key means.
pub struct SignedAttestationResult {
    verifier: Arc<dyn Signer>,
    claims: EatClaims,
}

impl SignedAttestationResult {
    /// `claims`: what the result says of the TAM (iss, ueid, oemid, hwmodel, hwversion, ...);
    /// `eat_nonce`, `cnf`, `iat` and `eat_profile` are set per result.
    pub fn new(verifier: Arc<dyn Signer>, claims: EatClaims) -> SignedAttestationResult {
        SignedAttestationResult { verifier, claims }
    }

    /// The key Agents configure as a trusted TAM Verifier (`tam_verifier_keys`).
    pub fn verifier_key(&self) -> PublicKey {
        self.verifier.public_key()
    }
}

impl TamAttestation for SignedAttestationResult {
    fn attest(
        &self,
        challenge: &[u8],
        tam_key: &PublicKey,
        now_ms: i64,
    ) -> Result<Vec<u8>, TamAttestationError> {
        let len = challenge.len();
        if !(teep_cose::eat::EAT_NONCE_MIN..=teep_cose::eat::EAT_NONCE_MAX).contains(&len) {
            return Err(TamAttestationError::Challenge { len });
        }
        let mut claims = self.claims.clone();
        claims.eat_nonce = Some(challenge.to_vec());
        claims.cnf = Some(Confirmation::Kid(tam_key.thumbprint().to_vec()));
        claims.iat = Some(now_ms.div_euclid(1000));
        claims.eat_profile = Some(EatProfile::Uri(TEEP_EAT_PROFILE.into()));
        AttestationResult { claims }
            .sign(self.verifier.as_ref())
            .map_err(|e| TamAttestationError::Failed(alloc::format!("{e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_cose::{PrivateKey, SoftwareSigner};

    fn source() -> SignedAttestationResult {
        let verifier = Arc::new(SoftwareSigner::new(
            PrivateKey::from_p256_scalar(&[0x61; 32]).unwrap(),
        ));
        SignedAttestationResult::new(
            verifier,
            EatClaims {
                iss: Some("tam.example".into()),
                ..Default::default()
            },
        )
    }

    /// -26 §7.2.1.1: the result is signed by the Verifier, bound to the challenge, and its
    /// cnf names the TAM key by RFC 9679 thumbprint (label 3, key ID).
    #[test]
    fn handling_an_attestation_result_binds_challenge_and_tam_key_id() {
        let s = source();
        let tam = PrivateKey::from_ed25519_seed(&[0x62; 32])
            .unwrap()
            .public_key();
        let bytes = s.attest(&[9; 32], &tam, 1_700_000_000_123).unwrap();
        let ar = AttestationResult::verify_fresh(&bytes, &s.verifier_key(), &[9; 32]).unwrap();
        assert_eq!(
            ar.claims.cnf,
            Some(Confirmation::Kid(tam.thumbprint().to_vec()))
        );
        assert_eq!(ar.claims.iat, Some(1_700_000_000));
        assert_eq!(ar.claims.iss.as_deref(), Some("tam.example"));
        assert_eq!(
            ar.claims.eat_profile,
            Some(EatProfile::Uri(TEEP_EAT_PROFILE.into()))
        );
        assert_eq!(s.format(), TEEP_EAT_MEDIA_TYPE);
    }

    #[test]
    fn a_challenge_that_cannot_be_an_eat_nonce_is_refused_with_its_length() {
        let tam = PrivateKey::from_ed25519_seed(&[0x62; 32])
            .unwrap()
            .public_key();
        for len in [0, 7, 65, 512] {
            let e = source().attest(&alloc::vec![1; len], &tam, 0).unwrap_err();
            assert_eq!(
                alloc::format!("{e}"),
                alloc::format!("Error.challenge: {len} bytes; eat_nonce takes 8..64")
            );
        }
    }
}
