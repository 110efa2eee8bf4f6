//! What passes between the core and its adapter for one message: the message opened but not
//! trusted, with what it needs from storage ([`Inspected`], [`Need`]); what storage supplied
//! ([`Context`]); and the answer ([`Outcome`], whose [`ExchangeResult`] names it).

use alloc::{sync::Arc, vec::Vec};

use teep_cbor::deviation::Deviations;
use teep_proto::Numbering;

use crate::model::{DeviceRecord, InstalledTc, SessionRecord, TcRecord};
use crate::wire::Incoming;

use super::effects::Effects;

/// A message opened and decoded but not yet verified.
pub struct Inspected {
    pub numbering: Numbering,
    pub opened: teep_cose::Opened,
    pub message: Incoming,
    /// The message as received: the audit log keeps it and decodes it when viewed, so no
    /// exchange pays for a JSON rendering nobody may read.
    pub raw: Vec<u8>,
    pub type_name: &'static str,
    /// What the adapter loads into the [`Context`] before
    /// [`handle_message`](crate::TamCore::handle_message). Take it with
    /// [`take_need`](Self::take_need): it may carry the session, which moves into the context.
    pub need: Need,
    /// What the decoders accepted although the specification says otherwise (empty, and
    /// unallocated, for a conforming message).
    pub deviations: Deviations,
    /// A QueryResponse that answers no QueryRequest of this TAM: no token, no challenge of
    /// this TAM in its Evidence (-26 §4.3; see [`TamCore::accepts_unsolicited`](crate::TamCore::accepts_unsolicited)).
    pub unsolicited: bool,
}

impl Inspected {
    /// Token the message answers.
    pub fn token(&self) -> Option<&[u8]> {
        self.message.token()
    }

    /// Key ids named by the signatures (unverified), in order: "the signer's device" is the
    /// first of these that storage knows.
    pub fn kids(&self) -> impl Iterator<Item = &[u8]> {
        self.opened
            .signatures
            .iter()
            .filter_map(|s| s.kid.as_deref())
    }

    /// The need, leaving [`Need::Nothing`] behind.
    pub fn take_need(&mut self) -> Need {
        core::mem::take(&mut self.need)
    }
}

/// What storage must supply for a message, decided by the core from the message type and its
/// token. The adapter follows it and fills exactly the [`Context`] fields it names; the rest
/// stay empty. "The signer's device" is the record of the first of [`Inspected::kids`] that
/// storage knows; when none is, the adapter searches as
/// [`TamCore::signer_search`](crate::TamCore::signer_search) allows and reports it in
/// [`Context::signer_search`] (a QueryResponse or an Error answering a QueryRequest).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Need {
    /// The message names no token: the core refuses it without storage.
    #[default]
    Nothing,
    /// A QueryResponse answering a QueryRequest of this TAM. The session was read from the
    /// token under the TAM's key, not from storage: put it in [`Context::session`]. Load the
    /// signer's device ([`Context::device`]) with its holdings ([`Context::installed`]), the
    /// catalog, and the component ids policy assigns to that device, or to a device storage
    /// does not know yet ([`Context::assigned`]).
    QueryResponse { session: SessionRecord },
    /// An Error answering a QueryRequest of this TAM (or a Success naming one, which the core
    /// refuses). Put `session` in [`Context::session`] as above; load the signer's device.
    Signer { session: SessionRecord },
    /// The token is not a QueryRequest token of this TAM: only storage can place it (an
    /// Update's). Load the session stored under [`Inspected::token`] (absent if none); the
    /// signer's device, or else the device that session is bound to; and, when `catalog`,
    /// the catalog (a Success records the digests of what its Update installed).
    ///
    /// An adapter that remembers the Updates it sent together with their device may supply
    /// both from memory: another device signing with that token then fails the signature
    /// check rather than the binding check. Either way it is refused.
    StoredSession { catalog: bool },
}

/// What storage knows that a message needs: the fields its [`Need`] names.
#[derive(Default)]
pub struct Context {
    /// The outstanding request named by the message token.
    pub session: Option<SessionRecord>,
    /// The device whose kid signed the message.
    pub device: Option<DeviceRecord>,
    /// What storage says the device holds.
    pub installed: Vec<InstalledTc>,
    /// Newest catalog entry of each component.
    pub catalog: Arc<Vec<TcRecord>>,
    /// Component ids policy assigns to this device.
    pub assigned: Vec<Vec<u8>>,
    /// When no kid of the message named a device: what the adapter did to find the signer
    /// (see [`TamCore::signer_search`](crate::TamCore::signer_search)).
    pub signer_search: Option<super::SignerSearched>,
    /// An external Verifier's verdict on the QueryResponse's Evidence, when the adapter asked
    /// one (see [`TamCore::evidence_for_verifier`](crate::TamCore::evidence_for_verifier));
    /// `None`: the built-in appraisal.
    pub verifier: Option<crate::attest::VerifierVerdict>,
    /// The endorsement roots the TAM trusts (DER certificates; RFC 9334 Endorser): an
    /// attestation key endorsed by an `x5chain` (RFC 9360) must chain to one of them. Loaded
    /// for a QueryResponse, from the adapter's in-memory copy.
    pub endorsement_roots: Arc<Vec<Vec<u8>>>,
}

/// How a step ended, for metrics, audit and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExchangeResult {
    /// A new session: the TAM sent a QueryRequest.
    QueryRequest,
    /// The device lacks nothing and holds nothing to drop: the session ends.
    NoUpdate,
    /// The TAM sent an Update with manifests to install or remove.
    Update,
    /// Attestation failed: the TAM sent an Update carrying ERR_ATTESTATION_REQUIRED
    /// (DIGEST §9.15).
    AttestationFailed,
    /// The QueryResponse lacks a data item its QueryRequest asked for, or carries a SUIT
    /// report bound to another token: the TAM sent an Update carrying ERR_PERMANENT_ERROR and
    /// recorded no holdings (-26 §4.3; DIGEST §4.1 step 1).
    BadQueryResponse,
    /// The device applied the Update.
    Success,
    /// The device answered with an Error.
    AgentError,
}

impl ExchangeResult {
    /// The stable word for metrics and audit.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeResult::QueryRequest => "query-request",
            ExchangeResult::NoUpdate => "no-update",
            ExchangeResult::Update => "update",
            ExchangeResult::AttestationFailed => "attestation-failed",
            ExchangeResult::BadQueryResponse => "bad-query-response",
            ExchangeResult::Success => "success",
            ExchangeResult::AgentError => "agent-error",
        }
    }
}

impl core::fmt::Display for ExchangeResult {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of a step.
#[derive(Debug)]
pub struct Outcome {
    /// The TEEP message to send back; `None` ends the session (HTTP 204).
    pub response: Option<Vec<u8>>,
    pub effects: Effects,
    /// Device kid and token, for the tracing span.
    pub device_kid: Option<Vec<u8>>,
    pub token: Option<Vec<u8>>,
    /// What the TAM sent, as JSON (for `--dump`).
    pub response_json: Option<serde_json::Value>,
    pub result: ExchangeResult,
    /// Every deviation accepted in the step: the decoders' and the core's own (also in the
    /// audit entry). Empty, and unallocated, for a conforming exchange.
    pub deviations: Deviations,
}
