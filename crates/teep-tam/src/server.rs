//! HTTP adapter (axum): the TEEP transport (draft-ietf-teep-otrp-over-http), metrics, admin
//! API and web UI, TLS, graceful shutdown. Drives the sans-IO [`TamCore`] and commits its
//! effects to [`Store`] before answering.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Bytes, HttpBody};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{BoxError, Router};
use http_body_util::BodyExt;
use teep_proto::Numbering;
use tokio::sync::watch;
use tracing::Instrument;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::{DeviceRecord, SessionKind, SessionRecord};
use crate::random::OsRandom;
use crate::session::{Context, CoreConfig, Inspected, Need, Rejection, TamCore};
use crate::store::{Store, StoreError, StoreOptions};

/// Updates this process sent and not yet seen answered, so that the Success can be checked
/// without reading storage: the session row and the device it was sent to, valid while the
/// store's cache epoch is `epoch`. A miss (another process sent the Update, or a restart)
/// falls back to storage.
struct PendingEntry {
    session: SessionRecord,
    device: Arc<DeviceRecord>,
    epoch: u64,
}

/// Most outstanding Updates remembered in memory; beyond this, storage answers.
const PENDING_CAP: usize = 100_000;

/// Refused requests remembered for the admin API and web UI.
pub const REFUSALS_KEPT: usize = 1000;

/// A request the TAM refused, as the operator sees it (the explanation is kept even when
/// `explain_errors` keeps it from the peer).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refusal {
    /// ms since the Unix epoch.
    pub at: i64,
    pub status: u16,
    /// Short code, as counted by `teep_tam_errors_total`.
    pub code: &'static str,
    pub message_type: Option<&'static str>,
    pub explanation: String,
}

pub const TEEP_MEDIA_TYPE: &str = "application/teep+cbor";

/// Shared state of one TAM process.
pub struct AppState {
    pub core: TamCore,
    pub store: Store,
    pub config: Config,
    pub metrics: Metrics,
    pending: Mutex<HashMap<Vec<u8>, PendingEntry>>,
    /// QueryRequests this process sent and not yet seen answered (token → when), so that a
    /// graceful shutdown knows which sessions are still in flight.
    open_queries: Mutex<HashMap<Vec<u8>, i64>>,
    /// Set by [`ServerHandle::drain_and_shutdown`]: new sessions are refused.
    draining: std::sync::atomic::AtomicBool,
    /// The latest refused requests, newest last, for the admin API and web UI. Kept in
    /// memory only: a refused request must not change the database (anyone can send one),
    /// yet the operator needs to see why a device never gets through.
    refusals: Mutex<std::collections::VecDeque<Refusal>>,
    pub tc_signer: teep_cose::SoftwareSigner,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
}

