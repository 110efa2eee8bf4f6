//! The TAM's TEEP state machine, sans-IO (quinn-proto style).
//!
//! Nothing here does I/O. Time and randomness come in as arguments; storage comes in as a
//! [`Context`] the adapter loaded for this message and goes out as [`Effects`] the adapter
//! commits (in one transaction) before it sends the response. The flow per request:
//!
//! 1. empty body: [`TamCore::handle_connect`] → QueryRequest (COSE_Sign, one signature per
//!    algorithm, because the agent's suite is unknown) and a new outstanding token;
//! 2. body: [`TamCore::inspect`] opens COSE and decodes the TEEP message without trusting it,
//!    and says what it [`Need`]s from storage;
//! 3. the adapter loads that [`Context`]; [`TamCore::handle_message`] verifies, appraises,
//!    applies policy and answers with an [`Outcome`] or a [`Rejection`];
//! 4. the adapter commits the [`Effects`]; if storage finds the token already answered, it
//!    asks [`TamCore::handle_replay_at_commit`] for the refusal.
//!
//! One file per message handled: `query_request.rs` (connect), `query_response.rs`,
//! `success.rs`, `error.rs`; the token rules every answer passes are in `handle_message.rs`,
//! what is sent back for a QueryResponse in `update.rs`, the contract types in `contract.rs`,
//! `effects.rs` and `rejection.rs`.

use alloc::{string::String, string::ToString, sync::Arc, vec, vec::Vec};

mod appraisal;
mod attestation_required;
mod contract;
mod data_items;
mod decrypt;
mod device_key;
mod effects;
mod error;
mod handle_message;
mod identify;
mod inspect;
mod query_request;
mod query_response;
mod rejection;
mod signers;
mod success;
mod unsolicited;
mod update;

use crate::model::{AuditEntry, SessionKind, SessionRecord};
use crate::token::TokenKey;
use crate::Enroll;
use teep_cose::{PublicKey, Signer};

use signers::SignerSet;

pub use contract::{Context, ExchangeResult, Inspected, Need, Outcome};
pub use effects::{Consume, DeviceUpdate, Effects, PendingUpdate, LAST_SEEN_RESOLUTION_MS};
pub use identify::{SignerMatch, SignerSearch, SignerSearched};
pub use rejection::{InternalError, Refusal, RefusalKind, Rejection, INTERNAL_CODE};
pub use signers::FirstQuery;

/// Randomness for tokens and challenges, supplied by the caller (quinn-proto style): the
/// server passes the operating system's generator, tests a deterministic one.
pub trait Random {
    fn fill(&mut self, buf: &mut [u8]);
}

/// Settings of the core (the server derives them from its configuration).
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub enroll: Enroll,
    pub require_attestation: bool,
    pub session_ttl_ms: i64,
    /// Whether devices may request catalog TCs that policy does not assign them.
    pub allow_requests: bool,
    /// Whether [`Outcome::response_json`] is filled. Rendering a response as JSON costs as
    /// much as encoding it, and only `--dump` reads it, so the server turns it off otherwise.
    pub render_json: bool,
    /// Most parsed device keys kept (about 0.2 KiB each). A fleet larger than this parses a
    /// key (a point decompression for Ed25519) on most messages. When full, an eighth of the
    /// entries, in hash order (in effect at random), make room. Without the `std` feature
    /// there is no cache and this is ignored: each message parses its device's key.
    pub parsed_keys: usize,
    /// How the first QueryRequest is signed on the path that speaks draft-26 numbering.
    pub first_query_draft26: FirstQuery,
    /// ... and on the path that speaks the legacy numbering.
    pub first_query_legacy: FirstQuery,
    /// Whether a QueryRequest that asks for attestation carries a token beside the challenge
    /// (DIGEST §9.2: the -26 example does, §4.2's text says it must not). Off, the challenge
    /// alone correlates the answer. Answers are accepted either way.
    pub token_with_attestation: bool,
    /// Whether a QueryRequest that does not ask for attestation goes without a token. Its
    /// answer then carries none either and is taken as an unsolicited QueryResponse (see
    /// `session::unsolicited`), and the Agent may later open sessions with one of its own
    /// (-26 §4.2 / RFC 9397 RequestTA: only after a QueryRequest with neither token nor
    /// challenge). Off, every QueryRequest carries a token; so does every one in the legacy
    /// numbering, where one without a token reads in both numberings and agents answer it
    /// in draft-26.
    pub tokenless_queries: bool,
    /// Whether deviations from the specification are accepted (and recorded) or refused.
    pub tolerance: teep_cbor::deviation::Tolerance,
    /// A message whose kids name no device (libteep signs without one) is matched by trying
    /// every registered device's key when there are at most this many (0: never). Each try
    /// is a signature verification, so this bounds what one such message costs.
    pub kidless_max_devices: usize,
    /// Largest Update kept in its audit row (0: none). The web UI's session view opens the
    /// kept Update; an Update carries its TCs, so keeping every one would store each TA once
    /// per device updated (a 4 KiB TA made the database grow 4.5 times as fast). Larger
    /// Updates are audited without their bytes, and the UI says so.
    pub audit_response_max: usize,
    /// What an appraisal must also show (accepted hardware, minimum TC versions), whichever
    /// Verifier appraised.
    pub appraisal_policy: crate::attest::AppraisalPolicy,
    /// Passport model (-26 §4.2, §5): a QueryRequest that asks for attestation carries a
    /// token and no challenge, and the Agent presents an Attestation Result of a trusted
    /// Verifier whose `eat_nonce` is that token. Off: background check (a challenge).
    pub passport: bool,
}

