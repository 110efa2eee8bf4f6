//! Why a message gets no TEEP answer: the peer's fault (a [`Refusal`] of one [`RefusalKind`])
//! or the TAM's own ([`InternalError`]). The core says which; the adapter picks what the
//! transport answers (the HTTP status lives in the server, not here) and counts
//! [`Rejection::code`].
//!
//! A TAM drops an invalid message (DIGEST §2.2, §9.16): it sends no TEEP Error back, but the
//! explanation names the field and the rule so that an operator (and, when configured, the
//! peer) can tell what was wrong.

use alloc::{
    format,
    string::{String, ToString},
};

use teep_cose::KeyError;
use teep_proto::signed::SignedError;

use crate::model::CorruptRecord;

/// What was wrong with a refused message. Several kinds share a [`code`](Self::code): the
/// codes are the bounded label set of the error metric and stay stable; the kinds tell the
/// rules apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// Not COSE, not a TEEP message, or a field that breaks a rule of the CDDL (DIGEST §2.2).
    Malformed,
    /// The message decodes only in the numbering that the path it came to does not speak.
    WrongNumberingForPath,
    /// A QueryRequest or an Update: only a TAM sends those.
    UnexpectedMessageType,
    /// No token: this TAM always sends one and needs it echoed (DIGEST §3.3, §9.2).
    MissingToken,
    /// The token names no outstanding request of this TAM.
    UnknownToken,
    /// The token was already answered: only the first validly signed answer counts
    /// (DIGEST §4.1).
    ReplayedToken,
    /// The token outlived its session (DIGEST §4.1: unanswered tokens expire).
    ExpiredToken,
    /// The session was opened in the other numbering.
    SessionInOtherNumbering,
    /// The token names a request of the other type (a QueryResponse answering an Update, a
    /// Success answering a QueryRequest).
    TokenOfOtherRequestType,
    /// The Update the token names was sent to another device.
    TokenOfAnotherDevice,
    /// Enrollment is registered-only and the signer is not registered.
    UnregisteredDevice,
    /// A Success or Error signed by no device this TAM knows.
    UnknownDevice,
    /// Open enrollment, and the QueryResponse carries no evidence to enroll with.
    NoEnrollmentEvidence,
    /// Open enrollment, and the evidence does not name a usable key in `cnf`.
    BadEnrollmentEvidence,
    /// The signature does not verify with the device's stored key.
    BadSignature,
    /// A new device's message is not signed with the key its evidence names in `cnf`.
    NotSignedByCnfKey,
    /// A SUIT report in a Success or Error whose suit-report-nonce is not the Update's token
    /// (-26 §4.5, §4.6; DIGEST §4.1: such a message is dropped).
    SuitReportNonce,
    /// The message departs from the specification in a way this TAM would accept as a named
    /// deviation, but it runs `--strict` (conformance testing).
    StrictDeviation,
}

impl RefusalKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [RefusalKind; 18] = [
        RefusalKind::Malformed,
        RefusalKind::WrongNumberingForPath,
        RefusalKind::UnexpectedMessageType,
        RefusalKind::MissingToken,
        RefusalKind::UnknownToken,
        RefusalKind::ReplayedToken,
        RefusalKind::ExpiredToken,
        RefusalKind::SessionInOtherNumbering,
        RefusalKind::TokenOfOtherRequestType,
        RefusalKind::TokenOfAnotherDevice,
        RefusalKind::UnregisteredDevice,
        RefusalKind::UnknownDevice,
        RefusalKind::NoEnrollmentEvidence,
        RefusalKind::BadEnrollmentEvidence,
        RefusalKind::BadSignature,
        RefusalKind::NotSignedByCnfKey,
        RefusalKind::SuitReportNonce,
        RefusalKind::StrictDeviation,
    ];

    /// The stable short code for metrics, audit and logs.
    pub fn code(self) -> &'static str {
        match self {
            RefusalKind::Malformed => "malformed",
            RefusalKind::WrongNumberingForPath | RefusalKind::SessionInOtherNumbering => {
                "wrong-numbering"
            }
            RefusalKind::UnexpectedMessageType => "unexpected-type",
            RefusalKind::MissingToken
            | RefusalKind::UnknownToken
            | RefusalKind::TokenOfOtherRequestType
            | RefusalKind::TokenOfAnotherDevice
            | RefusalKind::SuitReportNonce => "token",
            RefusalKind::ReplayedToken => "replay",
            RefusalKind::ExpiredToken => "expired",
            RefusalKind::UnregisteredDevice | RefusalKind::UnknownDevice => "unknown-device",
            RefusalKind::NoEnrollmentEvidence | RefusalKind::BadEnrollmentEvidence => "attestation",
            RefusalKind::BadSignature | RefusalKind::NotSignedByCnfKey => "signature",
            RefusalKind::StrictDeviation => "deviation",
        }
    }
}

