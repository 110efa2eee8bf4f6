//! Admin HTTP API: JSON, bearer token, OpenAPI document at `/admin/openapi.json`. Same
//! operations as the CLI, through [`crate::ops`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::model::Target;
use crate::ops::{self, OpsError};
use crate::state::{now_ms, AppState};

/// Compares in time independent of where the first difference is.
pub fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

async fn require_token(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(expected) = st.config.admin_token.as_deref() else {
        return error(
            StatusCode::FORBIDDEN,
            "admin API disabled: start the TAM with --admin-token",
        );
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !token_matches(given.as_bytes(), expected.as_bytes()) {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "Authorization: expected Bearer <admin token>",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer".parse().expect("static header"),
        );
        return r;
    }
    next.run(req).await
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

fn ops_error(e: OpsError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, &e.to_string())
}

type ApiResult = Result<Response, Response>;

// axum's Json, Path and Query, with their refusals (malformed JSON, a missing field, a
// non-numeric id...) in this API's JSON error form rather than axum's plain text. The
// status stays axum's: 400 syntax, 415 Content-Type, 422 a field of the wrong shape.

struct ApiJson<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;
    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(error(r.status(), &r.body_text())),
        }
    }
}

struct ApiPath<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(error(r.status(), &r.body_text())),
        }
    }
}

struct ApiQuery<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(error(r.status(), &r.body_text())),
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let protected = Router::new()
        .route("/admin/tcs", get(list_tcs).post(add_tc))
        .route("/admin/tcs/{id}", delete(delete_tc))
        .route("/admin/tas", axum::routing::post(add_ta))
        .route("/admin/devices", get(list_devices).post(add_device))
        .route("/admin/devices/{id}", get(show_device))
        .route(
            "/admin/assignments",
            get(list_assignments).post(assign).delete(unassign),
        )
        .route("/admin/endorsers", get(list_endorsers).post(add_endorser))
        .route("/admin/endorsers/{sha256}", delete(remove_endorser))
        .route("/admin/log", get(log))
        .route("/admin/refusals", get(refusals))
        .layer(DefaultBodyLimit::max(crate::catalog::MAX_ENVELOPE))
        .route_layer(axum::middleware::from_fn_with_state(state, require_token));
    Router::new()
        .route("/admin/openapi.json", get(openapi))
        .merge(protected)
}

async fn list_tcs(State(st): State<Arc<AppState>>) -> ApiResult {
    let tcs = st.store.list_tcs().await.map_err(|e| ops_error(e.into()))?;
    Ok(Json(tcs).into_response())
}

#[derive(Deserialize)]
struct NameQuery {
    name: Option<String>,
}

async fn add_tc(
    State(st): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<NameQuery>,
    body: Bytes,
) -> ApiResult {
    let anchors = ops::tc_signer_anchors(&st.config, &st.tc_signer).map_err(ops_error)?;
    let added = ops::add_envelope_noted(&st.store, &anchors, q.name.as_deref(), &body, now_ms())
        .await
        .map_err(ops_error)?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

#[derive(Deserialize)]
struct TaQuery {
    name: Option<String>,
    /// The manifest fetches the TA from this TAM's payload URL instead of carrying it.
    #[serde(default)]
    by_uri: bool,
}

async fn add_ta(
    State(st): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<TaQuery>,
    body: Bytes,
) -> ApiResult {
    let name = q
        .name
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "name: query parameter required"))?;
    let tc = if q.by_uri {
        let url = st.config.public_url.as_deref();
        ops::add_ta_by_uri(&st.store, &st.tc_signer, url, &name, &body, now_ms()).await
    } else {
        ops::add_ta(&st.store, &st.tc_signer, &name, &body, now_ms()).await
    }
    .map_err(ops_error)?;
    Ok((StatusCode::CREATED, Json(tc)).into_response())
}

async fn delete_tc(State(st): State<Arc<AppState>>, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let tc = st
        .store
        .tc_by_id(id)
        .await
        .map_err(|e| ops_error(e.into()))?;
    let n = st
        .store
        .delete_tc(&tc.component_id)
        .await
        .map_err(|e| ops_error(e.into()))?;
    Ok(Json(json!({ "deleted": n })).into_response())
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<i64>,
    device: Option<String>,
}

