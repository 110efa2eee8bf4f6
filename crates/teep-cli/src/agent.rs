//! `teep agent` subcommands: the TEEP Agent and Broker on this device.
//!
//! State directory layout: `tee/` (the software TEE: sealed storage, device keys, installed
//! TCs), `agent.json` (requested and unneeded TCs, TAM URIs, what each TAM speaks) and
//! `agent.sock` (the local API while `teep agent run --poll` is running).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use teep_agent::agent::AgentConfig;
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{Broker, Exchange, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::local_api::{self, LocalApiServer, LocalRequest, LocalResponse};
use teep_broker::runner::{describe, AgentRunner};
use teep_broker::state_file::{load_state, save_state};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

#[derive(clap::Args, Clone)]
pub struct StateArg {
    /// Agent state directory (software TEE, agent.json, agent.sock).
    #[arg(long, env = "TEEP_AGENT_STATE", default_value = "teep-agent-state")]
    pub state: PathBuf,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Run TEEP sessions with the TAMs: once, or every SECS seconds while serving the local API.
    Run {
        #[command(flatten)]
        state: StateArg,
        /// TAM URI (repeatable); remembered in the state for later runs.
        #[arg(long = "tam", value_name = "URL")]
        tams: Vec<String>,
        /// Policy-check period in seconds; without it, one round of sessions and exit.
        #[arg(long, value_name = "SECS")]
        poll: Option<u64>,
        /// Print every HTTP exchange with the TEEP message decoded as JSON.
        #[arg(long)]
        dump: bool,
        /// Add a TAM trust anchor (public key: PEM, JWK or COSE_Key); kept sealed in the TEE.
        #[arg(long = "tam-key", value_name = "FILE")]
        tam_keys: Vec<PathBuf>,
        /// Add a TC Signer trust anchor (public key file); kept sealed in the TEE.
        #[arg(long = "tc-signer-key", value_name = "FILE")]
        tc_signer_keys: Vec<PathBuf>,
        /// PEM file of CA certificates for https TAM URIs.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
        /// Answer TAMs that do not attest themselves with ERR_ATTESTATION_REQUIRED.
        #[arg(long)]
        require_tam_attestation: bool,
        /// Attempts per session on transport failure (backoff doubles from 0.5 s).
        #[arg(long, default_value_t = 3)]
        attempts: u32,
    },
    /// Show the device identity, key id, payload-decryption public key (PEM, for `teep suit
    /// create --encrypt-to`), trust anchors, installed TCs and pending requests.
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
        /// TAM URI hint for this TC (repeatable).
        #[arg(long = "tam", value_name = "URL")]
        tams: Vec<String>,
        /// Only record the request; contact no TAM now.
        #[arg(long)]
        no_session: bool,
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
    },
}

/// Opens (creating on first use) the software TEE of a state directory.
pub fn open_tee(state_dir: &Path) -> anyhow::Result<Arc<dyn Tee>> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let tee = SoftwareTee::open(state_dir.join("tee"))
        .with_context(|| format!("opening the TEE in {}", state_dir.display()))?;
    Ok(Arc::new(tee))
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("agent.json")
}

fn socket_path(dir: &Path) -> PathBuf {
    dir.join("agent.sock")
}

fn print_exchange(x: &Exchange) {
    let view = json!({
        "uri": x.uri,
        "status": x.status,
        "request": describe(&x.request_body),
        "response": describe(&x.response_body),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&view).unwrap_or_default()
    );
}

struct Daemon {
    dir: PathBuf,
    runner: AgentRunner<TeeDevice>,
    http: HttpConfig,
    retry: RetryPolicy,
    dump: bool,
}

