//! `teep demo`: the whole TEEP flow in one process, narrated.
//!
//! A device manufacturer's CA endorses the device's attestation key (an X.509 chain the
//! Agent sends in its Evidence's `x5chain`), a TAM (SQLite, open enrollment trusting that
//! CA's root) on a free loopback port, the `hello` TA in its catalog, a device with the
//! software TEE, the Agent and the Broker speaking real HTTP to the TAM: the
//! device asks for `hello`, gets it installed, runs it, then gives it up and sees it deleted.
//! By default a line per step and one per TEEP message (its direction and summary, as the
//! dumps show them), so the whole flow fits on a screen; `--verbose` shows each message in
//! full, every field named.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use teep_agent::agent::{AgentConfig, AgentEvent};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{Broker, Exchange, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::dump;
use teep_broker::runner::AgentRunner;
use teep_cbor::ComponentId;
use teep_proto::view;
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

#[derive(clap::Args)]
pub struct Args {
    /// Keep the temporary directory (TAM database, device state) and print its path.
    #[arg(long)]
    keep: bool,
    /// Print only the narration, not the messages.
    #[arg(long, conflicts_with = "verbose")]
    quiet: bool,
    /// Print each message in full, every field named, and everything the Agent did.
    #[arg(long, short)]
    verbose: bool,
    /// Speak the legacy numbering (drafts -20…-25) with the TAM instead of draft -26.
    #[arg(long)]
    legacy: bool,
}

/// The log filter when `TEEP_LOG` is not set: the narration tells the story, so the TAM's and
/// the Broker's warnings (open enrollment, a new device) would only repeat it; errors still
/// show.
pub const LOG_FILTER: &str = "error";

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

/// How much of each message the narration shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// The narration only.
    None,
    /// A line of direction and summary per message.
    Summary,
    /// Each message in full, named, and every Agent event.
    Full,
}

struct Narrator {
    step: usize,
    detail: Detail,
    /// The component ids of the TA and of its manifest, and the short names the narration
    /// gives them (the summaries would show each as a component id).
    names: Vec<(ComponentId, &'static str)>,
}

impl Narrator {
    /// The short name of a component id, or its text form.
    fn name(&self, id: ComponentId) -> String {
        match self.names.iter().find(|(c, _)| *c == id) {
            Some((_, name)) => format!("`{name}`"),
            None => TcId(id).to_string(),
        }
    }

    /// A summary line with the known component ids shortened to their names.
    fn named(&self, line: String) -> String {
        self.names.iter().fold(line, |line, (id, name)| {
            line.replace(&view::short_component_id(id), name)
        })
    }

    fn step(&mut self, text: &str) {
        self.step += 1;
        println!("{}. {text}", self.step);
    }

    fn note(&self, text: &str) {
        println!("   {text}");
    }

    /// A note shown only with `--verbose`.
    fn detail(&self, text: &str) {
        if self.detail == Detail::Full {
            self.note(text);
        }
    }

    /// The exchange as the session view shows it: a line per direction, and with
    /// `--verbose` each message in full under its line.
    fn exchange(&self, x: &Exchange) {
        if self.detail == Detail::None {
            return;
        }
        println!(
            "     {}  {}",
            dump::REQUEST,
            self.named(dump::request_line(x))
        );
        self.message(&x.request_body, x);
        println!(
            "     {}  {}",
            dump::RESPONSE,
            self.named(dump::response_line(x))
        );
        self.message(&x.response_body, x);
    }

