//! Web UI at `/ui`: server-rendered askama pages and plain HTML forms (no front-end build, no
//! script). Log-in with the admin token sets an HttpOnly, SameSite=Strict cookie holding a
//! hash of the token, never the token itself; SameSite=Strict is also what keeps another site
//! from posting the forms (no form token).
//!
//! Every TEEP message and SUIT envelope shown is rendered by `teep_proto::view` and laid out
//! as nested `<details>` ([`tree`]): the device page ([`device`]), the exchanges grouped by
//! session ([`sessions`]), the message inspector ([`inspect`]) and catalog entries ([`tc`]).

mod device;
mod endorsers;
mod inspect;
mod sessions;
mod tc;
mod tree;

use std::sync::Arc;

use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::model::{component_id_display, Target};
use crate::ops;
use crate::state::{now_ms, AppState};
use sessions::SessionView;

const COOKIE: &str = "teep_ui";

fn session_value(token: &str) -> String {
    hex::encode(teep_cose::sha256(
        format!("teep-ui-session:{token}").as_bytes(),
    ))
}

fn logged_in(st: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = st.config.admin_token.as_deref() else {
        return false;
    };
    let expected = session_value(token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_string)
        })
        .any(|v| crate::admin::token_matches(v.as_bytes(), expected.as_bytes()))
}

/// `None` when the request carries the session cookie, else the redirect to the login page.
fn logged_in_or_redirect(st: &AppState, headers: &HeaderMap) -> Option<Response> {
    (!logged_in(st, headers)).then(|| Redirect::to("/ui/login").into_response())
}

fn page(html: Result<String, askama::Error>) -> Response {
    match html {
        Ok(h) => {
            let mut r = Html(h).into_response();
            crate::headers::security_headers_with_csp(
                r.headers_mut(),
                "default-src 'self'; frame-ancestors 'none'",
            );
            r
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("template: {e}")).into_response(),
    }
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/upload", post(upload))
        .route("/ui/assign", post(assign))
        .route("/ui/unassign", post(unassign))
        .route("/ui/devices/{id}", get(device::device))
        .route("/ui/tcs/{id}", get(tc::tc))
        .route("/ui/inspect", get(inspect::form).post(inspect::submit))
        .route("/ui/endorsers", get(endorsers::list))
        .route("/ui/endorsers/add", post(endorsers::add))
        .route("/ui/endorsers/remove", post(endorsers::remove))
        .route("/ui/log", get(log))
        .route("/ui/static/style.css", get(style))
        .layer(DefaultBodyLimit::max(crate::catalog::MAX_ENVELOPE))
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css")],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    flash: String,
}

