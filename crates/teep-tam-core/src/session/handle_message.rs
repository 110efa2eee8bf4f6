//! `ProcessTeepMessage` (DIGEST §4.1): the token rules every answer passes before the
//! handler of its message type runs. A token names one outstanding request; it is answered
//! once, before it expires, in the numbering it was sent in, by a message of the matching
//! type, from the device it was sent to.

use alloc::{format, string::String};

use teep_proto::Numbering;

use crate::model::{SessionKind, SessionRecord};
use crate::wire::Incoming;

use super::effects::session_numbering;
use super::rejection::{RefusalKind, Rejection};
use super::{Context, Inspected, Outcome, Random, TamCore};

impl TamCore {
    /// `ProcessTeepMessage` for an inspected message and the [`Context`] its
    /// [`Need`](super::Need) asked for.
    pub fn handle_message(
        &self,
        msg: Inspected,
        ctx: &Context,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        let (session, numbering, token) = self.answered_session(&msg, ctx, now)?;
        let token = token.to_vec();
        match &msg.message {
            Incoming::QueryResponse(qr) => {
                self.on_query_response(&msg, qr, session, numbering, ctx, token, now, rng)
            }
            Incoming::Success { .. } => self.on_success(&msg, session, numbering, ctx, token, now),
            Incoming::Error {
                code,
                name,
                err_msg,
                ..
            } => self.on_error(
                &msg,
                session,
                numbering,
                ctx,
                token,
                *code,
                name,
                err_msg.as_deref(),
                now,
            ),
            Incoming::Other(_) => Err(unexpected(msg.type_name)),
        }
    }

    /// The session `msg` answers, if its token may answer it now; with the session's
    /// numbering, read, and the token.
    fn answered_session<'c, 'm>(
        &self,
        msg: &'m Inspected,
        ctx: &'c Context,
        now: i64,
    ) -> Result<(&'c SessionRecord, Numbering, &'m [u8]), Rejection> {
        let t = msg.type_name;
        let refuse = |kind, explanation: String| Rejection::refuse(kind, Some(t), explanation);
        let token = msg.token().ok_or_else(|| {
            refuse(
                RefusalKind::MissingToken,
                format!("{t}.token: missing; this TAM always sends a token and needs it echoed"),
            )
        })?;
        let session = ctx.session.as_ref().ok_or_else(|| {
            refuse(
                RefusalKind::UnknownToken,
                format!(
                    "{t}.token: {} is not an outstanding request of this TAM",
                    hex::encode(token)
                ),
            )
        })?;
        if session.answered {
            return Err(refuse(
                RefusalKind::ReplayedToken,
                format!("{t}.token: already answered (replay refused)"),
            ));
        }
        if session.expires_at < now {
            return Err(refuse(
                RefusalKind::ExpiredToken,
                format!(
                    "{t}.token: expired {} s ago (tokens are valid for {} s); start a new session",
                    now.saturating_sub(session.expires_at).saturating_add(999) / 1000,
                    self.config.session_ttl_ms / 1000
                ),
            ));
        }
        let numbering = session_numbering(session)?;
        if numbering != msg.numbering {
            return Err(refuse(
                RefusalKind::SessionInOtherNumbering,
                format!(
                    "{t}: the session was opened in the {} numbering",
                    numbering.name()
                ),
            ));
        }
        let expected_kind = match msg.message {
            Incoming::QueryResponse(_) => SessionKind::Query,
            Incoming::Success { .. } => SessionKind::Update,
            // An Error answers whichever request was outstanding (DIGEST §9.14).
            Incoming::Error { .. } => session.kind,
            Incoming::Other(_) => return Err(unexpected(t)),
        };
        if session.kind != expected_kind {
            return Err(refuse(
                RefusalKind::TokenOfOtherRequestType,
                format!(
                    "{t}.token: answers a {} but the TAM sent a {}",
                    expected_kind.request_name(),
                    session.kind.request_name()
                ),
            ));
        }
        if let (Some(bound), Some(dev)) = (&session.device_kid, &ctx.device) {
            if bound != &dev.kid {
                return Err(refuse(
                    RefusalKind::TokenOfAnotherDevice,
                    format!("{t}.token: belongs to another device"),
                ));
            }
        }
        Ok((session, numbering, token))
    }

    /// Storage found the token of a step already consumed when it committed (another answer
    /// with the same token committed first): the whole step is void, and this is its refusal.
    pub fn handle_replay_at_commit(&self) -> Rejection {
        Rejection::refuse(
            RefusalKind::ReplayedToken,
            None,
            "token: already answered (replay refused)",
        )
    }
}

/// A message [`TamCore::inspect`] already refuses; kept so a hand-built [`Inspected`] cannot
/// slip through.
fn unexpected(t: &'static str) -> Rejection {
    Rejection::refuse(
        RefusalKind::UnexpectedMessageType,
        Some(t),
        "unexpected message",
    )
}
