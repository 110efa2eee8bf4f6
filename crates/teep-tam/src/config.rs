//! TAM configuration: defaults, then a TOML file, then command-line flags. With the `clap`
//! feature, [`ConfigFlags`] are `teep tam serve`'s flags and [`Config::layered`] lays the
//! three over each other.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use teep_tam_core::session::FirstQuery;
pub use teep_tam_core::Enroll;

#[cfg(feature = "clap")]
mod flags;
pub mod tam_attestation;
mod verifier;
#[cfg(feature = "clap")]
pub use flags::ConfigFlags;
pub use tam_attestation::TamAttestationClaims;
pub use verifier::{AppraisalConfig, AttestationModel, VeraisonConfig, VerifierChoice};

/// Which TEEP numbering a path speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum NumberingChoice {
    Draft26,
    Legacy,
}

impl std::str::FromStr for NumberingChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "draft26" | "draft-26" | "26" => Ok(NumberingChoice::Draft26),
            "legacy" => Ok(NumberingChoice::Legacy),
            _ => Err(format!("numbering {s:?}: expected draft26 or legacy")),
        }
    }
}

impl NumberingChoice {
    pub fn to_proto(self) -> teep_proto::Numbering {
        match self {
            NumberingChoice::Draft26 => teep_proto::Numbering::Draft26,
            NumberingChoice::Legacy => teep_proto::Numbering::Legacy,
        }
    }
    pub fn other(self) -> NumberingChoice {
        match self {
            NumberingChoice::Draft26 => NumberingChoice::Legacy,
            NumberingChoice::Legacy => NumberingChoice::Draft26,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            NumberingChoice::Draft26 => "draft26",
            NumberingChoice::Legacy => "legacy",
        }
    }
}

/// Longest token lifetime accepted (one year): beyond it, expiry arithmetic in milliseconds
/// would approach the i64 range, and no TEEP session needs it.
pub const MAX_SESSION_TTL_SECS: u64 = 366 * 24 * 3600;

/// Longest audit retention accepted (a century); 0, keep everything, says more plainly what a
/// longer one would mean.
pub const MAX_AUDIT_RETENTION_DAYS: u64 = 36_600;

