//! `teep agent` subcommands: the TEEP Agent and Broker on this device.
//!
//! State directory layout: `tee/` (the software TEE: sealed storage, device keys, installed
//! TCs), `agent.json` (requested and unneeded TCs, TAM URIs, what each TAM speaks) and
//! `agent.sock` (the local API while `teep agent run --poll` is running).

mod daemon;
mod policy;
mod status;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use teep_agent::TcId;
use teep_broker::broker::{HttpConfig, RetryPolicy};
use teep_broker::local_api::{LocalApiServer, LocalRequest};
use teep_broker::state_file::{load_state, save_state};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

use daemon::{local_or_direct, Daemon};

#[derive(clap::Args, Clone)]
pub struct StateArg {
    /// Agent state directory (software TEE, agent.json, agent.sock).
    #[arg(long, env = "TEEP_AGENT_STATE", default_value = "teep-agent-state")]
    pub state: PathBuf,
}

/// How the sessions of a command run.
#[derive(clap::Args, Clone, Copy)]
pub struct SessionOpts {
    /// Print every HTTP exchange: request and response header fields (credentials hidden),
    /// the empty POST, each TEEP message decoded with where its COSE header parameters were,
    /// and what was tolerated.
    #[arg(long)]
    pub dump: bool,
    /// Refuse every departure from the drafts that is otherwise tolerated and named as a
    /// deviation (conformance testing).
    #[arg(long)]
    pub strict: bool,
    /// Also fetch payloads that manifests name by plain `http` URI (a test bed; the
    /// manifest's digest still binds the bytes). `https` is always allowed, through the CA
    /// bundle of `--ca` when given.
    #[arg(long)]
    pub fetch_allow_http: bool,
    /// Seconds allowed to fetch one payload named by URI, redirects and body included.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub fetch_timeout: u64,
    /// Largest payload fetched by URI, whatever the manifest's image-size says.
    #[arg(long, value_name = "BYTES", default_value_t = teep_broker::fetch::DEFAULT_MAX_PAYLOAD)]
    pub fetch_max_bytes: u64,
    /// Send Evidence and SUIT reports in the clear even when the TAM offers a SUIT COSE
    /// profile (-26 §8.2 says SHOULD encrypt unless the transport already protects them
    /// end to end into the TEE; this software TEE's HTTPS ends in the normal world). For
    /// reading payloads in dumps while testing against a peer.
    #[arg(long)]
    pub no_encrypt_to_tam: bool,
}

impl Default for SessionOpts {
    fn default() -> Self {
        SessionOpts {
            dump: false,
            strict: false,
            fetch_allow_http: false,
            fetch_timeout: 60,
            fetch_max_bytes: teep_broker::fetch::DEFAULT_MAX_PAYLOAD,
            no_encrypt_to_tam: false,
        }
    }
}

impl SessionOpts {
    /// Whether the Agent encrypts its EAT and SUIT reports for the TAM (-26 §8.2).
    pub fn encryption(self) -> teep_agent::agent::TamEncryption {
        if self.no_encrypt_to_tam {
            teep_agent::agent::TamEncryption::Never
        } else {
            teep_agent::agent::TamEncryption::WhenOffered
        }
    }

    /// How payloads named by URI are fetched; `ca_pem` is the CA bundle given for TAMs.
    pub fn fetch_config(self, ca_pem: Option<Vec<u8>>) -> teep_broker::fetch::FetchConfig {
        teep_broker::fetch::FetchConfig {
            ca_pem,
            allow_http: self.fetch_allow_http,
            timeout: std::time::Duration::from_secs(self.fetch_timeout.max(1)),
            max_payload: self.fetch_max_bytes,
        }
    }

