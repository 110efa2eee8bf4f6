//! Starting, draining and stopping the server.

use super::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::Config;

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
    let tls = match (&state.config.tls_cert, &state.config.tls_key) {
        (Some(cert), Some(key)) => Some(super::tls::acceptor(cert, key).map_err(ServerError::Tls)?),
        _ => None,
    };
    let task = tokio::spawn(super::connections::serve(
        listener,
        tls,
        app,
        state.clone(),
        rx,
    ));
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
    eprintln!("{}", listening_line(&handle.state.config, scheme, addr));
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

/// `TAM listening on http://ADDR/tam (draft26), http://ADDR/tam/legacy (legacy)`: each
/// path with the numbering it speaks, and how its first QueryRequest is signed when that is
/// not the draft-26 COSE_Sign.
pub fn listening_line(config: &Config, scheme: &str, addr: SocketAddr) -> String {
    let paths: Vec<String> = config
        .teep_paths()
        .iter()
        .map(|(path, n)| {
            let first = match n {
                crate::NumberingChoice::Draft26 => config.first_query_draft26,
                crate::NumberingChoice::Legacy => config.first_query_legacy,
            };
            let sign1 = match first {
                crate::config::FirstQuery::CoseSign => String::new(),
                crate::config::FirstQuery::Sign1(a) => {
                    format!(", first QueryRequest COSE_Sign1 {}", a.name())
                }
            };
            format!("{scheme}://{addr}{path} ({}{sign1})", n.as_str())
        })
        .collect();
    let strict = if config.strict { " (strict)" } else { "" };
    format!("TAM listening on {}{strict}", paths.join(", "))
}

pub(crate) async fn shutdown_signal() {
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