/// Default of [`CoreConfig::audit_response_max`]: Updates of small TAs (the demo's, test
/// TAs, personalization data) are kept whole.
pub const DEFAULT_AUDIT_RESPONSE_MAX: usize = 16 * 1024;

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            enroll: Enroll::Registered,
            require_attestation: true,
            session_ttl_ms: 6 * 3600 * 1000,
            allow_requests: true,
            render_json: true,
            parsed_keys: DEFAULT_PARSED_KEYS,
            first_query_draft26: FirstQuery::CoseSign,
            first_query_legacy: FirstQuery::CoseSign,
            token_with_attestation: true,
            tokenless_queries: false,
            tolerance: teep_cbor::deviation::Tolerance::Tolerant,
            kidless_max_devices: DEFAULT_KIDLESS_MAX_DEVICES,
            audit_response_max: DEFAULT_AUDIT_RESPONSE_MAX,
            appraisal_policy: Default::default(),
            passport: false,
        }
    }
}

impl CoreConfig {
    /// How the first QueryRequest is signed on the path that speaks `n`.
    pub fn first_query(&self, n: teep_proto::Numbering) -> FirstQuery {
        match n {
            teep_proto::Numbering::Draft26 => self.first_query_draft26,
            teep_proto::Numbering::Legacy => self.first_query_legacy,
        }
    }
}

/// The TAM protocol core: keys and settings, no state of its own (state lives in storage so
/// that several processes can share it).
///
/// Its methods are of the quinn-proto kinds: `handle_*` for events from the network
/// ([`handle_connect`](Self::handle_connect), [`handle_message`](Self::handle_message)) and
/// from storage ([`handle_replay_at_commit`](Self::handle_replay_at_commit)); getters
/// ([`signers`](Self::signers), [`query_session`](Self::query_session)); and
/// [`inspect`](Self::inspect), which reads a message before storage is asked.
pub struct TamCore {
    signers: SignerSet,
    verifier_keys: Vec<PublicKey>,
    token_key: TokenKey,
    /// The TAM's own attestation, sent to an Agent that answers ERR_ATTESTATION_REQUIRED
    /// (-26 §7.1.2); without it such an Error ends the session.
    tam_attestation: Option<Arc<dyn crate::tam_attestation::TamAttestation>>,
    /// Device keys already parsed, by their stored COSE_Key bytes: parsing validates the
    /// curve point, which for Ed25519 costs a point decompression each time. Only with `std`:
    /// the server's threads share it behind a lock, which `core` does not have.
    #[cfg(feature = "std")]
    parsed_keys: std::sync::Mutex<std::collections::HashMap<Vec<u8>, PublicKey>>,
    /// Verified endorsement-chain signatures (see [`crate::endorsement`]).
    signature_memo: crate::endorsement::SignatureMemo,
    pub config: CoreConfig,
}

/// Default of [`CoreConfig::kidless_max_devices`]: a lab or interop fleet, where old agents
/// without kids are met; a verification costs well under a millisecond.
pub const DEFAULT_KIDLESS_MAX_DEVICES: usize = 16;

/// Default of [`CoreConfig::parsed_keys`]: as many as the device cache holds by default.
pub const DEFAULT_PARSED_KEYS: usize = 1 << 18;

/// Length of an Update token.
const TOKEN_LEN: usize = 16;

