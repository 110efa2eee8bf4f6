//! teep's agent as `teep agent run --tam URL --state DIR --tam-key K --tc-signer-key S` runs
//! it, for the agent checker's tests: the software TEE and `agent.json` in the case's state
//! directory, one session per run.

use std::sync::Arc;

use teep_agent::agent::AgentConfig;
use teep_broker::broker::{Broker, HttpConfig, HttpTransport, RetryPolicy, Transport};
use teep_broker::device::TeeDevice;
use teep_broker::runner::AgentRunner;
use teep_broker::state_file::{load_state, save_state};
use teep_check::agent::AgentRun;
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

/// One session of teep's agent with the checker, its state kept in `run.dir`, over the HTTP
/// transport as `wrap` makes it (given the TEE, for tests that sign as the agent).
pub fn session_with<T: Transport>(
    run: &AgentRun,
    wrap: impl FnOnce(HttpTransport, &Arc<dyn Tee>) -> T,
) -> Result<(), String> {
    let s = |e: &dyn std::fmt::Display| e.to_string();
    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(run.dir.join("tee")).map_err(|e| s(&e))?);
    tee.add_trust_anchor(TrustAnchorKind::Tam, run.tam_public)
        .map_err(|e| s(&e))?;
    tee.add_trust_anchor(TrustAnchorKind::TcSigner, run.tc_signer_public)
        .map_err(|e| s(&e))?;
    let state_path = run.dir.join("agent.json");
    let state = load_state(&state_path).map_err(|e| s(&e))?;
    let config = AgentConfig {
        tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).map_err(|e| s(&e))?,
        tc_signer_trust_anchors: tee
            .trust_anchors(TrustAnchorKind::TcSigner)
            .map_err(|e| s(&e))?,
        require_tam_attestation: false,
        ..Default::default()
    };
    let inner = HttpTransport::new(&HttpConfig {
        timeout: run.timeout,
        ..HttpConfig::default()
    })
    .map_err(|e| s(&e))?;
    let transport = wrap(inner, &tee);
    let mut runner = AgentRunner::new(config, state, TeeDevice::new(tee));
    let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
    let result = broker.session(&mut runner, run.url, None);
    save_state(&runner.state, &state_path).map_err(|e| s(&e))?;
    result.map(|_| ()).map_err(|e| s(&e))
}
