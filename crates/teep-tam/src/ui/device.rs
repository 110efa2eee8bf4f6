//! The device page: who the device is, what it attested (claims decoded), what it holds by
//! name and version, what the TAM will send it next and why, and its sessions.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use super::sessions::{sessions, SessionView};
use super::{logged_in_or_redirect, page, storage_error, when};
use crate::model::TcRecord;
use crate::model::{component_id_display, Assignment, DeviceRecord, InstalledTc, Target, TcOrigin};
use crate::ops;
use crate::state::AppState;
use teep_tam_core::policy;

/// One claim: its name, its value as a person reads it, and how it was read.
pub struct ClaimRow {
    pub name: String,
    pub value: String,
    /// `text`, `hex`, `number`, ...
    pub form: &'static str,
}

pub struct HeldRow {
    /// The catalog name, or empty when the catalog has no TC of this component id.
    pub name: String,
    /// Catalog id of the entry held (to link to), if the catalog has that sequence.
    pub tc_id: Option<i64>,
    pub component: String,
    pub sequence: String,
    pub origin: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    flash: String,
    id: i64,
    name: String,
    kid: String,
    status: String,
    status_detail: String,
    suite: String,
    tags: String,
    ueid: String,
    created: String,
    last_seen: String,
    claims: Vec<ClaimRow>,
    held: Vec<HeldRow>,
    assigned: Vec<String>,
    next: Vec<String>,
    sessions: Vec<SessionView>,
    json: String,
}

/// The value of an opaque claim as text when it is printable UTF-8, else hex.
pub fn bytes_text(b: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(b) {
        Ok(s) if !s.is_empty() && s.chars().all(|c| !c.is_control()) => (s.to_string(), "text"),
        _ => (hex::encode(b), "hex"),
    }
}

/// The stored claims record (`{ueid, oemid, hwmodel: hex, hwversion, manifests, passport}`)
/// as rows a person reads. UEIDs stay hex: their first byte is a type, not a character.
pub fn claim_rows(claims: &Json) -> Vec<ClaimRow> {
    let Json::Object(m) = claims else {
        return vec![ClaimRow {
            name: "claims".into(),
            value: claims.to_string(),
            form: "json",
        }];
    };
    m.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let (value, form) = match (k.as_str(), v) {
                ("passport", Json::Bool(true)) => (
                    "yes: from a Verifier's Attestation Result".to_string(),
                    "bool",
                ),
                ("passport", Json::Bool(false)) => {
                    ("no: evidence appraised by this TAM".to_string(), "bool")
                }
                ("manifests", Json::Number(n)) => (format!("{n} entries"), "number"),
                ("manifest_references", Json::Array(refs)) => (reference_lines(refs), "text"),
                ("oemid" | "hwmodel", Json::String(s)) => match hex::decode(s) {
                    Ok(b) => bytes_text(&b),
                    Err(_) => (s.clone(), "text"),
                },
                ("ueid", Json::String(s)) => (s.clone(), "hex"),
                (_, Json::String(s)) => (s.clone(), "text"),
                (_, other) => (other.to_string(), "json"),
            };
            ClaimRow {
                name: k.clone(),
                value,
                form,
            }
        })
        .collect()
}

