//! `--dump`: every HTTP request and response the TAM handles, headers included, TEEP messages
//! decoded as JSON, so an implementer debugging a peer reads the protocol rather than hex.
//! Everything goes to stdout, one write per request and per response, so a dump can be
//! redirected apart from the logs on stderr. Credentials in headers are not printed.

use std::io::Write as _;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::Response;
use http_body_util::BodyExt;
use teep_proto::deviation::Tolerance;
use teep_proto::Numbering;

/// Longest text or JSON body shown in full; larger ones (and binary ones) are summarised.
const SHOWN_BODY: usize = 16 * 1024;

fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not take the server down; the dump is best effort.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn headers(h: &HeaderMap) -> String {
    h.iter()
        .map(|(k, v)| {
            let secret =
                k == header::AUTHORIZATION || k == header::COOKIE || k == header::SET_COOKIE;
            let v = if secret {
                "<not shown>"
            } else {
                v.to_str().unwrap_or("<binary>")
            };
            format!("  {k}: {v}\n")
        })
        .collect()
}

fn head(method: &Method, uri: &Uri, h: &HeaderMap) -> String {
    format!(">>> {method} {uri}\n{}", headers(h))
}

/// A request whose body is not shown: not read yet (routed traffic, whose handler reads it),
/// or refused before reading (`note` says why).
pub fn request_head(method: &Method, uri: &Uri, h: &HeaderMap, note: Option<&str>) {
    let mut out = head(method, uri, h);
    if let Some(n) = note {
        out.push_str(&format!("  ({n})\n"));
    }
    emit(&out);
}

/// A POST to a TEEP path, its message decoded without verifying anything: every COSE header
/// parameter with its bucket (protected or not: which one a peer reads kid from decided the
/// AttesTAM failures), the deviations a tolerant reading accepts (the response says whether
/// this TAM accepted them), then the message as JSON.
pub fn teep_request(uri: &Uri, h: &HeaderMap, body: &[u8], numbering: Numbering) {
    let mut out = head(&Method::POST, uri, h);
    if body.is_empty() {
        out.push_str("  (empty body: new session)\n");
    } else {
        match crate::wire::signed::open_message_with(body, Some(numbering), Tolerance::Tolerant) {
            Ok((opened, d)) => {
                let m = &d.message;
                out.push_str(&format!(
                    "  {} ({} bytes, {:?}, {} numbering)\n",
                    m.type_name(),
                    body.len(),
                    opened.kind,
                    numbering.name()
                ));
                for p in opened.header_parameters() {
                    out.push_str(&format!("  header: {p}\n"));
                }
                for dev in &d.deviations {
                    out.push_str(&format!("  deviation: {dev}\n"));
                }
                out.push_str(&serde_json::to_string_pretty(&m.to_json()).unwrap_or_default());
                out.push('\n');
            }
            Err(e) => out.push_str(&format!(
                "  ({} bytes, not a TEEP message: {e})\n",
                body.len()
            )),
        }
    }
    emit(&out);
}

/// Prints `r` (with `json`, the TEEP message it carries, and the exchange's `notes`: how a
/// signer without kid was found, deviations accepted) and gives it back unchanged. The body
/// is read to be shown: the TAM's responses are all in memory, so this waits for nothing.
pub async fn response(r: Response, json: Option<&serde_json::Value>, notes: &[String]) -> Response {
    let (parts, body) = r.into_parts();
    let mut out = format!("<<< {}\n{}", parts.status, headers(&parts.headers));
    for n in notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            out.push_str(&format!("  (body unreadable: {e})\n"));
            Bytes::new()
        }
    };
    if let Some(j) = json {
        out.push_str(&serde_json::to_string_pretty(j).unwrap_or_default());
        out.push('\n');
    } else if !bytes.is_empty() {
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let textual = ct.starts_with("text/plain") || ct.starts_with("application/json");
        match std::str::from_utf8(&bytes) {
            Ok(text) if textual && bytes.len() <= SHOWN_BODY => {
                for line in text.lines() {
                    out.push_str(&format!("  | {line}\n"));
                }
            }
            _ => out.push_str(&format!("  ({} bytes of {ct})\n", bytes.len())),
        }
    }
    out.push('\n');
    emit(&out);
    Response::from_parts(parts, Body::from(bytes))
}