async fn login_page(State(st): State<Arc<AppState>>) -> Response {
    let flash = if st.config.admin_token.is_none() {
        "The web UI is disabled: start the TAM with --admin-token.".to_string()
    } else {
        String::new()
    };
    page(LoginPage { flash }.render())
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(st): State<Arc<AppState>>, Form(f): Form<LoginForm>) -> Response {
    match st.config.admin_token.as_deref() {
        Some(t) if crate::admin::token_matches(f.token.as_bytes(), t.as_bytes()) => {
            let cookie = format!(
                "{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict",
                session_value(t)
            );
            let mut r = Redirect::to("/ui").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        _ => {
            let mut r = page(
                LoginPage {
                    flash: "Wrong token.".into(),
                }
                .render(),
            );
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    }
}

async fn logout() -> Response {
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("teep_ui=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

struct TcRow {
    id: i64,
    name: String,
    component: String,
    sequence: u64,
    signer: String,
}

struct AssignmentRow {
    component: String,
    target: String,
}

struct DeviceRow {
    id: i64,
    name: String,
    kid: String,
    status: String,
    tags: String,
    installed: Vec<String>,
    last_seen: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    flash: String,
    tcs: Vec<TcRow>,
    latest: Vec<TcRow>,
    assignments: Vec<AssignmentRow>,
    devices: Vec<DeviceRow>,
}

/// `ms` since the epoch as a UTC date and time, e.g. `2026-11-22 00:00:00Z`.
fn when(ms: i64) -> String {
    let secs = ms / 1000;
    let (d, s) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = d + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

fn tc_row(t: &crate::model::TcRecord) -> TcRow {
    TcRow {
        id: t.id,
        name: t.name.clone(),
        component: component_id_display(&t.component_id),
        sequence: t.sequence,
        signer: t
            .signer_kid
            .as_ref()
            .map(|k| hex::encode(&k[..k.len().min(8)]))
            .unwrap_or_default(),
    }
}

async fn render_index(st: &AppState, flash: String) -> Result<Response, crate::store::StoreError> {
    let tcs = st.store.list_tcs().await?;
    let latest = st.store.latest_tcs().await?;
    let assignments = st.store.list_assignments().await?;
    let devices = st.store.list_devices(500).await?;
    let mut rows = Vec::with_capacity(devices.len());
    for d in devices {
        let installed = st.store.installed(d.id).await?;
        rows.push(DeviceRow {
            id: d.id,
            name: d.name.clone().unwrap_or_default(),
            kid: hex::encode(&d.kid[..d.kid.len().min(8)]),
            status: d.status.as_str().to_string(),
            tags: d.tags.join(", "),
            installed: installed
                .iter()
                .map(|i| {
                    format!(
                        "{} #{}",
                        component_id_display(&i.component_id),
                        i.sequence.map(|s| s.to_string()).unwrap_or("?".into())
                    )
                })
                .collect(),
            last_seen: d.last_seen.map(when).unwrap_or_else(|| "never".into()),
        });
    }
    Ok(page(
        IndexPage {
            flash,
            tcs: tcs.iter().map(tc_row).collect(),
            latest: latest.iter().map(tc_row).collect(),
            assignments: assignments
                .iter()
                .map(|a| AssignmentRow {
                    component: component_id_display(&a.component_id),
                    target: a.target.to_string(),
                })
                .collect(),
            devices: rows,
        }
        .render(),
    ))
}

macro_rules! require_login {
    ($st:expr, $headers:expr) => {
        if let Some(r) = logged_in_or_redirect(&$st, &$headers) {
            return r;
        }
    };
}

fn storage_error(e: impl std::fmt::Display) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("storage: {e}")).into_response()
}

async fn index(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    require_login!(st, headers);
    render_index(&st, String::new())
        .await
        .unwrap_or_else(storage_error)
}

async fn upload(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    require_login!(st, headers);
    let mut file: Option<(Option<String>, Vec<u8>)> = None;
    let mut name = String::new();
    let mut kind = "ta".to_string();
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let fname = field.name().unwrap_or("").to_string();
                let filename = field.file_name().map(str::to_string);
                match field.bytes().await {
                    Ok(b) => match fname.as_str() {
                        "file" => file = Some((filename, b.to_vec())),
                        "name" => name = String::from_utf8_lossy(&b).trim().to_string(),
                        "kind" => kind = String::from_utf8_lossy(&b).to_string(),
                        _ => {}
                    },
                    Err(e) => return flash_index(&st, format!("Upload failed: {e}")).await,
                }
            }
            Ok(None) => break,
            Err(e) => return flash_index(&st, format!("Upload failed: {e}")).await,
        }
    }
    let Some((filename, bytes)) = file else {
        return flash_index(&st, "Upload failed: no file".into()).await;
    };
    let now = now_ms();
    let result = if kind == "envelope" {
        match ops::tc_signer_anchors(&st.config, &st.tc_signer) {
            Ok(anchors) => {
                ops::add_envelope_noted(
                    &st.store,
                    &anchors,
                    (!name.is_empty()).then_some(name.as_str()),
                    &bytes,
                    now,
                )
                .await
            }
            Err(e) => Err(e),
        }
    } else {
        let n = if name.is_empty() {
            filename.unwrap_or_else(|| "ta".into())
        } else {
            name
        };
        ops::add_ta(&st.store, &st.tc_signer, &n, &bytes, now)
            .await
            .map(|tc| ops::AddedEnvelope {
                tc,
                tag_removed: false,
                notes: Vec::new(),
            })
    };
    let msg = match result {
        Ok(a) => format!(
            "Added {} ({}, sequence {}).{}",
            a.tc.name,
            component_id_display(&a.tc.component_id),
            a.tc.sequence,
            a.notes
                .iter()
                .map(|n| format!(" Note: {n}."))
                .collect::<String>()
        ),
        Err(e) => format!("Upload failed: {e}"),
    };
    flash_index(&st, msg).await
}

async fn flash_index(st: &AppState, msg: String) -> Response {
    render_index(st, msg).await.unwrap_or_else(storage_error)
}

#[derive(Deserialize)]
struct AssignForm {
    tc: String,
    target: String,
}

async fn assign(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<AssignForm>,
) -> Response {
    require_login!(st, headers);
    let msg = match (
        Target::parse(f.target.trim()),
        ops::resolve_component(&st.store, &f.tc).await,
    ) {
        (Err(e), _) => format!("Assign failed: {e}"),
        (_, Err(e)) => format!("Assign failed: {e}"),
        (Ok(t), Ok(cid)) => match st.store.assign(&cid, &t, now_ms()).await {
            Ok(()) => format!("Assigned {} to {t}.", f.tc),
            Err(e) => format!("Assign failed: {e}"),
        },
    };
    flash_index(&st, msg).await
}

async fn unassign(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<AssignForm>,
) -> Response {
    require_login!(st, headers);
    let msg = match (
        Target::parse(f.target.trim()),
        ops::resolve_component(&st.store, &f.tc).await,
    ) {
        (Err(e), _) => format!("Unassign failed: {e}"),
        (_, Err(e)) => format!("Unassign failed: {e}"),
        (Ok(t), Ok(cid)) => match st.store.unassign(&cid, &t).await {
            Ok(_) => format!("Unassigned {} from {t}.", f.tc),
            Err(e) => format!("Unassign failed: {e}"),
        },
    };
    flash_index(&st, msg).await
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    flash: String,
    sessions: Vec<SessionView>,
    refused: Vec<RefusedRow>,
}

struct RefusedRow {
    when: String,
    status: u16,
    message_type: String,
    explanation: String,
}

async fn log(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    require_login!(st, headers);
    match st.store.recent_audit(200, None).await {
        Ok(entries) => page(
            LogPage {
                flash: String::new(),
                sessions: sessions::sessions(&entries, &|b, p| st.core.open_for_view(b, p)),
                refused: st
                    .recent_refusals(100)
                    .into_iter()
                    .map(|r| RefusedRow {
                        when: when(r.at),
                        status: r.status,
                        message_type: r.message_type.unwrap_or("-").to_string(),
                        explanation: r.explanation,
                    })
                    .collect(),
            }
            .render(),
        ),
        Err(e) => storage_error(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_time_of_known_instants() {
        assert_eq!(super::when(0), "1970-01-01 00:00:00Z");
        assert_eq!(super::when(1_795_305_600_000), "2026-11-22 00:00:00Z");
    }
}
