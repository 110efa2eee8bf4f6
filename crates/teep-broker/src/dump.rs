//! `teep agent run --dump`: every HTTP exchange of the Broker in the format of the TAM's dump
//! (`>>>` the request, `<<<` the response, their header fields, the TEEP message decoded), so
//! one reading serves both sides of a cross-test. The empty POST is named as such; for each
//! COSE header parameter the dump says whether it was protected or unprotected (where AttesTAM
//! reads the kid decided whether it could answer); what the Broker tolerated is listed under
//! the exchange. Credentials are not shown.

use std::fmt::Write as _;

use teep_proto::{Numbering, TeepMessage};

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

/// A TEEP message: its COSE form (tag, signatures, which header parameters were protected),
/// then the payload decoded in `known` numbering, or in each numbering it is valid in.
fn message(out: &mut String, bytes: &[u8], known: Option<Numbering>) {
    let opened = match teep_cose::open(bytes) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(out, "  ({} bytes, not COSE: {e})", bytes.len());
            return;
        }
    };
    let payload = opened.payload.as_deref().unwrap_or_default();
    let (decoded, reading) = decode(payload, known);
    let name = match &decoded {
        Ok(m) => m.type_name(),
        Err(_) => "not a TEEP message",
    };
    let _ = writeln!(
        out,
        "  {name} ({} bytes, {}{}, {reading})",
        bytes.len(),
        if opened.tagged { "tagged " } else { "" },
        opened.kind.name()
    );
    let _ = writeln!(
        out,
        "  COSE headers: protected {{{}}}, unprotected {{{}}}",
        parameters(opened.protected_header()).join(", "),
        parameters(opened.unprotected_header()).join(", ")
    );
    for (i, s) in opened.signatures.iter().enumerate() {
        let kid = match &s.kid {
            Some(k) => format!(
                "kid {} ({})",
                hex::encode(k),
                if s.kid_protected {
                    "protected"
                } else {
                    "unprotected"
                }
            ),
            None => "no kid".into(),
        };
        let _ = writeln!(
            out,
            "  signature {}: {} ({}), {kid}",
            i + 1,
            s.alg.name(),
            s.alg.to_cose()
        );
    }
    match decoded {
        Ok(m) => {
            let json = serde_json::to_string_pretty(&m.to_json()).unwrap_or_default();
            for line in json.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  ({e})");
        }
    }
}

/// The payload in `known` numbering; without it, in the numbering it is valid in, saying so
/// when it is valid in both (a receiver must then know the peer's numbering).
fn decode(payload: &[u8], known: Option<Numbering>) -> (Result<TeepMessage, String>, String) {
    if let Some(n) = known {
        return (
            teep_proto::decode(payload, n).map_err(|e| e.to_string()),
            format!("{n} numbering, as known for this TAM"),
        );
    }
    match (
        teep_proto::decode(payload, Numbering::Draft26),
        teep_proto::decode(payload, Numbering::Legacy),
    ) {
        (Ok(m), Err(_)) => (Ok(m), "draft26 numbering".into()),
        (Err(_), Ok(m)) => (Ok(m), "legacy numbering".into()),
        (Ok(m), Ok(_)) => (
            Ok(m),
            "valid in draft26 and legacy numbering; shown as draft26".into(),
        ),
        (Err(_), Err(_)) => (
            teep_proto::decode_auto(payload)
                .map(|(m, _)| m)
                .map_err(|e| e.to_string()),
            "no numbering".into(),
        ),
    }
}

/// The header parameters present, by name and label.
fn parameters(h: &coset::Header) -> Vec<String> {
    use coset::RegisteredLabelWithPrivate as L;
    let mut p = Vec::new();
    match &h.alg {
        Some(L::Assigned(a)) => {
            let alg = teep_cose::Algorithm::from_cose(*a as i64);
            p.push(format!("alg (1): {} ({})", alg.name(), alg.to_cose()));
        }
        Some(L::PrivateUse(n)) => p.push(format!("alg (1): {n}")),
        Some(L::Text(t)) => p.push(format!("alg (1): {t:?}")),
        None => {}
    }
    if !h.crit.is_empty() {
        p.push("crit (2)".into());
    }
    if h.content_type.is_some() {
        p.push("content type (3)".into());
    }
    if !h.key_id.is_empty() {
        p.push(format!("kid (4): {}", hex::encode(&h.key_id)));
    }
    if !h.iv.is_empty() {
        p.push("IV (5)".into());
    }
    if !h.partial_iv.is_empty() {
        p.push("Partial IV (6)".into());
    }
    for (label, _) in &h.rest {
        p.push(format!("{label:?}"));
    }
    p
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
