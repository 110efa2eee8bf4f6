//! `ProcessTeepMessage` (DIGEST §4.1): the token rules every answer passes before the
//! handler of its message type runs. A token names one outstanding request; it is answered
//! once, before it expires, in the numbering it was sent in, by a message of the matching
//! type, from the device it was sent to.

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};

use teep_cbor::deviation::{catalog, Deviations};
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
        mut msg: Inspected,
        ctx: &Context,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        if msg.unsolicited {
            return self.handle_unsolicited_query_response(msg, ctx, now, rng);
        }
        let mut deviations = core::mem::take(&mut msg.deviations);
        let answered = self
            .answered_session(&msg, ctx, now, &mut deviations)
            .and_then(|(session, numbering, token)| {
                self.answer(
                    &msg,
                    session,
                    numbering,
                    ctx,
                    token,
                    &mut deviations,
                    now,
                    rng,
                )
            });
        let mut outcome = match answered {
            Ok(o) => o,
            Err(Rejection::Refused(mut r)) => {
                r.deviations = deviations;
                return Err(Rejection::Refused(r));
            }
            Err(e) => return Err(e),
        };
        if let Some(a) = &mut outcome.effects.audit {
            a.notes.extend(self.signer_note(&msg, ctx));
            a.notes.extend(deviations.iter().map(|d| d.to_string()));
        }
        outcome.deviations = deviations;
        Ok(outcome)
    }

    /// The handler of the message's type.
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        msg: &Inspected,
        session: &SessionRecord,
        numbering: Numbering,
        ctx: &Context,
        token: Vec<u8>,
        deviations: &mut Deviations,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        match &msg.message {
            Incoming::QueryResponse(qr) => self.on_query_response(
                msg, qr, session, numbering, ctx, token, deviations, now, rng,
            ),
            Incoming::Success { .. } => self.on_success(msg, session, numbering, ctx, token, now),
            Incoming::Error {
                code,
                err_msg,
                challenge,
                ..
            } if session.kind == SessionKind::Query
                && super::attestation_required::is_attestation_required(*code) =>
            {
                self.on_attestation_required(
                    msg,
                    session,
                    numbering,
                    ctx,
                    token,
                    challenge.as_deref(),
                    err_msg.as_deref(),
                    now,
                    rng,
                )
            }
            Incoming::Error {
                code,
                name,
                err_msg,
                err_lang,
                undefined,
                ..
            } => self.on_error(
                msg,
                session,
                numbering,
                ctx,
                token,
                (*code, name, *undefined),
                (err_msg.as_deref(), err_lang.as_deref()),
                now,
            ),
            Incoming::Other(_) => Err(unexpected(msg.type_name)),
        }
    }

    /// The session `msg` answers, if its token may answer it now; with the session's
    /// numbering, read, and the token. A QueryResponse without a token answers the session
    /// whose challenge its evidence carries (DIGEST §9.2); if that QueryRequest carried a
    /// token, leaving it out is a deviation.
    fn answered_session<'c>(
        &self,
        msg: &Inspected,
        ctx: &'c Context,
        now: i64,
        deviations: &mut Deviations,
    ) -> Result<(&'c SessionRecord, Numbering, Vec<u8>), Rejection> {
        let t = msg.type_name;
        let refuse = |kind, explanation: String| Rejection::refuse(kind, Some(t), explanation);
        let token = match msg.token() {
            Some(token) => token.to_vec(),
            None => {
                let found = self
                    .session_by_challenge(&msg.message)
                    .filter(|(s, _)| ctx.session.as_ref().is_some_and(|c| c.token == s.token));
                let Some((session, token_sent)) = found else {
                    return Err(refuse(
                        RefusalKind::MissingToken,
                        format!(
                            "{t}.token: missing, and no evidence whose eat_nonce is a challenge of \
                             this TAM; echo the QueryRequest's token"
                        ),
                    ));
                };
                if token_sent {
                    deviations
                        .note(&catalog::TEEP_TOKEN_NOT_ECHOED, format!("{t}.token"))
                        .map_err(|d| Rejection::strict(Some(t), d))?;
                }
                session.token
            }
        };
        let session = ctx.session.as_ref().ok_or_else(|| {
            refuse(
                RefusalKind::UnknownToken,
                format!(
                    "{t}.token: {} is not an outstanding request of this TAM",
                    hex::encode(&token)
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
