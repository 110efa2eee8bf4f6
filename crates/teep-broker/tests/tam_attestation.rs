//! TAM attestation end to end over HTTP (draft-ietf-teep-protocol-26 §7.1.2, §7.2.1,
//! §7.2.1.1): an Agent that requires TAM attestation refuses a TAM that has none to send, and
//! installs from one that answers its ERR_ATTESTATION_REQUIRED with a QueryRequest carrying
//! an Attestation Result signed by a Verifier key the Agent trusts. Both numberings.

use std::path::Path;
use std::sync::Arc;

use teep_agent::agent::{AgentConfig, AgentEvent};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{Broker, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::runner::AgentRunner;
use teep_cose::{PrivateKey, PublicKey, Signer};
use teep_proto::ErrorCode;
use teep_tee::examples::{HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

struct Tam {
    uri: String,
    legacy_uri: String,
    state: Arc<teep_tam::server::AppState>,
    handle: Option<teep_tam::ServerHandle>,
    rt: tokio::runtime::Runtime,
}

impl Tam {
    /// A TAM of registered devices; with `attestation_key`, it attests itself with it.
    fn start(dir: &Path, attestation_key: Option<&Path>) -> Tam {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let config = teep_tam::Config {
            data: dir.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            enroll: teep_tam::Enroll::Registered,
            tam_attestation_key: attestation_key.map(Path::to_path_buf),
            tam_attestation_claims: teep_tam::config::TamAttestationClaims {
                iss: Some("tam.test".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let state = rt
            .block_on(teep_tam::server::AppState::open(config))
            .unwrap();
        let (addr, handle) = rt
            .block_on(teep_tam::server::spawn_with_state(state.clone()))
            .unwrap();
        Tam {
            uri: format!("http://{addr}/tam"),
            legacy_uri: format!("http://{addr}/tam/legacy"),
            state,
            handle: Some(handle),
            rt,
        }
    }

    fn keys(&self) -> Vec<PublicKey> {
        self.state
            .core
            .signers()
            .iter()
            .map(|s| s.public_key())
            .collect()
    }

    fn add_hello(&self) {
        let now = teep_tam::server::now_ms();
        self.rt
            .block_on(teep_tam::ops::add_ta(
                &self.state.store,
                &self.state.tc_signer,
                "hello",
                HELLO_WASM,
                now,
            ))
            .unwrap();
    }

    fn register(&self, key: &PublicKey) {
        let now = teep_tam::server::now_ms();
        self.rt
            .block_on(teep_tam::ops::add_device(
                &self.state.store,
                key.to_spki_pem().as_bytes(),
                None,
                None,
                &[],
                now,
            ))
            .unwrap();
    }

    fn status_detail(&self, key: &PublicKey) -> Option<String> {
        let kid = hex::encode(key.thumbprint());
        self.rt
            .block_on(teep_tam::ops::find_device(&self.state.store, &kid))
            .unwrap()
            .status_detail
    }
}

impl Drop for Tam {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

struct Device {
    tee: Arc<dyn Tee>,
    runner: AgentRunner<TeeDevice>,
}

impl Device {
    /// A device that trusts `tam`, requires TAM attestation signed by `verifier`, and asks
    /// for the `hello` TA; registered with the TAM.
    fn new(dir: &Path, tam: &Tam, verifier: PublicKey) -> Device {
        let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
        for k in tam.keys() {
            tee.add_trust_anchor(TrustAnchorKind::Tam, &k).unwrap();
        }
        tee.add_trust_anchor(TrustAnchorKind::TcSigner, &tam.state.tc_signer.public_key())
            .unwrap();
        let config = AgentConfig {
            tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
            tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
            require_tam_attestation: true,
            tam_verifier_keys: vec![verifier],
            ..Default::default()
        };
        tam.register(&tee.teep_signer().public_key());
        let mut state = AgentState::default();
        state.request(&TcId::parse("hello").unwrap(), &[]);
        let runner = AgentRunner::new(config, state, TeeDevice::new(tee.clone()));
        Device { tee, runner }
    }

    fn session(&mut self, uri: &str) -> Vec<AgentEvent> {
        let transport = HttpTransport::new(&HttpConfig::default()).unwrap();
        let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
        let r = broker.session(&mut self.runner, uri, None);
        let events = std::mem::take(&mut self.runner.events);
        r.unwrap_or_else(|e| panic!("{e}: {events:?}"));
        events
    }

    fn key(&self) -> PublicKey {
        self.tee.teep_signer().public_key()
    }
}

/// The Verifier key the TAM signs its Attestation Result with, written to `dir`.
fn verifier_key(dir: &Path) -> (std::path::PathBuf, PublicKey) {
    let key = PrivateKey::from_p256_scalar(&[0x5e; 32]).unwrap();
    let path = dir.join("tam-attestation.pem");
    std::fs::write(&path, key.to_pkcs8_pem()).unwrap();
    (path, key.public_key())
}

/// -26 §7.2.1 and §7.1.2 without a source: the Agent demands attestation, the TAM has none to
/// send, the session ends and nothing is installed; the TAM's device status says why.
#[test]
fn handling_a_query_request_tam_without_attestation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, verifier) = verifier_key(dir.path());
    let tam = Tam::start(&dir.path().join("tam"), None);
    tam.add_hello();
    for (i, uri) in [&tam.uri, &tam.legacy_uri].into_iter().enumerate() {
        let mut dev = Device::new(&dir.path().join(format!("dev{i}")), &tam, verifier.clone());
        let events = dev.session(uri);
        assert!(
            events.contains(&AgentEvent::Refused {
                code: ErrorCode::AttestationRequired,
                reason: "this Agent requires TAM attestation".into(),
            }),
            "{uri}: {events:?}"
        );
        assert!(!events
            .iter()
            .any(|e| matches!(e, AgentEvent::Installed { .. })));
        assert!(dev.tee.list_components().unwrap().is_empty());
        let status = tam.status_detail(&dev.key()).unwrap();
        assert!(
            status.contains("tam_attestation_key not configured"),
            "{status}"
        );
    }
}

/// -26 §7.1.2, §7.2.1.1: the TAM answers the Error with a QueryRequest carrying its
/// Attestation Result; the Agent verifies it, answers with a QueryResponse, and installs the
/// TC the TAM then sends.
#[test]
fn handling_an_attestation_result_tam_with_attestation_is_accepted_and_installs() {
    let dir = tempfile::tempdir().unwrap();
    let (path, verifier) = verifier_key(dir.path());
    let tam = Tam::start(&dir.path().join("tam"), Some(&path));
    tam.add_hello();
    for (i, uri) in [&tam.uri, &tam.legacy_uri].into_iter().enumerate() {
        let mut dev = Device::new(&dir.path().join(format!("dev{i}")), &tam, verifier.clone());
        let events = dev.session(uri);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AgentEvent::TamAttested { verifier_kid } if verifier_kid[..] == verifier.thumbprint())),
            "{uri}: {events:?}"
        );
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AgentEvent::Installed { .. })),
            "{uri}: {events:?}"
        );
        let hello = TcId::parse("hello").unwrap();
        let answer = dev.tee.invoke_once(&hello.0, 0, b"").unwrap();
        assert_eq!(answer, HELLO_ANSWER.as_bytes());
        assert!(dev.runner.state.tam_challenges.is_empty());
    }
}

/// §7.2.1.1: an Agent trusting another Verifier refuses the TAM's attestation with
/// ERR_BAD_CERTIFICATE, and the TAM ends the session without sending it again.
#[test]
fn handling_an_attestation_result_from_another_verifier_is_refused_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = verifier_key(dir.path());
    let tam = Tam::start(&dir.path().join("tam"), Some(&path));
    tam.add_hello();
    let other = PrivateKey::from_p256_scalar(&[0x5f; 32])
        .unwrap()
        .public_key();
    let mut dev = Device::new(&dir.path().join("dev"), &tam, other);
    let events = dev.session(&tam.uri);
    assert!(
        events.iter().any(|e| matches!(
            e,
            AgentEvent::Refused {
                code: ErrorCode::BadCertificate,
                ..
            }
        )),
        "{events:?}"
    );
    assert!(dev.tee.list_components().unwrap().is_empty());
}
