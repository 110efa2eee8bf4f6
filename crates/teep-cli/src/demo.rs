//! `teep demo`: the whole TEEP flow in one process, narrated.
//!
//! A TAM (SQLite, open enrollment) on a free loopback port, the `hello` TA in its catalog, a
//! device with the software TEE, the Agent and the Broker speaking real HTTP to the TAM: the
//! device asks for `hello`, gets it installed, runs it, then gives it up and sees it deleted.
//! Every HTTP exchange is printed with the TEEP message decoded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use serde_json::Value as Json;
use teep_agent::agent::{AgentConfig, AgentEvent};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{Broker, Exchange, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::runner::{describe, AgentRunner};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

#[derive(clap::Args)]
pub struct Args {
    /// Keep the temporary directory (TAM database, device state) and print its path.
    #[arg(long)]
    keep: bool,
    /// Print only the narration, not the decoded messages.
    #[arg(long)]
    quiet: bool,
    /// Speak the legacy numbering (drafts -20…-25) with the TAM instead of draft -26.
    #[arg(long)]
    legacy: bool,
}

/// A fresh directory under the system temporary directory, removed on drop unless kept.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    fn new(keep: bool) -> anyhow::Result<Self> {
        let mut random = [0u8; 8];
        teep_broker::runner::provider_random(&mut random);
        let path = std::env::temp_dir().join(format!("teep-demo-{}", hex::encode(random)));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(WorkDir { path, keep })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

struct Narrator {
    step: usize,
    quiet: bool,
}

impl Narrator {
    fn step(&mut self, text: &str) {
        self.step += 1;
        println!("\n== {}. {text}", self.step);
    }

    fn note(&self, text: &str) {
        println!("   {text}");
    }

    fn exchange(&self, x: &Exchange) {
        let path = x
            .uri
            .split_once("//")
            .map(|(_, r)| r.find('/').map(|i| &r[i..]).unwrap_or("/"))
            .unwrap_or(&x.uri);
        if x.request_body.is_empty() {
            println!("   Broker -> TAM  POST {path}  (empty body: open a session)");
        } else {
            println!(
                "   Broker -> TAM  POST {path}  {}",
                summary(&x.request_body)
            );
            self.packet(&x.request_body);
        }
        if x.response_body.is_empty() {
            println!("   TAM -> Broker  {}  (no content: session over)", x.status);
        } else {
            println!(
                "   TAM -> Broker  {}  {}",
                x.status,
                summary(&x.response_body)
            );
            self.packet(&x.response_body);
        }
    }

    fn packet(&self, bytes: &[u8]) {
        if self.quiet {
            return;
        }
        let shown = shorten(describe(bytes));
        let text = serde_json::to_string_pretty(&shown).unwrap_or_default();
        for line in text.lines() {
            println!("      | {line}");
        }
    }
}

/// One line: COSE kind, algorithm, TEEP message type and size.
fn summary(bytes: &[u8]) -> String {
    let d = describe(bytes);
    let kind = d["cose"].as_str().unwrap_or("?");
    let algs: Vec<&str> = d["signatures"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["alg"].as_str()).collect())
        .unwrap_or_default();
    let ty = d["teep"]["type"].as_str().unwrap_or("?");
    format!(
        "{ty} in {kind} [{}], {} bytes",
        algs.join(", "),
        bytes.len()
    )
}

/// Long hex strings (envelopes, evidence) are cut so the dump stays readable.
fn shorten(v: Json) -> Json {
    match v {
        Json::String(s) if s.len() > 96 => {
            Json::String(format!("{}… ({} chars)", &s[..64], s.len()))
        }
        Json::Array(a) => Json::Array(a.into_iter().map(shorten).collect()),
        Json::Object(o) => Json::Object(o.into_iter().map(|(k, v)| (k, shorten(v))).collect()),
        other => other,
    }
}

fn events(n: &Narrator, events: &mut Vec<AgentEvent>) {
    for e in events.drain(..) {
        let text = match e {
            AgentEvent::TamVerified { kid, algorithm, numbering } => format!(
                "Agent: TAM signature verified (alg {algorithm}, trust anchor kid {}…), {numbering:?} numbering",
                &hex::encode(kid)[..16]
            ),
            AgentEvent::Received { message } => format!("Agent: received {message}"),
            AgentEvent::EvidenceProduced { nonce } => {
                format!("Agent: Evidence (EAT) signed by the device key, eat_nonce = challenge {}…", &hex::encode(&nonce)[..16.min(nonce.len() * 2)])
            }
            AgentEvent::Unlinked { manifest_id, found } => {
                format!("Agent: unlinked manifest {} ({})", TcId(manifest_id), if found { "removed" } else { "was not installed" })
            }
            AgentEvent::Installed { manifest_id, sequence_number } => {
                format!("Agent: SUIT manifest {} (sequence {sequence_number}) verified and installed", TcId(manifest_id))
            }
            AgentEvent::ManifestFailed { reason } => format!("Agent: manifest failed: {reason}"),
            AgentEvent::TamReportedError { code, message } => format!("Agent: TAM reported {code:?}: {}", message.unwrap_or_default()),
            AgentEvent::Refused { code, reason } => format!("Agent: answering with Error {code:?}: {reason}"),
            AgentEvent::Sent { message } => format!("Agent: sending {message}"),
        };
        n.note(&text);
    }
}