/// How often a server copies its SQLite WAL into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Runs `tick` every `interval` until the server shuts down or `tick` returns false.
fn every<F, Fut>(interval: Duration, mut shutdown: watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {
                    if !tick().await {
                        break;
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    });
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl AppState {
    /// Opens keys and storage for `config`.
    pub async fn open(config: Config) -> Result<Arc<AppState>, ServerError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data).map_err(|source| ServerError::Io {
            what: format!("data directory {}", config.data.display()),
            source,
        })?;
        let signers = crate::keys::teep_signers(&config.data, &config.keys)?;
        let tc_signer = crate::keys::tc_signer(&config.data, config.tc_signer_key.as_deref())?;
        let mut verifier_keys = Vec::new();
        for p in &config.verifier_keys {
            verifier_keys.push(teep_cose::PublicKey::load(p).map_err(|e| {
                crate::keys::KeyFileError::Load {
                    path: p.clone(),
                    message: e.to_string(),
                }
            })?);
        }
        let store = Store::open(
            &config.database_url(),
            &StoreOptions {
                max_connections: config.db_max_connections,
                sqlite_full_sync: config.sqlite_full_sync,
                sqlite_busy_timeout_ms: config.sqlite_busy_timeout_ms,
                device_cache: config.device_cache_entries,
                sqlite_background_checkpoint: true,
                ..StoreOptions::default()
            },
        )
        .await?;
        let token_key = crate::token::TokenKey::new(&store.token_secret().await?);
        let core = TamCore::new(
            signers,
            verifier_keys,
            CoreConfig {
                enroll: config.enroll,
                require_attestation: config.require_attestation,
                session_ttl_ms: (config.session_ttl_secs as i64).saturating_mul(1000),
                allow_requests: config.allow_requests,
                render_json: config.dump,
                // A device cache larger than the default serves a larger fleet: keep its
                // parsed keys too.
                parsed_keys: config
                    .device_cache_entries
                    .max(crate::session::DEFAULT_PARSED_KEYS),
            },
            token_key,
        );
        Ok(Arc::new(AppState {
            core,
            store,
            config,
            metrics: Metrics::default(),
            pending: Mutex::new(HashMap::new()),
            open_queries: Mutex::new(HashMap::new()),
            draining: std::sync::atomic::AtomicBool::new(false),
            refusals: Mutex::new(std::collections::VecDeque::with_capacity(REFUSALS_KEPT)),
            tc_signer,
        }))
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, PendingEntry>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The outstanding Update `token` names, if this process sent it and nothing changed since.
    fn pending_update(&self, token: &[u8]) -> Option<(SessionRecord, Arc<DeviceRecord>)> {
        let epoch = self.store.epoch();
        let p = self.pending();
        let e = p.get(token)?;
        (e.epoch == epoch).then(|| (e.session.clone(), e.device.clone()))
    }

    /// After a commit: remember the Update just sent, forget the one just answered.
    fn track_pending(
        &self,
        effects_session: Option<SessionRecord>,
        answered: Option<&[u8]>,
        device: Option<Arc<DeviceRecord>>,
        epoch: u64,
    ) {
        let mut p = self.pending();
        if let Some(t) = answered {
            p.remove(t);
        }
        if let (Some(session), Some(device)) = (effects_session, device) {
            if p.len() < PENDING_CAP {
                p.insert(
                    session.token.clone(),
                    PendingEntry {
                        session,
                        device,
                        epoch,
                    },
                );
            }
        }
    }

    fn open_queries(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, i64>> {
        self.open_queries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Once a minute: forgets expired sessions (in memory and in storage) and deletes audit
    /// entries older than `audit_retention_days`. Always keeps running: a failure is logged
    /// and the next round tries again.
    pub async fn housekeeping(&self, now: i64) -> bool {
        self.purge_pending(now);
        let started = std::time::Instant::now();
        log_purge(
            "expired sessions",
            self.store.purge_sessions(now).await,
            started,
        );
        let days = self.config.audit_retention_days;
        if days > 0 {
            let before = now.saturating_sub((days as i64).saturating_mul(86_400_000));
            let started = std::time::Instant::now();
            let purged = self.store.purge_audit(before).await;
            log_purge("audit entries past retention", purged, started);
        }
        true
    }

    /// Drops remembered Updates and QueryRequests that expired unanswered.
    fn purge_pending(&self, now: i64) {
        self.pending().retain(|_, e| e.session.expires_at >= now);
        let ttl = self.core.config.session_ttl_ms;
        self.open_queries()
            .retain(|_, at| at.saturating_add(ttl) >= now);
    }

    fn note_refusal(
        &self,
        status: u16,
        code: &'static str,
        message_type: Option<&'static str>,
        explanation: &str,
    ) {
        // An explanation may quote what the peer sent: keep at most 1 KiB of each, so the
        // ring stays small whatever arrives.
        let text = crate::session::truncate(explanation.trim_end(), 1024);
        let mut r = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() >= REFUSALS_KEPT {
            r.pop_front();
        }
        r.push_back(Refusal {
            at: now_ms(),
            status,
            code,
            message_type,
            explanation: text,
        });
    }

    /// Up to `limit` of the latest refused requests, newest first.
    pub fn recent_refusals(&self, limit: usize) -> Vec<Refusal> {
        let r = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        r.iter().rev().take(limit).cloned().collect()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sessions this process started at or after `since` (ms) whose next step has not come.
    fn sessions_in_flight(&self, since: i64) -> usize {
        let queries = self
            .open_queries()
            .values()
            .filter(|&&at| at >= since)
            .count();
        let updates = self
            .pending()
            .values()
            .filter(|e| e.session.created_at >= since)
            .count();
        queries + updates
    }
}

/// The service every connection runs. POSTs to the two TEEP paths go straight to the TEEP
/// handler; everything else (metrics, admin API, web UI, other methods on the TEEP paths) to
/// the axum router. The TEEP exchange is the hot path: under load, the router's per-request
/// work (route lookup, boxed route clones, matched-path extension, the extractors' copy of
/// the header map) was about 4 % of the TAM's CPU.
#[derive(Clone)]
pub struct TamService {
    state: Arc<AppState>,
    router: Router,
}

impl TamService {
    pub fn new(state: Arc<AppState>) -> TamService {
        TamService {
            router: router(state.clone()),
            state,
        }
    }

    /// The numbering a POST to `path` speaks, if `path` is one of the TEEP paths.
    fn teep_path(&self, path: &str) -> Option<Numbering> {
        let c = &self.state.config;
        if path == "/tam" {
            Some(c.numbering.to_proto())
        } else if path == c.alt_path {
            Some(c.numbering.other().to_proto())
        } else {
            None
        }
    }
}

type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<B> tower::Service<Request<B>> for TamService
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ServiceFuture {
        if req.method() == Method::POST {
            if let Some(n) = self.teep_path(req.uri().path()) {
                let st = self.state.clone();
                return Box::pin(async move { Ok(teep_http(st, n, req).await) });
            }
        }
        if !self.state.config.dump {
            return Box::pin(self.router.call(req));
        }
        // Admin API, web UI, metrics: headers both ways, and the response body.
        crate::dump::request_head(req.method(), req.uri(), req.headers(), None);
        let routed = self.router.call(req);
        Box::pin(async move {
            let r = routed.await?;
            Ok(crate::dump::response(r, None).await)
        })
    }
}

/// Everything but POSTs to the TEEP paths (see [`TamService`]).
fn router(state: Arc<AppState>) -> Router {
    let alt = state.config.alt_path.clone();
    Router::new()
        .route("/tam", any(method_not_allowed))
        .route(&alt, any(method_not_allowed))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .merge(crate::admin::router(state.clone()))
        .merge(crate::ui::router())
        .with_state(state)
}

/// A POST to a TEEP path: the body read up to the configured limit, then the exchange.
async fn teep_http<B>(st: Arc<AppState>, numbering: Numbering, req: Request<B>) -> Response
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    let limit = st.config.body_limit;
    // An announced oversize body is refused before a byte of it is read.
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let refused = match announced {
        Some(l) if l > limit as u64 => Err((body_too_large(&st, limit), "body not read")),
        _ => match http_body_util::Limited::new(body, limit).collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Err((body_too_large(&st, limit), "body read up to the limit"))
            }
            Err(e) => {
                let text = format!("request body: {e}\n");
                let r = refused(&st, StatusCode::BAD_REQUEST, "body", text);
                Err((r, "body unreadable"))
            }
        },
    };
    match refused {
        Ok(body) => teep_endpoint(st, numbering, &parts.uri, &parts.headers, body).await,
        Err((r, _)) if !st.config.dump => r,
        Err((r, note)) => {
            crate::dump::request_head(&parts.method, &parts.uri, &parts.headers, Some(note));
            crate::dump::response(r, None).await
        }
    }
}

