//! Accepting connections within limits, for plain HTTP and TLS alike: a cap on connections
//! open at once (below the open-file limit, so that the database and the log still get
//! descriptors) and one per client address, a header timeout that also ends idle keep-alive
//! connections, and a bounded TLS handshake. A connection over a cap is closed as soon as it
//! is accepted, so one client cannot exhaust descriptors and stop the accept loop for all.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::{now_ms, AppState, TamService};
use crate::config::{Config, FD_HEADROOM};
use crate::metrics::Limit;

/// A client that has not finished its TLS handshake by then is dropped, so half-open
/// connections cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A limit hit is logged at most once per this many milliseconds (with the count since).
const LOG_INTERVAL_MS: i64 = 10_000;

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

/// The address a per-address cap counts: an IPv6 client gets a /64, so it is one address.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// Addresses whose buckets are kept; beyond, full buckets are forgotten, and if that is not
/// enough, all (memory stays bounded; a forgotten address starts with a full bucket).
const BUCKETS_MAX: usize = 65_536;

/// A token bucket per client address for TEEP requests.
struct Buckets {
    rate: f64,
    burst: f64,
    map: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Buckets {
    /// Takes a token from `key`'s bucket, or says in how many seconds one will be there.
    fn take(&self, key: IpAddr, now: Instant) -> Result<(), u64> {
        let (rate, burst) = (self.rate, self.burst);
        let refill = |tokens: f64, at: Instant| {
            (tokens + now.saturating_duration_since(at).as_secs_f64() * rate).min(burst)
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= BUCKETS_MAX && !map.contains_key(&key) {
            map.retain(|_, (t, at)| refill(*t, *at) < burst);
            if map.len() >= BUCKETS_MAX {
                map.clear();
            }
        }
        let (tokens, at) = map.entry(key).or_insert((burst, now));
        *tokens = refill(*tokens, *at);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - *tokens) / rate).ceil() as u64).max(1))
        }
    }
}

/// Web UI log-in attempts one address may make at once, and per minute after that: enough
/// for a person who mistypes, too few to guess an admin token (always on; the admin API takes
/// the token per request and is meant to stay off the open internet, docs/DEPLOYMENT.md).
const LOGIN_BURST: f64 = 10.0;
const LOGIN_PER_MINUTE: f64 = 10.0;

/// The web UI's log-in form.
const LOGIN_PATH: &str = "/ui/login";

/// Who gets a connection: counts open connections, in total and per address.
struct Admission {
    state: Arc<AppState>,
    /// `None` when `rate_per_address` is 0.
    rate: Option<Buckets>,
    /// Log-in attempts per address.
    logins: Buckets,
    max: usize,
    per_address: usize,
    open: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
    /// Per limit: when it may be logged next, and hits since it was last logged.
    next_log_ms: [AtomicI64; Limit::ALL.len()],
    unlogged: [AtomicU64; Limit::ALL.len()],
}

/// An admitted connection; dropping it gives its place back.
struct Admitted {
    admission: Arc<Admission>,
    key: Option<IpAddr>,
}

