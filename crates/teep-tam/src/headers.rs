//! Response headers every HTTP surface of the TAM sets (TEEP endpoint, admin API, web UI).

use axum::http::{header, HeaderMap, HeaderValue};

/// nosniff, no referrer, and a Content-Security-Policy that allows nothing.
pub(crate) fn security_headers(h: &mut HeaderMap) {
    security_headers_with_csp(h, "default-src 'none'");
}

/// nosniff, no referrer, and the given Content-Security-Policy (the web UI needs its own).
pub(crate) fn security_headers_with_csp(h: &mut HeaderMap, csp: &'static str) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