fn body_too_large(st: &AppState, limit: usize) -> Response {
    refused(
        st,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        format!("request body: larger than the limit of {limit} bytes\n"),
    )
}

/// A refusal before any TEEP decoding (transport level): counted, remembered, answered.
fn refused(st: &AppState, status: StatusCode, code: &'static str, text: String) -> Response {
    st.metrics.error(code);
    st.note_refusal(status.as_u16(), code, None, &text);
    plain(status, text)
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST")],
        "only POST is defined on a TAM URI\n",
    )
        .into_response()
}

async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    if st.is_draining() {
        // A load balancer stops sending new sessions here while ours finish.
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    use std::fmt::Write as _;
    let devices = st.store.device_count().await.ok();
    let mut text = st.metrics.render(devices);
    let (transactions, steps) = st.store.commit_stats();
    let _ = write!(
        text,
        "# HELP teep_tam_commit_transactions_total Group-commit transactions.\n\
         # TYPE teep_tam_commit_transactions_total counter\n\
         teep_tam_commit_transactions_total {transactions}\n\
         # HELP teep_tam_committed_steps_total TEEP steps committed (steps / transactions = mean batch).\n\
         # TYPE teep_tam_committed_steps_total counter\n\
         teep_tam_committed_steps_total {steps}\n"
    );
    if let Some((hits, misses)) = st.store.device_cache_stats() {
        let _ = write!(
            text,
            "# HELP teep_tam_device_cache_lookups_total QueryResponse device contexts, by where they came from.\n\
             # TYPE teep_tam_device_cache_lookups_total counter\n\
             teep_tam_device_cache_lookups_total{{result=\"hit\"}} {hits}\n\
             teep_tam_device_cache_lookups_total{{result=\"miss\"}} {misses}\n"
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn accepts_teep(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return true;
    };
    let Ok(accept) = accept.to_str() else {
        return false;
    };
    accept.split(',').any(|part| {
        let mt = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        mt == TEEP_MEDIA_TYPE || mt == "*/*" || mt == "application/*"
    })
}

fn content_type_ok(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(TEEP_MEDIA_TYPE)
        })
        .unwrap_or(false)
}

