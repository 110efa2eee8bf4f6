//! teep-tam-core: the TAM's TEEP protocol logic, sans-IO.
//!
//! Nothing here opens a socket, reads a clock, draws randomness or touches a disk: time and
//! randomness come in as arguments, storage comes in as a [`Context`] the adapter loaded and
//! goes out as [`Effects`] the adapter commits. The `teep-tam` crate is that adapter (sqlx
//! storage, HTTP, admin API, web UI); Cargo keeps tokio, axum and sqlx out of this crate.
//!
//! * [`session`]: the state machine (`handle_connect`, `inspect`, `handle_message`) and its
//!   contract with the adapter: what a message [`Need`]s, the [`Context`] loaded for it, the
//!   [`Outcome`] (an [`ExchangeResult`] and [`Effects`]) or [`Rejection`] (a [`Refusal`] of
//!   one [`RefusalKind`], or an [`InternalError`]);
//! * [`policy`]: which TCs a device gets; [`attest`]: the built-in Evidence appraisal;
//!   [`envelope`]: a catalog envelope without its integrated payloads (have-binary);
//! * [`tam_attestation`]: the TAM's own attestation for Agents that require it;
//! * [`token`]: stateless QueryRequest tokens; [`wire`]: TEEP message building and reading;
//! * [`model`]: the records the core reads and writes.
//!
//! Without the default `std` feature the crate is `no_std` + `alloc` (for a TAM inside a
//! TEE); `std` adds the parsed device-key cache ([`CoreConfig::parsed_keys`]) and the
//! dependencies' std support.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::{format, string::String};

pub mod attest;
pub mod endorsement;
pub mod envelope;
pub mod model;
pub mod policy;
pub mod session;
pub mod tam_attestation;
pub mod token;
pub mod wire;

pub use session::{
    Context, CoreConfig, Effects, ExchangeResult, Inspected, InternalError, Need, Outcome, Random,
    Refusal, RefusalKind, Rejection, TamCore,
};

/// How devices get admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enroll {
    /// Only devices whose keys an administrator added.
    Registered,
    /// A new device is admitted if its Evidence is signed by an attestation key endorsed by
    /// an X.509 chain (`x5chain`, RFC 9360) to a configured endorsement root; its TEEP key
    /// (from `cnf`) is then recorded.
    Open,
    /// Testbed only: trust on first use. A new device's key (from its evidence `cnf`) is
    /// recorded on first contact, whatever signed the Evidence.
    Tofu,
}

impl Enroll {
    /// The word of the configuration file and `--enroll`.
    pub fn as_str(self) -> &'static str {
        match self {
            Enroll::Registered => "registered",
            Enroll::Open => "open",
            Enroll::Tofu => "tofu",
        }
    }
}

impl core::str::FromStr for Enroll {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "registered" => Ok(Enroll::Registered),
            "open" => Ok(Enroll::Open),
            "tofu" => Ok(Enroll::Tofu),
            _ => Err(format!("enroll {s:?}: expected registered, open or tofu")),
        }
    }
}

#[cfg(test)]
mod tests;