/// Longest header or body timeout accepted (an hour): a timeout is a bound, not a way off.
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Holds the TAM keys and the SQLite database.
    pub data: PathBuf,
    pub listen: SocketAddr,
    /// `sqlite://...` or `postgres://...`; default `sqlite://DATA/tam.db`.
    pub db: Option<String>,
    /// Database pool size (0: 1 for SQLite, 16 for PostgreSQL).
    pub db_max_connections: u32,
    /// TEEP signing keys, at most one per algorithm; missing ones are generated into `data`.
    pub keys: Vec<PathBuf>,
    /// Key that signs manifests made by `tc add --ta` (default `data/tc-signer.pem`).
    pub tc_signer_key: Option<PathBuf>,
    /// Public keys (PEM, JWK or COSE_Key) of TC signers whose envelopes the catalog accepts,
    /// besides the TAM's own TC-signer key, which is always trusted.
    pub tc_signer_anchors: Vec<PathBuf>,
    pub enroll: Enroll,
    /// Bearer token of the admin API and web UI; without it both are disabled.
    pub admin_token: Option<String>,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// Whether 400 responses explain what was wrong (turn off in production if desired).
    pub explain_errors: bool,
    /// Numbering spoken at `/tam`; the other one is spoken at [`Config::alt_path`].
    pub numbering: NumberingChoice,
    /// Path that speaks the other numbering; by default `/tam/` and its name (`/tam/legacy`,
    /// or `/tam/draft26` when `/tam` speaks legacy), so that a path says what it speaks.
    pub alt_path: Option<String>,
    /// How the first QueryRequest of a session is signed on the path that speaks draft-26:
    /// `cose-sign` (one signature per TAM key, -26 §8.1) or a COSE_Sign1 algorithm.
    pub first_query_draft26: FirstQuery,
    /// ... and on the path that speaks legacy numbering; `es256` serves agents of the
    /// -12…-20 era that verify only a COSE_Sign1 signed ES256 (libteep).
    pub first_query_legacy: FirstQuery,
    /// Send a token beside the challenge in a QueryRequest that asks for attestation (the
    /// -26 example does; §4.2's text says the token is present only when the attestation bit
    /// is clear: DIGEST §9.2). Off follows the text; answers are accepted either way.
    pub token_with_attestation: bool,
    /// Send no token in a QueryRequest that does not ask for attestation, so that devices may
    /// open later sessions with a QueryResponse of their own (-26 §4.3, RFC 9397 RequestTA).
    /// Only with `require_attestation` off; such a QueryResponse is then answered with an
    /// Update, like any other. On the draft-26 path only: without a token a QueryRequest
    /// reads in both numberings, so the legacy path keeps it.
    pub tokenless_queries: bool,
    /// Refuse every deviation from the drafts that is otherwise accepted and recorded
    /// (conformance testing).
    pub strict: bool,
    /// A message whose kids name no registered device (libteep signs without a kid) is
    /// matched by trying every registered device's key when there are at most this many
    /// (0: never); a recorded UEID is looked up first.
    pub kidless_max_devices: usize,
    /// Seconds an unanswered token stays valid.
    pub session_ttl_secs: u64,
    /// Days the audit log keeps an exchange; older entries are deleted once a minute. 0 keeps
    /// every entry (the log then grows by about 1 KiB per exchange for as long as it runs).
    pub audit_retention_days: u64,
    /// Ask for attestation in every QueryRequest (background-check model).
    pub require_attestation: bool,
    /// Whether a device gets catalog TCs it asks for in requested-tc-list that policy does not
    /// assign it (and upgrades of those). Off: devices get exactly what is assigned.
    pub allow_requests: bool,
    /// Public keys of Verifiers whose Attestation Results are accepted (passport model).
    pub verifier_keys: Vec<PathBuf>,
    /// `background-check` (challenge, Evidence) or `passport` (token, Attestation Result).
    pub attestation_model: AttestationModel,
    /// Which Verifier appraises Evidence: `builtin` or `veraison` (see `[veraison]`).
    pub verifier: VerifierChoice,
    pub veraison: VeraisonConfig,
    /// What every appraisal must also show (accepted hardware, minimum TC versions).
    pub appraisal: AppraisalConfig,
    /// Private key that signs the TAM's own Attestation Result for Agents that require TAM
    /// attestation (-26 §7.1.2); unset, such an Agent's Error ends the session. Whoever holds
    /// it vouches for the TAM (see `config::tam_attestation`).
    pub tam_attestation_key: Option<PathBuf>,
    /// Claims that result states about the TAM.
    pub tam_attestation_claims: TamAttestationClaims,
    /// TLS certificate chain and key (PEM); both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The TAM's URL as devices reach it (`https://tam.example.org`, no trailing `/`): the
    /// base of the payload URIs of manifests made by `tc add --ta --by-uri`, served at
    /// `{public_url}/tam/payloads/{sha256-hex}`. Unset: such manifests cannot be made.
    pub public_url: Option<String>,
    /// On SIGTERM/SIGINT, seconds to keep answering sessions already started (new ones get
    /// 503) before stopping; 0 stops at once, after the requests in flight.
    pub shutdown_grace_secs: u64,
    /// Print every HTTP request and response on stdout, the TEEP message decoded as JSON.
    pub dump: bool,
    /// SQLite synchronous=FULL (power-loss durability) instead of NORMAL.
    pub sqlite_full_sync: bool,
    /// Milliseconds SQLite waits for a lock before the request gets 503.
    pub sqlite_busy_timeout_ms: u64,
    /// How often (ms) the server checks whether another process (CLI, another TAM on the same
    /// database) changed the catalog, policy or devices; changes made through this server
    /// apply at once.
    pub refresh_ms: u64,
    /// SQLite: how many devices' registration and holdings the server keeps in memory (about
    /// 1 KiB each) instead of reading them on every QueryResponse; 0 turns the cache off.
    /// Parsed device keys are kept for as many devices (at least 262,144; about 0.2 KiB each).
    pub device_cache_entries: usize,
    /// Milliseconds a connection may take to send a request's headers, counted from when the
    /// server is ready for the request: also how long an idle keep-alive connection is kept.
    pub header_timeout_ms: u64,
    /// Milliseconds a request body may take before 408, beyond what `body_min_rate` allows.
    pub body_timeout_ms: u64,
    /// Bytes per second a body must keep up: each byte received extends the body's time by
    /// 1/rate s, so large bodies on slow links pass and a trickle does not (0: no extension).
    pub body_min_rate: u64,
    /// Connections open at once (TEEP, metrics, admin API and UI together); more are closed
    /// when accepted. 0: the process's open-file limit less [`FD_HEADROOM`] (kept for the
    /// database, the data files and the log).
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 /64 counts as one
    /// address); 0: no cap beyond `max_connections`.
    pub max_connections_per_address: usize,
    /// TEEP requests (POSTs to the TEEP paths) per second one client address may make on
    /// average (an IPv6 /64 counting as one), beyond `rate_burst`; more get 429 with
    /// Retry-After and change nothing. 0: no limit (the TAM behind a proxy that limits).
    pub rate_per_address: u32,
    /// TEEP requests one address may make at once before `rate_per_address` applies.
    pub rate_burst: u32,
    /// TEEP sessions open at once in this process (a request of the TAM awaiting the
    /// device's answer, counted for at most `session_hold_secs`); a new session beyond gets
    /// 503 with Retry-After, while sessions already open go on. 0: no cap.
    pub max_sessions: usize,
    /// TEEP sessions open at once from one client address (an IPv6 /64 counting as one);
    /// a new session beyond gets 429 with Retry-After. 0: no cap.
    pub max_sessions_per_address: u32,
    /// Seconds an unanswered session counts toward `max_sessions` and
    /// `max_sessions_per_address`. Its token stays valid for `session_ttl_secs`; this only
    /// keeps a client that opens sessions and never answers from holding capacity.
    pub session_hold_secs: u64,
    /// Admin API and web UI requests per second one address may make on average beyond
    /// `admin_rate_burst` (429 with Retry-After), apart from the TEEP rate. 0: no limit.
    pub admin_rate_per_address: u32,
    /// Admin API and web UI requests one address may make at once.
    pub admin_rate_burst: u32,
    /// Milliseconds a response may make no progress (the client not reading it) before the
    /// connection is closed.
    pub write_timeout_ms: u64,
}

