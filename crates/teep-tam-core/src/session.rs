//! The TAM's TEEP state machine, sans-IO (quinn-proto style).
//!
//! Nothing here does I/O. Time and randomness come in as arguments; storage comes in as a
//! [`Context`] the adapter loaded for this message and goes out as [`Effects`] the adapter
//! commits (in one transaction) before it sends the response. The flow per request:
//!
//! 1. empty body: [`TamCore::handle_connect`] → QueryRequest (COSE_Sign, one signature per
//!    algorithm, because the agent's suite is unknown) and a new outstanding token;
//! 2. body: [`TamCore::inspect`] opens COSE and decodes the TEEP message without trusting it,
//!    naming the token and signer kid the adapter must look up;
//! 3. [`TamCore::handle_message`] verifies, appraises, applies policy and answers.

use std::sync::Arc;

use teep_cose::{Algorithm, KeyType, PublicKey, Signer};
use teep_proto::Numbering;

use crate::attest::{self, AttestedClaims, Evidence, Expectation};
use crate::model::*;
use crate::policy;
use crate::token::TokenKey;
use crate::wire::{self, Incoming};
use crate::Enroll;

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
    /// entries, in hash order (in effect at random), make room.
    pub parsed_keys: usize,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            enroll: Enroll::Registered,
            require_attestation: true,
            session_ttl_ms: 6 * 3600 * 1000,
            allow_requests: true,
            render_json: true,
            parsed_keys: DEFAULT_PARSED_KEYS,
        }
    }
}

/// The TAM protocol core: keys and settings, no state of its own (state lives in storage so
/// that several processes can share it).
pub struct TamCore {
    signers: Vec<Arc<dyn Signer>>,
    verifier_keys: Vec<PublicKey>,
    token_key: TokenKey,
    /// Device keys already parsed, by their stored COSE_Key bytes: parsing validates the
    /// curve point, which for Ed25519 costs a point decompression each time.
    parsed_keys: std::sync::Mutex<std::collections::HashMap<Vec<u8>, PublicKey>>,
    pub config: CoreConfig,
}

/// Default of [`CoreConfig::parsed_keys`]: as many as the device cache holds by default.
pub const DEFAULT_PARSED_KEYS: usize = 1 << 18;

/// A message the TAM refuses. `status` is the HTTP status; `explanation` names the field and
/// the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{explanation}")]
pub struct Rejection {
    pub status: u16,
    pub explanation: String,
    /// The decoded message type, if it got that far (for metrics and audit).
    pub message_type: Option<&'static str>,
    /// Error code name for metrics.
    pub code: &'static str,
}

impl Rejection {
    fn bad(
        message_type: Option<&'static str>,
        code: &'static str,
        explanation: impl Into<String>,
    ) -> Rejection {
        Rejection {
            status: 400,
            explanation: explanation.into(),
            message_type,
            code,
        }
    }
    fn internal(explanation: impl Into<String>) -> Rejection {
        Rejection {
            status: 500,
            explanation: explanation.into(),
            message_type: None,
            code: "internal",
        }
    }
}

/// A message opened and decoded but not yet verified.
pub struct Inspected {
    pub numbering: Numbering,
    pub opened: teep_cose::Opened,
    pub message: Incoming,
    /// The message as received: the audit log keeps it and decodes it when viewed, so no
    /// exchange pays for a JSON rendering nobody may read.
    pub raw: Vec<u8>,
    pub type_name: &'static str,
}

impl Inspected {
    /// Token the adapter must look the session up by.
    pub fn token(&self) -> Option<&[u8]> {
        self.message.token()
    }
    /// Key ids named by the signatures (unverified): the adapter looks the device up by them.
    pub fn kids(&self) -> Vec<Vec<u8>> {
        self.opened
            .signatures
            .iter()
            .filter_map(|s| s.kid.clone())
            .collect()
    }
}

/// What storage knows that this message needs.
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
}

/// Device-row changes of one step.
#[derive(Clone, Debug, Default)]
pub struct DeviceUpdate {
    /// `None`: the device is the one in `Effects::new_device`.
    pub device_id: Option<i64>,
    pub suite_alg: Option<i64>,
    pub status: Option<DeviceStatus>,
    pub status_detail: Option<String>,
    pub ueid: Option<Vec<u8>>,
    pub claims: Option<String>,
    /// Write `last_seen` even though no field above changes.
    pub touch: bool,
    /// The device's tc-list replaces what storage held.
    pub replace_installed: Option<Vec<InstalledTc>>,
    pub add_installed: Vec<InstalledTc>,
    pub remove_installed: Vec<Vec<u8>>,
}

