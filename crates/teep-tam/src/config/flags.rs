//! The command-line layer of the configuration: `teep tam serve`'s flags, each overriding one
//! key of [`Config`]. Defaults, then the TOML file, then the flags given: [`Config::layered`].
//!
//! The flags take the config's own types (`Enroll`, [`NumberingChoice`], paths, addresses),
//! so the file and the command line cannot drift apart on what a value means.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::builder::{PossibleValuesParser, TypedValueParser};

use super::{Config, ConfigError, Enroll, FirstQuery, NumberingChoice};

/// Flags of `teep tam serve`; a flag not given leaves its key as the file (or the default)
/// set it. List flags given replace the file's list; `--no-*` flags can only turn a key off.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConfigFlags {
    /// Directory with the TAM keys and the SQLite database (default tam-data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Database URL (sqlite://PATH or postgres://...).
    #[arg(long, env = "TEEP_TAM_DB")]
    pub db: Option<String>,
    /// TEEP signing key (PEM, JWK or COSE_Key), once per algorithm; missing ones are generated.
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// Key that signs manifests made by `tc add --ta` (default DATA/tc-signer.pem).
    #[arg(long)]
    pub tc_signer_key: Option<PathBuf>,
    /// Public key (PEM, JWK or COSE_Key) of a TC signer whose envelopes uploads may carry;
    /// repeatable, replaces tc_signer_anchors of --config. The TAM's own TC-signer key is always trusted.
    #[arg(long = "tc-signer-anchor", value_name = "FILE")]
    pub tc_signer_anchors: Vec<PathBuf>,
    /// Who may connect: registered devices only; open: a device whose attestation key chains
    /// to an endorsement root (`teep tam endorser add`); tofu (testbeds): any device, its key
    /// recorded on first contact.
    #[arg(long, value_parser = enroll_parser())]
    pub enroll: Option<Enroll>,
    /// Bearer token of the admin API and the web UI (both disabled without it).
    #[arg(long, env = "TEEP_TAM_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Largest request body in bytes (default 1 MiB).
    #[arg(long)]
    pub body_limit: Option<usize>,
    /// Answer 400 without saying what was wrong (production hardening).
    #[arg(long)]
    pub no_explain: bool,
    /// Numbering spoken at /tam (the other one is spoken at --alt-path).
    #[arg(long, value_enum)]
    pub numbering: Option<NumberingChoice>,
    /// Path that speaks the other numbering (default /tam/legacy, or /tam/draft26 with
    /// --numbering legacy).
    #[arg(long)]
    pub alt_path: Option<String>,
    /// How the first QueryRequest is signed on the path that speaks legacy numbering:
    /// cose-sign (one signature per TAM key, the default) or a COSE_Sign1 algorithm; es256
    /// serves agents of the -12…-20 era such as libteep.
    #[arg(long, value_name = "FORM", value_parser = first_query_parser())]
    pub first_query_legacy: Option<FirstQuery>,
    /// The same for the path that speaks draft-26 numbering (default cose-sign, as -26 §8.1
    /// says).
    #[arg(long, value_name = "FORM", value_parser = first_query_parser())]
    pub first_query_draft26: Option<FirstQuery>,
    /// Send no token in a QueryRequest that asks for attestation (-26 §4.2 to the letter);
    /// the challenge alone then finds the session.
    #[arg(long)]
    pub no_token_with_attestation: bool,
    /// Send no token in a QueryRequest that does not ask for attestation (with
    /// --no-attestation), so devices may open sessions with an unsolicited QueryResponse.
    #[arg(long)]
    pub tokenless_queries: bool,
    /// Refuse what is otherwise accepted as a named deviation (conformance testing).
    #[arg(long)]
    pub strict: bool,
    /// Match a message without a kid by trying the keys of at most this many registered
    /// devices (default 16; 0: never).
    #[arg(long, value_name = "N")]
    pub kidless_max_devices: Option<usize>,
    /// Seconds an unanswered token stays valid (default 21600, six hours).
    #[arg(long, value_name = "SECS")]
    pub session_ttl: Option<u64>,
    /// Do not ask for attestation evidence.
    #[arg(long)]
    pub no_attestation: bool,
    /// Deliver only assigned TCs: catalog TCs a device asks for (requested-tc-list) but is
    /// not assigned are not sent.
    #[arg(long)]
    pub no_requests: bool,
    /// Public key of a Verifier whose Attestation Results are accepted (passport model).
    #[arg(long = "verifier-key")]
    pub verifier_keys: Vec<PathBuf>,
    #[command(flatten)]
    pub verifier: super::verifier::VerifierFlags,
    /// Private key that signs the TAM's own Attestation Result for Agents that require TAM
    /// attestation (-26 §7.1.2). Whoever holds it vouches for this TAM.
    #[arg(long, value_name = "FILE")]
    pub tam_attestation_key: Option<PathBuf>,
    /// TLS certificate chain (PEM); with --tls-key serves HTTPS.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of the --tls-cert certificate.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// The TAM's URL as devices reach it (https://tam.example.org): base of the payload
    /// URIs of `tc add --ta --by-uri` manifests.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Print every HTTP request and response on stdout: headers (credentials hidden), the
    /// TEEP message decoded as JSON, other bodies as text.
    #[arg(long)]
    pub dump: bool,
    /// Database pool size (default 1 for SQLite, 16 for PostgreSQL).
    #[arg(long)]
    pub db_connections: Option<u32>,
    /// Seconds to finish sessions in flight on SIGTERM/Ctrl-C (default 10; 0: stop at once).
    #[arg(long, value_name = "SECS")]
    pub shutdown_grace: Option<u64>,
    /// Milliseconds to send a request's headers, and to keep an idle connection (default 10000).
    #[arg(long, value_name = "MS")]
    pub header_timeout_ms: Option<u64>,
    /// Milliseconds a request body may take, plus 1 s per --body-min-rate bytes received
    /// (default 10000).
    #[arg(long, value_name = "MS")]
    pub body_timeout_ms: Option<u64>,
    /// Bytes per second a slow body must keep up (default 4096; 0: the body timeout alone).
    #[arg(long, value_name = "BYTES")]
    pub body_min_rate: Option<u64>,
    /// Connections open at once (default 0: the open-file limit less 128).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Connections open at once from one address, an IPv6 /64 counting as one (default 256;
    /// 0: no cap).
    #[arg(long, value_name = "N")]
    pub max_connections_per_address: Option<usize>,
    /// TEEP requests per second one address may make beyond --rate-burst; more get 429
    /// (default 0: no limit).
    #[arg(long, value_name = "N")]
    pub rate_per_address: Option<u32>,
    /// TEEP requests one address may make at once before --rate-per-address applies (default 30).
    #[arg(long, value_name = "N")]
    pub rate_burst: Option<u32>,
    /// TEEP sessions open at once; a new one beyond gets 503 (default 100000; 0: no cap).
    #[arg(long, value_name = "N")]
    pub max_sessions: Option<usize>,
    /// TEEP sessions open at once from one address; a new one beyond gets 429 (default
    /// 1024; 0: no cap).
    #[arg(long, value_name = "N")]
    pub max_sessions_per_address: Option<u32>,
    /// Seconds an unanswered session counts toward the session caps (default 60).
    #[arg(long, value_name = "SECS")]
    pub session_hold_secs: Option<u64>,
    /// Admin API and web UI requests per second one address may make beyond
    /// --admin-rate-burst; more get 429 (default 50; 0: no limit).
    #[arg(long, value_name = "N")]
    pub admin_rate_per_address: Option<u32>,
    /// Admin API and web UI requests one address may make at once (default 500).
    #[arg(long, value_name = "N")]
    pub admin_rate_burst: Option<u32>,
    /// Milliseconds a response may make no progress before the connection is closed
    /// (default 10000).
    #[arg(long, value_name = "MS")]
    pub write_timeout_ms: Option<u64>,
}