    fn message(&self, bytes: &[u8], x: &Exchange) {
        if self.detail != Detail::Full || bytes.is_empty() {
            return;
        }
        let text = match dump::view(bytes, x.tam_numbering) {
            Some(v) => serde_json::to_string_pretty(&v.json()).unwrap_or_default(),
            None => String::from_utf8_lossy(bytes).into_owned(),
        };
        for line in text.lines() {
            println!("       {line}");
        }
    }
}

/// What the Agent did; the outcomes (installed, removed, failed) always, the rest with
/// `--verbose`.
fn events(n: &Narrator, events: &mut Vec<AgentEvent>) {
    for e in events.drain(..) {
        let (text, outcome) = match e {
            AgentEvent::TamVerified { kid, algorithm, numbering } => (format!(
                "Agent: TAM signature verified (alg {algorithm}, trust anchor kid {}…), {numbering:?} numbering",
                &hex::encode(kid)[..16]
            ), false),
            AgentEvent::Received { message } => (format!("Agent: received {message}"), false),
            AgentEvent::TamAttested { verifier_kid } => (format!(
                "Agent: TAM attestation verified (Attestation Result of Verifier kid {}…)",
                &hex::encode(verifier_kid)[..16]
            ), false),
            AgentEvent::EvidenceProduced { nonce } => {
                (format!("Agent: Evidence (EAT) signed by the endorsed attestation key, eat_nonce = challenge {}…", &hex::encode(&nonce)[..16.min(nonce.len() * 2)]), false)
            }
            AgentEvent::Unlinked { manifest_id, found } => {
                (format!("Agent: manifest {} {}", n.name(manifest_id), if found { "unlinked and its component removed" } else { "unlinked (was not installed)" }), true)
            }
            AgentEvent::Installed { manifest_id, sequence_number } => {
                (format!("Agent: manifest {} (sequence {sequence_number}) verified and installed", n.name(manifest_id)), true)
            }
            AgentEvent::ManifestFailed { reason } => (format!("Agent: manifest failed: {reason}"), true),
            AgentEvent::TamReportedError { code, message, lang } => (format!("Agent: TAM reported {code:?}: {}{}", message.unwrap_or_default(), lang.map(|l| format!(" [{l}]")).unwrap_or_default()), true),
            AgentEvent::Refused { code, reason } => (format!("Agent: answering with Error {code:?}: {reason}"), true),
            AgentEvent::Sent { message } => (format!("Agent: sending {message}"), false),
        };
        if outcome && n.detail != Detail::None || n.detail == Detail::Full {
            n.note(&format!("  {text}"));
        }
    }
}

/// A root CA and a production-line CA under it; the line certifies the device's attestation
/// key and the TEE keeps the chain. Returns the root, PEM, for the TAM.
fn endorse_device(n: &Narrator, tee: &SoftwareTee) -> anyhow::Result<String> {
    use teep_tee::endorsement::{cert_to_pem, CertOptions, CertificateAuthority};
    let now = teep_tam::server::now_ms() / 1000;
    let root = CertificateAuthority::create_root(
        teep_cose::KeyType::P256,
        &CertOptions::valid_for("Demo Maker Root CA", now, 3650),
    )?;
    let line = root.create_intermediate(
        teep_cose::KeyType::P256,
        &CertOptions::valid_for("Demo Maker Line CA", now, 3650),
    )?;
    let key = tee.attestation_public_key(teep_cose::KeyType::P256)?;
    let chain = line.issue_device(&key, &CertOptions::valid_for("demo device", now, 365))?;
    tee.set_attestation_endorsement(&chain)?;
    n.note("x5chain: device certificate <- Demo Maker Line CA; the TAM trusts Demo Maker Root CA");
    n.detail(&format!(
        "attestation key kid {} (apart from the TEEP key)",
        hex::encode(key.thumbprint())
    ));
    Ok(cert_to_pem(root.cert_der()))
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
    n.detail(&format!(
        "session finished after {} round trips",
        report.round_trips
    ));
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let dir = WorkDir::new(args.keep)?;
    let detail = match (args.quiet, args.verbose) {
        (true, _) => Detail::None,
        (_, true) => Detail::Full,
        _ => Detail::Summary,
    };
    let hello = TcId::parse("hello")?;
    let mut n = Narrator {
        step: 0,
        detail,
        names: Vec::new(),
    };
    println!(
        "teep demo: a TAM installs the `hello` Trusted Application on a device over TEEP; the"
    );
    println!("device runs it, then asks for its removal.");
    n.detail(&format!("working directory: {}", dir.path.display()));

    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;

    n.step("Manufacturing: the maker's CA certifies the device's attestation key");
    let tee =
        Arc::new(SoftwareTee::open(dir.path.join("device")).context("opening the software TEE")?);
    let root_pem = endorse_device(&n, &tee)?;

    n.step("Starting a TAM (SQLite database, open enrollment trusting the maker's root CA)");
    let config = teep_tam::Config {
        data: dir.path.join("tam"),
        listen: "127.0.0.1:0".parse()?,
        enroll: teep_tam::Enroll::Open,
        ..Default::default()
    };
    std::fs::create_dir_all(&config.data).context("creating the TAM's directory")?;
    rt.block_on(async {
        let store = teep_tam::Store::open(&config.database_url(), &Default::default()).await?;
        teep_tam::endorsers::add(&store, root_pem.as_bytes(), teep_tam::server::now_ms()).await?;
        anyhow::Ok(())
    })
    .context("trusting the maker's root")?;
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
        n.detail(&format!(
            "TAM key {} kid {}",
            s.algorithm().name(),
            hex::encode(s.kid())
        ));
    }
    let tc_signer_key = teep_cose::Signer::public_key(&state.tc_signer);

