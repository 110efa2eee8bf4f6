//! The state every request of one TAM process shares ([`AppState`]): the sans-IO core, the
//! store, the configuration, metrics, the in-memory session caches and the refusal ring, with
//! their housekeeping. The HTTP adapter (`server`), the admin API (`admin`) and the web UI
//! (`ui`) all read it; it depends on none of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::model::{DeviceRecord, SessionRecord};
use crate::session::{CoreConfig, TamCore};
use crate::store::{Store, StoreError, StoreOptions};

/// Updates this process sent and not yet seen answered, so that the Success can be checked
/// without reading storage: the session row and the device it was sent to, valid while the
/// store's cache epoch is `epoch`. A miss (another process sent the Update, or a restart)
/// falls back to storage.
pub(crate) struct PendingEntry {
    pub(crate) session: SessionRecord,
    pub(crate) device: Arc<DeviceRecord>,
    pub(crate) epoch: u64,
}

/// Most outstanding Updates remembered in memory; beyond this, storage answers.
pub(crate) const PENDING_CAP: usize = 100_000;

/// Refused requests remembered for the admin API and web UI.
pub const REFUSALS_KEPT: usize = 1000;

/// A request the TAM refused, as the operator sees it (the explanation is kept even when
/// `explain_errors` keeps it from the peer).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refusal {
    /// ms since the Unix epoch.
    pub at: i64,
    pub status: u16,
    /// Short code, as counted by `teep_tam_errors_total`.
    pub code: &'static str,
    pub message_type: Option<&'static str>,
    pub explanation: String,
}