/// Headers every TEEP response with content carries (transport §5).
fn teep_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEEP_MEDIA_TYPE),
    );
    security_headers(h);
    r
}

fn security_headers(h: &mut HeaderMap) {
    security_headers_with_csp(h, "default-src 'none'");
}

/// nosniff, no referrer, and the given Content-Security-Policy (the web UI needs its own).
pub(crate) fn security_headers_with_csp(h: &mut HeaderMap, csp: &'static str) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    security_headers(r.headers_mut());
    r
}

fn log_purge(what: &str, r: Result<u64, StoreError>, started: std::time::Instant) {
    match r {
        Ok(0) => {}
        Ok(n) => tracing::debug!("purged {n} {what} in {} ms", started.elapsed().as_millis()),
        Err(e) => tracing::warn!("purging {what}: {e}"),
    }
}

/// The HTTP status of a message the core rejected: the peer's fault (every refusal kind) is
/// 400, the TAM's own 500.
fn rejection_status(r: &Rejection) -> StatusCode {
    match r {
        Rejection::Refused(_) => StatusCode::BAD_REQUEST,
        Rejection::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn reject(st: &AppState, r: &Rejection) -> Response {
    let status = rejection_status(r);
    let code = r.code();
    let explanation: std::borrow::Cow<'_, str> = match r {
        Rejection::Refused(refusal) => refusal.explanation.as_str().into(),
        Rejection::Internal(e) => e.to_string().into(),
    };
    st.metrics.error(code);
    st.note_refusal(status.as_u16(), code, r.message_type(), &explanation);
    match r {
        Rejection::Refused(_) => {
            tracing::info!(status = status.as_u16(), code, "refused: {explanation}")
        }
        Rejection::Internal(_) => {
            tracing::error!(
                status = status.as_u16(),
                code,
                "internal error: {explanation}"
            )
        }
    }
    // The TAM's own errors are explained only to peers that are told explanations too.
    let text = if st.config.explain_errors {
        format!("{explanation}\n")
    } else {
        format!("{}\n", status.canonical_reason().unwrap_or("error"))
    };
    plain(status, text)
}

fn storage_failure(st: &AppState, e: &StoreError) -> Response {
    st.metrics.error("storage");
    tracing::warn!("storage: {e}");
    match e {
        StoreError::Unavailable(_) => plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable, retry later\n".into(),
        ),
        _ => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal storage error\n".into(),
        ),
    }
}

async fn teep_endpoint(
    st: Arc<AppState>,
    numbering: Numbering,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    if st.config.dump {
        crate::dump::teep_request(uri, headers, &body, numbering);
    }
    let resp = teep_inner(&st, numbering, headers, &body).await;
    st.metrics.observe(started.elapsed());
    if st.config.dump {
        return crate::dump::response(resp.0, resp.1.as_ref()).await;
    }
    resp.0
}

