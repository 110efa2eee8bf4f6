//! One TEEP request: the core inspects it, the adapter loads what the core needs, the core
//! answers, the adapter commits the effects, then the answer goes out.

use super::*;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use teep_proto::Numbering;
use tracing::Instrument;

use crate::model::{DeviceRecord, SessionKind};
use crate::random::OsRandom;
use crate::session::{Context, Inspected, Need, Rejection, SignerMatch, SignerSearched};
use crate::store::StoreError;
use teep_cbor::deviation::catalog::HTTP_ACCEPT_MISSING;

/// The HTTP status of a message the core rejected: the peer's fault (every refusal kind) is
/// 400, the TAM's own 500.
pub(crate) fn rejection_status(r: &Rejection) -> StatusCode {
    match r {
        Rejection::Refused(_) => StatusCode::BAD_REQUEST,
        Rejection::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) fn reject(st: &AppState, r: &Rejection) -> Response {
    let status = rejection_status(r);
    let code = r.code();
    let explanation: std::borrow::Cow<'_, str> = match r {
        Rejection::Refused(refusal) if refusal.deviations.is_empty() => {
            refusal.explanation.as_str().into()
        }
        Rejection::Refused(refusal) => {
            // Logged, not counted: the metrics count only what a verified message said.
            log_deviations(&refusal.deviations);
            refusal.full_explanation().into()
        }
        Rejection::Internal(e) => e.to_string().into(),
    };
    st.metrics.error(code);
    st.note_refusal(status.as_u16(), code, r.message_type(), &explanation);
    match r {
        Rejection::Refused(_) => {
            tracing::info!(status = status.as_u16(), code, "refused: {explanation}")
        }
        Rejection::Internal(_) => {
            tracing::error!(
                status = status.as_u16(),
                code,
                "internal error: {explanation}"
            )
        }
    }
    // The TAM's own errors are explained only to peers that are told explanations too.
    let text = if st.config.explain_errors {
        format!("{explanation}\n")
    } else {
        format!("{}\n", status.canonical_reason().unwrap_or("error"))
    };
    plain(status, text)
}

/// Deviations noted in a message: logged, one line each, in the exchange's span.
fn log_deviations(deviations: &teep_cbor::deviation::Deviations) {
    for d in deviations {
        tracing::info!(deviation = d.code(), "accepted deviation: {d}");
    }
}

pub(crate) fn storage_failure(st: &AppState, e: &StoreError) -> Response {
    st.metrics.error("storage");
    tracing::warn!("storage: {e}");
    match e {
        StoreError::Unavailable(_) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable, retry later\n".into(),
        ),
        _ => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal storage error\n".into(),
        ),
    }
}

pub(crate) async fn teep_endpoint(
    st: Arc<AppState>,
    numbering: Numbering,
    uri: &Uri,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    if st.config.dump {
        crate::dump::teep_request(uri, headers, &body, numbering, &|b, p| {
            st.core.open_for_view(b, p)
        });
    }
    let resp = answer_teep_body(&st, numbering, headers, peer, &body).await;
    st.metrics.observe(started.elapsed());
    if st.config.dump {
        return crate::dump::teep_response(resp.0, numbering, resp.1.as_ref(), &resp.2).await;
    }
    resp.0
}

