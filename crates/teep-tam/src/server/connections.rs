//! Accepting connections within limits, for plain HTTP and TLS alike: a cap on connections
//! open at once (below the open-file limit, so that the database and the log still get
//! descriptors) and one per client address, a header timeout that also ends idle keep-alive
//! connections, and a bounded TLS handshake. A connection over a cap is closed as soon as it
//! is accepted, so one client cannot exhaust descriptors and stop the accept loop for all.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::write_deadline::WriteDeadline;
use super::{AppState, TamService};
use crate::config::{Config, FD_HEADROOM};
use crate::limits::{address_key, Buckets, Peer};
use crate::metrics::Limit;

/// A client that has not finished its TLS handshake by then is dropped, so half-open
/// connections cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The cap on connections open at once that `config` asks for.
pub fn max_connections(config: &Config) -> usize {
    match config.max_connections {
        0 => open_file_limit()
            .unwrap_or(1024)
            .saturating_sub(FD_HEADROOM)
            .max(16),
        n => n,
    }
}

/// The soft limit on open files (`ulimit -n`), where the system says it.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Log-in attempts one address may make at once, and per minute after that: enough for a
/// person who mistypes, too few to guess an admin token. Always on. A log-in attempt is a
/// POST to the web UI's log-in form, or an admin API request refused (401) for the token it
/// carries: once an address has used them up, its admin API requests get 429 before the
/// token is looked at.
const LOGIN_BURST: f64 = 10.0;
const LOGIN_PER_MINUTE: f64 = 10.0;

/// The web UI's log-in form.
const LOGIN_PATH: &str = "/ui/login";

/// The operators' paths: the admin API and the web UI.
fn is_admin_path(path: &str) -> bool {
    ["/admin", "/ui"].iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    })
}

/// Who gets a connection: counts open connections, in total and per address.
struct Admission {
    state: Arc<AppState>,
    /// `None` when `rate_per_address` is 0.
    rate: Option<Buckets>,
    /// Log-in attempts per address.
    logins: Buckets,
    /// Admin API and web UI requests per address; `None` when `admin_rate_per_address` is 0.
    admin: Option<Buckets>,
    max: usize,
    per_address: usize,
    open: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// An admitted connection; dropping it gives its place back.
struct Admitted {
    admission: Arc<Admission>,
    key: Option<IpAddr>,
}

impl Admission {
    fn new(state: Arc<AppState>) -> Admission {
        let c = &state.config;
        let buckets = |rate: u32, burst: u32| {
            (rate > 0).then(|| Buckets::new(f64::from(rate), f64::from(burst.max(1))))
        };
        Admission {
            rate: buckets(c.rate_per_address, c.rate_burst),
            admin: buckets(c.admin_rate_per_address, c.admin_rate_burst),
            logins: Buckets::new(LOGIN_PER_MINUTE / 60.0, LOGIN_BURST),
            max: max_connections(&state.config),
            per_address: state.config.max_connections_per_address,
            open: AtomicUsize::new(0),
            by_address: Mutex::default(),
            state,
        }
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Limit> {
        if self.open.fetch_add(1, Ordering::Relaxed) >= self.max {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return Err(Limit::Connections);
        }
        let key = if self.per_address > 0 {
            let key = address_key(ip);
            let mut by = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
            let n = by.entry(key).or_insert(0);
            if *n >= self.per_address {
                drop(by);
                self.open.fetch_sub(1, Ordering::Relaxed);
                return Err(Limit::ConnectionsPerAddress);
            }
            *n += 1;
            Some(key)
        } else {
            None
        };
        self.state.metrics.connections(1);
        Ok(Admitted {
            admission: self.clone(),
            key,
        })
    }

    /// The rate `req` goes over, if any, and in how many seconds it may come again: web UI
    /// log-ins, the admin API and web UI, and TEEP requests each have their own buckets.
    fn over_rate<B>(
        &self,
        app: &TamService,
        req: &Request<B>,
        key: IpAddr,
    ) -> Option<(Limit, u64)> {
        let path = req.uri().path();
        let post = req.method() == Method::POST;
        let (buckets, limit) = if post && path == LOGIN_PATH {
            (Some(&self.logins), Limit::LoginRate)
        } else if is_admin_path(path) {
            (self.admin.as_ref(), Limit::AdminRate)
        } else if post && app.teep_path(path).is_some() {
            (self.rate.as_ref(), Limit::Rate)
        } else {
            return None;
        };
        let now = Instant::now();
        if limit == Limit::AdminRate && path.starts_with("/admin") {
            if let Err(secs) = self.logins.peek(key, now) {
                return Some((Limit::LoginRate, secs));
            }
        }
        let secs = buckets?.take(key, now).err()?;
        Some((limit, secs))
    }

    fn hit(&self, limit: Limit, peer: SocketAddr) {
        self.state.limit_hit(limit, Some(peer));
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let a = &self.admission;
        if let Some(key) = self.key {
            let mut by = a.by_address.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = by.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    by.remove(&key);
                }
            }
        }
        a.open.fetch_sub(1, Ordering::Relaxed);
        a.state.metrics.connections(-1);
    }
}

