//! The transport rules (draft-ietf-teep-otrp-over-http): which requests carry TEEP
//! (Accept, Content-Type), and how answers and transport-level refusals are shaped. The
//! service and the TEEP endpoint both use them; this file uses neither.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{security_headers, AppState, TEEP_MEDIA_TYPE};

pub(crate) fn body_too_large(st: &AppState, limit: usize) -> Response {
    refused(
        st,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        format!("request body: larger than the limit of {limit} bytes\n"),
    )
}

/// A refusal before any TEEP decoding (transport level): counted, remembered, answered.
pub(crate) fn refused(
    st: &AppState,
    status: StatusCode,
    code: &'static str,
    text: String,
) -> Response {
    st.metrics.error(code);
    st.note_refusal(status.as_u16(), code, None, &text);
    plain(status, text)
}

/// Whether the request's Accept allows the TEEP media type; `None` when it has no Accept
/// (the deviation `http.accept-missing`).
pub(crate) fn accepts_teep(headers: &HeaderMap) -> Option<bool> {
    let accept = headers.get(header::ACCEPT)?;
    let Ok(accept) = accept.to_str() else {
        return Some(false);
    };
    Some(accept.split(',').any(|part| {
        let mt = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        mt == TEEP_MEDIA_TYPE || mt == "*/*" || mt == "application/*"
    }))
}

pub(crate) fn content_type_ok(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(TEEP_MEDIA_TYPE)
        })
        .unwrap_or(false)
}

/// Headers every TEEP response with content carries (transport §5).
pub(crate) fn teep_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEEP_MEDIA_TYPE),
    );
    security_headers(h);
    r
}

pub(crate) fn plain(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    security_headers(r.headers_mut());
    r
}