impl TamCore {
    /// `signers`: the TAM's TEEP keys, at most one per key type. `token_key` MACs
    /// QueryRequest tokens and derives challenges; processes that share a database must share
    /// it, so the caller brings it (the server keeps it in the database).
    pub fn new(
        signers: Vec<Arc<dyn Signer>>,
        verifier_keys: Vec<PublicKey>,
        config: CoreConfig,
        token_key: TokenKey,
    ) -> TamCore {
        TamCore {
            signers: SignerSet::new(signers),
            verifier_keys,
            token_key,
            tam_attestation: None,
            #[cfg(feature = "std")]
            parsed_keys: Default::default(),
            signature_memo: crate::endorsement::SignatureMemo::new(
                crate::endorsement::DEFAULT_SIGNATURE_MEMO,
            ),
            config,
        }
    }

    /// The memo of verified endorsement-chain signatures (for tests and metrics).
    pub fn signature_memo(&self) -> &crate::endorsement::SignatureMemo {
        &self.signature_memo
    }

    /// A core that attests itself to Agents that require it (-26 §7.1.2): on an Error
    /// ERR_ATTESTATION_REQUIRED it sends a new QueryRequest carrying what `source` returns.
    pub fn with_tam_attestation(
        mut self,
        source: Arc<dyn crate::tam_attestation::TamAttestation>,
    ) -> TamCore {
        self.tam_attestation = Some(source);
        self
    }

    /// Whether this core can attest itself (see [`with_tam_attestation`](Self::with_tam_attestation)).
    pub fn attests_itself(&self) -> bool {
        self.tam_attestation.is_some()
    }

    /// The outstanding QueryRequest a token names, if this TAM minted it. Whether it was
    /// already answered is storage's to say (when the answer commits).
    pub fn query_session(&self, token: &[u8]) -> Option<SessionRecord> {
        let q = self.token_key.open(token)?;
        Some(SessionRecord {
            token: token.to_vec(),
            kind: SessionKind::Query,
            device_kid: None,
            challenge: (self.config.require_attestation && !self.config.passport)
                .then(|| self.token_key.challenge(token)),
            numbering: q.numbering.name().into(),
            pending: None,
            created_at: q.expires_at - self.config.session_ttl_ms,
            expires_at: q.expires_at,
            answered: false,
        })
    }

    /// The TAM's TEEP keys, as configured.
    pub fn signers(&self) -> &[Arc<dyn Signer>] {
        self.signers.keys()
    }

    /// An Update token: the time in ms (6 bytes, big-endian) then 10 random bytes. Stored
    /// tokens are the sessions table's key; leading with the time makes each insert land at the
    /// end of its index instead of on a random page.
    fn new_token(now: i64, rng: &mut dyn Random) -> Vec<u8> {
        let mut t = vec![0u8; TOKEN_LEN];
        t[..6].copy_from_slice(&now.to_be_bytes()[2..]);
        rng.fill(&mut t[6..]);
        t
    }
}

impl SessionKind {
    /// The message that opened a session of this kind.
    fn request_name(self) -> &'static str {
        match self {
            SessionKind::Query => "QueryRequest",
            SessionKind::Update => "Update",
        }
    }
}

/// The audit entry of an answered message.
fn audit(
    now: i64,
    kid: Option<&[u8]>,
    token: &[u8],
    msg: &Inspected,
    result: ExchangeResult,
) -> AuditEntry {
    AuditEntry {
        at: now,
        device_kid: kid.map(<[u8]>::to_vec),
        token: Some(token.to_vec()),
        message_type: msg.type_name.to_string(),
        summary: String::new(),
        result: result.as_str().to_string(),
        message: Some(msg.raw.clone()),
        numbering: Some(msg.numbering.name().to_string()),
        response: None,
        notes: Vec::new(),
    }
}

/// The answer that ends a session (HTTP 204) after a QueryResponse that needs nothing or a
/// Success or Error: consume the token, record the device changes and the audit entry, send
/// nothing.
#[allow(clippy::too_many_arguments)]
fn session_end(
    now: i64,
    token: Vec<u8>,
    consume: Consume,
    kid: Vec<u8>,
    new_device: Option<crate::model::NewDevice>,
    update: DeviceUpdate,
    msg: &Inspected,
    result: ExchangeResult,
) -> Outcome {
    let effects = Effects {
        now,
        consume: Some(consume),
        new_device,
        device: Some(update),
        new_session: None,
        audit: Some(audit(now, Some(&kid), &token, msg, result)),
    };
    Outcome {
        response: None,
        effects,
        device_kid: Some(kid),
        token: Some(token),
        response_json: None,
        result,
        deviations: Default::default(),
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
