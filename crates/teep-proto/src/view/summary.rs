//! One line per message, for the demo, the dumps' session sequences and the UI's lists:
//! `Update token=51007f3c… manifest-list=[['TEEP-Device', 'SecureFS', h'8d82573a…', 'ta'] seq 2] signed ESP256 kid 752a3a1f…`.
//! Long byte strings are cut to their first four bytes; the full values are in the JSON view.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use teep_cose::Opened;
use teep_suit::{Limits, ReportResult, SuitReport};

use crate::model::{ComponentId, TeepMessage};
use crate::Decoded;
use crate::ErrorCode;

/// First four bytes in hex, `…` when there are more.
pub fn short_hex(b: &[u8]) -> String {
    if b.len() <= 4 {
        hex::encode(b)
    } else {
        format!("{}…", hex::encode(&b[..4]))
    }
}

/// A component id in its text form with long hex segments cut.
pub fn short_component_id(id: &[Vec<u8>]) -> String {
    let segs: Vec<String> = id
        .iter()
        .map(|s| {
            if super::schema::printable(s) {
                format!("'{}'", String::from_utf8_lossy(s))
            } else {
                format!("h'{}'", short_hex(s))
            }
        })
        .collect();
    format!("[{}]", segs.join(", "))
}

fn ids(list: &[ComponentId]) -> String {
    let v: Vec<String> = list.iter().map(|c| short_component_id(c)).collect();
    format!("[{}]", v.join(", "))
}

/// `[id seq N]` of a SUIT envelope, or `[unreadable envelope]`.
fn envelope(bytes: &[u8]) -> String {
    match teep_suit::auth::decode_envelope_lenient(bytes.to_vec(), &Limits::default()) {
        Ok((env, _)) => {
            let m = &env.manifest;
            let id = m
                .common
                .components
                .first()
                .map(|c| short_component_id(c))
                .unwrap_or_else(|| "no component".into());
            let uri = if m.common.components.len() > 1 {
                format!(" +{} components", m.common.components.len() - 1)
            } else {
                String::new()
            };
            format!("{id} seq {}{uri}", m.sequence_number)
        }
        Err(_) => "unreadable envelope".into(),
    }
}

/// `ok` or `failed: <reason>` of a SUIT report (bare or signed).
fn report(bytes: &[u8]) -> String {
    let inner;
    let bytes = if super::looks_like_cose(bytes) {
        match teep_cose::open(bytes) {
            Ok(o) => {
                inner = o.payload.unwrap_or_default();
                &inner[..]
            }
            Err(_) => return "unreadable".into(),
        }
    } else {
        bytes
    };
    match SuitReport::decode(bytes) {
        Ok(r) => match r.result {
            ReportResult::Success => "ok".into(),
            ReportResult::Failure { reason, .. } => format!("failed: {}", reason.name()),
        },
        Err(_) => "unreadable".into(),
    }
}

fn reports(out: &mut Vec<String>, list: &[Vec<u8>]) {
    if !list.is_empty() {
        let v: Vec<String> = list.iter().map(|r| report(r)).collect();
        out.push(format!("suit-reports=[{}]", v.join(", ")));
    }
}

fn evidence(out: &mut Vec<String>, format: &Option<String>, payload: &Option<Vec<u8>>) {
    let Some(p) = payload else { return };
    let kind = match format.as_deref() {
        Some(f) if f.contains("ear") => "attestation-result",
        _ => "EAT",
    };
    // `EAT(ESP256 kid 59d06690…)`: who signed the evidence, apart from the message.
    let signed = if teep_cose::encrypt::is_encrypted(p) {
        "(encrypted to the TAM)".into()
    } else if super::looks_like_cose(p) {
        match teep_cose::open(p) {
            Ok(o) => format!("({})", signature(&o).trim_start_matches("signed ")),
            Err(_) => "(unreadable COSE)".into(),
        }
    } else {
        String::new()
    };
    out.push(format!("evidence={kind}{signed}"));
}

