//! `--dump`: every HTTP request and response the TAM handles, headers included, TEEP messages
//! decoded as JSON, so an implementer debugging a peer reads the protocol rather than hex.
//! Each half of a TEEP exchange opens with its direction and the message's summary
//! (`Broker→TAM  empty POST`, `TAM→Broker  QueryRequest token=…`), the format of the Broker's
//! dump, so the dump reads as the session's sequence first and each message in full below it.
//! Everything goes to stdout, one write per request and per response, so a dump can be
//! redirected apart from the logs on stderr. Credentials in headers are not printed.

use std::io::Write as _;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::Response;
use http_body_util::BodyExt;
use teep_proto::deviation::Tolerance;
use teep_proto::view::{view_message, MessageView, Opener, OpeningRender};
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
/// this TAM accepted them), then the message named, with what the Agent encrypted to the TAM
/// (-26 §8.2) opened through `open`.
pub fn teep_request(uri: &Uri, h: &HeaderMap, body: &[u8], numbering: Numbering, open: Opener<'_>) {
    if body.is_empty() {
        let mut out = String::from("Broker→TAM  empty POST\n");
        out.push_str(&head(&Method::POST, uri, h));
        out.push_str("  (empty body: new session)\n");
        emit(&out);
        return;
    }
    let out = match view_message(body, Some(numbering), Tolerance::Tolerant) {
        Ok(v) => {
            let mut out = format!("Broker→TAM  {}\n", v.summary());
            out.push_str(&head(&Method::POST, uri, h));
            message(&mut out, &v, numbering, Some(open));
            out
        }
        Err(e) => {
            let why = format!("{} bytes, not a TEEP message: {e}", body.len());
            format!(
                "Broker→TAM  {why}\n{}  ({why})\n",
                head(&Method::POST, uri, h)
            )
        }
    };
    emit(&out);
}

/// Type, size, COSE structure and numbering; the header parameters; the deviations; the
/// message named.
fn message(out: &mut String, v: &MessageView, numbering: Numbering, open: Option<Opener<'_>>) {
    let kind = match &v.opened {
        Some(o) => format!("{:?}", o.kind),
        None => "unsigned".to_string(),
    };
    out.push_str(&format!(
        "  {} ({} bytes, {kind}, {} numbering)\n",
        v.message().type_name(),
        v.bytes().len(),
        numbering.name()
    ));
    for p in v.opened.iter().flat_map(|o| o.header_parameters()) {
        out.push_str(&format!("  header: {p}\n"));
    }
    for dev in &v.decoded.deviations {
        out.push_str(&format!("  deviation: {dev}\n"));
    }
    let json = match open {
        Some(o) => v.json_with(&OpeningRender(o)),
        None => v.json(),
    };
    out.push_str(&serde_json::to_string_pretty(&json["message"]).unwrap_or_default());
    out.push('\n');
}

/// The answer to a POST on a TEEP path: [`response`] opened by a line of direction and
/// summary, and the TEEP message the body carries (in `numbering`) shown as the request's was;
/// `json` (the message as the exchange log keeps it) when the view cannot read it.
pub async fn teep_response(
    r: Response,
    numbering: Numbering,
    json: Option<&serde_json::Value>,
    notes: &[String],
) -> Response {
    let (parts, body) = r.into_parts();
    let (bytes, unreadable) = read(body).await;
    let view = if bytes.is_empty() {
        None
    } else {
        view_message(&bytes, Some(numbering), Tolerance::Tolerant).ok()
    };
    let status = parts.status;
    let line = match &view {
        Some(v) => v.summary(),
        None if bytes.is_empty() && status.is_success() => format!("{status} (session over)"),
        None => match std::str::from_utf8(&bytes) {
            Ok(text) if !text.is_empty() => {
                format!("{status}: {}", text.lines().next().unwrap_or_default())
            }
            _ => status.to_string(),
        },
    };
    let mut out = format!(
        "TAM→Broker  {line}\n<<< {status}\n{}",
        headers(&parts.headers)
    );
    for n in notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out.push_str(&unreadable);
    match &view {
        Some(v) => message(&mut out, v, numbering, None),
        None => body_text(&mut out, &parts.headers, &bytes, json),
    }
    out.push('\n');
    emit(&out);
    Response::from_parts(parts, Body::from(bytes))
}

/// The body, and a line saying why it could not be read (empty when it could).
async fn read(body: Body) -> (Bytes, String) {
    match body.collect().await {
        Ok(c) => (c.to_bytes(), String::new()),
        Err(e) => (Bytes::new(), format!("  (body unreadable: {e})\n")),
    }
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
    let (bytes, unreadable) = read(body).await;
    out.push_str(&unreadable);
    body_text(&mut out, &parts.headers, &bytes, json);
    out.push('\n');
    emit(&out);
    Response::from_parts(parts, Body::from(bytes))
}

/// `json` when given, else the body: in full when it is short text or JSON, its size and type
/// otherwise.
fn body_text(out: &mut String, h: &HeaderMap, bytes: &[u8], json: Option<&serde_json::Value>) {
    if let Some(j) = json {
        out.push_str(&serde_json::to_string_pretty(j).unwrap_or_default());
        out.push('\n');
    } else if !bytes.is_empty() {
        let ct = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let textual = ct.starts_with("text/plain") || ct.starts_with("application/json");
        match std::str::from_utf8(bytes) {
            Ok(text) if textual && bytes.len() <= SHOWN_BODY => {
                for line in text.lines() {
                    out.push_str(&format!("  | {line}\n"));
                }
            }
            _ => out.push_str(&format!("  ({} bytes of {ct})\n", bytes.len())),
        }
    }
}