/// How stale a device's `last_seen` may get before an exchange that changes nothing else in
/// its row writes it anyway. A QueryResponse re-reports the same claims, suite and status
/// each time; rewriting the row for a new timestamp alone cost a random page write per
/// exchange, which a fleet too large for the page cache pays in full.
pub const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

impl DeviceUpdate {
    /// Drops the fields that would write what `stored` already holds, and decides whether
    /// `last_seen` is stale enough to write on its own (see [`LAST_SEEN_RESOLUTION_MS`]).
    fn elide_unchanged(&mut self, stored: &DeviceRecord, now: i64) {
        if self.suite_alg.is_some() && self.suite_alg == stored.suite_alg {
            self.suite_alg = None;
        }
        if self.status.as_ref() == Some(&stored.status) {
            self.status = None;
        }
        if self.status_detail.is_some() && self.status_detail == stored.status_detail {
            self.status_detail = None;
        }
        if self.ueid.is_some() && self.ueid == stored.ueid {
            self.ueid = None;
        }
        if self.claims.is_some() && self.claims == stored.claims {
            self.claims = None;
        }
        self.touch = match stored.last_seen {
            Some(seen) => !(seen..seen + LAST_SEEN_RESOLUTION_MS).contains(&now),
            None => true,
        };
    }

    /// What writing the row does to `d`: `last_seen` = `now`, and the fields given.
    pub fn apply_row(&self, d: &mut DeviceRecord, now: i64) {
        d.last_seen = Some(now);
        if self.suite_alg.is_some() {
            d.suite_alg = self.suite_alg;
        }
        if let Some(s) = &self.status {
            d.status = s.clone();
        }
        if self.status_detail.is_some() {
            d.status_detail = self.status_detail.clone();
        }
        if self.ueid.is_some() {
            d.ueid = self.ueid.clone();
        }
        if self.claims.is_some() {
            d.claims = self.claims.clone();
        }
    }

    /// Whether the device row is written (with `last_seen` = the step's time).
    pub fn writes_row(&self) -> bool {
        self.touch
            || self.suite_alg.is_some()
            || self.status.is_some()
            || self.status_detail.is_some()
            || self.ueid.is_some()
            || self.claims.is_some()
    }
}

/// The token a step answers. A query token is stateless until answered, so consuming it
/// records it; an update token was stored with its Update, so consuming it marks that row.
#[derive(Clone, Debug)]
pub struct Consume {
    pub token: Vec<u8>,
    pub kind: SessionKind,
    pub expires_at: i64,
    pub numbering: &'static str,
    pub device_kid: Option<Vec<u8>>,
}

/// Everything a step changes in storage; committed atomically before the response is sent.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    pub now: i64,
    /// Mark this token answered; if it already was, the whole step is void (replay).
    pub consume: Option<Consume>,
    pub new_device: Option<NewDevice>,
    pub device: Option<DeviceUpdate>,
    pub new_session: Option<SessionRecord>,
    pub audit: Option<AuditEntry>,
}

/// Result of a step.
#[derive(Debug)]
pub struct Outcome {
    /// Body of the HTTP 200 response; `None` means 204 (the session ends).
    pub response: Option<Vec<u8>>,
    pub effects: Effects,
    /// Device kid and token, for the tracing span.
    pub device_kid: Option<Vec<u8>>,
    pub token: Option<Vec<u8>>,
    /// What the TAM sent, as JSON (for `--dump`).
    pub response_json: Option<serde_json::Value>,
    /// Short result word for metrics and audit (`update`, `no-update`, `attestation-failed`, ...).
    pub result: &'static str,
}

/// What an outstanding Update carried (stored as JSON in the session row).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PendingUpdate {
    /// (encoded component id, sequence, origin)
    pub install: Vec<(Vec<u8>, u64, String)>,
    pub remove: Vec<Vec<u8>>,
}

const TOKEN_LEN: usize = 16;

