//! Reading a message before anything is trusted: COSE opened, TEEP decoded in the path's
//! numbering (DIGEST §2.2), and what it needs from storage decided.

use alloc::{format, string::ToString};

use teep_cbor::deviation::catalog;
use teep_cose::{CoseError, CoseKind};
use teep_proto::signed::SignedError;
use teep_proto::{DecodeErrorKind, Numbering};

use crate::model::SessionRecord;
use crate::wire::{self, Incoming};

use super::rejection::{RefusalKind, Rejection};
use super::{Inspected, Need, TamCore};

impl TamCore {
    /// Opens and decodes a message without trusting it, and says what it [`Need`]s from
    /// storage. A message in the other numbering is recognised and explained rather than
    /// misread.
    pub fn inspect(&self, bytes: &[u8], numbering: Numbering) -> Result<Inspected, Rejection> {
        let tolerance = self.config.tolerance;
        let (opened, decoded) =
            match wire::signed::open_message_with(bytes, Some(numbering), tolerance) {
                Ok(x) => x,
                Err(e) => return Err(self.unreadable(bytes, numbering, e)),
            };
        let mut deviations = decoded.deviations;
        let msg = decoded.message;
        let type_name = msg.type_name();
        if opened.kind == CoseKind::Sign {
            deviations
                .note(&catalog::TEEP_AGENT_COSE_SIGN, type_name)
                .map_err(|d| Rejection::strict(Some(type_name), d))?;
        }
        let message = wire::incoming(msg);
        if let Incoming::Other(t) = &message {
            return Err(Rejection::refuse(
                RefusalKind::UnexpectedMessageType,
                Some(type_name),
                format!("{t}: a TAM accepts only QueryResponse, Success and Error"),
            ));
        }
        let (need, unsolicited) = self.need(&message, bytes, numbering);
        Ok(Inspected {
            numbering,
            opened,
            message,
            raw: bytes.to_vec(),
            type_name,
            need,
            deviations,
            unsolicited,
        })
    }

    /// Why bytes that do not open in the path's numbering are refused: a deviation this TAM
    /// is too strict to accept, a message of the other numbering (sent to the wrong path), or
    /// not a TEEP message at all.
    fn unreadable(&self, bytes: &[u8], numbering: Numbering, e: SignedError) -> Rejection {
        let refused = match &e {
            SignedError::Cose(CoseError::Refused(_)) => true,
            SignedError::Message(d) => d.kind == DecodeErrorKind::Refused,
            _ => false,
        };
        if refused {
            return Rejection::refuse(RefusalKind::StrictDeviation, None, e.to_string());
        }
        let other = numbering.other();
        if let Ok((_, m)) = wire::signed::open_message(bytes, other) {
            if wire::plausible_in(&m) {
                return Rejection::refuse(
                    RefusalKind::WrongNumberingForPath,
                    Some(m.type_name()),
                    format!(
                        "{}: this message decodes only in the {} numbering, but this path speaks {}; \
                         send it to the path that speaks {} ({e})",
                        m.type_name(),
                        other.name(),
                        numbering.name(),
                        other.name()
                    ),
                );
            }
        }
        Rejection::refuse(RefusalKind::Malformed, None, e.to_string())
    }

    /// For a QueryResponse without a token: the outstanding QueryRequest whose challenge its
    /// evidence carries as `eat_nonce` (read, not yet verified: the appraisal checks the
    /// signature), and whether that QueryRequest carried a token too.
    pub(super) fn session_by_challenge(&self, message: &Incoming) -> Option<(SessionRecord, bool)> {
        let Incoming::QueryResponse(qr) = message else {
            return None;
        };
        let evidence = self
            .parse_evidence(qr.attestation_payload.as_deref()?)
            .ok()?;
        let nonce = evidence.nonce()?;
        let c = self.token_key.open_challenge(nonce)?;
        let mut session = self.query_session(&c.token)?;
        session.challenge = Some(nonce.to_vec());
        Some((session, c.token_sent))
    }

    /// A QueryRequest token is read under the token key, so only the device and policy come
    /// from storage; any other token is an Update's (or nobody's), which only storage knows.
    /// Also whether the message is an unsolicited QueryResponse: no token, and no challenge
    /// of this TAM in its Evidence (see `unsolicited`).
    fn need(&self, message: &Incoming, raw: &[u8], numbering: Numbering) -> (Need, bool) {
        let Some(token) = message.token() else {
            return match self.session_by_challenge(message) {
                Some((session, _)) => (Need::QueryResponse { session }, false),
                None if matches!(message, Incoming::QueryResponse(_)) => {
                    (self.unsolicited_need(raw, numbering), true)
                }
                None => (Need::Nothing, false),
            };
        };
        let need = match (self.query_session(token), message) {
            (Some(session), Incoming::QueryResponse(_)) => Need::QueryResponse { session },
            (Some(session), _) => Need::Signer { session },
            (None, _) => Need::StoredSession {
                catalog: matches!(message, Incoming::Success { .. }),
            },
        };
        (need, false)
    }
}