/// Accept loop, plain or TLS; on shutdown stops accepting, closes idle connections and lets
/// the others finish their request.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    app: TamService,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) {
    let admission = Arc::new(Admission::new(state.clone()));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(state.config.header_timeout_ms));
    let write_timeout = Duration::from_millis(state.config.write_timeout_ms);
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|v| *v) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, typically: retrying at once would spin.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let admitted = match admission.admit(peer.ip()) {
            Ok(a) => a,
            Err(limit) => {
                admission.hit(limit, peer);
                continue; // closes the connection
            }
        };
        let http = http.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let tcp = WriteDeadline::new(tcp, write_timeout);
        let stalled = tcp.timed_out.clone();
        tokio::spawn(async move {
            let admitted = (admitted, stalled);
            match tls {
                None => {
                    serve_connection(&http, TokioIo::new(tcp), app, watcher, &admitted, peer).await
                }
                Some(acceptor) => {
                    let tls =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(e)) => {
                                tracing::info!(%peer, "TLS handshake failed: {e}");
                                return;
                            }
                            Err(_) => {
                                admitted.0.admission.hit(Limit::TlsHandshakeTimeout, peer);
                                return;
                            }
                        };
                    serve_connection(&http, TokioIo::new(tls), app, watcher, &admitted, peer).await
                }
            }
        });
    }
    graceful.shutdown().await;
}

async fn serve_connection<I>(
    http: &http1::Builder,
    io: I,
    app: TamService,
    watcher: Watcher,
    (admitted, stalled): &(Admitted, Arc<AtomicBool>),
    peer: SocketAddr,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    // Whether a request got through: the header timer then ends a keep-alive connection,
    // idle (its normal end) or not, and is not counted as a limit hit.
    let served = Arc::new(AtomicBool::new(false));
    let seen = served.clone();
    let admission = admitted.admission.clone();
    let key = address_key(peer.ip());
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        seen.store(true, Ordering::Relaxed);
        if let Some((limit, secs)) = admission.over_rate(&app, &req, key) {
            admission.hit(limit, peer);
            let c = &admission.state.config;
            let (code, what) = match limit {
                Limit::LoginRate => (
                    "login",
                    format!("{LOGIN_PER_MINUTE} log-in attempts per minute"),
                ),
                Limit::AdminRate => (
                    "admin-rate",
                    format!(
                        "{} admin API and web UI requests per second",
                        c.admin_rate_per_address
                    ),
                ),
                _ => (
                    "rate",
                    format!("{} TEEP requests per second", c.rate_per_address),
                ),
            };
            let text = format!("more than {what} from this address");
            let r = retry_later(
                &admission.state,
                StatusCode::TOO_MANY_REQUESTS,
                code,
                text,
                secs,
            );
            return Box::pin(std::future::ready(Ok(r))) as super::ServiceFuture;
        }
        req.extensions_mut().insert(Peer(key));
        // A wrong admin token is a log-in attempt (a request without one guesses nothing).
        let admin_api = req.uri().path().starts_with("/admin")
            && req.headers().contains_key(header::AUTHORIZATION);
        let mut app = app.clone();
        let answer = tower::Service::call(&mut app, req);
        if !admin_api {
            return answer;
        }
        let admission = admission.clone();
        Box::pin(async move {
            let r = answer.await?;
            if r.status() == StatusCode::UNAUTHORIZED {
                let _ = admission.logins.take(key, Instant::now());
            }
            Ok(r)
        }) as super::ServiceFuture
    });
    let conn = http.serve_connection(io, service);
    match watcher.watch(conn).await {
        Ok(()) => {}
        Err(_) if stalled.load(Ordering::Relaxed) => {
            admitted.admission.hit(Limit::WriteTimeout, peer)
        }
        Err(e) if e.is_timeout() => {
            if !served.load(Ordering::Relaxed) {
                admitted.admission.hit(Limit::HeaderTimeout, peer)
            }
        }
        Err(e) => tracing::debug!(%peer, "connection: {e}"),
    }
}

/// 429 or 503 for a request over a quota (`code` as counted by `teep_tam_errors_total`):
/// nothing was read or changed; retry in `secs`.
pub(crate) fn retry_later(
    st: &AppState,
    status: StatusCode,
    code: &'static str,
    text: String,
    secs: u64,
) -> axum::response::Response {
    let mut r = super::refused(st, status, code, format!("{text}; retry in {secs} s\n"));
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_stays_below_the_open_file_limit() {
        let auto = max_connections(&Config::default());
        if let Some(limit) = open_file_limit() {
            assert!(auto < limit, "{auto} >= {limit}");
        }
        let set = Config {
            max_connections: 5,
            ..Config::default()
        };
        assert_eq!(max_connections(&set), 5);
    }
}