/// Returns the response and, for dumps, the TEEP message it carries as JSON.
async fn teep_inner(
    st: &AppState,
    numbering: Numbering,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, Option<serde_json::Value>) {
    if !accepts_teep(headers) {
        let text = format!("Accept: must allow {TEEP_MEDIA_TYPE}\n");
        let r = refused(st, StatusCode::NOT_ACCEPTABLE, "not-acceptable", text);
        return (r, None);
    }
    let now = now_ms();
    let mut rng = OsRandom;
    if body.is_empty() && st.is_draining() {
        st.metrics.error("draining");
        let mut r = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "this TAM is shutting down and opens no new session; retry later\n".into(),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return (r, None);
    }
    if body.is_empty() {
        // ProcessConnect. Content-Type is not required for the empty first POST (DIGEST §7).
        let span = tracing::info_span!("teep", msg = "connect", next = tracing::field::Empty);
        return async {
            let outcome = match st.core.handle_connect(numbering, now, &mut rng) {
                Ok(o) => o,
                Err(e) => return (reject(st, &Rejection::Internal(e)), None),
            };
            if let Some(t) = &outcome.token {
                tracing::Span::current().record("next", hex::encode(t));
            }
            if !outcome.effects.is_empty() {
                if let Err(e) = st.store.commit(outcome.effects).await {
                    return (storage_failure(st, &e), None);
                }
            }
            if let Some(t) = &outcome.token {
                let mut open = st.open_queries();
                if open.len() < PENDING_CAP {
                    open.insert(t.clone(), now);
                }
            }
            st.metrics.result(outcome.result.as_str());
            tracing::debug!("QueryRequest sent");
            (
                teep_response(StatusCode::OK, outcome.response.unwrap_or_default()),
                outcome.response_json,
            )
        }
        .instrument(span)
        .await;
    }
    if !content_type_ok(headers) {
        let text = format!("Content-Type: must be {TEEP_MEDIA_TYPE}\n");
        let r = refused(
            st,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            text,
        );
        return (r, None);
    }
    let mut inspected = match st.core.inspect(body, numbering) {
        Ok(i) => i,
        Err(r) => return (reject(st, &r), None),
    };
    // One span per step, carrying what ties the steps of a session together: the token
    // answered, the device, the token of the request the TAM sent next (`next`, which the
    // device's following step answers) and the result.
    let span = tracing::info_span!(
        "teep",
        msg = inspected.type_name,
        token = tracing::field::Empty,
        kid = tracing::field::Empty,
        next = tracing::field::Empty,
        result = tracing::field::Empty
    );
    if !span.is_disabled() {
        if let Some(t) = inspected.token() {
            span.record("token", hex::encode(t));
        }
    }
    async {
        let (ctx, device) = match load_context(st, &mut inspected).await {
            Ok(c) => c,
            Err(e) => return (storage_failure(st, &e), None),
        };
        if let Some(d) = &ctx.device {
            let span = tracing::Span::current();
            if !span.is_disabled() {
                span.record("kid", hex::encode(&d.kid));
            }
        }
        if let crate::wire::Incoming::Error { name, .. } = &inspected.message {
            st.metrics.agent_error(name);
        }
        let outcome = match st.core.handle_message(inspected, &ctx, now, &mut rng) {
            Ok(o) => o,
            Err(r) => return (reject(st, &r), None),
        };
        let span = tracing::Span::current();
        if !span.is_disabled() {
            if let (None, Some(k)) = (&ctx.device, &outcome.device_kid) {
                span.record("kid", hex::encode(k));
            }
            if let Some(s) = &outcome.effects.new_session {
                span.record("next", hex::encode(&s.token));
            }
            span.record("result", outcome.result.as_str());
        }
        let epoch = st.store.epoch();
        // The token this step answered: an Update's (the pending map forgets it) or a
        // QueryRequest's (no longer in flight).
        let (answered, answered_query) = match &outcome.effects.consume {
            Some(c) if c.kind == SessionKind::Update => (Some(c.token.clone()), None),
            Some(c) => (None, Some(c.token.clone())),
            None => (None, None),
        };
        let new_session = outcome.effects.new_session.clone();
        let new_device = outcome.effects.new_device.clone();
        match st.store.commit(outcome.effects).await {
            Ok(c) if c.accepted => {
                if let Some(t) = answered_query {
                    st.open_queries().remove(&t);
                }
                if new_session.is_some() || answered.is_some() {
                    let device = match (device, new_device, c.device_id) {
                        (Some(d), _, _) => Some(d),
                        (None, Some(nd), Some(id)) => Some(Arc::new(nd.into_record(id, now))),
                        _ => None,
                    };
                    st.track_pending(new_session, answered.as_deref(), device, epoch);
                }
            }
            Ok(_) => return (reject(st, &st.core.handle_replay_at_commit()), None),
            Err(e) => return (storage_failure(st, &e), None),
        }
        st.metrics.result(outcome.result.as_str());
        tracing::debug!("step done");
        match outcome.response {
            Some(b) => (teep_response(StatusCode::OK, b), outcome.response_json),
            None => {
                let mut r = StatusCode::NO_CONTENT.into_response();
                security_headers(r.headers_mut());
                (r, None)
            }
        }
    }
    .instrument(span)
    .await
}