impl Daemon {
    fn open(
        dir: &Path,
        require_tam_attestation: bool,
        http: HttpConfig,
        retry: RetryPolicy,
        dump: bool,
    ) -> anyhow::Result<Self> {
        let tee = open_tee(dir)?;
        let mut state = load_state(&state_file(dir))?;
        state.require_tam_attestation |= require_tam_attestation;
        let config = AgentConfig {
            tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam)?,
            tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner)?,
            require_tam_attestation: state.require_tam_attestation,
        };
        let runner = AgentRunner::new(config, state, TeeDevice::new(tee));
        Ok(Daemon {
            dir: dir.to_path_buf(),
            runner,
            http,
            retry,
            dump,
        })
    }

    /// One session with each TAM; returns how many failed.
    fn policy_check(&mut self) -> anyhow::Result<usize> {
        if self.runner.state.all_tam_uris().is_empty() {
            anyhow::bail!("no TAM URI known: pass --tam URL");
        }
        if self.runner.config.tam_trust_anchors.is_empty() {
            anyhow::bail!("no TAM trust anchor: pass --tam-key FILE once");
        }
        let transport = HttpTransport::new(&self.http)?;
        let dump = self.dump;
        let mut broker = Broker::new(transport)
            .with_retry(self.retry.clone())
            .with_dump(move |x| {
                if dump {
                    print_exchange(x)
                }
            });
        let results = self.runner.policy_check(&mut broker);
        for e in self.runner.events.drain(..) {
            tracing::info!(event = ?e, "agent");
        }
        let mut failed = 0;
        for (uri, r) in results {
            match r {
                Ok(rep) => println!("{uri}: session done ({} round trips)", rep.round_trips),
                Err(e) => {
                    failed += 1;
                    eprintln!("{uri}: session failed: {e}");
                }
            }
        }
        save_state(&self.runner.state, &state_file(&self.dir))?;
        Ok(failed)
    }

    fn handle_local(&mut self, request: LocalRequest) -> LocalResponse {
        let mut check = false;
        let response = match request {
            LocalRequest::RequestTa { tc, tam_uris } => {
                self.runner.state.request(&tc, &tam_uris);
                check = true;
                LocalResponse::ok(format!("requested {tc}"))
            }
            LocalRequest::UnrequestTa { tc } => {
                self.runner.state.unrequest(&tc);
                check = true;
                LocalResponse::ok(format!("unrequested {tc}"))
            }
            LocalRequest::RequestPolicyCheck => {
                check = true;
                LocalResponse::ok("policy check done")
            }
            LocalRequest::Status => {
                match status_json(self.runner.device.tee().as_ref(), &self.runner.state) {
                    Ok(v) => LocalResponse {
                        ok: true,
                        message: "status".into(),
                        detail: v,
                    },
                    Err(e) => LocalResponse::error(format!("{e:#}")),
                }
            }
        };
        if let Err(e) = save_state(&self.runner.state, &state_file(&self.dir)) {
            return LocalResponse::error(format!("{e}"));
        }
        if check {
            match self.policy_check() {
                Ok(0) => {}
                Ok(n) => return LocalResponse::error(format!("{n} TAM session(s) failed")),
                Err(e) => return LocalResponse::error(format!("{e:#}")),
            }
        }
        response
    }
}

