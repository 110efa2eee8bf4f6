//! `teep check agent`: the checker acts as a TAM. It serves TEEP over HTTP on loopback (or
//! `--listen ADDR`) and, per case of [`CATALOG`], has the agent open sessions with it: by
//! running the agent's command line once per session (a fresh state directory per case), by
//! a function (an agent in the same process), or by waiting for the agent to connect. State
//! after a refused change is read back through the protocol only: a QueryRequest for the
//! tc-list.

mod catalog;
mod judge;
mod script;
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use teep_cbor::Tolerance;
use teep_cose::{PrivateKey, PublicKey};
use teep_proto::view::view_message;

pub use catalog::*;
use script::{Keys, Plan};
use server::{header, Server, SessionLog};

use crate::{CaseResult, Evidence, Report, Verdict};

/// One session the agent is asked to open with the checker.
pub struct AgentRun<'a> {
    /// The checker's TAM URI.
    pub url: &'a str,
    /// The agent's state directory for this case (fresh per case, kept across its sessions).
    pub dir: &'a Path,
    /// Files holding the public keys the agent must trust (SubjectPublicKeyInfo PEM).
    pub tam_key: &'a Path,
    pub tc_signer_key: &'a Path,
    pub tam_public: &'a PublicKey,
    pub tc_signer_public: &'a PublicKey,
    /// Time allowed for the session.
    pub timeout: Duration,
}

/// An in-process agent: opens one session as described and returns when it ended.
pub type RunFn = Box<dyn FnMut(&AgentRun) -> Result<(), String> + Send>;

/// Told the TAM URI and the files of the TAM and TC signer public keys once the TAM listens.
pub type OnReady = Box<dyn FnOnce(&str, &Path, &Path)>;

/// How the agent is brought to open sessions.
pub enum Launch {
    /// A command line, split at spaces, each word with `{url}`, `{dir}`, `{tam_key}` and
    /// `{signer_key}` substituted; run once per session.
    Command(String),
    /// Waits for the agent to connect to the listening address: one case per sequence of
    /// sessions (the agent must trust the keys written to the key directory).
    Listen,
    /// A function running one session.
    Function(RunFn),
}

/// What to check and how.
pub struct AgentTarget {
    pub launch: Launch,
    /// Where the checker's TAM listens; `127.0.0.1:0` picks a free port.
    pub listen: String,
    /// Time allowed for each session.
    pub timeout: Duration,
    /// The TAM and TC signer keys; `None`: fresh P-256 keys.
    pub tam_key: Option<PrivateKey>,
    pub tc_signer_key: Option<PrivateKey>,
    /// Where the public keys are written (`tam.pub.pem`, `tc-signer.pub.pem`); `None`: a
    /// temporary directory.
    pub key_dir: Option<PathBuf>,
    /// Called once the TAM listens, with its URI and the key files (for `--listen`).
    pub on_ready: Option<OnReady>,
    /// Only the cases whose id starts with one of these (all when empty).
    pub only: Vec<String>,
}