/// Loads the context the core asked for (see [`Need`]). A query token is read by the core
/// itself and an Update this process sent is found in memory, so the usual exchange reads
/// storage once: the device and its holdings, in one statement, for the QueryResponse.
/// Catalog and policy come from the store's snapshot. Also returns the device, shared, for
/// the pending map.
async fn load_context(
    st: &AppState,
    msg: &mut Inspected,
) -> Result<(Context, Option<Arc<DeviceRecord>>), StoreError> {
    let mut ctx = Context::default();
    let mut device: Option<Arc<DeviceRecord>> = None;
    match msg.take_need() {
        Need::Nothing => {}
        Need::QueryResponse { session } => {
            ctx.session = Some(session);
            let policy = st.store.policy().await?;
            for kid in msg.kids() {
                if let Some((d, installed)) = st.store.device_context(kid, policy.tag_rules).await?
                {
                    ctx.installed = installed;
                    device = Some(Arc::new(d));
                    break;
                }
            }
            ctx.catalog = policy.catalog.clone();
            ctx.assigned = policy.assigned(device.as_ref().map(|d| (d.id, d.tags.as_slice())));
        }
        Need::Signer { session } => {
            ctx.session = Some(session);
            device = signer_device(st, msg).await?;
        }
        Need::StoredSession { catalog } => {
            // The core asks for a stored session only for a message with a token.
            let token = msg.token().unwrap_or_default();
            if let Some((s, d)) = st.pending_update(token) {
                ctx.session = Some(s);
                device = Some(d);
            } else {
                ctx.session = st.store.session_by_token(token).await?;
                device = signer_device(st, msg).await?;
                if device.is_none() {
                    if let Some(kid) = ctx.session.as_ref().and_then(|s| s.device_kid.as_deref()) {
                        device = st.store.device_by_kid(kid).await?.map(Arc::new);
                    }
                }
            }
            if catalog {
                ctx.catalog = st.store.policy().await?.catalog.clone();
            }
        }
    }
    ctx.device = device.as_deref().cloned();
    Ok((ctx, device))
}

/// The device of the first of the message's kids that storage knows.
async fn signer_device(
    st: &AppState,
    msg: &Inspected,
) -> Result<Option<Arc<DeviceRecord>>, StoreError> {
    for kid in msg.kids() {
        if let Some(d) = st.store.device_by_kid(kid).await? {
            return Ok(Some(Arc::new(d)));
        }
    }
    Ok(None)
}

/// A running server.
pub struct ServerHandle {
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    pub state: Arc<AppState>,
}

