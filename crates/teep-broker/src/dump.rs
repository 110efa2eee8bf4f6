//! `teep agent run --dump`: every HTTP exchange of the Broker in the format of the TAM's dump
//! (`>>>` the request, `<<<` the response, their header fields, the TEEP message decoded), so
//! one reading serves both sides of a cross-test. Each half opens with its place in the
//! session, a direction and one summary line (`Broker→TAM  empty POST`, `TAM→Broker
//! QueryRequest token=…`), so the dump reads as the session's sequence first and each message
//! in full below it. The empty POST is named as such; each COSE header parameter is listed
//! with its bucket (where AttesTAM reads the kid decided whether it could answer); the
//! deviations a tolerant reading of a message accepts follow its headers, and those of the
//! HTTP exchange end it. Credentials are not shown.

use std::fmt::Write as _;

use teep_cbor::{Deviations, Tolerance};
use teep_cose::Limits;
use teep_proto::view::{view_message, MessageView};
use teep_proto::Numbering;

use crate::broker::{header, Exchange};

/// The sender and the receiver of a request, as the session view names them.
pub const REQUEST: &str = "Broker→TAM";
/// The sender and the receiver of a response.
pub const RESPONSE: &str = "TAM→Broker";

/// One line for the request of `x`: the TEEP message's summary, or `empty POST`.
pub fn request_line(x: &Exchange) -> String {
    if x.request_body.is_empty() {
        return "empty POST".to_string();
    }
    body_line(&x.request_body, x.tam_numbering)
}

/// One line for the response of `x`: the TEEP message's summary; for a response without one,
/// its status (and the first line of a text body: why the TAM refused).
pub fn response_line(x: &Exchange) -> String {
    if x.response_body.is_empty() {
        let over = if (200..300).contains(&x.status) {
            " (session over)"
        } else {
            ""
        };
        return format!("{}{over}", status_line(x.status));
    }
    if let Some(text) = text_body(x) {
        let first = text.lines().next().unwrap_or_default();
        return format!("{}: {first}", status_line(x.status));
    }
    let line = body_line(&x.response_body, x.tam_numbering);
    if (200..300).contains(&x.status) {
        line
    } else {
        format!("{} {line}", status_line(x.status))
    }
}

/// The TEEP message `bytes` carries, opened for viewing (signature not checked), in `known`
/// numbering or the one it is valid in.
pub fn view(bytes: &[u8], known: Option<Numbering>) -> Option<MessageView> {
    view_message(bytes, known, Tolerance::Tolerant).ok()
}

fn body_line(bytes: &[u8], known: Option<Numbering>) -> String {
    match view_message(bytes, known, Tolerance::Tolerant) {
        Ok(v) => v.summary(),
        Err(e) => format!("{} bytes, not a TEEP message: {e}", bytes.len()),
    }
}

/// The response body as text, when the TAM sent text (an explanation of a refusal).
fn text_body(x: &Exchange) -> Option<&str> {
    let ct = header(&x.response_headers, "content-type").unwrap_or("");
    match std::str::from_utf8(&x.response_body) {
        Ok(text) if ct.starts_with("text/") && text.len() <= SHOWN_TEXT => Some(text),
        _ => None,
    }
}

/// Longest text body shown in full.
const SHOWN_TEXT: usize = 16 * 1024;

/// The exchange as text, ending with an empty line.
pub fn render(x: &Exchange) -> String {
    let mut out = format!("{REQUEST}  {}\n", request_line(x));
    let _ = writeln!(out, ">>> POST {}", without_userinfo(&x.uri));
    headers(&mut out, &x.request_headers);
    if x.request_body.is_empty() {
        out.push_str("  (empty body: new session)\n");
    } else {
        message(&mut out, &x.request_body, x.tam_numbering);
    }
    let _ = writeln!(out, "{RESPONSE}  {}", response_line(x));
    let _ = writeln!(out, "<<< {}", status_line(x.status));
    headers(&mut out, &x.response_headers);
    if x.response_body.is_empty() {
        if (200..300).contains(&x.status) {
            out.push_str("  (no content: session over)\n");
        }
    } else if let Some(text) = text_body(x) {
        for line in text.lines() {
            let _ = writeln!(out, "  | {line}");
        }
    } else {
        message(&mut out, &x.response_body, x.tam_numbering);
    }
    for d in &x.deviations {
        let _ = writeln!(out, "  deviation: {d}");
    }
    out.push('\n');
    out
}

fn status_line(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status) {
        Ok(s) => s.to_string(),
        Err(_) => status.to_string(),
    }
}