/// Shared state of one TAM process.
pub struct AppState {
    pub core: TamCore,
    pub store: Store,
    pub config: Config,
    pub metrics: Metrics,
    pub(crate) pending: Mutex<HashMap<Vec<u8>, PendingEntry>>,
    /// Requests this process sent and not yet seen answered: the session caps, and what a
    /// graceful shutdown waits for.
    pub(crate) sessions: crate::limits::OpenSessions,
    /// When each limit hit may be logged next.
    pub(crate) limit_log: crate::limits::LimitLog,
    /// Set by [`ServerHandle::drain_and_shutdown`]: new sessions are refused.
    pub(crate) draining: std::sync::atomic::AtomicBool,
    /// The latest refused requests, newest last, for the admin API and web UI. Kept in
    /// memory only: a refused request must not change the database (anyone can send one),
    /// yet the operator needs to see why a device never gets through.
    pub(crate) refusals: Mutex<std::collections::VecDeque<Refusal>>,
    pub tc_signer: teep_cose::SoftwareSigner,
    /// Who appraises Evidence (see [`crate::verifier`]).
    pub verifier: Arc<dyn crate::verifier::Verifier>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyFileError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl AppState {
    /// Opens keys and storage for `config`.
    pub async fn open(config: Config) -> Result<Arc<AppState>, ServerError> {
        config.validate()?;
        std::fs::create_dir_all(&config.data).map_err(|source| ServerError::Io {
            what: format!("data directory {}", config.data.display()),
            source,
        })?;
        let signers = crate::keys::teep_signers(&config.data, &config.keys)?;
        let tc_signer = crate::keys::tc_signer(&config.data, config.tc_signer_key.as_deref())?;
        let mut verifier_keys = Vec::new();
        for p in &config.verifier_keys {
            verifier_keys.push(teep_cose::PublicKey::load(p).map_err(|e| {
                crate::keys::KeyFileError::Load {
                    path: p.clone(),
                    message: e.to_string(),
                }
            })?);
        }
        let store = Store::open(
            &config.database_url(),
            &StoreOptions {
                max_connections: config.db_max_connections,
                sqlite_full_sync: config.sqlite_full_sync,
                sqlite_busy_timeout_ms: config.sqlite_busy_timeout_ms,
                device_cache: config.device_cache_entries,
                sqlite_background_checkpoint: true,
                ..StoreOptions::default()
            },
        )
        .await?;
        let roots = store.list_endorsement_roots().await?.len();
        // A remote Verifier, or a Verifier's Attestation Result (passport), vouches for the
        // attestation key itself: open enrollment then needs no local endorsement root.
        let verifier_vouches = config.verifier != crate::config::VerifierChoice::Builtin
            || config.attestation_model == crate::config::AttestationModel::Passport;
        match config.enroll {
            crate::Enroll::Open if roots == 0 && verifier_vouches => tracing::info!(
                "enrollment: open, for devices the configured Verifier vouches for"
            ),
            crate::Enroll::Open if roots == 0 => {
                return Err(ServerError::Config(crate::config::ConfigError::Invalid(
                    crate::endorsers::open_without_roots_message(),
                )));
            }
            crate::Enroll::Open => tracing::info!(
                "enrollment: open, for devices whose attestation key chains to one of {roots} endorsement root(s)"
            ),
            crate::Enroll::Tofu => tracing::warn!(
                "enrollment: tofu (testbed mode): any device is enrolled on first contact with the key its evidence names; use open with endorsement roots in production"
            ),
            crate::Enroll::Registered => {
                tracing::info!("enrollment: registered devices only")
            }
        }
        let token_key = crate::token::TokenKey::new(&store.token_secret().await?);
        let core = TamCore::new(
            signers,
            verifier_keys,
            CoreConfig {
                enroll: config.enroll,
                require_attestation: config.require_attestation,
                session_ttl_ms: (config.session_ttl_secs as i64).saturating_mul(1000),
                allow_requests: config.allow_requests,
                render_json: config.dump,
                // A device cache larger than the default serves a larger fleet: keep its
                // parsed keys too.
                parsed_keys: config
                    .device_cache_entries
                    .max(crate::session::DEFAULT_PARSED_KEYS),
                first_query_draft26: config.first_query_draft26,
                first_query_legacy: config.first_query_legacy,
                token_with_attestation: config.token_with_attestation,
                tokenless_queries: config.tokenless_queries,
                tolerance: if config.strict {
                    teep_cbor::deviation::Tolerance::Strict
                } else {
                    teep_cbor::deviation::Tolerance::Tolerant
                },
                kidless_max_devices: config.kidless_max_devices,
                appraisal_policy: config.appraisal.policy()?,
                passport: config.attestation_model == crate::config::AttestationModel::Passport,
                ..CoreConfig::default()
            },
            token_key,
        );
        let verifier = crate::verifier::from_config(&config)
            .map_err(|e| ServerError::Config(crate::config::ConfigError::Invalid(e)))?;
        let core = match &config.tam_attestation_key {
            Some(path) => core.with_tam_attestation(Arc::new(
                crate::config::tam_attestation::load_source(path, &config.tam_attestation_claims)?,
            )),
            None => core,
        };
        let sessions = crate::limits::OpenSessions::new(
            config.max_sessions,
            config.max_sessions_per_address,
            (config.session_hold_secs as i64).saturating_mul(1000),
        );
        Ok(Arc::new(AppState {
            core,
            store,
            config,
            metrics: Metrics::default(),
            pending: Mutex::new(HashMap::new()),
            sessions,
            limit_log: Default::default(),
            draining: std::sync::atomic::AtomicBool::new(false),
            refusals: Mutex::new(std::collections::VecDeque::with_capacity(REFUSALS_KEPT)),
            tc_signer,
            verifier,
        }))
    }

    pub(crate) fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, PendingEntry>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The outstanding Update `token` names, if this process sent it and nothing changed since.
    pub(crate) fn pending_update(
        &self,
        token: &[u8],
    ) -> Option<(SessionRecord, Arc<DeviceRecord>)> {
        let epoch = self.store.epoch();
        let p = self.pending();
        let e = p.get(token)?;
        (e.epoch == epoch).then(|| (e.session.clone(), e.device.clone()))
    }

    /// After a commit: remember the Update just sent, forget the one just answered.
    pub(crate) fn track_pending(
        &self,
        effects_session: Option<SessionRecord>,
        answered: Option<&[u8]>,
        device: Option<Arc<DeviceRecord>>,
        epoch: u64,
    ) {
        let mut p = self.pending();
        if let Some(t) = answered {
            p.remove(t);
        }
        if let (Some(session), Some(device)) = (effects_session, device) {
            if p.len() < PENDING_CAP {
                p.insert(
                    session.token.clone(),
                    PendingEntry {
                        session,
                        device,
                        epoch,
                    },
                );
            }
        }
    }

    /// Once a minute: forgets expired sessions (in memory and in storage) and deletes audit
    /// entries older than `audit_retention_days`. Always keeps running: a failure is logged
    /// and the next round tries again.
    pub async fn housekeeping(&self, now: i64) -> bool {
        self.purge_pending(now);
        let started = std::time::Instant::now();
        log_purge(
            "expired sessions",
            self.store.purge_sessions(now).await,
            started,
        );
        let days = self.config.audit_retention_days;
        if days > 0 {
            let before = now.saturating_sub((days as i64).saturating_mul(86_400_000));
            let started = std::time::Instant::now();
            let purged = self.store.purge_audit(before).await;
            log_purge("audit entries past retention", purged, started);
        }
        true
    }

    /// Drops remembered Updates that expired unanswered, and sessions whose hold passed.
    pub(crate) fn purge_pending(&self, now: i64) {
        self.pending().retain(|_, e| e.session.expires_at >= now);
        self.sessions.purge(now);
    }

    /// Counts a hit of `limit` (by `peer`, when known) in the metrics, and logs it at most
    /// once per [`crate::limits::LOG_INTERVAL_MS`] with the hits since the last line.
    pub(crate) fn limit_hit(
        &self,
        limit: crate::metrics::Limit,
        peer: Option<std::net::SocketAddr>,
    ) {
        use crate::metrics::Limit;
        self.metrics.limit_hit(limit);
        let Some(n) = self.limit_log.hit(limit, now_ms()) else {
            return;
        };
        let c = &self.config;
        let what = match limit {
            Limit::Connections => format!(
                "{} connections open, the cap",
                crate::server::max_connections(c)
            ),
            Limit::ConnectionsPerAddress => format!(
                "{} connections open from one address, the cap",
                c.max_connections_per_address
            ),
            Limit::HeaderTimeout => format!("headers unfinished after {} ms", c.header_timeout_ms),
            Limit::BodyTimeout => "request body slower than allowed".into(),
            Limit::TlsHandshakeTimeout => "TLS handshake unfinished in time".into(),
            Limit::Rate => format!(
                "more than {} TEEP requests per second from one address",
                c.rate_per_address
            ),
            Limit::LoginRate => "too many web UI log-in attempts from one address".into(),
            Limit::Sessions => format!("{} TEEP sessions open, the cap", c.max_sessions),
            Limit::SessionsPerAddress => format!(
                "{} TEEP sessions open from one address, the cap",
                c.max_sessions_per_address
            ),
            Limit::AdminRate => format!(
                "more than {} admin API and web UI requests per second from one address",
                c.admin_rate_per_address
            ),
            Limit::WriteTimeout => format!(
                "a response unread by its client for {} ms",
                c.write_timeout_ms
            ),
        };
        let latest = peer
            .map(|p| format!(" (latest from {p})"))
            .unwrap_or_default();
        tracing::warn!(
            limit = limit.as_str(),
            "limit hit: {what}; {n} time(s) in the last {} s at most{latest}",
            crate::limits::LOG_INTERVAL_MS / 1000
        );
    }

    pub(crate) fn note_refusal(
        &self,
        status: u16,
        code: &'static str,
        message_type: Option<&'static str>,
        explanation: &str,
    ) {
        // An explanation may quote what the peer sent: keep at most 1 KiB of each, so the
        // ring stays small whatever arrives.
        let text = crate::session::truncate(explanation.trim_end(), 1024);
        let mut r = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() >= REFUSALS_KEPT {
            r.pop_front();
        }
        r.push_back(Refusal {
            at: now_ms(),
            status,
            code,
            message_type,
            explanation: text,
        });
    }

    /// Up to `limit` of the latest refused requests, newest first.
    pub fn recent_refusals(&self, limit: usize) -> Vec<Refusal> {
        let r = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
        r.iter().rev().take(limit).cloned().collect()
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sessions whose latest request this process sent at or after `since` (ms) and whose
    /// answer has not come.
    pub(crate) fn sessions_in_flight(&self, since: i64) -> usize {
        self.sessions.in_flight(since)
    }
}

pub(crate) fn log_purge(what: &str, r: Result<u64, StoreError>, started: std::time::Instant) {
    match r {
        Ok(0) => {}
        Ok(n) => tracing::debug!("purged {n} {what} in {} ms", started.elapsed().as_millis()),
        Err(e) => tracing::warn!("purging {what}: {e}"),
    }
}
