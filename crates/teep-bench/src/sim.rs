//! A simulated TEEP device (agent side, just enough of it) and a small HTTP client, for the
//! load generator (`teep bench tam`) and for end-to-end tests. It builds messages with
//! teep-proto and teep-cose directly: no SUIT processing, no TEE, no dependency on the real
//! agent, so a benchmark measures the TAM and not the device.
//!
//! Tests use [`SimDevice`], [`TeepClient`] and [`exchange`]. The load generator uses
//! [`LoadDevice`], [`TeepConnection`] and [`load_exchange`]: the same signed exchange, with
//! per-device work done once and the TAM's messages read in place, because on a shared
//! machine every microsecond the generator spends is taken from the TAM it measures.
//!
//! The parts: `device` (device keys, evidence, [`SimDevice`] and its exchange), `load`
//! ([`LoadDevice`] and its exchange), `http` (both HTTP clients), `peek` (the in-place readers
//! of the TAM's messages) over `cbor` (the CBOR cursor they use). What the two exchanges share
//! (signing, opening the TAM's messages, status handling) is here.

mod cbor;
mod device;
mod http;
mod load;
mod peek;

pub use device::{
    exchange, exchange_with, numbered_key, DeviceAlg, QueryRequestSeen, SimDevice, SimEndorsement,
};
pub use http::{Reply, TeepClient, TeepConnection, MAX_RESPONSE_BODY};
pub use load::{load_exchange, sized_exchange, LoadDevice};
pub use peek::{peek_query_request, peek_update, PeekedMessage};

use std::fmt::Display;

use teep_cose::{PublicKey, Signer};
use teep_proto::{Numbering, QueryRequest, Success, TeepMessage, Update};

use teep_proto::signed;

/// Why a simulated exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("HTTP: {0}")]
    Http(String),
    #[error("HTTP status {status}: {body}")]
    Status { status: u16, body: String },
    #[error("TAM message: {0}")]
    Message(String),
}

impl SimError {
    fn http(e: impl Display) -> SimError {
        SimError::Http(e.to_string())
    }

    fn message(e: impl Display) -> SimError {
        SimError::Message(e.to_string())
    }
}

/// What one full exchange did.
#[derive(Debug, PartialEq, Eq)]
pub enum ExchangeResult {
    /// The TAM sent an Update and got our Success.
    Updated,
    /// Nothing to do: the QueryResponse got 204.
    UpToDate,
}

/// `msg` as a COSE_Sign1 by the device key.
fn sign(msg: &TeepMessage, n: Numbering, signer: &dyn Signer) -> Result<Vec<u8>, SimError> {
    signed::sign_message(msg, n, signer).map_err(SimError::message)
}

/// A signed Success echoing `token`.
fn sign_success(
    token: Option<Vec<u8>>,
    n: Numbering,
    signer: &dyn Signer,
) -> Result<Vec<u8>, SimError> {
    let s = Success {
        token,
        ..Default::default()
    };
    sign(&TeepMessage::Success(s), n, signer)
}

/// Decodes a message from the TAM and counts its signatures; with `tam_keys`, one of them
/// must have signed it (`what` names the message in that error).
fn open_from_tam(
    bytes: &[u8],
    n: Numbering,
    tam_keys: &[PublicKey],
    what: &str,
) -> Result<(TeepMessage, usize), SimError> {
    let (opened, msg) = signed::open_message(bytes, n).map_err(SimError::message)?;
    if !tam_keys.is_empty() {
        opened
            .verify_any(tam_keys)
            .map_err(|e| SimError::Message(format!("{what} signature: {e}")))?;
    }
    Ok((msg, opened.signatures.len()))
}

fn unexpected(want: &str, got: &TeepMessage) -> SimError {
    SimError::Message(format!("expected {want}, got {}", got.type_name()))
}

/// A QueryRequest from the TAM (checked as [`open_from_tam`] does) and its signature count.
fn open_query_request(
    bytes: &[u8],
    n: Numbering,
    tam_keys: &[PublicKey],
) -> Result<(QueryRequest, usize), SimError> {
    match open_from_tam(bytes, n, tam_keys, "QueryRequest")? {
        (TeepMessage::QueryRequest(q), signatures) => Ok((q, signatures)),
        (other, _) => Err(unexpected("QueryRequest", &other)),
    }
}

/// An Update from the TAM (checked as [`open_from_tam`] does); the TAM's error if it carries
/// one.
fn open_update(bytes: &[u8], n: Numbering, tam_keys: &[PublicKey]) -> Result<Update, SimError> {
    match open_from_tam(bytes, n, tam_keys, "Update")? {
        (TeepMessage::Update(u), _) => match u.err_code {
            Some(code) => Err(tam_error(code, u.err_msg.as_deref())),
            None => Ok(u),
        },
        (other, _) => Err(unexpected("Update", &other)),
    }
}

/// The error an Update with err-code reports.
fn tam_error(code: impl Display, msg: Option<&str>) -> SimError {
    SimError::Message(format!("TAM error {code}: {}", msg.unwrap_or_default()))
}

fn status_error(status: u16, body: &[u8]) -> SimError {
    SimError::Status {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

/// Fails unless the response has status `want`.
fn expect_status(status: u16, want: u16, body: &[u8]) -> Result<(), SimError> {
    if status == want {
        Ok(())
    } else {
        Err(status_error(status, body))
    }
}

/// Further QueryRequests a device answers in one session (a TAM that asks for evidence in a
/// second round trip, as AttesTAM does, needs one).
const MAX_EXTRA_QUERIES: usize = 2;

fn too_many_queries() -> SimError {
    SimError::Message(format!(
        "the TAM sent more than {MAX_EXTRA_QUERIES} further QueryRequests in one session"
    ))
}

/// Whether `bytes` is a signed QueryRequest (signatures not checked).
fn is_query_request(bytes: &[u8], n: Numbering) -> bool {
    matches!(
        signed::open_message(bytes, n),
        Ok((_, TeepMessage::QueryRequest(_)))
    )
}

/// Whether the TAM answered a QueryResponse with an Update (200) rather than ending the
/// session (204).
fn update_follows(status: u16, body: &[u8]) -> Result<bool, SimError> {
    match status {
        200 => Ok(true),
        204 => Ok(false),
        s => Err(status_error(s, body)),
    }
}
