//! The agent as a process: its runner over the software TEE, rounds of sessions with the TAMs,
//! and the local API requests it answers (or applies directly when no agent runs).

use std::path::{Path, PathBuf};

use teep_agent::agent::AgentConfig;
use teep_broker::broker::{Broker, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::fetch::HttpFetcher;
use teep_broker::local_api::{self, LocalRequest, LocalResponse};
use teep_broker::runner::AgentRunner;
use teep_broker::state_file::{
    load_state, load_state_sealed, save_state, save_state_sealed, tam_verifier_keys,
};
use teep_tee::TrustAnchorKind;

use super::{create_state_dir, open_tee, socket_path, state_file, status, SessionOpts};

pub struct Daemon {
    dir: PathBuf,
    runner: AgentRunner<TeeDevice>,
    http: HttpConfig,
    retry: RetryPolicy,
    opts: SessionOpts,
}

impl Daemon {
    pub fn open(
        dir: &Path,
        require_tam_attestation: bool,
        http: HttpConfig,
        retry: RetryPolicy,
        opts: SessionOpts,
    ) -> anyhow::Result<Self> {
        let tee = open_tee(dir)?;
        let mut state = load_state_sealed(&state_file(dir), tee.as_ref())?;
        state.require_tam_attestation |= require_tam_attestation;
        let config = AgentConfig {
            tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam)?,
            tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner)?,
            require_tam_attestation: state.require_tam_attestation,
            tam_verifier_keys: tam_verifier_keys(&state, &state_file(dir))?,
            tolerance: opts.tolerance(),
            encrypt_to_tam: opts.encryption(),
        };
        let fetcher = HttpFetcher::new(opts.fetch_config(http.ca_pem.clone()))?;
        let device = TeeDevice::new(tee).with_fetcher(Box::new(fetcher));
        let runner = AgentRunner::new(config, state, device);
        Ok(Daemon {
            dir: dir.to_path_buf(),
            runner,
            http,
            retry,
            opts,
        })
    }

    /// One session with each of `targets` (every known TAM without); returns how many failed.
    /// A TAM that fails does not keep the others from being contacted.
    pub fn policy_check(&mut self, targets: Option<Vec<String>>) -> anyhow::Result<usize> {
        let uris = targets.unwrap_or_else(|| self.runner.state.all_tam_uris());
        if uris.is_empty() {
            anyhow::bail!("no TAM URI known: pass --tam URL or use `teep agent tam add URL`");
        }
        if self.runner.config.tam_trust_anchors.is_empty() {
            anyhow::bail!("no TAM trust anchor: pass --tam-key FILE once");
        }
        let transport = HttpTransport::new(&self.http)?;
        let dump = self.opts.dump;
        let tolerance = self.opts.tolerance();
        let mut broker = Broker::new(transport)
            .with_retry(self.retry.clone())
            .with_tolerance(tolerance)
            .with_dump(move |x| {
                if dump {
                    print!("{}", teep_broker::dump::render(x));
                }
            });
        let results = self.runner.sessions(&mut broker, &uris);
        for e in self.runner.events.drain(..) {
            tracing::info!(event = ?e, "agent");
        }
        let mut failed = 0;
        for (uri, r) in results {
            match r {
                Ok(rep) => {
                    let codes: Vec<&str> = rep.deviations.iter().map(|d| d.code()).collect();
                    let tolerated = if codes.is_empty() {
                        String::new()
                    } else {
                        format!("; tolerated: {}", codes.join(", "))
                    };
                    println!(
                        "{uri}: session done ({} round trips{tolerated})",
                        rep.round_trips
                    );
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("{uri}: session failed: {e}");
                }
            }
        }
        self.save()?;
        Ok(failed)
    }

    /// The state file, with undelivered SUIT reports sealed in the TEE.
    fn save(&self) -> Result<(), teep_broker::state_file::StateError> {
        save_state_sealed(
            &self.runner.state,
            &state_file(&self.dir),
            self.runner.device.tee().as_ref(),
        )
    }

    pub fn handle_local(&mut self, request: LocalRequest) -> LocalResponse {
        if request == LocalRequest::Status {
            let tee = self.runner.device.tee();
            return match status::status_json(tee.as_ref(), &self.runner.state) {
                Ok(v) => LocalResponse {
                    ok: true,
                    message: "status".into(),
                    detail: v,
                },
                Err(e) => LocalResponse::error(format!("{e:#}")),
            };
        }
        let (response, then) = apply(&mut self.runner.state, &request);
        if let Err(e) = self.save() {
            return LocalResponse::error(format!("{e}"));
        }
        if let Then::Sessions(targets) = then {
            match self.policy_check(targets) {
                Ok(0) => {}
                Ok(n) => return LocalResponse::error(format!("{n} TAM session(s) failed")),
                Err(e) => return LocalResponse::error(format!("{e:#}")),
            }
        }
        response
    }
}

/// What follows a local request once applied.
enum Then {
    Done,
    /// A round of sessions with these TAMs (`None`: every known TAM).
    Sessions(Option<Vec<String>>),
}

/// Applies a local request other than status to the state.
fn apply(
    state: &mut teep_agent::state::AgentState,
    request: &LocalRequest,
) -> (LocalResponse, Then) {
    match request {
        LocalRequest::RequestTa { tc, tam_uris } => {
            state.request(tc, tam_uris);
            let targets = (!tam_uris.is_empty()).then(|| tam_uris.clone());
            (
                LocalResponse::ok(format!("requested {tc}")),
                Then::Sessions(targets),
            )
        }
        LocalRequest::UnrequestTa { tc } => {
            state.unrequest(tc);
            (
                LocalResponse::ok(format!("unrequested {tc}")),
                Then::Sessions(None),
            )
        }
        LocalRequest::RequestPolicyCheck => {
            (LocalResponse::ok("policy check done"), Then::Sessions(None))
        }
        LocalRequest::AddTam { uri } => {
            state.add_tam(uri);
            (LocalResponse::ok(format!("added TAM {uri}")), Then::Done)
        }
        LocalRequest::RemoveTam { uri } => {
            let message = if state.remove_tam(uri) {
                format!("removed TAM {uri}")
            } else {
                format!("TAM {uri} was not known")
            };
            (LocalResponse::ok(message), Then::Done)
        }
        LocalRequest::Status => (LocalResponse::error("status changes nothing"), Then::Done),
    }
}

/// Sends the request to the running agent, or applies it here when none runs (then, unless
/// `no_session`, one round of sessions aimed as the request says).
pub fn local_or_direct(
    dir: &Path,
    request: LocalRequest,
    no_session: bool,
    opts: SessionOpts,
) -> anyhow::Result<()> {
    let sock = socket_path(dir);
    if local_api::is_listening(&sock) {
        let answer = local_api::call(&sock, &request)?;
        if !answer.ok {
            anyhow::bail!("agent: {}", answer.message);
        }
        println!("{}", answer.message);
        return Ok(());
    }
    create_state_dir(dir)?;
    let mut st = load_state(&state_file(dir))?;
    let (response, then) = apply(&mut st, &request);
    save_state(&st, &state_file(dir))?;
    println!("{}", response.message);
    let Then::Sessions(targets) = then else {
        return Ok(());
    };
    if no_session || st.all_tam_uris().is_empty() {
        return Ok(());
    }
    let mut daemon = Daemon::open(
        dir,
        false,
        HttpConfig::default(),
        RetryPolicy::default(),
        opts,
    )?;
    let failed = daemon.policy_check(targets)?;
    if failed > 0 {
        anyhow::bail!("{failed} TAM session(s) failed");
    }
    Ok(())
}
