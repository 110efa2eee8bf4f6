//! A catalog entry's page: its record and its SUIT manifest by name
//! (`teep_proto::view::envelope_json`), and the devices policy assigns it to.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::tree::json_html;
use super::{logged_in_or_redirect, page, storage_error, when};
use crate::model::component_id_display;
use crate::state::AppState;
use crate::store::StoreError;

#[derive(Template)]
#[template(path = "tc.html")]
struct TcPage {
    flash: String,
    id: i64,
    name: String,
    component: String,
    manifest_component: String,
    sequence: u64,
    size: usize,
    payload_digest: String,
    signer: String,
    created: String,
    assignments: Vec<String>,
    tree: String,
}

pub async fn tc(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = logged_in_or_redirect(&st, &headers) {
        return r;
    }
    let Ok(id) = id.parse::<i64>() else {
        return (
            StatusCode::NOT_FOUND,
            format!("catalog entry {id:?}: expected a numeric id"),
        )
            .into_response();
    };
    let t = match st.store.tc_by_id(id).await {
        Ok(t) => t,
        Err(StoreError::NotFound(what)) => {
            return (StatusCode::NOT_FOUND, format!("not found: {what}")).into_response()
        }
        Err(e) => return storage_error(e),
    };
    let assignments = match st.store.list_assignments().await {
        Ok(a) => a
            .into_iter()
            .filter(|a| a.component_id == t.component_id)
            .map(|a| a.target.to_string())
            .collect(),
        Err(e) => return storage_error(e),
    };
    page(
        TcPage {
            flash: String::new(),
            id: t.id,
            name: t.name.clone(),
            component: component_id_display(&t.component_id),
            manifest_component: t
                .manifest_component_id
                .as_deref()
                .map(component_id_display)
                .unwrap_or_default(),
            sequence: t.sequence,
            size: t.envelope.len(),
            payload_digest: t
                .payload_digest
                .as_deref()
                .map(hex::encode)
                .unwrap_or_default(),
            signer: t.signer_kid.as_deref().map(hex::encode).unwrap_or_default(),
            created: when(t.created_at),
            assignments,
            tree: json_html(
                "SUIT_Envelope",
                &teep_proto::view::envelope_json(&t.envelope),
                3,
            ),
        }
        .render(),
    )
}
