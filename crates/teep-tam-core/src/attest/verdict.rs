//! An external Verifier's verdict on Evidence (RFC 9334 background-check model), as the
//! adapter hands it to the core in [`Context::verifier`](crate::Context::verifier). The core
//! is sans-IO: the adapter asks the Verifier between `inspect` and `handle_message`, and the
//! core then checks freshness, `cnf`, the profile's claims and policy as for its own appraisal.

use alloc::{string::String, vec::Vec};

/// What the Verifier said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifierVerdict {
    /// The Verifier affirmed the Evidence (it checked the signature and its reference values)
    /// for the nonce the adapter gave it. `by` names the Verifier for the claims record.
    Affirmed { by: String },
    /// It did not affirm, or could not be asked (timeout, HTTP error, bad result signature):
    /// why, for the device's status and the Update's err-msg.
    Failed(String),
}

/// Evidence the adapter should pass to an external Verifier: its media type, the payload and
/// the nonce (the session's challenge) the Verifier must find in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceForVerifier {
    pub media_type: String,
    pub evidence: Vec<u8>,
    pub nonce: Vec<u8>,
}

impl super::Evidence {
    /// Whether one of `keys` signed the payload.
    pub fn signed_by(&self, keys: &[teep_cose::PublicKey]) -> bool {
        !keys.is_empty() && self.opened.verify_any(keys).is_ok()
    }

    /// The claims kept from Evidence that the external Verifier `by` affirmed.
    pub fn vouched_claims(&self, by: &str) -> super::AttestedClaims {
        super::AttestedClaims {
            verifier: Some(by.into()),
            ..self.claims_out(false)
        }
    }
}