/// The URI without `user:password@`.
fn without_userinfo(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => uri.to_string(),
    }
}

fn headers(out: &mut String, h: &[(String, String)]) {
    for (k, v) in h {
        let secret = [
            "authorization",
            "cookie",
            "set-cookie",
            "proxy-authorization",
        ]
        .iter()
        .any(|s| k.eq_ignore_ascii_case(s));
        let v = if secret { "<not shown>" } else { v.as_str() };
        let _ = writeln!(out, "  {k}: {v}");
    }
}

/// A TEEP message as the TAM's dump shows one: type, size, COSE structure and numbering; every
/// COSE header parameter with its bucket; what a tolerant reading accepts; the message named
/// (the view's JSON). Read in `known` numbering, or, without it, in the numbering it is valid
/// in.
fn message(out: &mut String, bytes: &[u8], known: Option<Numbering>) {
    let v = match view_message(bytes, known, Tolerance::Tolerant) {
        Ok(v) => v,
        Err(e) => return not_a_message(out, bytes, e),
    };
    let d = &v.decoded;
    let also = match d.also_valid_in {
        Some(other) => format!(", also valid in {other} numbering"),
        None => String::new(),
    };
    let kind = match &v.opened {
        Some(o) => format!("{:?}", o.kind),
        None => "unsigned".to_string(),
    };
    let _ = writeln!(
        out,
        "  {} ({} bytes, {kind}, {} numbering{also})",
        d.message.type_name(),
        bytes.len(),
        d.numbering
    );
    for p in v.opened.iter().flat_map(|o| o.header_parameters()) {
        let _ = writeln!(out, "  header: {p}");
    }
    for dev in &d.deviations {
        let _ = writeln!(out, "  deviation: {dev}");
    }
    let named = v.json();
    out.push_str(&serde_json::to_string_pretty(&named["message"]).unwrap_or_default());
    out.push('\n');
}

/// Bytes the view could not read: what of them is COSE (its header parameters and deviations)
/// and why they are not a TEEP message.
fn not_a_message(out: &mut String, bytes: &[u8], e: impl std::fmt::Display) {
    let mut deviations = Deviations::new(Tolerance::Tolerant);
    let opened = match teep_cose::open_with(bytes, &Limits::default(), &mut deviations) {
        Ok(o) => o,
        Err(cose) => {
            let _ = writeln!(out, "  ({} bytes, not COSE: {cose})", bytes.len());
            return;
        }
    };
    let _ = writeln!(out, "  ({} bytes, {:?})", bytes.len(), opened.kind);
    for p in opened.header_parameters() {
        let _ = writeln!(out, "  header: {p}");
    }
    for dev in &deviations {
        let _ = writeln!(out, "  deviation: {dev}");
    }
    let _ = writeln!(out, "  (not a TEEP message: {e})");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_cut_from_the_uri() {
        assert_eq!(
            without_userinfo("https://u:secret@tam.example:8443/tam"),
            "https://tam.example:8443/tam"
        );
        assert_eq!(without_userinfo("http://h/p@x"), "http://h/p@x");
        assert_eq!(without_userinfo("not a uri"), "not a uri");
    }

    fn exchange(status: u16, content_type: &str, body: &[u8]) -> Exchange {
        Exchange {
            uri: "http://tam.example/tam".into(),
            request_headers: Vec::new(),
            request_body: Vec::new(),
            status,
            response_headers: vec![("Content-Type".into(), content_type.into())],
            response_body: body.to_vec(),
            deviations: Vec::new(),
            tam_numbering: None,
        }
    }

    #[test]
    fn session_lines_name_what_carries_no_teep_message() {
        let x = exchange(204, "", b"");
        assert_eq!(request_line(&x), "empty POST");
        assert_eq!(response_line(&x), "204 No Content (session over)");
        let x = exchange(415, "text/plain", b"send Content-Type\nsecond line\n");
        assert_eq!(
            response_line(&x),
            "415 Unsupported Media Type: send Content-Type"
        );
        let x = exchange(500, "", b"");
        assert_eq!(response_line(&x), "500 Internal Server Error");
        let x = exchange(200, "application/teep+cbor", &[0xff, 0x00]);
        assert!(
            response_line(&x).starts_with("2 bytes, not a TEEP message: "),
            "{}",
            response_line(&x)
        );
        let rendered = render(&x);
        assert!(
            rendered.starts_with("Broker→TAM  empty POST\n>>> POST http://tam.example/tam\n"),
            "{rendered}"
        );
        assert!(
            rendered.contains("\nTAM→Broker  2 bytes, not a TEEP message: "),
            "{rendered}"
        );
    }
}
