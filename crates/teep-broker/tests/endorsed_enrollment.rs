//! The real Agent on a provisioned software TEE enrolls under open enrollment (RFC 9360
//! x5chain, RFC 9334 Endorser, draft-ietf-teep-protocol-26 §7.1.1): its Evidence is signed
//! by the attestation key a manufacturer's line CA certified, the TAM validates the chain to
//! the root it trusts and installs the assigned TA; the same device before provisioning, or
//! endorsed by a CA the TAM does not trust, gets ERR_ATTESTATION_REQUIRED and nothing.

use std::path::Path;
use std::sync::Arc;

use teep_agent::agent::{AgentConfig, AgentEvent};
use teep_agent::state::AgentState;
use teep_broker::broker::{Broker, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::runner::AgentRunner;
use teep_cose::KeyType;
use teep_proto::ErrorCode;
use teep_tee::endorsement::{cert_to_pem, CertOptions, CertificateAuthority};
use teep_tee::examples::{HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

fn now_s() -> i64 {
    teep_tam::server::now_ms() / 1000
}

/// A manufacturer: its root (for the TAM) and a production-line CA under it.
fn maker(name: &str) -> (CertificateAuthority, CertificateAuthority) {
    let root = CertificateAuthority::create_root(
        KeyType::P256,
        &CertOptions::valid_for(&format!("{name} Root"), now_s(), 3650),
    )
    .unwrap();
    let line = root
        .create_intermediate(
            KeyType::P256,
            &CertOptions::valid_for(&format!("{name} Line"), now_s(), 3650),
        )
        .unwrap();
    (root, line)
}

/// One session of a device in `dir` with the TAM; returns the Agent's events.
fn session(dir: &Path, state: &teep_tam::server::AppState, uri: &str) -> Vec<AgentEvent> {
    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
    for s in state.core.signers() {
        tee.add_trust_anchor(TrustAnchorKind::Tam, &s.public_key())
            .unwrap();
    }
    let tc_signer = teep_cose::Signer::public_key(&state.tc_signer);
    tee.add_trust_anchor(TrustAnchorKind::TcSigner, &tc_signer)
        .unwrap();
    let config = AgentConfig {
        tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
        tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
        require_tam_attestation: false,
        ..Default::default()
    };
    let mut runner = AgentRunner::new(config, AgentState::default(), TeeDevice::new(tee));
    let transport = HttpTransport::new(&HttpConfig::default()).unwrap();
    let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
    let _ = broker.session(&mut runner, uri, None);
    std::mem::take(&mut runner.events)
}

fn refused(events: &[AgentEvent]) -> Option<String> {
    events.iter().find_map(|e| match e {
        AgentEvent::TamReportedError {
            code: ErrorCode::AttestationRequired,
            message,
            ..
        } => Some(message.clone().unwrap_or_default()),
        _ => None,
    })
}

/// Gives the TEE in `dir` an attestation key endorsed by `ca`.
fn provision(dir: &Path, ca: &CertificateAuthority) {
    let tee = SoftwareTee::open(dir).unwrap();
    let key = tee.attestation_public_key(KeyType::P256).unwrap();
    let chain = ca
        .issue_device(&key, &CertOptions::valid_for("device", now_s(), 365))
        .unwrap();
    tee.set_attestation_endorsement(&chain).unwrap();
}

#[test]
fn rfc9360_provisioned_agent_enrolls_under_open_enrollment_and_gets_its_ta() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (acme_root, acme_line) = maker("Acme");
    let (_, other_line) = maker("Other");
    let config = teep_tam::Config {
        data: dir.path().join("tam"),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll: teep_tam::Enroll::Open,
        ..Default::default()
    };
    std::fs::create_dir_all(&config.data).unwrap();
    rt.block_on(async {
        let store = teep_tam::Store::open(&config.database_url(), &Default::default())
            .await
            .unwrap();
        let pem = cert_to_pem(acme_root.cert_der());
        teep_tam::endorsers::add(&store, pem.as_bytes(), 0)
            .await
            .unwrap();
    });
    let state = rt
        .block_on(teep_tam::server::AppState::open(config))
        .unwrap();
    let tc = rt
        .block_on(teep_tam::ops::add_ta(
            &state.store,
            &state.tc_signer,
            "hello",
            HELLO_WASM,
            teep_tam::server::now_ms(),
        ))
        .unwrap();
    rt.block_on(
        state
            .store
            .assign(&tc.component_id, &teep_tam::model::Target::All, 0),
    )
    .unwrap();
    let (addr, handle) = rt
        .block_on(teep_tam::server::spawn_with_state(state.clone()))
        .unwrap();
    let uri = format!("http://{addr}/tam");

    // Not provisioned: self-signed Evidence, refused, nothing installed or stored.
    let dev = dir.path().join("dev");
    let events = session(&dev, &state, &uri);
    let why = refused(&events).expect("ERR_ATTESTATION_REQUIRED");
    assert!(why.contains("no x5chain"), "{why}");
    let devices = rt.block_on(state.store.list_devices(10)).unwrap();
    assert!(devices.is_empty(), "nothing stored for a refused device");

    // Endorsed by a maker the TAM does not trust: refused.
    let stranger = dir.path().join("stranger");
    provision(&stranger, &other_line);
    let why = refused(&session(&stranger, &state, &uri)).expect("ERR_ATTESTATION_REQUIRED");
    assert!(
        why.contains("does not chain to a trusted endorsement root"),
        "{why}"
    );

    // Endorsed by Acme's line: enrolled, hello installed and running.
    provision(&dev, &acme_line);
    let events = session(&dev, &state, &uri);
    assert!(refused(&events).is_none(), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Installed { .. })),
        "{events:?}"
    );
    let tee = SoftwareTee::open(&dev).unwrap();
    let installed = tee.list_components().unwrap();
    assert_eq!(installed.len(), 1, "hello, and nothing else");
    let answer = tee.invoke_once(&installed[0].id, 0, b"").unwrap();
    assert_eq!(answer, HELLO_ANSWER.as_bytes());
    let devices = rt.block_on(state.store.list_devices(10)).unwrap();
    assert_eq!(devices.len(), 1);
    rt.block_on(handle.shutdown());
}