/// Returns the response and, for dumps, the TEEP message it carries as JSON and the notes of
/// the exchange (how a signer without kid was found, deviations accepted; empty and
/// unallocated when there are none or no dump is made).
pub(crate) async fn answer_teep_body(
    st: &AppState,
    numbering: Numbering,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    body: &[u8],
) -> (Response, Option<serde_json::Value>, Vec<String>) {
    // TEEP-HTTP §6.1: a request without a suitable Accept fails; one without any Accept is
    // read as HTTP reads it (any media type), recorded as a deviation, refused when strict.
    let accept_missing = match accepts_teep(headers) {
        Some(true) => None,
        Some(false) => {
            let text = format!("Accept: must allow {TEEP_MEDIA_TYPE}\n");
            let r = refused(st, StatusCode::NOT_ACCEPTABLE, "not-acceptable", text);
            return (r, None, Vec::new());
        }
        None => {
            let mut d = teep_cbor::deviation::Deviations::new(st.core.config.tolerance);
            if let Err(d) = d.note(&HTTP_ACCEPT_MISSING, "HTTP request header Accept") {
                let text = format!("Accept: absent; {}\n", d.refusal());
                let r = refused(st, StatusCode::NOT_ACCEPTABLE, "deviation", text);
                return (r, None, Vec::new());
            }
            Some(d)
        }
    };
    let now = now_ms();
    let mut rng = OsRandom;
    if body.is_empty() && st.is_draining() {
        st.metrics.error("draining");
        let mut r = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "this TAM is shutting down and opens no new session; retry later\n".into(),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return (r, None, Vec::new());
    }
    if body.is_empty() {
        if let Err(full) = st.sessions.admit(peer, now) {
            return (sessions_full(st, full), None, Vec::new());
        }
        // ProcessConnect. Content-Type is not required for the empty first POST (DIGEST §7).
        let span = tracing::info_span!("teep", msg = "connect", next = tracing::field::Empty);
        return async {
            let outcome = match st.core.handle_connect(numbering, now, &mut rng) {
                Ok(o) => o,
                Err(e) => return (reject(st, &Rejection::Internal(e)), None, Vec::new()),
            };
            if let Some(t) = &outcome.token {
                tracing::Span::current().record("next", hex::encode(t));
            }
            if !outcome.effects.is_empty() {
                if let Err(e) = st.store.commit(outcome.effects).await {
                    return (storage_failure(st, &e), None, Vec::new());
                }
            }
            st.sessions.step(None, outcome.token.as_deref(), peer, now);
            st.metrics.result(outcome.result.as_str());
            tracing::debug!("QueryRequest sent");
            // Nothing is verified in an empty POST: its deviations are logged and dumped but
            // counted in no metric (those count verified facts only).
            let notes = match &accept_missing {
                Some(d) => {
                    log_deviations(d);
                    d.iter().map(|d| d.to_string()).collect()
                }
                None => Vec::new(),
            };
            (
                teep_response(StatusCode::OK, outcome.response.unwrap_or_default()),
                outcome.response_json,
                notes,
            )
        }
        .instrument(span)
        .await;
    }
    if !content_type_ok(headers) {
        let text = format!("Content-Type: must be {TEEP_MEDIA_TYPE}\n");
        let r = refused(
            st,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            text,
        );
        return (r, None, Vec::new());
    }
    let mut inspected = match st.core.inspect(body, numbering) {
        Ok(i) => i,
        Err(r) => return (reject(st, &r), None, Vec::new()),
    };
    if let Some(d) = accept_missing {
        inspected.deviations.extend(d);
    }
    if inspected.unsolicited {
        if let Some(r) = super::unsolicited::refuse_new_session(st, peer, now) {
            return (r, None, Vec::new());
        }
        if !st.core.accepts_unsolicited() {
            return super::unsolicited::answer_with_query_request(st, &inspected, peer, now);
        }
    }
    // One span per step, carrying what ties the steps of a session together: the token
    // answered, the device, the token of the request the TAM sent next (`next`, which the
    // device's following step answers) and the result.
    let span = tracing::info_span!(
        "teep",
        msg = inspected.type_name,
        token = tracing::field::Empty,
        kid = tracing::field::Empty,
        next = tracing::field::Empty,
        result = tracing::field::Empty,
        deviations = tracing::field::Empty
    );
    if !span.is_disabled() {
        if let Some(t) = inspected.token() {
            span.record("token", hex::encode(t));
        }
    }
    async {
        let (mut ctx, device) = match load_context(st, &mut inspected).await {
            Ok(c) => c,
            Err(e) => return (storage_failure(st, &e), None, Vec::new()),
        };
        ctx.verifier = remote_appraisal(st, &inspected, &ctx).await;
        if let Some(d) = &ctx.device {
            let span = tracing::Span::current();
            if !span.is_disabled() {
                span.record("kid", hex::encode(&d.kid));
            }
        }
        // Counted once the core has verified the signature and the token and the step is
        // committed: an unauthenticated peer moves no per-code counter.
        let agent_error = match &inspected.message {
            crate::wire::Incoming::Error { code, .. } => Some(
                teep_proto::ErrorCode::from_value(*code, Numbering::Draft26)
                    .name()
                    .unwrap_or("unknown"),
            ),
            _ => None,
        };
        let outcome = match st.core.handle_message(inspected, &ctx, now, &mut rng) {
            Ok(o) => o,
            Err(r) => return (reject(st, &r), None, Vec::new()),
        };
        let span = tracing::Span::current();
        if !span.is_disabled() {
            if let (None, Some(k)) = (&ctx.device, &outcome.device_kid) {
                span.record("kid", hex::encode(k));
            }
            if let Some(s) = &outcome.effects.new_session {
                span.record("next", hex::encode(&s.token));
            }
            span.record("result", outcome.result.as_str());
        }
        // Deviations and a signer found without its kid: in the span (and its log line),
        // the metrics, the dump; the audit entry carries them as notes.
        if !outcome.deviations.is_empty() {
            if !span.is_disabled() {
                span.record("deviations", outcome.deviations.codes().join(","));
            }
            log_deviations(&outcome.deviations);
        }
        let notes = match &outcome.effects.audit {
            Some(a) if !a.notes.is_empty() => {
                if let Some(signer) = a.notes.iter().find(|n| n.starts_with("signer: ")) {
                    tracing::info!("{signer}");
                }
                if st.config.dump {
                    a.notes.clone()
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        };
        let epoch = st.store.epoch();
        // The token this step answered: an Update's (the pending map forgets it) or a
        // QueryRequest's (no longer in flight).
        let (answered, answered_query) = match &outcome.effects.consume {
            Some(c) if c.kind == SessionKind::Update => (Some(c.token.clone()), None),
            Some(c) => (None, Some(c.token.clone())),
            None => (None, None),
        };
        let new_session = outcome.effects.new_session.clone();
        let new_device = outcome.effects.new_device.clone();
        match st.store.commit(outcome.effects).await {
            Ok(c) if c.accepted => {
                st.sessions.step(
                    answered.as_deref().or(answered_query.as_deref()),
                    new_session.as_ref().map(|s| &s.token[..]),
                    peer,
                    now,
                );
                if new_session.is_some() || answered.is_some() {
                    let device = match (device, new_device, c.device_id) {
                        (Some(d), _, _) => Some(d),
                        (None, Some(nd), Some(id)) => Some(Arc::new(nd.into_record(id, now))),
                        _ => None,
                    };
                    st.track_pending(new_session, answered.as_deref(), device, epoch);
                }
            }
            Ok(_) => {
                return (
                    reject(st, &st.core.handle_replay_at_commit()),
                    None,
                    Vec::new(),
                )
            }
            Err(e) => return (storage_failure(st, &e), None, Vec::new()),
        }
        st.metrics.result(outcome.result.as_str());
        for d in &outcome.deviations {
            st.metrics.deviation(d.code());
        }
        if let Some(name) = agent_error {
            st.metrics.agent_error(name);
        }
        tracing::debug!("step done");
        match outcome.response {
            Some(b) => (
                teep_response(StatusCode::OK, b),
                outcome.response_json,
                notes,
            ),
            None => {
                let mut r = StatusCode::NO_CONTENT.into_response();
                security_headers(r.headers_mut());
                (r, None, notes)
            }
        }
    }
    .instrument(span)
    .await
}

/// A new session over a cap: 503 when the TAM is at capacity, 429 when the client's address
/// is; nothing changed.
pub(crate) fn sessions_full(st: &AppState, full: crate::limits::SessionsFull) -> Response {
    use crate::limits::SessionsFull;
    use crate::metrics::Limit;
    let c = &st.config;
    let (limit, status, code, text, secs) = match full {
        SessionsFull::Total { retry_secs } => (
            Limit::Sessions,
            StatusCode::SERVICE_UNAVAILABLE,
            "sessions",
            format!(
                "this TAM has {} TEEP sessions open, its cap, and opens no new one now",
                c.max_sessions
            ),
            retry_secs,
        ),
        SessionsFull::PerAddress { retry_secs } => (
            Limit::SessionsPerAddress,
            StatusCode::TOO_MANY_REQUESTS,
            "sessions-per-address",
            format!(
                "{} TEEP sessions are open from this address, the cap",
                c.max_sessions_per_address
            ),
            retry_secs,
        ),
    };
    st.limit_hit(limit, None);
    super::retry_later(st, status, code, text, secs)
}

/// The remote Verifier's verdict on the QueryResponse's Evidence, if one is configured and
/// the core has Evidence for it (RFC 9334 background check; see `crate::verifier`).
async fn remote_appraisal(
    st: &AppState,
    msg: &Inspected,
    ctx: &Context,
) -> Option<teep_tam_core::attest::VerifierVerdict> {
    if !st.verifier.is_remote() {
        return None;
    }
    let evidence = st.core.evidence_for_verifier(msg, ctx)?;
    let verifier = st.verifier.clone();
    let verdict = match tokio::task::spawn_blocking(move || verifier.appraise(&evidence)).await {
        Ok(v) => v,
        Err(e) => Some(teep_tam_core::attest::VerifierVerdict::Failed(format!(
            "the Verifier call failed: {e}"
        ))),
    };
    if let Some(teep_tam_core::attest::VerifierVerdict::Failed(why)) = &verdict {
        tracing::warn!("remote Verifier: {why}");
    }
    verdict
}

/// Loads the context the core asked for (see [`Need`]). A query token is read by the core
/// itself and an Update this process sent is found in memory, so the usual exchange reads
/// storage once: the device and its holdings, in one statement, for the QueryResponse.
/// Catalog and policy come from the store's snapshot. Also returns the device, shared, for
/// the pending map.
pub(crate) async fn load_context(
    st: &AppState,
    msg: &mut Inspected,
) -> Result<(Context, Option<Arc<DeviceRecord>>), StoreError> {
    let mut ctx = Context::default();
    let mut device: Option<Arc<DeviceRecord>> = None;
    match msg.take_need() {
        Need::Nothing => {}
        Need::QueryResponse { session } => {
            ctx.session = Some(session);
            let policy = st.store.policy().await?;
            for kid in msg.kids() {
                if let Some((d, installed)) = st.store.device_context(kid, policy.tag_rules).await?
                {
                    ctx.installed = installed;
                    device = Some(Arc::new(d));
                    break;
                }
            }
            if device.is_none() {
                let (found, searched) = search_signer(st, msg).await?;
                ctx.signer_search = Some(searched);
                if let Some(kid) = found {
                    if let Some((d, installed)) =
                        st.store.device_context(&kid, policy.tag_rules).await?
                    {
                        ctx.installed = installed;
                        device = Some(Arc::new(d));
                    }
                }
            }
            ctx.catalog = policy.catalog.clone();
            ctx.endorsement_roots = policy.endorsement_roots.clone();
            ctx.assigned = policy.assigned(device.as_ref().map(|d| (d.id, d.tags.as_slice())));
        }
        Need::Signer { session } => {
            ctx.session = Some(session);
            device = signer_device(st, msg).await?;
            if device.is_none() {
                let (found, searched) = search_signer(st, msg).await?;
                ctx.signer_search = Some(searched);
                if let Some(kid) = found {
                    device = st.store.device_by_kid(&kid).await?.map(Arc::new);
                }
            }
        }
        Need::StoredSession { catalog } => {
            // The core asks for a stored session only for a message with a token.
            let token = msg.token().unwrap_or_default();
            if let Some((s, d)) = st.pending_update(token) {
                ctx.session = Some(s);
                device = Some(d);
            } else {
                ctx.session = st.store.session_by_token(token).await?;
                device = signer_device(st, msg).await?;
                if device.is_none() {
                    if let Some(kid) = ctx.session.as_ref().and_then(|s| s.device_kid.as_deref()) {
                        device = st.store.device_by_kid(kid).await?.map(Arc::new);
                    }
                }
            }
            if catalog {
                ctx.catalog = st.store.policy().await?.catalog.clone();
            }
        }
    }
    ctx.device = device.as_deref().cloned();
    Ok((ctx, device))
}

/// When no kid of `msg` names a device: the search the core allows (the recorded UEID of
/// its evidence, then every key of a small fleet), and the kid of the device whose key
/// verifies the signature. Only messages whose kids name no device get here.
pub(crate) async fn search_signer(
    st: &AppState,
    msg: &Inspected,
) -> Result<(Option<Vec<u8>>, SignerSearched), StoreError> {
    let search = st.core.signer_search(msg);
    let mut done = SignerSearched::default();
    if let Some(ueid) = search.ueid {
        let candidates = st.store.devices_by_ueid(&ueid).await?;
        done.ueid = Some((ueid, candidates.len()));
        if let Some(i) = st.core.pick_signer(msg, &candidates) {
            done.matched = Some(SignerMatch::Ueid);
            return Ok((Some(candidates[i].kid.clone()), done));
        }
    }
    if search.try_keys_up_to > 0 {
        if let Some(all) = st.store.devices_up_to(search.try_keys_up_to).await? {
            done.tried_keys = Some(all.len());
            if let Some(i) = st.core.pick_signer(msg, &all) {
                done.matched = Some(SignerMatch::TriedKeys);
                return Ok((Some(all[i].kid.clone()), done));
            }
        }
    }
    Ok((None, done))
}

/// The device of the first of the message's kids that storage knows.
pub(crate) async fn signer_device(
    st: &AppState,
    msg: &Inspected,
) -> Result<Option<Arc<DeviceRecord>>, StoreError> {
    for kid in msg.kids() {
        if let Some(d) = st.store.device_by_kid(kid).await? {
            return Ok(Some(Arc::new(d)));
        }
    }
    Ok(None)
}
