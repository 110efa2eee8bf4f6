//! HTTP adapter (axum): the TEEP transport (draft-ietf-teep-otrp-over-http), metrics, admin
//! API and web UI, TLS, graceful shutdown. Drives the sans-IO [`TamCore`] and commits its
//! effects to [`Store`] before answering.

//!
//! * `crate::state` (beside this module, so the admin API and the UI need not import the
//!   server): the state every request shares ([`AppState`]) and its housekeeping;
//! * `service`: the per-connection service, routes and plain endpoints;
//! * `transport`: the transport checks and the shape of answers and refusals;
//! * `teep_endpoint`: one TEEP request: decode, ask the core, load what it needs, commit, answer;
//! * `unsolicited`: a QueryResponse the device sent unasked opens a session like the empty POST;
//! * `lifecycle`: starting, draining and stopping the server;
//! * `connections`: the accept loop, plain or TLS, and the per-connection limits;
//! * `body`: the request body's deadline;
//! * `tls`: TLS termination (rustls).

mod body;
mod connections;
mod lifecycle;
mod service;
mod teep_endpoint;
mod tls;
mod transport;
mod unsolicited;
mod write_deadline;

pub use connections::max_connections;
pub use lifecycle::*;
pub use service::*;
use teep_endpoint::*;
use transport::*;

use std::time::Duration;

use tokio::sync::watch;

pub(crate) use crate::headers::security_headers;
pub use crate::state::{now_ms, AppState, Refusal, ServerError, REFUSALS_KEPT};
pub(crate) use connections::retry_later;

pub const TEEP_MEDIA_TYPE: &str = "application/teep+cbor";

/// How often a server copies its SQLite WAL into the database file.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Runs `tick` every `interval` until the server shuts down or `tick` returns false.
pub(crate) fn every<F, Fut>(interval: Duration, mut shutdown: watch::Receiver<bool>, mut tick: F)
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