    n.step("Uploading the `hello` TA: WebAssembly in a SUIT manifest signed by the TC Signer");
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
    n.detail(&format!(
        "hello: {} bytes of Wasm, component id {hello}, sequence {}",
        teep_tee::examples::HELLO_WASM.len(),
        record.sequence
    ));
    n.names.push((hello.0.clone(), "hello"));
    if let Some(m) = record.manifest_component_id.as_deref() {
        let m = ComponentId::decode(m).context("the manifest's component id")?;
        n.note(&format!(
            "shown below as hello: {}, and hello-manifest: {}",
            view::short_component_id(&hello.0),
            view::short_component_id(&m)
        ));
        n.names.push((m, "hello-manifest"));
    }
    let (addr, handle) = rt
        .block_on(teep_tam::server::spawn_with_state(state.clone()))
        .context("starting the TAM")?;
    let path = if args.legacy { "/tam/legacy" } else { "/tam" };
    let uri = format!("http://{addr}{path}");
    n.note(&format!("TAM listening at {uri}"));

    n.step(
        "Starting the device: software TEE, Agent and Broker, trusting the TAM and the TC Signer",
    );
    let tee: Arc<dyn Tee> = tee;
    let signer = tee.teep_signer();
    n.detail(&format!(
        "device TEEP key {} kid {}",
        signer.algorithm().name(),
        hex::encode(signer.kid())
    ));
    n.detail(&format!("ueid {}", hex::encode(tee.identity().ueid)));
    for k in &tam_keys {
        tee.add_trust_anchor(TrustAnchorKind::Tam, k)?;
    }
    tee.add_trust_anchor(TrustAnchorKind::TcSigner, &tc_signer_key)?;
    n.detail(&format!(
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

    n.step("The device asks for `hello` (RequestTA); the Broker opens a TEEP session");
    runner.state.request(&hello, &[]);
    session(&mut n, &mut runner, &uri)?;
    let installed = tee.list_components()?;
    if !installed.iter().any(|c| c.id == hello.0) {
        bail!("hello is not installed after the session");
    }

    n.step("Running `hello` in the TEE");
    let answer = tee
        .invoke_once(&hello.0, 0, b"")
        .context("invoking hello")?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    n.note(&format!(">>> {text}"));
    if text != teep_tee::examples::HELLO_ANSWER {
        bail!("hello answered {text:?}");
    }

    n.step("The device no longer needs `hello` (UnrequestTA); a new session deletes it");
    runner.state.unrequest(&hello);
    session(&mut n, &mut runner, &uri)?;
    let left = tee.list_components()?;
    if left.iter().any(|c| c.id == hello.0) {
        bail!("hello is still installed after the unrequest session");
    }
    match tee.invoke_once(&hello.0, 0, b"") {
        Err(e) => {
            n.note(&format!(
                "`hello` deleted: {} components installed, invoking it fails",
                left.len()
            ));
            n.detail(&format!("invoking hello: {e}"));
        }
        Ok(_) => bail!("hello still runs after deletion"),
    }

    rt.block_on(handle.shutdown());
    if args.keep {
        println!("Kept {}", Path::new(&dir.path).display());
    }
    println!(
        "Done in {:.2} s: installed, ran and deleted a Trusted Application over TEEP.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
