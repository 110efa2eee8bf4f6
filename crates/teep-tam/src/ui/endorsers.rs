//! The endorsement roots page: the manufacturer CA roots open enrollment trusts (RFC 9360
//! x5chain; docs/attestation/chain.md), with forms to add and remove one.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::{logged_in_or_redirect, page, storage_error, when};
use crate::state::{now_ms, AppState};

struct RootRow {
    subject: String,
    sha256: String,
    added: String,
}

#[derive(Template)]
#[template(path = "endorsers.html")]
struct EndorsersPage {
    flash: String,
    enroll: &'static str,
    roots: Vec<RootRow>,
}

async fn render(st: &AppState, flash: String) -> Response {
    match st.store.list_endorsement_roots().await {
        Ok(roots) => page(
            EndorsersPage {
                flash,
                enroll: st.config.enroll.as_str(),
                roots: roots
                    .into_iter()
                    .map(|r| RootRow {
                        subject: r.subject,
                        sha256: r.sha256,
                        added: when(r.added_at),
                    })
                    .collect(),
            }
            .render(),
        ),
        Err(e) => storage_error(e),
    }
}

pub async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = logged_in_or_redirect(&st, &headers) {
        return r;
    }
    render(&st, String::new()).await
}

#[derive(Deserialize)]
pub struct AddForm {
    pem: String,
}

pub async fn add(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<AddForm>,
) -> Response {
    if let Some(r) = logged_in_or_redirect(&st, &headers) {
        return r;
    }
    let msg = match crate::endorsers::add(&st.store, f.pem.as_bytes(), now_ms()).await {
        Ok(added) => added
            .iter()
            .map(|(r, new)| {
                let what = if *new { "Added" } else { "Already trusted:" };
                format!("{what} {} ({}).", r.subject, &r.sha256[..16])
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(e) => format!("Add failed: {e}"),
    };
    render(&st, msg).await
}

#[derive(Deserialize)]
pub struct RemoveForm {
    sha256: String,
}

pub async fn remove(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<RemoveForm>,
) -> Response {
    if let Some(r) = logged_in_or_redirect(&st, &headers) {
        return r;
    }
    let msg = match crate::endorsers::remove(&st.store, &f.sha256).await {
        Ok(r) => format!("Removed {} ({}).", r.subject, &r.sha256[..16]),
        Err(e) => format!("Remove failed: {e}"),
    };
    render(&st, msg).await
}
