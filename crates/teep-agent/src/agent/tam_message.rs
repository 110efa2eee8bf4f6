//! Validation of what a TAM sends (draft-ietf-teep-protocol-26 §4.1.2): size, COSE_Sign1 or
//! COSE_Sign, a signature by a TAM trust anchor, then a valid TEEP message in either numbering.

use alloc::vec::Vec;
use teep_cose::Algorithm;
use teep_proto::{ErrorCode, Numbering, TeepMessage};

use super::{Agent, MAX_MESSAGE};

/// How a TAM message that passed validation was signed and numbered.
#[derive(Debug, Clone)]
pub(super) struct TamSignature {
    pub numbering: Numbering,
    /// Kid (thumbprint) of the trust anchor that verified it.
    pub kid: Vec<u8>,
    /// The algorithm id it was signed with.
    pub algorithm: Algorithm,
}

/// Why a TAM message was not accepted; the text goes back in err-msg.
#[derive(Debug, thiserror::Error)]
pub(super) enum TamMessageError {
    #[error("message of {len} bytes exceeds {MAX_MESSAGE}")]
    TooLarge { len: usize },
    #[error("not a COSE message: {0}")]
    NotCose(teep_cose::CoseError),
    #[error("no TAM trust anchor verifies the signature: {0}")]
    Untrusted(teep_cose::CoseError),
    #[error("not a valid TEEP message: {0}")]
    NotTeep(teep_proto::DecodeError),
}

impl TamMessageError {
    /// ERR_BAD_CERTIFICATE when no trust anchor vouches for the TAM, else ERR_PERMANENT_ERROR.
    pub fn code(&self) -> ErrorCode {
        match self {
            TamMessageError::Untrusted(_) => ErrorCode::BadCertificate,
            _ => ErrorCode::PermanentError,
        }
    }
}

impl Agent<'_> {
    /// Opens and verifies a TAM message; the payload is parsed only once a trust anchor
    /// verified the signature.
    pub(super) fn open_and_verify(
        &self,
        bytes: &[u8],
    ) -> Result<(TeepMessage, TamSignature), TamMessageError> {
        if bytes.len() > MAX_MESSAGE {
            return Err(TamMessageError::TooLarge { len: bytes.len() });
        }
        let opened = teep_cose::open(bytes).map_err(TamMessageError::NotCose)?;
        let (key, info) = opened
            .verify_any(&self.config.tam_trust_anchors)
            .map_err(TamMessageError::Untrusted)?;
        // A detached payload (nil) is no TEEP message: decoding nothing says so.
        let payload = opened.payload.as_deref().unwrap_or_default();
        let (message, numbering) =
            teep_proto::decode_auto(payload).map_err(TamMessageError::NotTeep)?;
        let signature = TamSignature {
            numbering,
            kid: key.thumbprint().to_vec(),
            algorithm: info.alg,
        };
        Ok((message, signature))
    }
}
