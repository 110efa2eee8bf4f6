//! teep-tam: a TEEP Trusted Application Manager server.
//!
//! The protocol logic is the sans-IO `teep-tam-core` crate (re-exported here as [`session`],
//! [`policy`], [`attest`], [`token`], [`wire`] and [`model`]); this crate is its adapter:
//! * [`store`]: storage over sqlx (SQLite by default, PostgreSQL for several TAM processes);
//! * [`server`]: the HTTP transport (axum), metrics, [`admin`] API and [`ui`], TLS, over the
//!   [`state`] they all share;
//! * [`ops`]: administrative operations shared by the CLI, the admin API and the UI.
//!
//! Start an in-process TAM on a free loopback port (e.g. from an end-to-end test):
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let config = teep_tam::Config {
//!     data: dir.path().to_path_buf(),
//!     listen: "127.0.0.1:0".parse()?,
//!     enroll: teep_tam::Enroll::Tofu,
//!     ..Default::default()
//! };
//! let (addr, handle) = teep_tam::server::spawn(config).await?;
//! // the agent POSTs to http://{addr}/tam
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod catalog;
pub mod config;
pub mod dependencies;
mod dump;
pub mod endorsers;
mod headers;
pub mod keys;
mod limits;
pub mod metrics;
pub mod ops;
pub mod payloads;
pub mod random;
pub mod server;
pub mod state;
pub mod store;
pub mod suit_wrap;
pub mod trust_anchor_update;
pub mod ui;
pub mod verifier;

pub use config::{Config, Enroll, NumberingChoice};
pub use server::{spawn, ServerHandle};
pub use store::Store;
pub use teep_tam_core::{attest, model, policy, session, token, wire};
pub use teep_tam_core::{Context, Effects, Outcome, TamCore};