async fn list_devices(
    State(st): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> ApiResult {
    let limit = q.limit.unwrap_or(1000).clamp(1, 100_000);
    let devices = st
        .store
        .list_devices(limit)
        .await
        .map_err(|e| ops_error(e.into()))?;
    let mut out = Vec::with_capacity(devices.len());
    for d in devices {
        out.push(ops::device_view(&st.store, d).await.map_err(ops_error)?);
    }
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct NewDeviceBody {
    /// Public key: SPKI PEM, JWK (JSON text) or COSE_Key in hex.
    key: String,
    attestation_key: Option<String>,
    name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

fn key_bytes(s: &str) -> Vec<u8> {
    match hex::decode(s.trim()) {
        Ok(b) if !s.trim().is_empty() => b,
        _ => s.as_bytes().to_vec(),
    }
}

async fn add_device(
    State(st): State<Arc<AppState>>,
    ApiJson(b): ApiJson<NewDeviceBody>,
) -> ApiResult {
    let attest = b.attestation_key.as_deref().map(key_bytes);
    let d = ops::add_device(
        &st.store,
        &key_bytes(&b.key),
        attest.as_deref(),
        b.name.as_deref(),
        &b.tags,
        now_ms(),
    )
    .await
    .map_err(ops_error)?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

async fn show_device(State(st): State<Arc<AppState>>, ApiPath(id): ApiPath<String>) -> ApiResult {
    let d = ops::find_device(&st.store, &id).await.map_err(ops_error)?;
    Ok(Json(ops::device_view(&st.store, d).await.map_err(ops_error)?).into_response())
}

async fn list_assignments(State(st): State<Arc<AppState>>) -> ApiResult {
    Ok(Json(
        st.store
            .list_assignments()
            .await
            .map_err(|e| ops_error(e.into()))?,
    )
    .into_response())
}

#[derive(Deserialize)]
struct AssignBody {
    /// Catalog id, name or component id text.
    tc: String,
    /// `all`, `tag:NAME` or `device:ID`.
    target: String,
}

async fn assign(State(st): State<Arc<AppState>>, ApiJson(b): ApiJson<AssignBody>) -> ApiResult {
    let target = Target::parse(&b.target).map_err(|e| error(StatusCode::BAD_REQUEST, &e))?;
    let cid = ops::resolve_component(&st.store, &b.tc)
        .await
        .map_err(ops_error)?;
    st.store
        .assign(&cid, &target, now_ms())
        .await
        .map_err(|e| ops_error(e.into()))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "assigned": b.tc, "target": target.to_string() })),
    )
        .into_response())
}

async fn unassign(State(st): State<Arc<AppState>>, ApiJson(b): ApiJson<AssignBody>) -> ApiResult {
    let target = Target::parse(&b.target).map_err(|e| error(StatusCode::BAD_REQUEST, &e))?;
    let cid = ops::resolve_component(&st.store, &b.tc)
        .await
        .map_err(ops_error)?;
    let n = st
        .store
        .unassign(&cid, &target)
        .await
        .map_err(|e| ops_error(e.into()))?;
    Ok(Json(json!({ "removed": n })).into_response())
}

async fn log(
    State(st): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<LimitQuery>,
    _h: HeaderMap,
) -> ApiResult {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let kid = match &q.device {
        Some(d) => Some(ops::find_device(&st.store, d).await.map_err(ops_error)?.kid),
        None => None,
    };
    let entries = st
        .store
        .recent_audit(limit, kid.as_deref())
        .await
        .map_err(|e| ops_error(e.into()))?;
    let out: Vec<serde_json::Value> = entries
        .into_iter()
        .map(|e| {
            let mut v = serde_json::to_value(&e).unwrap_or_default();
            if let Some(s) = v
                .get("summary")
                .and_then(|s| s.as_str())
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            {
                v["summary"] = s;
            }
            v
        })
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct CountQuery {
    limit: Option<usize>,
}

/// Requests refused lately (kept in this process's memory, not in the database).
async fn refusals(State(st): State<Arc<AppState>>, ApiQuery(q): ApiQuery<CountQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(100).min(crate::state::REFUSALS_KEPT);
    Ok(Json(st.recent_refusals(limit)).into_response())
}

async fn list_endorsers(State(st): State<Arc<AppState>>) -> ApiResult {
    let roots = st
        .store
        .list_endorsement_roots()
        .await
        .map_err(|e| ops_error(e.into()))?;
    Ok(Json(serde_json::json!(roots)).into_response())
}

/// Body: the root certificate, PEM (or DER).
async fn add_endorser(State(st): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    let now = now_ms();
    let added = crate::endorsers::add(&st.store, &body, now)
        .await
        .map_err(ops_error)?;
    let out: Vec<_> = added
        .into_iter()
        .map(|(r, new)| serde_json::json!({"sha256": r.sha256, "subject": r.subject, "added": new}))
        .collect();
    Ok((StatusCode::CREATED, Json(serde_json::json!(out))).into_response())
}

async fn remove_endorser(
    State(st): State<Arc<AppState>>,
    ApiPath(sha256): ApiPath<String>,
) -> ApiResult {
    let r = crate::endorsers::remove(&st.store, &sha256)
        .await
        .map_err(ops_error)?;
    Ok(Json(serde_json::json!({"removed": r.sha256, "subject": r.subject})).into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The OpenAPI 3.1 description of this API, kept beside the handlers it describes.
pub const OPENAPI: &str = include_str!("../static/openapi.json");