fn session(n: &mut Narrator, runner: &mut AgentRunner<TeeDevice>, uri: &str) -> anyhow::Result<()> {
    let mut exchanges = Vec::new();
    let transport = HttpTransport::new(&HttpConfig::default())?;
    let report = Broker::new(transport)
        .with_retry(RetryPolicy::once())
        .with_dump(|x| exchanges.push(x.clone()))
        .session(runner, uri, None);
    // Print exchanges interleaved with what the Agent did in between.
    let mut evs = std::mem::take(&mut runner.events);
    for x in &exchanges {
        n.exchange(x);
        if !x.response_body.is_empty() {
            // The events up to and including the next "Sent" belong to this TAM message.
            let cut = evs
                .iter()
                .position(|e| matches!(e, AgentEvent::Sent { .. }))
                .map(|i| i + 1)
                .unwrap_or(evs.len());
            let mut now: Vec<AgentEvent> = evs.drain(..cut).collect();
            events(n, &mut now);
        }
    }
    events(n, &mut evs);
    let report = report.context("TEEP session")?;
    n.note(&format!(
        "session finished after {} round trips",
        report.round_trips
    ));
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let dir = WorkDir::new(args.keep)?;
    let mut n = Narrator {
        step: 0,
        quiet: args.quiet,
    };
    println!(
        "teep demo: a TAM installs the `hello` Trusted Application on a device over TEEP, the"
    );
    println!(
        "device runs it, then asks for its removal. Working directory: {}",
        dir.path.display()
    );

    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;

    n.step("Start a TAM (SQLite database, open enrollment) on a free loopback port");
    let config = teep_tam::Config {
        data: dir.path.join("tam"),
        listen: "127.0.0.1:0".parse()?,
        enroll: teep_tam::Enroll::Open,
        ..Default::default()
    };
    let state = rt
        .block_on(teep_tam::server::AppState::open(config))
        .context("opening the TAM")?;
    let tam_keys: Vec<teep_cose::PublicKey> = state
        .core
        .signers()
        .iter()
        .map(|s| s.public_key())
        .collect();
    for s in state.core.signers() {
        n.note(&format!(
            "TAM key {} kid {}",
            s.algorithm().name(),
            hex::encode(s.kid())
        ));
    }
    let tc_signer_key = teep_cose::Signer::public_key(&state.tc_signer);

    n.step("Add the `hello` TA to the catalog: a WebAssembly module in a SUIT manifest signed by the TC Signer");
    let now = teep_tam::server::now_ms();
    let record = rt
        .block_on(teep_tam::ops::add_ta(
            &state.store,
            &state.tc_signer,
            "hello",
            teep_tee::examples::HELLO_WASM,
            now,
        ))
        .context("adding hello to the catalog")?;
    let hello = TcId::parse("hello")?;
    n.note(&format!(
        "hello: {} bytes of Wasm, component id {hello}, sequence {}",
        teep_tee::examples::HELLO_WASM.len(),
        record.sequence
    ));
    let (addr, handle) = rt
        .block_on(teep_tam::server::spawn_with_state(state.clone()))
        .context("starting the TAM")?;
    let path = if args.legacy { "/tam/legacy" } else { "/tam" };
    let uri = format!("http://{addr}{path}");
    n.note(&format!("TAM listening at {uri}"));

    n.step("Start the device: software TEE (sealed storage, device keys made on first start), Agent and Broker");
    let tee: Arc<dyn Tee> =
        Arc::new(SoftwareTee::open(dir.path.join("device")).context("opening the software TEE")?);
    let signer = tee.teep_signer();
    n.note(&format!(
        "device TEEP key {} kid {}",
        signer.algorithm().name(),
        hex::encode(signer.kid())
    ));
    n.note(&format!("ueid {}", hex::encode(tee.identity().ueid)));
    for k in &tam_keys {
        tee.add_trust_anchor(TrustAnchorKind::Tam, k)?;
    }
    tee.add_trust_anchor(TrustAnchorKind::TcSigner, &tc_signer_key)?;
    n.note(&format!(
        "trust anchors: {} TAM key(s), 1 TC Signer key",
        tam_keys.len()
    ));
    let config = AgentConfig {
        tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam)?,
        tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner)?,
        require_tam_attestation: false,
        ..Default::default()
    };
    let mut agent_state = AgentState::default();
    agent_state.add_tam(&uri);
    let mut runner = AgentRunner::new(config, agent_state, TeeDevice::new(tee.clone()));

    n.step(
        "An application asks for `hello` (RequestTA); the Broker opens a TEEP session with the TAM",
    );
    runner.state.request(&hello, &[]);
    session(&mut n, &mut runner, &uri)?;
    let installed = tee.list_components()?;
    if !installed.iter().any(|c| c.id == hello.0) {
        bail!("hello is not installed after the session");
    }

    n.step("Invoke the installed TA in the software TEE (open session, invoke, close)");
    let answer = tee
        .invoke_once(&hello.0, 0, b"")
        .context("invoking hello")?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    println!("\n   >>> {text}\n");
    if text != teep_tee::examples::HELLO_ANSWER {
        bail!("hello answered {text:?}");
    }

    n.step("The application no longer needs `hello` (UnrequestTA); a new session removes it");
    runner.state.unrequest(&hello);
    session(&mut n, &mut runner, &uri)?;
    let left = tee.list_components()?;
    if left.iter().any(|c| c.id == hello.0) {
        bail!("hello is still installed after the unrequest session");
    }
    n.note(&format!("installed components now: {}", left.len()));
    match tee.invoke_once(&hello.0, 0, b"") {
        Err(e) => n.note(&format!("invoking hello again: {e}")),
        Ok(_) => bail!("hello still runs after deletion"),
    }

    rt.block_on(handle.shutdown());
    if args.keep {
        println!("\nKept {}", Path::new(&dir.path).display());
    }
    println!(
        "\nDone in {:.2} s: installed, ran and deleted a Trusted Application over TEEP.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