impl Effects {
    /// Nothing to commit (a QueryRequest: its token is stateless).
    pub fn is_empty(&self) -> bool {
        self.consume.is_none()
            && self.new_device.is_none()
            && self.device.is_none()
            && self.new_session.is_none()
            && self.audit.is_none()
    }
}

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
            signers,
            verifier_keys,
            token_key,
            parsed_keys: Default::default(),
            config,
        }
    }

    /// The outstanding QueryRequest a token names, if this TAM minted it. Whether it was
    /// already answered is storage's to say (when the answer commits).
    pub fn query_session(&self, token: &[u8]) -> Option<SessionRecord> {
        let q = self.token_key.open(token)?;
        Some(SessionRecord {
            token: token.to_vec(),
            kind: SessionKind::Query,
            device_kid: None,
            challenge: self
                .config
                .require_attestation
                .then(|| self.token_key.challenge(token)),
            numbering: numbering_name(q.numbering).into(),
            pending: None,
            created_at: q.expires_at - self.config.session_ttl_ms,
            expires_at: q.expires_at,
            answered: false,
        })
    }

    pub fn signers(&self) -> &[Arc<dyn Signer>] {
        &self.signers
    }

    fn signer_for(&self, kt: KeyType) -> Option<&Arc<dyn Signer>> {
        self.signers
            .iter()
            .find(|s| s.public_key().key_type() == kt)
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

    /// `ProcessConnect`: a new session. Answers a QueryRequest signed with every TAM key
    /// (COSE_Sign), since nothing yet tells which suite the agent speaks.
    pub fn handle_connect(
        &self,
        numbering: Numbering,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        self.query_request(numbering, None, now, rng)
    }

    fn query_request(
        &self,
        numbering: Numbering,
        device: Option<&DeviceRecord>,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        let mut random = [0u8; 8];
        rng.fill(&mut random);
        let token = self.token_key.mint(
            numbering,
            now.saturating_add(self.config.session_ttl_ms),
            random,
        );
        let challenge = self
            .config
            .require_attestation
            .then(|| self.token_key.challenge(&token));
        let msg = wire::query_request(
            &token,
            challenge.as_deref(),
            self.config.require_attestation,
        );
        let known_signer = device
            .and_then(|d| d.suite_alg)
            .and_then(|a| Algorithm::from_cose(a).key_type())
            .and_then(|kt| self.signer_for(kt));
        let bytes = match known_signer {
            Some(s) => crate::wire::signed::sign_message(&msg, numbering, s.as_ref()),
            None => {
                let refs: Vec<&dyn Signer> = self.signers.iter().map(|s| s.as_ref()).collect();
                crate::wire::signed::sign_message_multi(&msg, numbering, &refs)
            }
        }
        .map_err(|e| Rejection::internal(format!("signing QueryRequest: {e}")))?;
        let json = self.config.render_json.then(|| msg.to_json());
        Ok(Outcome {
            response: Some(bytes),
            effects: Effects {
                now,
                ..Default::default()
            },
            device_kid: device.map(|d| d.kid.clone()),
            token: Some(token),
            response_json: json,
            result: "query-request",
        })
    }

    /// Opens and decodes a message without trusting it. A message in the other numbering is
    /// recognised and explained rather than misread.
    pub fn inspect(&self, bytes: &[u8], numbering: Numbering) -> Result<Inspected, Rejection> {
        let (opened, msg) = match crate::wire::signed::open_message(bytes, numbering) {
            Ok(x) => x,
            Err(e) => {
                let other = other_numbering(numbering);
                if let Ok((_, m)) = crate::wire::signed::open_message(bytes, other) {
                    if wire::plausible_in(&m) {
                        return Err(Rejection::bad(
                            Some(m.type_name()),
                            "wrong-numbering",
                            format!(
                                "{}: this message decodes only in the {} numbering, but this path speaks {}; \
                                 send it to the path that speaks {} ({e})",
                                m.type_name(),
                                numbering_name(other),
                                numbering_name(numbering),
                                numbering_name(other)
                            ),
                        ));
                    }
                }
                return Err(Rejection::bad(None, "malformed", e.to_string()));
            }
        };
        let type_name = msg.type_name();
        let message = wire::incoming(msg);
        if let Incoming::Other(t) = &message {
            return Err(Rejection::bad(
                Some(type_name),
                "unexpected-type",
                format!("{t}: a TAM accepts only QueryResponse, Success and Error"),
            ));
        }
        Ok(Inspected {
            numbering,
            opened,
            message,
            raw: bytes.to_vec(),
            type_name,
        })
    }

    /// `ProcessTeepMessage` for an inspected message and the storage it names.
    pub fn handle_message(
        &self,
        msg: Inspected,
        ctx: &Context,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        let t = msg.type_name;
        let token = msg
            .token()
            .ok_or_else(|| {
                Rejection::bad(
                    Some(t),
                    "token",
                    format!(
                        "{t}.token: missing; this TAM always sends a token and needs it echoed"
                    ),
                )
            })?
            .to_vec();
        let session = ctx.session.as_ref().ok_or_else(|| {
            Rejection::bad(
                Some(t),
                "token",
                format!(
                    "{t}.token: {} is not an outstanding request of this TAM",
                    hex::encode(&token)
                ),
            )
        })?;
        if session.answered {
            return Err(Rejection::bad(
                Some(t),
                "replay",
                format!("{t}.token: already answered (replay refused)"),
            ));
        }
        if session.expires_at < now {
            return Err(Rejection::bad(
                Some(t),
                "expired",
                format!(
                    "{t}.token: expired {} s ago (tokens are valid for {} s); start a new session",
                    now.saturating_sub(session.expires_at).saturating_add(999) / 1000,
                    self.config.session_ttl_ms / 1000
                ),
            ));
        }
        if session.numbering != numbering_name(msg.numbering) {
            return Err(Rejection::bad(
                Some(t),
                "wrong-numbering",
                format!(
                    "{t}: the session was opened in the {} numbering",
                    session.numbering
                ),
            ));
        }
        let expected_kind = match msg.message {
            Incoming::QueryResponse(_) => SessionKind::Query,
            Incoming::Success { .. } => SessionKind::Update,
            Incoming::Error { .. } => session.kind,
            Incoming::Other(_) => {
                return Err(Rejection::bad(
                    Some(t),
                    "unexpected-type",
                    "unexpected message",
                ))
            }
        };
        if session.kind != expected_kind {
            return Err(Rejection::bad(
                Some(t),
                "token",
                format!(
                    "{t}.token: answers a {} but the TAM sent a {}",
                    expected_kind.request_name(),
                    session.kind.request_name()
                ),
            ));
        }
        if let (Some(bound), Some(dev)) = (&session.device_kid, &ctx.device) {
            if bound != &dev.kid {
                return Err(Rejection::bad(
                    Some(t),
                    "token",
                    format!("{t}.token: belongs to another device"),
                ));
            }
        }
        match &msg.message {
            Incoming::QueryResponse(qr) => {
                self.on_query_response(&msg, qr, session, ctx, token, now, rng)
            }
            Incoming::Success { .. } => self.on_success(&msg, session, ctx, token, now),
            Incoming::Error {
                code,
                name,
                err_msg,
                ..
            } => self.on_error(
                &msg,
                session,
                ctx,
                token,
                *code,
                name.clone(),
                err_msg.clone(),
                now,
            ),
            Incoming::Other(_) => Err(Rejection::bad(
                Some(t),
                "unexpected-type",
                "unexpected message",
            )),
        }
    }

    fn stored_key(&self, device: &DeviceRecord) -> Result<PublicKey, Rejection> {
        let mut memo = self.parsed_keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = memo.get(&device.teep_key) {
            return Ok(k.clone());
        }
        let key = PublicKey::from_cose_key(&device.teep_key)
            .map_err(|e| Rejection::internal(format!("stored key of device {}: {e}", device.id)))?;
        let cap = self.config.parsed_keys;
        if cap == 0 {
            return Ok(key);
        }
        if memo.len() >= cap {
            let victims: Vec<Vec<u8>> = memo.keys().take(cap / 8 + 1).cloned().collect();
            for k in victims {
                memo.remove(&k);
            }
        }
        memo.insert(device.teep_key.clone(), key.clone());
        Ok(key)
    }

    /// Verifies the TEEP signature with a known device key.
    fn verify_known(
        &self,
        msg: &Inspected,
        device: &DeviceRecord,
    ) -> Result<(PublicKey, Algorithm), Rejection> {
        let key = self.stored_key(device)?;
        let info = msg.opened.verify(&key).map_err(|e| {
            Rejection::bad(
                Some(msg.type_name),
                "signature",
                format!(
                    "{}: signature does not verify with the key of device {} ({e})",
                    msg.type_name, device.id
                ),
            )
        })?;
        Ok((key, info.alg))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_query_response(
        &self,
        msg: &Inspected,
        qr: &wire::QueryResponseIn,
        session: &SessionRecord,
        ctx: &Context,
        token: Vec<u8>,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        let t = msg.type_name;
        let numbering = msg.numbering;
        // Who signed: a known device, or (open enrollment) the key in the evidence's cnf.
        let evidence = qr.attestation_payload.as_deref().map(Evidence::parse);
        let (teep_key, alg, new_device) = match &ctx.device {
            Some(d) => {
                let (k, a) = self.verify_known(msg, d)?;
                (k, a, None)
            }
            None => {
                let kids = msg.kids();
                if self.config.enroll == Enroll::Registered {
                    return Err(Rejection::bad(
                        Some(t),
                        "unknown-device",
                        format!(
                            "{t}: signer kid {} is not a registered device (enrollment is registered-only)",
                            kids.first().map(hex::encode).unwrap_or_else(|| "(none)".into())
                        ),
                    ));
                }
                let ev = match &evidence {
                    Some(Ok(ev)) => ev,
                    Some(Err(e)) => return Err(Rejection::bad(Some(t), "attestation", format!("{t}.{e} (open enrollment needs evidence with cnf)"))),
                    None => {
                        return Err(Rejection::bad(Some(t), "attestation", format!("{t}.attestation-payload: missing; an unknown device enrolls with evidence carrying cnf")))
                    }
                };
                let cnf = ev.cnf_key().map_err(|e| {
                    Rejection::bad(
                        Some(t),
                        "attestation",
                        format!("{t}.attestation-payload.{e}"),
                    )
                })?;
                let info = msg.opened.verify(&cnf).map_err(|_| {
                    Rejection::bad(
                        Some(t),
                        "signature",
                        format!("{t}: signature does not verify with the cnf key of the evidence"),
                    )
                })?;
                let alg = info.alg;
                let nd = NewDevice {
                    name: None,
                    kid: cnf.thumbprint().to_vec(),
                    teep_key: cnf.to_cose_key(),
                    attest_key: None,
                    tags: Vec::new(),
                };
                (cnf, alg, Some(nd))
            }
        };
        let kid = teep_key.thumbprint().to_vec();
        let device_id = ctx.device.as_ref().map(|d| d.id);
        let mut update = DeviceUpdate {
            device_id,
            suite_alg: Some(alg.to_cose()),
            touch: true,
            ..Default::default()
        };

        // Attestation (background check, or passport with a Verifier's result).
        let mut claims: Option<AttestedClaims> = None;
        if session.challenge.is_some() || qr.attestation_payload.is_some() {
            let attestation_keys: Vec<PublicKey> =
                match ctx.device.as_ref().and_then(|d| d.attest_key.as_ref()) {
                    Some(k) => match PublicKey::from_cose_key(k) {
                        Ok(k) => vec![k],
                        Err(e) => {
                            return Err(Rejection::internal(format!("stored attestation key: {e}")))
                        }
                    },
                    None => vec![teep_key.clone()],
                };
            let result = match (&evidence, &qr.attestation_payload_format) {
                (_, Some(f)) if !wire::is_eat_format(f) => {
                    Err(attest::AttestError::Format(f.clone()))
                }
                (None, _) => Err(attest::AttestError::Missing),
                (Some(Err(e)), _) => Err(e.clone()),
                (Some(Ok(ev)), _) => attest::appraise(
                    ev,
                    &Expectation {
                        challenge: session.challenge.as_deref(),
                        token: Some(&token),
                        teep_key: &teep_key,
                        attestation_keys: &attestation_keys,
                        verifier_keys: &self.verifier_keys,
                        require_profile_claims: true,
                    },
                ),
            };
            match result {
                Ok(c) => claims = Some(c),
                Err(e) => {
                    // A new device (open enrollment) is recorded too, marked: its key signed
                    // the message, so the operator sees who failed and why, and its next
                    // session, with fresh evidence, is appraised against that key.
                    update.status = Some(DeviceStatus::AttestationFailed);
                    update.status_detail = Some(e.to_string());
                    if let Some(d) = &ctx.device {
                        update.elide_unchanged(d, now);
                    }
                    let err_msg = truncate(&e.to_string(), 128);
                    let upd = wire::error_update(
                        &Self::new_token(now, rng),
                        teep_proto::ErrorCode::AttestationRequired,
                        &err_msg,
                    );
                    return self.finish_update(
                        msg,
                        upd,
                        kid,
                        token,
                        consume_of(session),
                        update,
                        new_device,
                        PendingUpdate::default(),
                        numbering,
                        alg,
                        now,
                        "attestation-failed",
                    );
                }
            }
        }
        if let Some(c) = &claims {
            update.status = Some(DeviceStatus::Attested);
            update.status_detail = Some(String::new());
            update.ueid = c.ueid.clone();
            update.claims = serde_json::to_string(c).ok();
        }
        if let Some(d) = &ctx.device {
            update.elide_unchanged(d, now);
        }

        // Policy: what the device lacks, and what it should drop.
        let decision = policy::decide(&policy::Input {
            catalog: &ctx.catalog,
            assigned: &ctx.assigned,
            stored: &ctx.installed,
            tc_list: qr.tc_list.as_deref(),
            requested: &qr.requested,
            unneeded: &qr.unneeded,
            allow_requests: self.config.allow_requests,
        });
        // Rewrite the stored holdings only when the tc-list says something new.
        update.replace_installed = decision
            .installed_now
            .as_ref()
            .filter(|now| !same_holdings(now, &ctx.installed))
            .cloned();
        if decision.install.is_empty() && decision.remove.is_empty() {
            let effects = Effects {
                now,
                consume: Some(consume_of(session)),
                new_device,
                device: Some(update),
                new_session: None,
                audit: Some(audit(now, Some(&kid), &token, msg, "no-update")),
            };
            return Ok(Outcome {
                response: None,
                effects,
                device_kid: Some(kid),
                token: Some(token),
                response_json: None,
                result: "no-update",
            });
        }
        let update_token = Self::new_token(now, rng);
        let envelopes: Vec<Vec<u8>> = decision
            .install
            .iter()
            .map(|tc| tc.envelope.to_vec())
            .collect();
        let unneeded: Vec<ComponentId> = decision
            .remove
            .iter()
            .filter_map(|r| decode_component_id(&r.manifest_component_id))
            .collect();
        let pending = PendingUpdate {
            install: decision
                .install
                .iter()
                .map(|tc| (tc.component_id.clone(), tc.sequence, tc.origin.to_string()))
                .collect(),
            remove: decision
                .remove
                .iter()
                .map(|r| r.component_id.clone())
                .collect(),
        };
        let upd = wire::update(&update_token, envelopes, unneeded);
        self.finish_update(
            msg,
            upd,
            kid,
            token,
            consume_of(session),
            update,
            new_device,
            pending,
            numbering,
            alg,
            now,
            "update",
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_update(
        &self,
        msg: &Inspected,
        upd: teep_proto::TeepMessage,
        kid: Vec<u8>,
        token: Vec<u8>,
        consume: Consume,
        update: DeviceUpdate,
        new_device: Option<NewDevice>,
        pending: PendingUpdate,
        numbering: Numbering,
        alg: Algorithm,
        now: i64,
        result: &'static str,
    ) -> Result<Outcome, Rejection> {
        let kt = alg.key_type().unwrap_or(KeyType::P256);
        let signer = self
            .signer_for(kt)
            .or_else(|| self.signers.first())
            .ok_or_else(|| Rejection::internal("the TAM has no signing key"))?;
        let bytes = crate::wire::signed::sign_message(&upd, numbering, signer.as_ref())
            .map_err(|e| Rejection::internal(format!("signing Update: {e}")))?;
        let update_token = upd.token().map(|t| t.to_vec()).unwrap_or_default();
        let session = SessionRecord {
            token: update_token,
            kind: SessionKind::Update,
            device_kid: Some(kid.clone()),
            challenge: None,
            numbering: numbering_name(numbering).into(),
            pending: serde_json::to_string(&pending).ok(),
            created_at: now,
            expires_at: now.saturating_add(self.config.session_ttl_ms),
            answered: false,
        };
        let effects = Effects {
            now,
            consume: Some(consume),
            new_device,
            device: Some(update),
            new_session: Some(session),
            audit: Some(audit(now, Some(&kid), &token, msg, result)),
        };
        Ok(Outcome {
            response: Some(bytes),
            effects,
            device_kid: Some(kid),
            token: Some(token),
            response_json: self.config.render_json.then(|| upd.to_json()),
            result,
        })
    }

    fn on_success(
        &self,
        msg: &Inspected,
        session: &SessionRecord,
        ctx: &Context,
        token: Vec<u8>,
        now: i64,
    ) -> Result<Outcome, Rejection> {
        let t = msg.type_name;
        let device = ctx.device.as_ref().ok_or_else(|| {
            Rejection::bad(
                Some(t),
                "unknown-device",
                format!("{t}: signer is not a known device"),
            )
        })?;
        self.verify_known(msg, device)?;
        let pending: PendingUpdate = session
            .pending
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let update = DeviceUpdate {
            device_id: Some(device.id),
            add_installed: pending
                .install
                .iter()
                .map(|(cid, seq, origin)| InstalledTc {
                    component_id: cid.clone(),
                    sequence: Some(*seq),
                    digest: ctx
                        .catalog
                        .iter()
                        .find(|c| &c.component_id == cid)
                        .and_then(|c| c.payload_digest.clone()),
                    origin: origin.clone(),
                    updated_at: now,
                })
                .collect(),
            remove_installed: pending.remove.clone(),
            ..Default::default()
        };
        Ok(session_end(
            now,
            token,
            consume_of(session),
            &device.kid,
            update,
            msg,
            "success",
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn on_error(
        &self,
        msg: &Inspected,
        session: &SessionRecord,
        ctx: &Context,
        token: Vec<u8>,
        code: u64,
        name: String,
        err_msg: Option<String>,
        now: i64,
    ) -> Result<Outcome, Rejection> {
        let t = msg.type_name;
        let device = ctx.device.as_ref().ok_or_else(|| {
            Rejection::bad(
                Some(t),
                "unknown-device",
                format!("{t}: signer is not a known device"),
            )
        })?;
        self.verify_known(msg, device)?;
        let detail = match &err_msg {
            Some(m) => format!("agent error {name} ({code}): {m}"),
            None => format!("agent error {name} ({code})"),
        };
        let update = DeviceUpdate {
            device_id: Some(device.id),
            status_detail: Some(truncate(&detail, 256)),
            touch: true,
            ..Default::default()
        };
        Ok(session_end(
            now,
            token,
            consume_of(session),
            &device.kid,
            update,
            msg,
            "agent-error",
        ))
    }
}

impl SessionKind {
    fn request_name(self) -> &'static str {
        match self {
            SessionKind::Query => "QueryRequest",
            SessionKind::Update => "Update",
        }
    }
}

/// The 204 that ends a session after Success or Error: consume the token, record the device
/// update and the audit entry, send nothing.
fn session_end(
    now: i64,
    token: Vec<u8>,
    consume: Consume,
    kid: &[u8],
    update: DeviceUpdate,
    msg: &Inspected,
    result: &'static str,
) -> Outcome {
    let effects = Effects {
        now,
        consume: Some(consume),
        device: Some(update),
        audit: Some(audit(now, Some(kid), &token, msg, result)),
        ..Default::default()
    };
    Outcome {
        response: None,
        effects,
        device_kid: Some(kid.to_vec()),
        token: Some(token),
        response_json: None,
        result,
    }
}

fn audit(now: i64, kid: Option<&[u8]>, token: &[u8], msg: &Inspected, result: &str) -> AuditEntry {
    AuditEntry {
        at: now,
        device_kid: kid.map(<[u8]>::to_vec),
        token: Some(token.to_vec()),
        message_type: msg.type_name.to_string(),
        summary: String::new(),
        result: result.to_string(),
        message: Some(msg.raw.clone()),
        numbering: Some(numbering_name(msg.numbering).to_string()),
    }
}

/// Whether two holdings lists say the same (order and timestamps aside).
fn same_holdings(a: &[InstalledTc], b: &[InstalledTc]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let key = |t: &InstalledTc| {
        (
            t.component_id.clone(),
            t.sequence,
            t.digest.clone(),
            t.origin.clone(),
        )
    };
    let mut x: Vec<_> = a.iter().map(key).collect();
    let mut y: Vec<_> = b.iter().map(key).collect();
    x.sort();
    y.sort();
    x == y
}

fn consume_of(session: &SessionRecord) -> Consume {
    Consume {
        token: session.token.clone(),
        kind: session.kind,
        expires_at: session.expires_at,
        numbering: if session.numbering == "legacy" {
            "legacy"
        } else {
            "draft26"
        },
        device_kid: session.device_kid.clone(),
    }
}

pub fn numbering_name(n: Numbering) -> &'static str {
    match n {
        Numbering::Draft26 => "draft26",
        Numbering::Legacy => "legacy",
    }
}

fn other_numbering(n: Numbering) -> Numbering {
    match n {
        Numbering::Draft26 => Numbering::Legacy,
        Numbering::Legacy => Numbering::Draft26,
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

#[cfg(test)]
mod tests {
    use super::*;
    use teep_bench::sim::SimDevice;
    use teep_cose::{PrivateKey, SoftwareSigner};

    const NOW: i64 = 1_800_000_000_000;

    struct Counter(u8);

    impl Random for Counter {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
    }

    fn core() -> TamCore {
        let ed: Arc<dyn Signer> = Arc::new(SoftwareSigner::new(
            PrivateKey::from_ed25519_seed(&[0x43; 32]).unwrap(),
        ));
        TamCore::new(
            vec![ed],
            Vec::new(),
            CoreConfig::default(),
            TokenKey::new(&[0x51; 32]),
        )
    }

    fn registered(dev: &SimDevice) -> DeviceRecord {
        DeviceRecord {
            id: 9,
            name: None,
            kid: dev.kid(),
            teep_key: dev.public_key().to_cose_key(),
            attest_key: None,
            suite_alg: None,
            status: DeviceStatus::Registered,
            status_detail: None,
            ueid: None,
            claims: None,
            created_at: NOW - 3_600_000,
            last_seen: None,
            tags: Vec::new(),
        }
    }

    /// A QueryRequest made at `now` and `dev`'s QueryResponse to it, with the context the
    /// adapter would load for it when storage holds `stored` for the device.
    fn query_response(
        core: &TamCore,
        dev: &SimDevice,
        stored: &DeviceRecord,
        now: i64,
    ) -> (Vec<u8>, Context) {
        let request = core
            .handle_connect(Numbering::Draft26, now, &mut Counter(0))
            .unwrap();
        let token = request.token.unwrap();
        let seen = dev
            .read_query_request(&request.response.unwrap(), Numbering::Draft26, &[])
            .unwrap();
        let body = dev.query_response(&seen, Numbering::Draft26).unwrap();
        let ctx = Context {
            session: core.query_session(&token),
            device: Some(stored.clone()),
            ..Default::default()
        };
        (body, ctx)
    }

    /// One full QueryRequest/QueryResponse at `now` against what storage holds for the
    /// device; returns the device-row changes the TAM would commit.
    fn device_changes(
        core: &TamCore,
        dev: &SimDevice,
        stored: &DeviceRecord,
        now: i64,
    ) -> DeviceUpdate {
        let (body, ctx) = query_response(core, dev, stored, now);
        let msg = core.inspect(&body, Numbering::Draft26).unwrap();
        let outcome = core
            .handle_message(msg, &ctx, now, &mut Counter(0))
            .unwrap();
        assert_eq!(outcome.result, "no-update");
        outcome.effects.device.unwrap()
    }

    /// What storage holds after `u` was committed at `now` over `stored`.
    fn committed(stored: &DeviceRecord, u: &DeviceUpdate, now: i64) -> DeviceRecord {
        let mut d = stored.clone();
        if u.writes_row() {
            u.apply_row(&mut d, now);
        }
        d
    }

    #[test]
    fn a_token_is_answered_until_its_lifetime_ends_and_refused_after() {
        let core = core();
        let ttl = core.config.session_ttl_ms;
        let dev = SimDevice::from_key(PrivateKey::from_ed25519_seed(&[0x12; 32]).unwrap());
        let n = Numbering::Draft26;
        let (body, ctx) = query_response(&core, &dev, &registered(&dev), NOW);
        let answer =
            |now| core.handle_message(core.inspect(&body, n).unwrap(), &ctx, now, &mut Counter(9));
        answer(NOW + ttl).unwrap();
        let e = answer(NOW + ttl + 1_500).err().unwrap();
        assert_eq!((e.status, e.code), (400, "expired"));
        assert_eq!(
            e.explanation,
            "QueryResponse.token: expired 2 s ago (tokens are valid for 21600 s); start a new session"
        );
    }

    #[test]
    fn a_device_row_is_rewritten_only_for_news_or_a_stale_last_seen() {
        let core = core();
        let dev = SimDevice::from_key(PrivateKey::from_ed25519_seed(&[0x12; 32]).unwrap());
        let fresh = registered(&dev);

        // First attested contact: everything is new.
        let u = device_changes(&core, &dev, &fresh, NOW);
        assert!(u.touch && u.suite_alg.is_some() && u.claims.is_some() && u.ueid.is_some());
        assert_eq!(u.status, Some(DeviceStatus::Attested));
        let stored = committed(&fresh, &u, NOW);

        // The same report 59 s later changes nothing: the row is left alone.
        let u = device_changes(&core, &dev, &stored, NOW + 59_000);
        assert!(!u.writes_row(), "{u:?}");

        // A minute after the last write, the row is written for last_seen alone.
        let u = device_changes(&core, &dev, &stored, NOW + LAST_SEEN_RESOLUTION_MS);
        assert!(u.writes_row() && u.touch);
        assert!(
            u.suite_alg.is_none() && u.status.is_none() && u.claims.is_none() && u.ueid.is_none()
        );

        // A clock that went back also writes.
        assert!(device_changes(&core, &dev, &stored, NOW - 1).touch);

        // Anything that differs from storage is written, even within the minute: a status
        // an operator changed, claims from another appraisal, an unknown suite.
        let mut other = stored.clone();
        other.status = DeviceStatus::AttestationFailed;
        other.claims = Some("{}".into());
        other.suite_alg = None;
        let u = device_changes(&core, &dev, &other, NOW + 1_000);
        assert!(!u.touch);
        assert_eq!(u.status, Some(DeviceStatus::Attested));
        assert_eq!(u.claims, stored.claims);
        assert_eq!(u.suite_alg, stored.suite_alg);
        assert!(u.ueid.is_none() && u.status_detail.is_none());
    }
}