/// A message the TAM refuses: what was wrong, and the explanation (naming the field and the
/// rule) for the operator and, when configured, the peer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{explanation}")]
pub struct Refusal {
    pub kind: RefusalKind,
    /// The decoded message type, if it got that far (for metrics and audit).
    pub message_type: Option<&'static str>,
    pub explanation: String,
    /// Deviations accepted in the message before it was refused for another reason: the
    /// peer is told them too ([`Refusal::full_explanation`]).
    pub deviations: teep_cbor::deviation::Deviations,
}

impl Refusal {
    /// The explanation, then one line per deviation accepted before the refusal.
    pub fn full_explanation(&self) -> String {
        let mut out = self.explanation.clone();
        for d in &self.deviations {
            out.push_str("\naccepted deviation: ");
            out.push_str(&d.to_string());
        }
        out
    }
}

/// The TAM's own failure while answering: the peer did nothing wrong, so no refusal kind
/// applies. The texts go to the operator (and to the peer only when it is told explanations).
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error("stored key of device {device_id}: {source}")]
    StoredDeviceKey { device_id: i64, source: KeyError },
    #[error("stored attestation key: {0}")]
    StoredAttestationKey(KeyError),
    #[error("the TAM has no signing key")]
    NoSigningKey,
    /// The path's first QueryRequest is configured as a COSE_Sign1 under an algorithm no TAM
    /// key can sign with.
    #[error("first QueryRequest: configured as COSE_Sign1 {alg}, but no TAM key signs {alg}")]
    NoKeyFor { alg: teep_cose::Algorithm },
    /// Signing the named message (`QueryRequest`, `Update`) failed.
    #[error("signing {message}: {source}")]
    Signing {
        message: &'static str,
        source: SignedError,
    },
    /// Writing the named record as JSON failed.
    #[error("encoding {what}: {source}")]
    Encoding {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error(transparent)]
    CorruptRecord(#[from] CorruptRecord),
}

/// Why [`crate::TamCore`] gives no [`crate::Outcome`] for a message.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The peer's fault: the message breaks a rule.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The TAM's own: answer with the transport's internal-error status.
    #[error(transparent)]
    Internal(#[from] InternalError),
}

/// Code counted for internal errors, beside [`RefusalKind::code`].
pub const INTERNAL_CODE: &str = "internal";

impl Rejection {
    pub(crate) fn refuse(
        kind: RefusalKind,
        message_type: Option<&'static str>,
        explanation: impl Into<String>,
    ) -> Rejection {
        Rejection::Refused(Refusal {
            kind,
            message_type,
            explanation: explanation.into(),
            deviations: Default::default(),
        })
    }

    /// A deviation refused because the TAM is strict, explained as the decoders explain
    /// theirs: `WHERE: strict mode refuses CODE (SECTION): READING`.
    pub(crate) fn strict(
        message_type: Option<&'static str>,
        d: teep_cbor::deviation::Deviation,
    ) -> Rejection {
        Rejection::refuse(
            RefusalKind::StrictDeviation,
            message_type,
            format!("{}: {}", d.at, d.refusal()),
        )
    }

    /// The refusal, if the peer is at fault.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Rejection::Refused(r) => Some(r),
            Rejection::Internal(_) => None,
        }
    }

    pub fn kind(&self) -> Option<RefusalKind> {
        self.refusal().map(|r| r.kind)
    }

    /// Short code for metrics and logs: the refusal kind's, or [`INTERNAL_CODE`].
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Refused(r) => r.kind.code(),
            Rejection::Internal(_) => INTERNAL_CODE,
        }
    }

    /// The decoded message type, if it got that far.
    pub fn message_type(&self) -> Option<&'static str> {
        match self {
            Rejection::Refused(r) => r.message_type,
            Rejection::Internal(_) => None,
        }
    }
}

impl From<CorruptRecord> for Rejection {
    fn from(e: CorruptRecord) -> Rejection {
        Rejection::Internal(InternalError::CorruptRecord(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_bounded_metric_labels() {
        let mut codes: Vec<&str> = RefusalKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes,
            [
                "attestation",
                "deviation",
                "expired",
                "malformed",
                "replay",
                "signature",
                "token",
                "unexpected-type",
                "unknown-device",
                "wrong-numbering"
            ]
        );
    }
}