/// File descriptors kept free below the open-file limit when `max_connections` is 0.
pub const FD_HEADROOM: usize = 128;

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("tam-data"),
            listen: "127.0.0.1:8080".parse().expect("static address"),
            db: None,
            db_max_connections: 0,
            keys: Vec::new(),
            tc_signer_key: None,
            tc_signer_anchors: Vec::new(),
            enroll: Enroll::Registered,
            admin_token: None,
            body_limit: 1024 * 1024,
            explain_errors: true,
            numbering: NumberingChoice::Draft26,
            alt_path: None,
            first_query_draft26: FirstQuery::CoseSign,
            first_query_legacy: FirstQuery::CoseSign,
            token_with_attestation: true,
            tokenless_queries: false,
            strict: false,
            kidless_max_devices: teep_tam_core::session::DEFAULT_KIDLESS_MAX_DEVICES,
            session_ttl_secs: 6 * 3600,
            audit_retention_days: 90,
            require_attestation: true,
            allow_requests: true,
            verifier_keys: Vec::new(),
            attestation_model: AttestationModel::BackgroundCheck,
            verifier: VerifierChoice::Builtin,
            veraison: VeraisonConfig::default(),
            appraisal: AppraisalConfig::default(),
            tam_attestation_key: None,
            tam_attestation_claims: TamAttestationClaims::default(),
            tls_cert: None,
            tls_key: None,
            public_url: None,
            shutdown_grace_secs: 10,
            dump: false,
            sqlite_full_sync: false,
            sqlite_busy_timeout_ms: 5000,
            refresh_ms: 100,
            device_cache_entries: crate::store::DEFAULT_DEVICE_CACHE,
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            body_min_rate: 4096,
            max_connections: 0,
            max_connections_per_address: 256,
            rate_per_address: 0,
            rate_burst: 30,
            max_sessions: 100_000,
            max_sessions_per_address: 1024,
            session_hold_secs: 60,
            admin_rate_per_address: 50,
            admin_rate_burst: 500,
            write_timeout_ms: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file; unknown keys are rejected so a typo does not pass silently.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The path that speaks the other numbering (see [`Config::alt_path`](Self::alt_path)).
    pub fn alt_path(&self) -> String {
        match &self.alt_path {
            Some(p) => p.clone(),
            None => format!("/tam/{}", self.numbering.other().as_str()),
        }
    }

    /// The two TEEP paths and the numbering each speaks, `/tam` first.
    pub fn teep_paths(&self) -> [(String, NumberingChoice); 2] {
        [
            ("/tam".to_string(), self.numbering),
            (self.alt_path(), self.numbering.other()),
        ]
    }

    pub fn database_url(&self) -> String {
        match &self.db {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data.join("tam.db").display()),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key: give both or neither".into(),
            ));
        }
        let alt = self.alt_path();
        if !alt.starts_with('/') || alt == "/tam" {
            return Err(ConfigError::Invalid(format!(
                "alt_path {alt:?}: must start with '/' and differ from /tam"
            )));
        }
        // A path named after a numbering speaks that numbering (issue: `--numbering legacy`
        // once served draft-26 at /tam/legacy).
        for (path, speaks) in self.teep_paths() {
            let last = path.rsplit('/').next().unwrap_or_default();
            let named = [NumberingChoice::Draft26, NumberingChoice::Legacy]
                .into_iter()
                .find(|n| {
                    n.as_str() == last || (last == "draft-26" && *n == NumberingChoice::Draft26)
                });
            if let Some(n) = named.filter(|n| *n != speaks) {
                return Err(ConfigError::Invalid(format!(
                    "alt_path {path:?}: named {} but speaks {} (numbering = {:?}); leave \
                     alt_path unset for /tam/{}, or name it after what it speaks",
                    n.as_str(),
                    speaks.as_str(),
                    self.numbering.as_str(),
                    speaks.as_str()
                )));
            }
        }
        if let Some(url) = &self.public_url {
            crate::payloads::check_public_url(url).map_err(ConfigError::Invalid)?;
        }
        if alt.starts_with(crate::payloads::PATH) {
            return Err(ConfigError::Invalid(format!(
                "alt_path {alt:?}: {} serves payloads",
                crate::payloads::PATH
            )));
        }
        if self.session_ttl_secs == 0 || self.session_ttl_secs > MAX_SESSION_TTL_SECS {
            return Err(ConfigError::Invalid(format!(
                "session_ttl_secs {}: must be 1..={MAX_SESSION_TTL_SECS} (one year)",
                self.session_ttl_secs
            )));
        }
        if self.audit_retention_days > MAX_AUDIT_RETENTION_DAYS {
            return Err(ConfigError::Invalid(format!(
                "audit_retention_days {}: must be 0 (keep everything) to {MAX_AUDIT_RETENTION_DAYS}",
                self.audit_retention_days
            )));
        }
        if self.body_limit < 64 {
            return Err(ConfigError::Invalid(format!(
                "body_limit {}: must be at least 64 bytes",
                self.body_limit
            )));
        }
        for (key, ms) in [
            ("header_timeout_ms", self.header_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
            ("write_timeout_ms", self.write_timeout_ms),
        ] {
            if !(100..=MAX_TIMEOUT_MS).contains(&ms) {
                return Err(ConfigError::Invalid(format!(
                    "{key} {ms}: must be 100..={MAX_TIMEOUT_MS} (one hour)"
                )));
            }
        }
        if !(1..=MAX_TIMEOUT_MS / 1000).contains(&self.session_hold_secs) {
            return Err(ConfigError::Invalid(format!(
                "session_hold_secs {}: must be 1..={} (one hour)",
                self.session_hold_secs,
                MAX_TIMEOUT_MS / 1000
            )));
        }
        if matches!(&self.admin_token, Some(t) if t.len() < 8) {
            return Err(ConfigError::Invalid(
                "admin_token: must be at least 8 characters".into(),
            ));
        }
        verifier::validate(self)?;
        self.tam_attestation_claims
            .to_eat()
            .map_err(ConfigError::Invalid)?;
        // A bad anchor file stops the start, not the first upload.
        crate::catalog::load_anchor_files(&self.tc_signer_anchors)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_lifetime_is_bounded() {
        for bad in [0, MAX_SESSION_TTL_SECS + 1, u64::MAX] {
            let c = Config {
                session_ttl_secs: bad,
                ..Default::default()
            };
            let e = c.validate().unwrap_err().to_string();
            assert!(e.starts_with("session_ttl_secs"), "{e}");
        }
        let c = Config {
            session_ttl_secs: MAX_SESSION_TTL_SECS,
            ..Default::default()
        };
        c.validate().unwrap();
    }

    #[test]
    fn audit_retention_is_bounded() {
        let c = Config {
            audit_retention_days: MAX_AUDIT_RETENTION_DAYS + 1,
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.starts_with("audit_retention_days"), "{e}");
        for ok in [0, 1, MAX_AUDIT_RETENTION_DAYS] {
            let c = Config {
                audit_retention_days: ok,
                ..Default::default()
            };
            c.validate().unwrap();
        }
    }

    /// The documented example names every key, and the values it shows are the defaults.
    #[test]
    fn example_file_documents_every_key_with_its_default() {
        let text = include_str!("../../../docs/tam.example.toml");
        let parsed: Config = toml::from_str(text).unwrap();
        let default = format!("{:?}", Config::default());
        assert_eq!(format!("{parsed:?}"), default);
        let body = &default[default.find('{').unwrap() + 1..];
        for field in body.split(", ").filter_map(|f| f.trim().split_once(": ")) {
            let key = field.0;
            let documented = text
                .lines()
                .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = ")));
            assert!(documented, "docs/tam.example.toml does not mention {key}");
        }
    }

    #[test]
    fn file_overrides_defaults_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tam.toml");
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:9999\"\nenroll = \"open\"\nbody_limit = 4096\n",
        )
        .unwrap();
        let c = Config::from_file(&p).unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.enroll, Enroll::Open);
        assert_eq!(c.body_limit, 4096);
        assert!(c.explain_errors);
        std::fs::write(&p, "lisen = \"127.0.0.1:9999\"\n").unwrap();
        let e = Config::from_file(&p).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn tc_signer_anchors_come_from_the_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signer.pem");
        std::fs::write(
            &key,
            teep_cose::PrivateKey::generate(teep_cose::KeyType::P256)
                .public_key()
                .to_spki_pem(),
        )
        .unwrap();
        let p = dir.path().join("tam.toml");
        std::fs::write(
            &p,
            format!("tc_signer_anchors = [{:?}]\n", key.display().to_string()),
        )
        .unwrap();
        let c = Config::from_file(&p).unwrap();
        assert_eq!(c.tc_signer_anchors, vec![key.clone()]);
        c.validate().unwrap();
        let missing = Config {
            tc_signer_anchors: vec![dir.path().join("nope.pem")],
            ..Config::default()
        };
        let e = missing.validate().unwrap_err().to_string();
        assert!(
            e.contains("tc_signer_anchors") && e.contains("nope.pem"),
            "{e}"
        );
    }

    /// Each path says what it speaks: with legacy at /tam the other path is /tam/draft26, and
    /// a path named after the numbering it does not speak stops the start.
    #[test]
    fn paths_are_named_by_the_numbering_they_speak() {
        let d = Config::default();
        assert_eq!(d.alt_path(), "/tam/legacy");
        let legacy = Config {
            numbering: NumberingChoice::Legacy,
            ..Config::default()
        };
        assert_eq!(
            legacy.teep_paths(),
            [
                ("/tam".to_string(), NumberingChoice::Legacy),
                ("/tam/draft26".to_string(), NumberingChoice::Draft26)
            ]
        );
        legacy.validate().unwrap();
        let misnamed = Config {
            alt_path: Some("/tam/legacy".into()),
            ..legacy
        };
        let e = misnamed.validate().unwrap_err().to_string();
        assert_eq!(
            e,
            "alt_path \"/tam/legacy\": named legacy but speaks draft26 (numbering = \"legacy\"); \
             leave alt_path unset for /tam/draft26, or name it after what it speaks"
        );
        let neutral = Config {
            alt_path: Some("/old".into()),
            numbering: NumberingChoice::Legacy,
            ..Config::default()
        };
        neutral.validate().unwrap();
    }

    #[test]
    fn timeouts_are_bounded() {
        for (bad, key) in [
            (
                Config {
                    header_timeout_ms: 0,
                    ..Config::default()
                },
                "header_timeout_ms",
            ),
            (
                Config {
                    body_timeout_ms: MAX_TIMEOUT_MS + 1,
                    ..Config::default()
                },
                "body_timeout_ms",
            ),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.starts_with(key), "{e}");
        }
    }

    #[test]
    fn tls_needs_both_files() {
        let c = Config {
            tls_cert: Some("c.pem".into()),
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }
}