/// The attested SUIT_References (TEEP-26 §5), `; `-separated, each `[i] uri alg:digest → tc@seq`
/// (`→ not in the catalog` when no current catalog manifest has the digest).
fn reference_lines(refs: &[Json]) -> String {
    refs.iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or("?").to_string();
            let tc = match (r["tc"].as_str(), r["sequence"].as_u64()) {
                (Some(name), Some(seq)) => format!("{name}@{seq}"),
                _ => "not in the catalog".into(),
            };
            format!(
                "[{}] {} {}:{} → {tc}",
                r["index"],
                text("uri"),
                r["digest_alg"],
                text("digest")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why an assignment applies to `device`, as text, or `None` when it does not.
fn assignment_reason(a: &Assignment, device: &DeviceRecord) -> Option<String> {
    match &a.target {
        Target::All => Some("assigned to all devices".into()),
        Target::Tag(t) if device.tags.contains(t) => Some(format!("assigned to tag {t}")),
        Target::Device(id) if *id == device.id => Some("assigned to this device".into()),
        _ => None,
    }
}

fn tc_name(catalog: &[TcRecord], cid: &[u8]) -> String {
    catalog
        .iter()
        .rev()
        .find(|t| t.component_id == cid)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| component_id_display(cid))
}

/// What the TAM will send the device at its next QueryResponse, if that reports what storage
/// holds and asks for nothing (the same policy decision the TEEP path makes), one line each.
pub fn next_steps(
    device: &DeviceRecord,
    catalog: &[TcRecord],
    assigned: &[Vec<u8>],
    assignments: &[Assignment],
    held: &[InstalledTc],
    allow_requests: bool,
    require_attestation: bool,
) -> Vec<String> {
    let mut out = vec![if require_attestation {
        "QueryRequest asking for attestation evidence (with a fresh challenge) and the TCs \
         it holds, when its broker next connects."
            .to_string()
    } else {
        "QueryRequest asking for the TCs it holds, when its broker next connects.".to_string()
    }];
    let decision = match policy::decide(&policy::Input {
        catalog,
        assigned,
        stored: held,
        tc_list: None,
        requested: &[],
        unneeded: &[],
        allow_requests,
    }) {
        Ok(d) => d,
        Err(e) => {
            out.push(format!("Cannot tell: {e}"));
            return out;
        }
    };
    let refused = decision.refused.iter().map(|e| format!("Left out: {e}."));
    if decision.install.is_empty() && decision.remove.is_empty() {
        if decision.refused.is_empty() {
            out.push(
                "No Update: it holds everything assigned to it, at the catalog's latest sequence."
                    .into(),
            );
        }
        out.extend(refused);
        return out;
    }
    for i in &decision.install {
        let name = tc_name(catalog, &i.component_id);
        let why = match i.origin {
            TcOrigin::Policy => {
                let reasons: Vec<String> = assignments
                    .iter()
                    .filter(|a| a.component_id == i.component_id)
                    .filter_map(|a| assignment_reason(a, device))
                    .collect();
                if reasons.is_empty() {
                    "assigned".to_string()
                } else {
                    reasons.join(", ")
                }
            }
            TcOrigin::Request => "the device asked for it earlier".into(),
            TcOrigin::Device => "found on the device".into(),
            TcOrigin::Dependency => "a TC sent with it depends on it".into(),
        };
        let have = held
            .iter()
            .find(|h| h.component_id == i.component_id)
            .map(|h| match h.sequence {
                Some(s) => format!("it holds sequence {s}"),
                None => "it holds a version of unknown sequence".into(),
            })
            .unwrap_or_else(|| "it does not hold it".into());
        out.push(format!(
            "Update installing {name} sequence {} ({why}; {have}).",
            i.sequence
        ));
    }
    for r in &decision.remove {
        out.push(format!(
            "Update deleting {} (installed by an assignment that no longer applies).",
            tc_name(catalog, &r.component_id)
        ));
    }
    out.extend(refused);
    out
}

pub async fn device(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = logged_in_or_redirect(&st, &headers) {
        return r;
    }
    let d = match ops::find_device(&st.store, &id).await {
        Ok(d) => d,
        Err(e) => {
            return (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::NOT_FOUND),
                e.to_string(),
            )
                .into_response()
        }
    };
    let kid = d.kid.clone();
    let view = match ops::device_view(&st.store, d).await {
        Ok(v) => v,
        Err(e) => return storage_error(e),
    };
    let (policy, assignments, all_tcs) = match (
        st.store.policy().await,
        st.store.list_assignments().await,
        st.store.list_tcs().await,
    ) {
        (Ok(p), Ok(a), Ok(t)) => (p, a, t),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return storage_error(e),
    };
    let records = st
        .store
        .recent_audit(50, Some(&kid))
        .await
        .unwrap_or_default();
    let d = &view.device;
    let held = view
        .installed
        .iter()
        .map(|h| {
            let entry = all_tcs
                .iter()
                .find(|t| t.component_id == h.component_id && Some(t.sequence) == h.sequence);
            HeldRow {
                name: entry
                    .map(|t| t.name.clone())
                    .unwrap_or_else(|| tc_name(&all_tcs, &h.component_id)),
                tc_id: entry.map(|t| t.id),
                component: component_id_display(&h.component_id),
                sequence: h.sequence.map(|s| s.to_string()).unwrap_or("?".into()),
                origin: h.origin.clone(),
                updated: if h.updated_at > 0 {
                    when(h.updated_at)
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let next = next_steps(
        d,
        &policy.catalog,
        &view.assigned,
        &assignments,
        &view.installed,
        st.core.config.allow_requests,
        st.core.config.require_attestation,
    );
    page(
        DevicePage {
            flash: String::new(),
            id: d.id,
            name: d.name.clone().unwrap_or_default(),
            kid: hex::encode(&d.kid),
            status: d.status.as_str().to_string(),
            status_detail: d.status_detail.clone().unwrap_or_default(),
            suite: d
                .suite_alg
                .map(|a| teep_cose::Algorithm::from_cose(a).to_string())
                .unwrap_or_default(),
            tags: d.tags.join(", "),
            ueid: d.ueid.as_deref().map(hex::encode).unwrap_or_default(),
            created: when(d.created_at),
            last_seen: d.last_seen.map(when).unwrap_or_else(|| "never".into()),
            claims: view.claims.as_ref().map(claim_rows).unwrap_or_default(),
            held,
            assigned: view
                .assigned
                .iter()
                .map(|c| tc_name(&policy.catalog, c))
                .collect(),
            next,
            sessions: sessions(&records, &|b, p| st.core.open_for_view(b, p)),
            json: serde_json::to_string_pretty(&view).unwrap_or_default(),
        }
        .render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_read_as_text_when_printable_and_hex_otherwise() {
        let rows = claim_rows(&json!({
            "ueid": "0102", "oemid": "00ff10", "hwmodel": hex::encode("sim-tee"),
            "hwversion": "1.0", "manifests": 2, "passport": false
        }));
        let get = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
        assert_eq!(
            (get("hwmodel").value.as_str(), get("hwmodel").form),
            ("sim-tee", "text")
        );
        assert_eq!(
            (get("oemid").value.as_str(), get("oemid").form),
            ("00ff10", "hex")
        );
        assert_eq!(get("ueid").value, "0102");
        assert_eq!(get("hwversion").value, "1.0");
        assert_eq!(get("manifests").value, "2 entries");
    }

    /// TEEP-26 §5: each attested SUIT_Reference reads as one line, with the catalog TC its
    /// digest names, or says that none does.
    #[test]
    fn teep_26_5_manifest_references_read_as_lines() {
        let rows = claim_rows(&json!({
            "manifest_references": [
                {"index": 1, "uri": "urn:a", "digest_alg": -16, "digest": "ab", "tc": "hello", "sequence": 3},
                {"index": 2, "uri": "urn:b", "digest_alg": -16, "digest": "cd"}
            ]
        }));
        assert_eq!(
            rows[0].value,
            "[1] urn:a -16:ab → hello@3; [2] urn:b -16:cd → not in the catalog"
        );
    }
}
