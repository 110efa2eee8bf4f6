//! The TAM on an unsolicited QueryResponse (draft-ietf-teep-protocol-26 §4.3, RFC 9397
//! RequestTA; DIGEST §4.2): one that answers no QueryRequest of this TAM, carrying no token
//! and no challenge of ours in its Evidence. An Agent may send one only after a QueryRequest
//! of this TAM with neither token nor challenge (`CoreConfig::tokenless_queries`), and the
//! answer to such a QueryRequest reads the same, so both are handled here.
//!
//! Nothing in the message is fresh, so what it may do depends on whether this TAM needs
//! freshness:
//! * attestation not required: it is handled as a solicited QueryResponse (signature, device,
//!   policy) and answered the same way, with an Update or nothing. It is recorded as answered
//!   under a MAC of its bytes ([`TokenKey::unsolicited_token`](crate::token::TokenKey)), so
//!   the same message sent again is refused as a replay while that record lasts (the
//!   session TTL); a replay after that gets an Update the device already applied, which its
//!   sequence numbers refuse.
//! * attestation required: its Evidence answers no challenge, and acting on it would let a
//!   captured message be replayed; it is answered as the empty POST of `ProcessConnect`,
//!   with a new QueryRequest (token and challenge), and nothing is stored. The Agent's answer
//!   to that carries the same requests, fresh.

use alloc::{string::ToString, vec::Vec};

use crate::model::{SessionKind, SessionRecord};
use crate::wire::Incoming;

use super::rejection::{RefusalKind, Rejection};
use super::{Context, Inspected, Need, Outcome, Random, TamCore};

impl TamCore {
    /// Whether an unsolicited QueryResponse is acted on (answered with an Update) rather than
    /// answered with a new QueryRequest: only when no attestation, hence no freshness, is
    /// required.
    pub fn accepts_unsolicited(&self) -> bool {
        !self.config.require_attestation
    }

    /// What an unsolicited QueryResponse needs from storage: as a solicited one when it is
    /// acted on (the session named is a placeholder; the real one is made with the time),
    /// nothing otherwise.
    pub(super) fn unsolicited_need(&self, raw: &[u8], numbering: teep_proto::Numbering) -> Need {
        if !self.accepts_unsolicited() {
            return Need::Nothing;
        }
        Need::QueryResponse {
            session: self.unsolicited_session(raw, numbering, 0),
        }
    }

    /// The session an unsolicited QueryResponse opens and answers at once.
    fn unsolicited_session(
        &self,
        raw: &[u8],
        numbering: teep_proto::Numbering,
        now: i64,
    ) -> SessionRecord {
        SessionRecord {
            token: self.token_key.unsolicited_token(raw),
            kind: SessionKind::Query,
            device_kid: None,
            challenge: None,
            numbering: numbering.name().into(),
            pending: None,
            created_at: now,
            expires_at: now.saturating_add(self.config.session_ttl_ms),
            answered: false,
        }
    }

    /// `ProcessTeepMessage` for a message [`TamCore::inspect`] marked
    /// [`Inspected::unsolicited`] (see the module comment).
    pub(super) fn handle_unsolicited_query_response(
        &self,
        mut msg: Inspected,
        ctx: &Context,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        if !self.accepts_unsolicited() {
            return self
                .handle_connect(msg.numbering, now, rng)
                .map_err(Rejection::Internal);
        }
        let Incoming::QueryResponse(qr) = &msg.message else {
            return Err(Rejection::refuse(
                RefusalKind::UnexpectedMessageType,
                Some(msg.type_name),
                "only a QueryResponse may come unsolicited",
            ));
        };
        let mut deviations = core::mem::take(&mut msg.deviations);
        let session = self.unsolicited_session(&msg.raw, msg.numbering, now);
        let token: Vec<u8> = session.token.clone();
        let answered = self.on_query_response(
            &msg,
            qr,
            &session,
            msg.numbering,
            ctx,
            token,
            &mut deviations,
            now,
            rng,
        );
        let mut outcome = match answered {
            Ok(o) => o,
            Err(Rejection::Refused(mut r)) => {
                r.deviations = deviations;
                return Err(Rejection::Refused(r));
            }
            Err(e) => return Err(e),
        };
        if let Some(a) = &mut outcome.effects.audit {
            a.notes
                .push("unsolicited QueryResponse (no token, no challenge)".to_string());
            a.notes.extend(self.signer_note(&msg, ctx));
            a.notes.extend(deviations.iter().map(|d| d.to_string()));
        }
        outcome.deviations = deviations;
        Ok(outcome)
    }
}