/// `--first-query-*` in the config file's spelling.
fn first_query_parser() -> impl TypedValueParser<Value = FirstQuery> {
    PossibleValuesParser::new(FirstQuery::NAMES).try_map(|s| s.parse::<FirstQuery>())
}

/// `--enroll` in the config file's spelling, parsed by `Enroll`'s own `FromStr` (the enum
/// lives in the sans-IO core, which has no clap); clap lists the values in help and errors.
fn enroll_parser() -> impl TypedValueParser<Value = Enroll> {
    PossibleValuesParser::new(["registered", "open", "tofu"]).try_map(|s| s.parse::<Enroll>())
}

impl Config {
    /// The defaults, then the TOML file if one is given, then the flags given.
    pub fn layered(file: Option<&Path>, flags: ConfigFlags) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        flags.apply_to(&mut config);
        Ok(config)
    }
}

impl ConfigFlags {
    /// Overrides the keys of `config` whose flags were given.
    pub fn apply_to(self, config: &mut Config) {
        // Taken apart whole, so that a flag added above and forgotten here does not compile.
        let ConfigFlags {
            data,
            listen,
            db,
            keys,
            tc_signer_key,
            tc_signer_anchors,
            enroll,
            admin_token,
            body_limit,
            no_explain,
            numbering,
            alt_path,
            first_query_legacy,
            first_query_draft26,
            no_token_with_attestation,
            tokenless_queries,
            strict,
            kidless_max_devices,
            session_ttl,
            no_attestation,
            no_requests,
            verifier_keys,
            verifier,
            tam_attestation_key,
            tls_cert,
            tls_key,
            public_url,
            dump,
            db_connections,
            shutdown_grace,
            header_timeout_ms,
            body_timeout_ms,
            body_min_rate,
            max_connections,
            max_connections_per_address,
            rate_per_address,
            rate_burst,
            max_sessions,
            max_sessions_per_address,
            session_hold_secs,
            admin_rate_per_address,
            admin_rate_burst,
            write_timeout_ms,
        } = self;
        set(&mut config.data, data);
        set(&mut config.listen, listen);
        set_some(&mut config.db, db);
        set_list(&mut config.keys, keys);
        set_some(&mut config.tc_signer_key, tc_signer_key);
        set_list(&mut config.tc_signer_anchors, tc_signer_anchors);
        set(&mut config.enroll, enroll);
        set_some(&mut config.admin_token, admin_token);
        set(&mut config.body_limit, body_limit);
        turn_off(&mut config.explain_errors, no_explain);
        set(&mut config.numbering, numbering);
        set_some(&mut config.alt_path, alt_path);
        set(&mut config.first_query_legacy, first_query_legacy);
        set(&mut config.first_query_draft26, first_query_draft26);
        turn_off(
            &mut config.token_with_attestation,
            no_token_with_attestation,
        );
        config.tokenless_queries |= tokenless_queries;
        config.strict |= strict;
        set(&mut config.kidless_max_devices, kidless_max_devices);
        set(&mut config.session_ttl_secs, session_ttl);
        turn_off(&mut config.require_attestation, no_attestation);
        turn_off(&mut config.allow_requests, no_requests);
        set_list(&mut config.verifier_keys, verifier_keys);
        verifier.apply_to(config);
        set_some(&mut config.tam_attestation_key, tam_attestation_key);
        set_some(&mut config.tls_cert, tls_cert);
        set_some(&mut config.tls_key, tls_key);
        set_some(&mut config.public_url, public_url);
        config.dump |= dump;
        set(&mut config.db_max_connections, db_connections);
        set(&mut config.shutdown_grace_secs, shutdown_grace);
        set(&mut config.header_timeout_ms, header_timeout_ms);
        set(&mut config.body_timeout_ms, body_timeout_ms);
        set(&mut config.body_min_rate, body_min_rate);
        set(&mut config.max_connections, max_connections);
        set(
            &mut config.max_connections_per_address,
            max_connections_per_address,
        );
        set(&mut config.rate_per_address, rate_per_address);
        set(&mut config.rate_burst, rate_burst);
        set(&mut config.max_sessions, max_sessions);
        set(
            &mut config.max_sessions_per_address,
            max_sessions_per_address,
        );
        set(&mut config.session_hold_secs, session_hold_secs);
        set(&mut config.admin_rate_per_address, admin_rate_per_address);
        set(&mut config.admin_rate_burst, admin_rate_burst);
        set(&mut config.write_timeout_ms, write_timeout_ms);
    }
}

/// A flag given replaces the key.
fn set<T>(key: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *key = v;
    }
}

/// A flag given replaces an optional key.
fn set_some<T>(key: &mut Option<T>, flag: Option<T>) {
    if flag.is_some() {
        *key = flag;
    }
}

/// A repeatable flag given at least once replaces the whole list.
fn set_list<T>(key: &mut Vec<T>, flag: Vec<T>) {
    if !flag.is_empty() {
        *key = flag;
    }
}

/// A `--no-*` flag given turns the key off; absent, it leaves the key alone.
fn turn_off(key: &mut bool, flag: bool) {
    if flag {
        *key = false;
    }
}
