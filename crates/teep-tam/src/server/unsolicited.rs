//! An unsolicited QueryResponse (draft-ietf-teep-protocol-26 §4.3, RFC 9397 RequestTA): it
//! opens a session as the empty POST does, so it counts against the same caps and a draining
//! TAM refuses it. When the core acts on it (no attestation required) the usual path answers
//! it with an Update; otherwise it is answered here with a new QueryRequest, as the empty
//! POST is (see `teep_tam_core::session::unsolicited`).

use std::net::IpAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::*;
use crate::random::OsRandom;
use crate::session::{Inspected, Rejection};

/// Refuses a new session the TAM cannot open now (draining, or over a session cap).
pub(crate) fn refuse_new_session(
    st: &AppState,
    peer: Option<IpAddr>,
    now: i64,
) -> Option<Response> {
    if st.is_draining() {
        st.metrics.error("draining");
        let mut r = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "this TAM is shutting down and opens no new session; retry later\n".into(),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return Some(r);
    }
    st.sessions
        .admit(peer, now)
        .err()
        .map(|full| super::teep_endpoint::sessions_full(st, full))
}

/// The answer when the core does not act on it: a new QueryRequest, nothing stored.
pub(crate) fn answer_with_query_request(
    st: &AppState,
    inspected: &Inspected,
    peer: Option<IpAddr>,
    now: i64,
) -> (Response, Option<serde_json::Value>, Vec<String>) {
    let outcome = match st
        .core
        .handle_connect(inspected.numbering, now, &mut OsRandom)
    {
        Ok(o) => o,
        Err(e) => return (reject(st, &Rejection::Internal(e)), None, Vec::new()),
    };
    st.sessions.step(None, outcome.token.as_deref(), peer, now);
    st.metrics.result(outcome.result.as_str());
    tracing::info!("unsolicited QueryResponse: answered with a QueryRequest for fresh evidence");
    (
        teep_response(StatusCode::OK, outcome.response.unwrap_or_default()),
        outcome.response_json,
        Vec::new(),
    )
}
