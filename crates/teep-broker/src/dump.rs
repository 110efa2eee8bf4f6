//! `teep agent run --dump`: every HTTP exchange of the Broker in the format of the TAM's dump
//! (`>>>` the request, `<<<` the response, their header fields, the TEEP message decoded), so
//! one reading serves both sides of a cross-test. The empty POST is named as such; each COSE
//! header parameter is listed with its bucket (where AttesTAM reads the kid decided whether it
//! could answer); the deviations a tolerant reading of a message accepts follow its headers,
//! and those of the HTTP exchange end it. Credentials are not shown.

use std::fmt::Write as _;

use teep_cbor::{Deviations, Tolerance};
use teep_cose::Limits;
use teep_proto::Numbering;

use crate::broker::{header, Exchange};

/// Longest text body shown in full.
const SHOWN_TEXT: usize = 16 * 1024;

/// The exchange as text, ending with an empty line.
pub fn render(x: &Exchange) -> String {
    let mut out = format!(">>> POST {}\n", without_userinfo(&x.uri));
    headers(&mut out, &x.request_headers);
    if x.request_body.is_empty() {
        out.push_str("  (empty body: new session)\n");
    } else {
        message(&mut out, &x.request_body, x.tam_numbering);
    }
    let _ = writeln!(out, "<<< {}", status_line(x.status));
    headers(&mut out, &x.response_headers);
    if x.response_body.is_empty() {
        if (200..300).contains(&x.status) {
            out.push_str("  (no content: session over)\n");
        }
    } else {
        let ct = header(&x.response_headers, "content-type").unwrap_or("");
        match std::str::from_utf8(&x.response_body) {
            Ok(text) if ct.starts_with("text/") && text.len() <= SHOWN_TEXT => {
                for line in text.lines() {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            _ => message(&mut out, &x.response_body, x.tam_numbering),
        }
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
/// COSE header parameter with its bucket; what a tolerant reading accepts; the message as JSON.
/// Read in `known` numbering, or, without it, in the numbering it is valid in.
fn message(out: &mut String, bytes: &[u8], known: Option<Numbering>) {
    let mut deviations = Deviations::new(Tolerance::Tolerant);
    let opened = match teep_cose::open_with(bytes, &Limits::default(), &mut deviations) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(out, "  ({} bytes, not COSE: {e})", bytes.len());
            return;
        }
    };
    let payload = opened.payload.as_deref().unwrap_or_default();
    let decoded = teep_proto::decode_message(payload, known, Tolerance::Tolerant);
    match &decoded {
        Ok(d) => {
            let also = match d.also_valid_in {
                Some(other) => format!(", also valid in {other} numbering"),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "  {} ({} bytes, {:?}, {} numbering{also})",
                d.message.type_name(),
                bytes.len(),
                opened.kind,
                d.numbering
            );
        }
        Err(_) => {
            let _ = writeln!(out, "  ({} bytes, {:?})", bytes.len(), opened.kind);
        }
    }
    for p in opened.header_parameters() {
        let _ = writeln!(out, "  header: {p}");
    }
    match decoded {
        Ok(d) => {
            deviations.extend(d.deviations);
            for dev in &deviations {
                let _ = writeln!(out, "  deviation: {dev}");
            }
            out.push_str(&serde_json::to_string_pretty(&d.message.to_json()).unwrap_or_default());
            out.push('\n');
        }
        Err(e) => {
            for dev in &deviations {
                let _ = writeln!(out, "  deviation: {dev}");
            }
            let _ = writeln!(out, "  (not a TEEP message: {e})");
        }
    }
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
}