impl ServerHandle {
    /// Stops accepting, finishes requests in flight, then returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.state.store.close().await;
    }

    /// Graceful stop: new sessions are refused (503 with Retry-After; `/healthz` answers 503
    /// so a load balancer moves on) while the steps of sessions this process started keep
    /// being answered, until none is left or `grace` has passed; then as [`Self::shutdown`].
    /// A session silent for longer than `grace` counts as abandoned. Returns how many
    /// sessions were left unfinished (their tokens stay valid in storage, so another
    /// instance, or this one restarted, can still complete them).
    pub async fn drain_and_shutdown(self, grace: Duration) -> usize {
        self.state
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let started = Instant::now();
        let since = now_ms().saturating_sub(grace.as_millis() as i64);
        let left = loop {
            let left = self.state.sessions_in_flight(since);
            if left == 0 || started.elapsed() >= grace {
                break left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.shutdown().await;
        left
    }

    /// Resolves when the server stopped.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Starts a TAM on `config.listen` (use port 0 for a free one) and returns the bound address.
///
/// ```no_run
/// # async fn f() {
/// let dir = tempfile::tempdir().unwrap();
/// let config = teep_tam::Config { data: dir.path().into(), listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
/// let (addr, handle) = teep_tam::server::spawn(config).await.unwrap();
/// // POST http://{addr}/tam ...
/// handle.shutdown().await;
/// # }
/// ```
pub async fn spawn(config: Config) -> Result<(SocketAddr, ServerHandle), ServerError> {
    let state = AppState::open(config).await?;
    spawn_with_state(state).await
}

pub async fn spawn_with_state(
    state: Arc<AppState>,
) -> Result<(SocketAddr, ServerHandle), ServerError> {
    let listener = tokio::net::TcpListener::bind(state.config.listen)
        .await
        .map_err(|source| ServerError::Io {
            what: format!("listen on {}", state.config.listen),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Io {
        what: "local address".into(),
        source,
    })?;
    let (tx, rx) = watch::channel(false);
    let app = TamService::new(state.clone());
    // Housekeeping: expired tokens go away, and audit entries past their retention.
    let st = state.clone();
    every(Duration::from_secs(60), rx.clone(), move || {
        let st = st.clone();
        async move { st.housekeeping(now_ms()).await }
    });
    // Changes made by other processes (CLI, other TAMs on the same database) reach the
    // caches within one poll interval.
    let st = state.clone();
    let interval = Duration::from_millis(state.config.refresh_ms.max(10));
    every(interval, rx.clone(), move || {
        let st = st.clone();
        async move {
            if let Err(e) = st.store.poll_changes().await {
                tracing::debug!("polling for changes: {e}");
            }
            true
        }
    });
    // SQLite: the WAL is copied into the database file beside the writer, so that commits
    // do not wait for checkpoints (see `Store::checkpoint`).
    let st = state.clone();
    every(CHECKPOINT_INTERVAL, rx.clone(), move || {
        let st = st.clone();
        async move {
            match st.store.checkpoint().await {
                Ok(None) => false, // not a SQLite file: nothing to do
                Ok(Some(_)) => true,
                Err(e) => {
                    tracing::debug!("checkpoint: {e}");
                    true
                }
            }
        }
    });
    let task = match (&state.config.tls_cert, &state.config.tls_key) {
        (Some(cert), Some(key)) => {
            let acceptor = crate::tls::acceptor(cert, key).map_err(ServerError::Tls)?;
            tokio::spawn(crate::tls::serve(listener, acceptor, app, rx))
        }
        _ => {
            let mut rx = rx;
            tokio::spawn(async move {
                let r = axum::serve(
                    listener,
                    axum::ServiceExt::<Request<axum::body::Body>>::into_make_service(app),
                )
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await;
                if let Err(e) = r {
                    tracing::error!("server: {e}");
                }
            })
        }
    };
    Ok((
        addr,
        ServerHandle {
            shutdown: tx,
            task,
            state,
        },
    ))
}

/// Runs until SIGINT/SIGTERM, then shuts down gracefully.
pub async fn serve(config: Config) -> Result<(), ServerError> {
    let (addr, handle) = spawn(config).await?;
    let scheme = if handle.state.config.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!("TAM listening on {scheme}://{addr}/tam");
    eprintln!(
        "TAM listening on {scheme}://{addr}/tam ({}), {scheme}://{addr}{} ({})",
        handle.state.config.numbering.as_str(),
        handle.state.config.alt_path,
        handle.state.config.numbering.other().as_str()
    );
    shutdown_signal().await;
    let grace = Duration::from_secs(handle.state.config.shutdown_grace_secs);
    eprintln!(
        "shutting down: no new sessions; finishing those in flight (at most {} s)",
        grace.as_secs()
    );
    let left = handle.drain_and_shutdown(grace).await;
    if left > 0 {
        eprintln!("stopped with {left} sessions unfinished; their tokens stay valid");
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