fn status_json(tee: &dyn Tee, state: &AgentState) -> anyhow::Result<serde_json::Value> {
    let id = tee.identity();
    let signer = tee.teep_signer();
    let anchors = |k| -> anyhow::Result<Vec<String>> {
        Ok(tee
            .trust_anchors(k)?
            .iter()
            .map(|p| hex::encode(p.thumbprint()))
            .collect())
    };
    let components: Vec<_> = tee
        .list_components()?
        .into_iter()
        .map(|c| json!({ "id": TcId(c.id).to_string(), "size": c.size, "sha256": hex::encode(c.digest) }))
        .collect();
    let manifests: Vec<_> = tee
        .list_manifests()?
        .into_iter()
        .map(|m| json!({ "id": TcId(m.manifest_component_id).to_string(), "sequence": m.sequence_number }))
        .collect();
    // The key TC signers encrypt personalization data to (`teep suit create --encrypt-to`).
    let payload_key = match tee.payload_encryption_key() {
        Some(pk) => {
            json!({ "alg": "ECDH-ES+A128KW", "thumbprint": hex::encode(pk.thumbprint()), "pem": pk.to_spki_pem() })
        }
        None => serde_json::Value::Null,
    };
    Ok(json!({
        "ueid": hex::encode(&id.ueid),
        "hwmodel": String::from_utf8_lossy(&id.hwmodel),
        "hwversion": id.hwversion,
        "teep_key": { "alg": signer.algorithm().name(), "kid": hex::encode(signer.kid()) },
        "payload_key": payload_key,
        "trust_anchors": { "tam": anchors(TrustAnchorKind::Tam)?, "tc_signer": anchors(TrustAnchorKind::TcSigner)? },
        "installed": components,
        "manifests": manifests,
        "requested": state.requested.keys().map(|t| t.to_string()).collect::<Vec<_>>(),
        "unneeded": state.unrequested.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "tams": state.all_tam_uris(),
    }))
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
            dump,
            tam_keys,
            tc_signer_keys,
            ca,
            require_tam_attestation,
            attempts,
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
            save_state(&st, &state_file(&dir))?;
            let ca_pem = match ca {
                Some(p) => Some(std::fs::read(&p).with_context(|| format!("{}", p.display()))?),
                None => None,
            };
            let http = HttpConfig {
                ca_pem,
                ..HttpConfig::default()
            };
            let retry = RetryPolicy {
                attempts: attempts.max(1),
                initial_backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs(30),
            };
            let mut daemon = Daemon::open(&dir, require_tam_attestation, http, retry, dump)?;
            let Some(secs) = poll else {
                let failed = daemon.policy_check()?;
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
                if let Err(e) = daemon.policy_check() {
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
            let v = status_json(tee.as_ref(), &st)?;
            if as_json {
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!("ueid:        {}", v["ueid"].as_str().unwrap_or(""));
            println!(
                "hwmodel:     {}  hwversion: {}",
                v["hwmodel"].as_str().unwrap_or(""),
                v["hwversion"].as_str().unwrap_or("")
            );
            println!(
                "TEEP key:    {} kid {}",
                v["teep_key"]["alg"].as_str().unwrap_or(""),
                v["teep_key"]["kid"].as_str().unwrap_or("")
            );
            if let Some(pem) = v["payload_key"]["pem"].as_str() {
                println!(
                    "payload key: {} thumbprint {}\n{}",
                    v["payload_key"]["alg"].as_str().unwrap_or(""),
                    v["payload_key"]["thumbprint"].as_str().unwrap_or(""),
                    pem.trim_end()
                );
            }
            let list = |k: &serde_json::Value| -> String {
                let items: Vec<String> = k
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| x.as_str().unwrap_or("").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                if items.is_empty() {
                    "(none)".into()
                } else {
                    items.join(", ")
                }
            };
            println!(
                "TAM trust anchors (kid):       {}",
                list(&v["trust_anchors"]["tam"])
            );
            println!(
                "TC Signer trust anchors (kid): {}",
                list(&v["trust_anchors"]["tc_signer"])
            );
            println!("TAMs:        {}", list(&v["tams"]));
            println!("installed:");
            for c in v["installed"].as_array().into_iter().flatten() {
                println!(
                    "  {}  {} bytes  sha256 {}",
                    c["id"].as_str().unwrap_or(""),
                    c["size"],
                    c["sha256"].as_str().unwrap_or("")
                );
            }
            println!("manifests:");
            for m in v["manifests"].as_array().into_iter().flatten() {
                println!(
                    "  {}  sequence {}",
                    m["id"].as_str().unwrap_or(""),
                    m["sequence"]
                );
            }
            println!("requested:   {}", list(&v["requested"]));
            println!("unneeded:    {}", list(&v["unneeded"]));
            Ok(())
        }
        Cmd::Request {
            tc,
            state,
            tams,
            no_session,
        } => {
            let tc = TcId::parse(&tc)?;
            local_or_direct(
                &state.state,
                LocalRequest::RequestTa { tc, tam_uris: tams },
                no_session,
            )
        }
        Cmd::Unrequest {
            tc,
            state,
            no_session,
        } => {
            let tc = TcId::parse(&tc)?;
            local_or_direct(&state.state, LocalRequest::UnrequestTa { tc }, no_session)
        }
    }
}

/// Sends the request to the running agent, or applies it here when none runs.
fn local_or_direct(dir: &Path, request: LocalRequest, no_session: bool) -> anyhow::Result<()> {
    let sock = socket_path(dir);
    if local_api::is_listening(&sock) {
        let answer = local_api::call(&sock, &request)?;
        if !answer.ok {
            anyhow::bail!("agent: {}", answer.message);
        }
        println!("{}", answer.message);
        return Ok(());
    }
    let mut st = load_state(&state_file(dir))?;
    let message = match &request {
        LocalRequest::RequestTa { tc, tam_uris } => {
            st.request(tc, tam_uris);
            format!("requested {tc}")
        }
        LocalRequest::UnrequestTa { tc } => {
            st.unrequest(tc);
            format!("unrequested {tc}")
        }
        _ => String::new(),
    };
    save_state(&st, &state_file(dir))?;
    println!("{message}");
    if no_session || st.all_tam_uris().is_empty() {
        return Ok(());
    }
    let mut daemon = Daemon::open(
        dir,
        false,
        HttpConfig::default(),
        RetryPolicy::default(),
        false,
    )?;
    let failed = daemon.policy_check()?;
    if failed > 0 {
        anyhow::bail!("{failed} TAM session(s) failed");
    }
    Ok(())
}
