//! What went wrong with an EAT.

use alloc::{format, string::String};

use crate::CoseError;

/// What went wrong with an EAT.
#[derive(Debug, thiserror::Error)]
pub enum EatError {
    /// A claim breaks a rule; `path` names it (`EAT.ueid`).
    #[error("{path}: {reason}")]
    Claim {
        /// Which claim.
        path: String,
        /// Which rule.
        reason: String,
    },
    /// The COSE layer failed (parse or signature). Not a `source`: its text is already in
    /// this one, and printing the chain would repeat it.
    #[error("EAT signature: {0}")]
    Cose(CoseError),
    /// The nonce is absent or differs from the expected one.
    #[error("EAT.eat_nonce: {0}")]
    Nonce(&'static str),
}

impl From<CoseError> for EatError {
    fn from(e: CoseError) -> Self {
        EatError::Cose(e)
    }
}

pub(super) fn claim_err(path: &str, reason: impl Into<String>) -> EatError {
    EatError::Claim {
        path: format!("EAT.{path}"),
        reason: reason.into(),
    }
}