    pub fn tolerance(self) -> teep_cbor::Tolerance {
        if self.strict {
            teep_cbor::Tolerance::Strict
        } else {
            teep_cbor::Tolerance::Tolerant
        }
    }
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Run TEEP sessions with the TAMs: once, or every SECS seconds while serving the local API.
    Run {
        #[command(flatten)]
        state: StateArg,
        /// TAM URI (repeatable): this run contacts these TAMs only, and remembers them for
        /// later runs. Without it, every remembered TAM.
        #[arg(long = "tam", value_name = "URL")]
        tams: Vec<String>,
        /// Policy-check period in seconds; without it, one round of sessions and exit.
        #[arg(long, value_name = "SECS")]
        poll: Option<u64>,
        #[command(flatten)]
        opts: SessionOpts,
        /// Add a TAM trust anchor (public key: PEM, JWK or COSE_Key); kept sealed in the TEE.
        #[arg(long = "tam-key", value_name = "FILE")]
        tam_keys: Vec<PathBuf>,
        /// Add a TC Signer trust anchor (public key file); kept sealed in the TEE.
        #[arg(long = "tc-signer-key", value_name = "FILE")]
        tc_signer_keys: Vec<PathBuf>,
        /// PEM file of CA certificates for https TAM URIs and https payload URIs.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
        /// Answer TAMs that do not attest themselves with ERR_ATTESTATION_REQUIRED, and
        /// answer those that do only when a trusted TAM Verifier signed their attestation.
        #[arg(long)]
        require_tam_attestation: bool,
        /// Trust this Verifier's Attestation Results about TAMs (public key: PEM, JWK or
        /// COSE_Key; repeatable; remembered in the state). Whoever holds the private key
        /// vouches for the TAMs it attests.
        #[arg(long = "tam-verifier-key", value_name = "FILE")]
        tam_verifier_keys: Vec<PathBuf>,
        /// Attempts per session on transport failure (backoff doubles from 0.5 s up to
        /// --max-backoff). Retries are an addition to TEEP-HTTP, whose client reports a failed
        /// session and stops (§5.5): only transport failures are retried, as a whole session.
        #[arg(long, default_value_t = 3)]
        attempts: u32,
        /// Longest wait between two attempts of a session, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        max_backoff: u64,
        /// Seconds allowed for one HTTP exchange with a TAM (connecting, sending, the whole
        /// answer). An addition to TEEP-HTTP, whose client layer has no timeout and leaves it
        /// to the Agent (§5.5); here they share a process, and a TAM that never answers must
        /// not hold a session for ever.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        http_timeout: u64,
    },
    /// Show the device identity, its TEEP public key (PEM and JWK, for registering the device
    /// with a TAM), the payload-decryption public key (PEM, for `teep suit create
    /// --encrypt-to`), trust anchors, installed TCs, pending requests and known TAMs.
    Status {
        #[command(flatten)]
        state: StateArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// RequestTA: ask for a Trusted Component (through the running agent if there is one,
    /// otherwise recorded and followed by one round of sessions).
    #[command(after_help = teep_agent::tc_id::TC_ID_HELP)]
    Request {
        /// The TC (see below).
        tc: String,
        #[command(flatten)]
        state: StateArg,
        /// TAM URI hint for this TC (repeatable); the round of sessions then contacts these
        /// TAMs only.
        #[arg(long = "tam", value_name = "URL")]
        tams: Vec<String>,
        /// Only record the request; contact no TAM now.
        #[arg(long)]
        no_session: bool,
        #[command(flatten)]
        opts: SessionOpts,
    },
    /// UnrequestTA: the TC is no longer needed; the next session lists it as unneeded.
    #[command(after_help = teep_agent::tc_id::TC_ID_HELP)]
    Unrequest {
        /// The TC (see below).
        tc: String,
        #[command(flatten)]
        state: StateArg,
        /// Only record it; contact no TAM now.
        #[arg(long)]
        no_session: bool,
        #[command(flatten)]
        opts: SessionOpts,
    },
    /// The TAMs this agent contacts, and what it learnt of each.
    #[command(subcommand)]
    Tam(TamCmd),
    /// Device policy toward several TAMs (RFC 9397 §4.3): cross-TAM unlinking, TC Signer scopes.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
}

#[derive(Subcommand)]
pub enum TamCmd {
    /// Remember a TAM URI (contacted by every run without --tam).
    Add {
        uri: String,
        #[command(flatten)]
        state: StateArg,
    },
    /// Forget a TAM URI, what was learnt of it (numbering, algorithm, kid placement, HTTP
    /// quirks) and its place in the TAM hints of pending requests.
    Remove {
        uri: String,
        #[command(flatten)]
        state: StateArg,
    },
    /// List the TAM URIs with what was learnt of each.
    List {
        #[command(flatten)]
        state: StateArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Opens (creating on first use) the software TEE of a state directory.
pub fn open_tee(state_dir: &Path) -> anyhow::Result<Arc<dyn Tee>> {
    create_state_dir(state_dir)?;
    let tee = SoftwareTee::open(state_dir.join("tee"))
        .with_context(|| format!("opening the TEE in {}", state_dir.display()))?;
    Ok(Arc::new(tee))
}

fn create_state_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("agent.json")
}

fn socket_path(dir: &Path) -> PathBuf {
    dir.join("agent.sock")
}

fn load_key(path: &Path) -> anyhow::Result<teep_cose::PublicKey> {
    teep_cose::PublicKey::load(path).with_context(|| format!("{}", path.display()))
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Run {
            state,
            tams,
            poll,
            opts,
            tam_keys,
            tc_signer_keys,
            ca,
            require_tam_attestation,
            tam_verifier_keys,
            attempts,
            max_backoff,
            http_timeout,
        } => {
            let dir = state.state;
            let tee = open_tee(&dir)?;
            for p in &tam_keys {
                tee.add_trust_anchor(TrustAnchorKind::Tam, &load_key(p)?)?;
            }
            for p in &tc_signer_keys {
                tee.add_trust_anchor(TrustAnchorKind::TcSigner, &load_key(p)?)?;
            }
            drop(tee);
            let mut st = load_state(&state_file(&dir))?;
            for t in &tams {
                st.add_tam(t);
            }
            for p in &tam_verifier_keys {
                let pem = load_key(p)?.to_spki_pem();
                if !st.tam_verifier_keys.contains(&pem) {
                    st.tam_verifier_keys.push(pem);
                }
            }
            save_state(&st, &state_file(&dir))?;
            let ca_pem = match ca {
                Some(p) => Some(std::fs::read(&p).with_context(|| format!("{}", p.display()))?),
                None => None,
            };
            let http = HttpConfig {
                ca_pem,
                timeout: Duration::from_secs(http_timeout.clamp(1, 3600)),
                ..HttpConfig::default()
            };
            let retry = RetryPolicy {
                attempts: attempts.max(1),
                initial_backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs(max_backoff.max(1)),
            };
            let mut daemon = Daemon::open(&dir, require_tam_attestation, http, retry, opts)?;
            let Some(secs) = poll else {
                let targets = (!tams.is_empty()).then_some(tams);
                let failed = daemon.policy_check(targets)?;
                if failed > 0 {
                    anyhow::bail!("{failed} TAM session(s) failed");
                }
                return Ok(());
            };
            let server = LocalApiServer::bind(&socket_path(&dir))?;
            println!(
                "agent running; local API at {}; policy check every {secs} s",
                server.path().display()
            );
            let period = Duration::from_secs(secs.max(1));
            loop {
                if let Err(e) = daemon.policy_check(None) {
                    eprintln!("policy check: {e:#}");
                }
                let next = Instant::now() + period;
                while let Some(wait) = next.checked_duration_since(Instant::now()) {
                    match server.requests.recv_timeout(wait) {
                        Ok(pending) => {
                            let req = pending.request.clone();
                            let answer = daemon.handle_local(req);
                            pending.answer(answer);
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                            anyhow::bail!("local API stopped")
                        }
                    }
                }
            }
        }
        Cmd::Status {
            state,
            json: as_json,
        } => {
            let dir = state.state;
            let tee = open_tee(&dir)?;
            let st = load_state(&state_file(&dir))?;
            let v = status::status_json(tee.as_ref(), &st)?;
            if as_json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                status::print_status(&v);
            }
            Ok(())
        }
        Cmd::Request {
            tc,
            state,
            tams,
            no_session,
            opts,
        } => {
            let tc = TcId::parse(&tc)?;
            local_or_direct(
                &state.state,
                LocalRequest::RequestTa { tc, tam_uris: tams },
                no_session,
                opts,
            )
        }
        Cmd::Unrequest {
            tc,
            state,
            no_session,
            opts,
        } => {
            let tc = TcId::parse(&tc)?;
            local_or_direct(
                &state.state,
                LocalRequest::UnrequestTa { tc },
                no_session,
                opts,
            )
        }
        Cmd::Policy(cmd) => policy::run(cmd),
        Cmd::Tam(TamCmd::Add { uri, state }) => local_or_direct(
            &state.state,
            LocalRequest::AddTam { uri },
            true,
            SessionOpts::default(),
        ),
        Cmd::Tam(TamCmd::Remove { uri, state }) => local_or_direct(
            &state.state,
            LocalRequest::RemoveTam { uri },
            true,
            SessionOpts::default(),
        ),
        Cmd::Tam(TamCmd::List {
            state,
            json: as_json,
        }) => {
            let st = load_state(&state_file(&state.state))?;
            let v = status::tams_json(&st);
            if as_json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                status::print_tams(&v);
            }
            Ok(())
        }
    }
}