/// `signed ESP256 kid 752a3a1f…` (the first signature of a COSE_Sign).
pub fn signature(o: &Opened) -> String {
    match o.signatures.first() {
        Some(s) => {
            let kid = match &s.kid {
                Some(k) => format!(" kid {}", short_hex(k)),
                None => " no kid".into(),
            };
            let more = match o.signatures.len() {
                0 | 1 => String::new(),
                2 => " (+1 signature)".into(),
                n => format!(" (+{} signatures)", n - 1),
            };
            format!("signed {}{kid}{more}", s.alg.name())
        }
        None => "signed (no signature)".into(),
    }
}

/// The code's name, or its number when it has none.
fn err_code(c: ErrorCode) -> String {
    match (c.name(), c) {
        (Some(n), _) => n.into(),
        (None, ErrorCode::Unknown(v)) => format!("{v}"),
        (None, other) => format!("{other:?}"),
    }
}

/// The one-line summary of a decoded message and its wrapper.
pub fn summary(d: &Decoded, opened: Option<&Opened>) -> String {
    let mut out: Vec<String> = Vec::new();
    let msg = &d.message;
    out.push(msg.type_name().into());
    if let Some(t) = msg.token() {
        out.push(format!("token={}", short_hex(t)));
    }
    match msg {
        TeepMessage::QueryRequest(q) => {
            let items: Vec<&str> = q
                .data_item_requested
                .names()
                .into_iter()
                .filter_map(Result::ok)
                .collect();
            out.push(format!("data-item-requested=[{}]", items.join(", ")));
            if let Some(c) = &q.challenge {
                out.push(format!("challenge={}", short_hex(c)));
            }
            let suites: Vec<String> = q
                .supported_cipher_suites
                .iter()
                .map(|s| s.name().map_or_else(|| "other".into(), String::from))
                .collect();
            out.push(format!("cipher-suites=[{}]", suites.join(", ")));
            evidence(
                &mut out,
                &q.attestation_payload_format,
                &q.attestation_payload,
            );
        }
        TeepMessage::QueryResponse(q) => {
            if let Some(list) = q.tc_list.as_deref().filter(|l| !l.is_empty()) {
                let tcs: Vec<ComponentId> = list.iter().map(|c| c.component_id.clone()).collect();
                out.push(format!("tc-list={}", ids(&tcs)));
            }
            if !q.requested_tc_list.is_empty() {
                let r: Vec<ComponentId> = q
                    .requested_tc_list
                    .iter()
                    .map(|c| c.component_id.clone())
                    .collect();
                out.push(format!("requested-tc-list={}", ids(&r)));
            }
            if !q.unneeded_manifest_list.is_empty() {
                out.push(format!(
                    "unneeded-manifest-list={}",
                    ids(&q.unneeded_manifest_list)
                ));
            }
            evidence(
                &mut out,
                &q.attestation_payload_format,
                &q.attestation_payload,
            );
            reports(&mut out, &q.suit_reports);
        }
        TeepMessage::Update(u) => {
            if !u.manifest_list.is_empty() {
                let m: Vec<String> = u.manifest_list.iter().map(|b| envelope(b)).collect();
                out.push(format!("manifest-list=[{}]", m.join(", ")));
            }
            if !u.unneeded_manifest_list.is_empty() {
                out.push(format!(
                    "unneeded-manifest-list={}",
                    ids(&u.unneeded_manifest_list)
                ));
            }
            if let Some(c) = u.err_code {
                out.push(format!("err-code={}", err_code(c)));
            }
            if let Some(m) = &u.err_msg {
                out.push(format!("err-msg={m:?}"));
            }
        }
        TeepMessage::Success(s) => {
            if let Some(m) = &s.msg {
                out.push(format!("msg={m:?}"));
            }
            reports(&mut out, &s.suit_reports);
        }
        TeepMessage::Error(e) => {
            out.push(format!("err-code={}", err_code(e.err_code)));
            if let Some(m) = &e.err_msg {
                out.push(format!("err-msg={m:?}"));
            }
            reports(&mut out, &e.suit_reports);
        }
    }
    out.push(match opened {
        Some(o) => signature(o),
        None => "unsigned".into(),
    });
    if !d.deviations.is_empty() {
        let codes: Vec<&str> = d.deviations.iter().map(|x| x.kind.code).collect();
        out.push(format!("deviations=[{}]", codes.join(", ")));
    }
    out.join(" ")
}
