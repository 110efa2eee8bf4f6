//! The per-connection service, routes and the plain endpoints (health, metrics).

use super::*;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::body::{Bytes, HttpBody};
use axum::extract::State;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{BoxError, Router};
use http_body_util::BodyExt;
use teep_proto::Numbering;

use super::body::{BodyDeadline, BodyTimeout};

/// The service every connection runs. POSTs to the two TEEP paths go straight to the TEEP
/// handler; everything else (metrics, admin API, web UI, other methods on the TEEP paths) to
/// the axum router. The TEEP exchange is the hot path: under load, the router's per-request
/// work (route lookup, boxed route clones, matched-path extension, the extractors' copy of
/// the header map) was about 4 % of the TAM's CPU.
#[derive(Clone)]
pub struct TamService {
    state: Arc<AppState>,
    router: Router,
    /// The path that speaks the other numbering, resolved once.
    alt_path: Arc<str>,
    body_deadline: BodyDeadline,
}

impl TamService {
    pub fn new(state: Arc<AppState>) -> TamService {
        TamService {
            router: router(state.clone()),
            alt_path: state.config.alt_path().into(),
            body_deadline: BodyDeadline::of(&state.config),
            state,
        }
    }

    /// The numbering a POST to `path` speaks, if `path` is one of the TEEP paths.
    pub(crate) fn teep_path(&self, path: &str) -> Option<Numbering> {
        let c = &self.state.config;
        if path == "/tam" {
            Some(c.numbering.to_proto())
        } else if path == &*self.alt_path {
            Some(c.numbering.other().to_proto())
        } else {
            None
        }
    }
}

pub(crate) type ServiceFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<B> tower::Service<Request<B>> for TamService
where
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
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
                let req = req.map(|b| self.body_deadline.wrap(b));
                return Box::pin(async move { Ok(teep_http(st, n, req).await) });
            }
        }
        // Admin API, web UI and metrics bodies (uploads) get the same deadline.
        let deadline = self.body_deadline;
        let req = req.map(|b| deadline.wrap(b));
        if !self.state.config.dump {
            return Box::pin(self.router.call(req));
        }
        // Admin API, web UI, metrics: headers both ways, and the response body.
        crate::dump::request_head(req.method(), req.uri(), req.headers(), None);
        let routed = self.router.call(req);
        Box::pin(async move {
            let r = routed.await?;
            Ok(crate::dump::response(r, None, &[]).await)
        })
    }
}

/// Everything but POSTs to the TEEP paths (see [`TamService`]).
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let alt = state.config.alt_path();
    Router::new()
        .route("/tam", any(method_not_allowed))
        .route(&alt, any(method_not_allowed))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/tam/payloads/{sha256}", get(crate::payloads::serve))
        .merge(crate::admin::router(state.clone()))
        .merge(crate::ui::router())
        .with_state(state)
}

/// A POST to a TEEP path: the body read up to the configured limit, then the exchange.
pub(crate) async fn teep_http<B>(
    st: Arc<AppState>,
    numbering: Numbering,
    req: Request<B>,
) -> Response
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
            Err(e) if e.is::<BodyTimeout>() => {
                st.metrics.limit_hit(crate::metrics::Limit::BodyTimeout);
                let mut r = refused(
                    &st,
                    StatusCode::REQUEST_TIMEOUT,
                    "body-timeout",
                    format!("{e}\n"),
                );
                r.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
                Err((r, "body too slow"))
            }
            Err(e) => {
                let text = format!("request body: {e}\n");
                let r = refused(&st, StatusCode::BAD_REQUEST, "body", text);
                Err((r, "body unreadable"))
            }
        },
    };
    match refused {
        Ok(body) => {
            let peer = parts.extensions.get::<crate::limits::Peer>().map(|p| p.0);
            teep_endpoint(st, numbering, &parts.uri, &parts.headers, peer, body).await
        }
        Err((r, _)) if !st.config.dump => r,
        Err((r, note)) => {
            crate::dump::request_head(&parts.method, &parts.uri, &parts.headers, Some(note));
            crate::dump::response(r, None, &[]).await
        }
    }
}

/// TEEP-HTTP §4: only POST is defined on a TAM URI. The answer has content, so it carries the
/// same security headers as every other (§4).
pub(crate) async fn method_not_allowed() -> Response {
    let mut r = (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST")],
        "only POST is defined on a TAM URI\n",
    )
        .into_response();
    security_headers(r.headers_mut());
    r
}

pub(crate) async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    if st.is_draining() {
        // A load balancer stops sending new sessions here while ours finish.
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    match st.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

pub(crate) async fn metrics(State(st): State<Arc<AppState>>) -> Response {
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