impl Admission {
    fn new(state: Arc<AppState>) -> Admission {
        let c = &state.config;
        let rate = (c.rate_per_address > 0).then(|| Buckets {
            rate: f64::from(c.rate_per_address),
            burst: f64::from(c.rate_burst.max(1)),
            map: Mutex::default(),
        });
        Admission {
            rate,
            logins: Buckets {
                rate: LOGIN_PER_MINUTE / 60.0,
                burst: LOGIN_BURST,
                map: Mutex::default(),
            },
            max: max_connections(&state.config),
            per_address: state.config.max_connections_per_address,
            open: AtomicUsize::new(0),
            by_address: Mutex::default(),
            next_log_ms: Default::default(),
            unlogged: Default::default(),
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

    /// Counts a limit hit and logs it, at most once per [`LOG_INTERVAL_MS`].
    fn hit(&self, limit: Limit, peer: SocketAddr) {
        self.state.metrics.limit_hit(limit);
        let i = limit as usize;
        self.unlogged[i].fetch_add(1, Ordering::Relaxed);
        let now = now_ms();
        let next = self.next_log_ms[i].load(Ordering::Relaxed);
        if now < next
            || self.next_log_ms[i]
                .compare_exchange(
                    next,
                    now + LOG_INTERVAL_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return;
        }
        let n = self.unlogged[i].swap(0, Ordering::Relaxed);
        let what = match limit {
            Limit::Connections => format!("{} connections open, the cap", self.max),
            Limit::ConnectionsPerAddress => format!(
                "{} connections open from one address, the cap",
                self.per_address
            ),
            Limit::HeaderTimeout => format!(
                "headers unfinished after {} ms",
                self.state.config.header_timeout_ms
            ),
            Limit::BodyTimeout => "request body slower than allowed".into(),
            Limit::TlsHandshakeTimeout => {
                format!("TLS handshake unfinished after {HANDSHAKE_TIMEOUT:?}")
            }
            Limit::Rate => format!(
                "more than {} TEEP requests per second from one address",
                self.state.config.rate_per_address
            ),
            Limit::LoginRate => {
                format!("more than {LOGIN_PER_MINUTE} web UI log-in attempts per minute from one address")
            }
        };
        tracing::warn!(
            limit = limit.as_str(),
            %peer,
            "limit hit: {what}; {n} time(s) in the last {} s at most (latest from {peer})",
            LOG_INTERVAL_MS / 1000
        );
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
        tokio::spawn(async move {
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
                                admitted.admission.hit(Limit::TlsHandshakeTimeout, peer);
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
    admitted: &Admitted,
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
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        seen.store(true, Ordering::Relaxed);
        if req.method() == Method::POST && req.uri().path() == LOGIN_PATH {
            if let Err(secs) = admission.logins.take(key, Instant::now()) {
                admission.hit(Limit::LoginRate, peer);
                let what = format!("{LOGIN_PER_MINUTE} log-in attempts per minute");
                let r = too_many(&admission.state, "login", what, secs);
                return Box::pin(std::future::ready(Ok(r))) as super::ServiceFuture;
            }
        }
        if let Some(buckets) = &admission.rate {
            if req.method() == Method::POST && app.teep_path(req.uri().path()).is_some() {
                if let Err(secs) = buckets.take(key, Instant::now()) {
                    admission.hit(Limit::Rate, peer);
                    let what = format!(
                        "{} TEEP requests per second",
                        admission.state.config.rate_per_address
                    );
                    let r = too_many(&admission.state, "rate", what, secs);
                    return Box::pin(std::future::ready(Ok(r))) as super::ServiceFuture;
                }
            }
        }
        let mut app = app.clone();
        tower::Service::call(&mut app, req)
    });
    let conn = http.serve_connection(io, service);
    match watcher.watch(conn).await {
        Ok(()) => {}
        Err(e) if e.is_timeout() => {
            if !served.load(Ordering::Relaxed) {
                admitted.admission.hit(Limit::HeaderTimeout, peer)
            }
        }
        Err(e) => tracing::debug!(%peer, "connection: {e}"),
    }
}

/// 429 for a request over a rate (`code`: `rate` for TEEP requests, `login` for log-in
/// attempts): nothing was read or changed; retry in `secs`.
fn too_many(
    st: &AppState,
    code: &'static str,
    what: String,
    secs: u64,
) -> axum::response::Response {
    let mut r = super::refused(
        st,
        StatusCode::TOO_MANY_REQUESTS,
        code,
        format!("more than {what} from this address; retry in {secs} s\n"),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_counts_by_its_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let b = Buckets {
            rate: 2.0,
            burst: 3.0,
            map: Mutex::default(),
        };
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            b.take(ip, t0).unwrap();
        }
        assert_eq!(b.take(ip, t0), Err(1));
        b.take("192.0.2.2".parse().unwrap(), t0).unwrap();
        b.take(ip, t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(b.take(ip, t0 + Duration::from_millis(500)), Err(1));
    }

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
