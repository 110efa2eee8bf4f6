//! Every answer leaves through here: encoded in the TAM's numbering, signed with the TEEP key
//! under the algorithm id the TAM understands, the kid where the TAM reads it; refusals become
//! TEEP Error messages.

use alloc::{
    string::{String, ToString},
    vec::Vec,
};
use teep_proto::{ErrorCode, ErrorMessage, TeepMessage};

use super::algorithm::Answering;
use super::{Agent, AgentEvent, Outcome};

/// Longest err-msg (`.size (1..128)`).
const MAX_ERR_MSG: usize = 128;

/// Why an answer that was due could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("signing: {0}")]
    Sign(teep_cose::CoseError),
    /// Encrypting the EAT or a SUIT report for the TAM (-26 §8.2) failed.
    #[error("encrypting for the TAM: {0}")]
    Encrypt(teep_cose::CoseError),
}

impl Agent<'_> {
    /// Answers with an Error of `code`, `reason` as its err-msg.
    pub(super) fn refuse(
        &self,
        events: Vec<AgentEvent>,
        answering: Answering,
        token: Option<&[u8]>,
        code: ErrorCode,
        reason: String,
    ) -> Outcome {
        let mut err = ErrorMessage::new(code);
        err.token = token.map(|t| t.to_vec());
        err.err_msg = Some(truncate_text(&reason, MAX_ERR_MSG));
        self.refuse_with(events, answering, err, reason)
    }

    /// Answers with a prepared Error; `reason` is for logs and events.
    pub(super) fn refuse_with(
        &self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        err: ErrorMessage,
        reason: String,
    ) -> Outcome {
        tracing::warn!(code = ?err.err_code, %reason, "answering the TAM with an Error");
        events.push(AgentEvent::Refused {
            code: err.err_code,
            reason,
        });
        self.send(events, answering, TeepMessage::Error(err))
    }

    /// Encodes and signs `message`; a signing failure is reported in [`Outcome::error`].
    pub(super) fn send(
        &self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        message: TeepMessage,
    ) -> Outcome {
        let name = message.type_name();
        let message = match self.encrypt_outgoing(message) {
            Ok(m) => m,
            Err(e) => return Self::failed(events, ReplyError::Encrypt(e)),
        };
        let payload = message.encode(answering.numbering);
        let signer = teep_cose::Relabeled {
            inner: self.device.teep_signer(),
            algorithm: answering.algorithm,
        };
        let signed = if answering.kid_unprotected {
            teep_cose::sign1_kid_unprotected(&payload, &signer)
        } else {
            teep_cose::sign1(&payload, &signer)
        };
        match signed {
            Ok(bytes) => {
                events.push(AgentEvent::Sent { message: name });
                Outcome {
                    reply: Some(bytes),
                    events,
                    error: None,
                    deviations: Vec::new(),
                }
            }
            Err(e) => Self::failed(events, ReplyError::Sign(e)),
        }
    }

    /// An answer that was due but could not be produced.
    fn failed(mut events: Vec<AgentEvent>, error: ReplyError) -> Outcome {
        tracing::error!(%error, "cannot produce the answer");
        events.push(AgentEvent::Refused {
            code: ErrorCode::TemporaryError,
            reason: error.to_string(),
        });
        Outcome {
            reply: None,
            events,
            error: Some(error),
            deviations: Vec::new(),
        }
    }
}

/// Text as an err-msg: Net-Unicode (NFC, no control characters), at most `max` bytes cut on
/// a character boundary (-26 §4.6).
pub(super) fn truncate_text(text: &str, max: usize) -> String {
    teep_proto::text::net_unicode_line(text, max)
}

#[cfg(test)]
mod tests {
    use alloc::boxed::Box;

    use super::super::test_device::{ask, signer, Broken, KeyGone};
    use super::*;

    #[test]
    fn an_answer_that_cannot_be_signed_is_an_error_not_silence() {
        let mut device = Broken {
            signer: Box::new(KeyGone(signer(0x22))),
            store_readable: true,
        };
        let out = ask(&mut device);
        assert!(out.reply.is_none());
        let error = out.error.expect("the failure is reported");
        assert!(matches!(error, ReplyError::Sign(_)));
        assert_eq!(
            error.to_string(),
            "signing: crypto provider: key unavailable"
        );
        assert!(out.events.contains(&AgentEvent::Refused {
            code: ErrorCode::TemporaryError,
            reason: error.to_string(),
        }));
    }

    #[test]
    fn err_msg_is_cut_on_a_character_boundary() {
        assert_eq!(truncate_text("", MAX_ERR_MSG), "error");
        let text = "é".repeat(100);
        let cut = truncate_text(&text, MAX_ERR_MSG);
        assert_eq!(cut.len(), MAX_ERR_MSG);
        assert!(text.starts_with(&cut));
        assert_eq!(truncate_text("éé", 3), "é");
    }
}