impl AgentTarget {
    pub fn new(launch: Launch) -> AgentTarget {
        AgentTarget {
            launch,
            listen: "127.0.0.1:0".into(),
            timeout: Duration::from_secs(30),
            tam_key: None,
            tc_signer_key: None,
            key_dir: None,
            on_ready: None,
            only: Vec::new(),
        }
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> std::io::Result<TempDir> {
        let r: [u8; 8] = script::random();
        let p = std::env::temp_dir().join(format!("teep-check-{tag}-{}", hex::encode(r)));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs every case against the agent. An `Err` is a setup failure (the address does not bind,
/// a key file cannot be written), not a verdict.
pub fn check_agent(mut target: AgentTarget) -> Result<Report, String> {
    let keys = Keys::new(target.tam_key.take(), target.tc_signer_key.take());
    let work = TempDir::new("agent").map_err(|e| format!("temporary directory: {e}"))?;
    let key_dir = target
        .key_dir
        .clone()
        .unwrap_or_else(|| work.0.join("keys"));
    std::fs::create_dir_all(&key_dir).map_err(|e| format!("{}: {e}", key_dir.display()))?;
    let tam_key = key_dir.join("tam.pub.pem");
    let tc_signer_key = key_dir.join("tc-signer.pub.pem");
    for (path, key) in [
        (&tam_key, keys.tam_public()),
        (&tc_signer_key, keys.tc_signer_public()),
    ] {
        std::fs::write(path, key.to_spki_pem()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let server = Server::start(&target.listen)
        .map_err(|e| format!("listening on {}: {e}", target.listen))?;
    if let Some(f) = target.on_ready.take() {
        f(&server.url, &tam_key, &tc_signer_key);
    }
    let (tam_public, tc_signer_public) = (keys.tam_public(), keys.tc_signer_public());
    let mut results = Vec::new();
    for (n, case) in CATALOG.iter().enumerate() {
        if !target.only.is_empty() && !target.only.iter().any(|p| case.id.starts_with(p.as_str())) {
            continue;
        }
        let plan = match script::plan(case.id, &keys) {
            Ok(p) => p,
            Err(e) => {
                results.push(CaseResult {
                    case: *case,
                    verdict: Verdict::fail(e),
                    evidence: Vec::new(),
                });
                continue;
            }
        };
        let case_dir = work.0.join(format!("case-{n:02}"));
        let state = case_dir.join("state");
        let _ = std::fs::create_dir_all(&state);
        server.script(plan.sessions.clone());
        let mut notes = Vec::new();
        let run = AgentRun {
            url: &server.url,
            dir: &state,
            tam_key: &tam_key,
            tc_signer_key: &tc_signer_key,
            tam_public: &tam_public,
            tc_signer_public: &tc_signer_public,
            timeout: target.timeout,
        };
        play(&mut target, &server, &plan, &run, &case_dir, &mut notes);
        let logs = server.take();
        let verdict = judge::judge(case.id, &plan, &logs);
        let mut evidence = evidence(&plan, &logs);
        if verdict != Verdict::Pass {
            evidence.extend(notes);
        }
        results.push(CaseResult {
            case: *case,
            verdict,
            evidence,
        });
        let _ = std::fs::remove_dir_all(&case_dir);
    }
    let target_name = match &target.launch {
        Launch::Command(c) => format!("agent: {c}"),
        Launch::Listen => format!("agent connecting to {}", server.url),
        Launch::Function(_) => "agent (in process)".to_string(),
    };
    Ok(Report {
        target: target_name,
        results,
    })
}

/// Has the agent open the case's sessions; what went wrong running it goes to `notes`.
fn play(
    target: &mut AgentTarget,
    server: &Server,
    plan: &Plan,
    run: &AgentRun,
    case_dir: &Path,
    notes: &mut Vec<Evidence>,
) {
    let sessions = plan.sessions.len();
    match &mut target.launch {
        Launch::Listen => {
            let deadline = Instant::now() + run.timeout * sessions as u32;
            while !server.done() && Instant::now() < deadline {
                server.wait(deadline.saturating_duration_since(Instant::now()));
            }
        }
        Launch::Function(f) => {
            for _ in 0..sessions {
                if let Err(e) = f(run) {
                    notes.push(note(format!("the agent's run ended with: {e}")));
                }
            }
        }
        Launch::Command(template) => {
            for i in 0..sessions {
                let log = case_dir.join(format!("agent-{i}.log"));
                if let Err(e) = run_command(template, run, &log) {
                    notes.push(note(e));
                }
                if let Ok(text) = std::fs::read_to_string(&log) {
                    let tail: Vec<&str> = text.lines().rev().take(5).collect();
                    for line in tail.into_iter().rev() {
                        notes.push(note(format!("agent output: {line}")));
                    }
                }
            }
        }
    }
}

fn note(text: String) -> Evidence {
    Evidence {
        direction: "agent",
        http: text,
        summary: None,
        message: None,
    }
}

/// Runs the agent's command once, killing it when it overruns the session's time.
fn run_command(template: &str, run: &AgentRun, log: &Path) -> Result<(), String> {
    let words: Vec<String> = template
        .split_whitespace()
        .map(|w| {
            w.replace("{url}", run.url)
                .replace("{dir}", &run.dir.to_string_lossy())
                .replace("{tam_key}", &run.tam_key.to_string_lossy())
                .replace("{signer_key}", &run.tc_signer_key.to_string_lossy())
        })
        .collect();
    let (program, args) = words.split_first().ok_or("the agent command is empty")?;
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("running {program}: {e}"))?;
    let deadline = Instant::now() + run.timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("the agent command exited with {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the agent command was stopped after {} s",
                    run.timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The messages of a case, decoded by name: per session, the empty POST, then each message
/// the checker sent and the agent's answer.
fn evidence(plan: &Plan, logs: &[SessionLog]) -> Vec<Evidence> {
    let mut out = Vec::new();
    for (s, steps) in plan.sessions.iter().enumerate() {
        let Some(log) = logs.get(s) else {
            out.push(note(format!(
                "session {}: the agent did not connect",
                s + 1
            )));
            break;
        };
        out.push(Evidence {
            direction: "agent → checker",
            http: format!(
                "POST (empty body), Accept: {}",
                header(&log.opening_headers, "accept").unwrap_or("(none)")
            ),
            summary: None,
            message: None,
        });
        for (i, step) in steps.iter().enumerate() {
            out.push(decoded("checker → agent", step.what.clone(), &step.body));
            match log.answers.get(i).cloned().flatten() {
                Some(r) => {
                    let http = format!(
                        "POST, Content-Type: {}, {} bytes",
                        r.header("content-type").unwrap_or("(none)"),
                        r.body.len()
                    );
                    out.push(decoded("agent → checker", http, &r.body));
                }
                None => {
                    out.push(note("no answer".into()));
                    break;
                }
            }
        }
    }
    out
}

fn decoded(direction: &'static str, http: String, body: &[u8]) -> Evidence {
    let view = view_message(body, None, Tolerance::Tolerant).ok();
    Evidence {
        direction,
        http,
        summary: view.as_ref().map(|v| v.summary()),
        message: view.as_ref().map(|v| v.json()),
    }
}
