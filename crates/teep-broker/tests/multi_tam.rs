//! Several TAMs and the unsolicited QueryResponse end to end over real HTTP on loopback:
//! in-process TAMs (teep-tam, SQLite), the Broker (ureq) and the Agent on the software TEE.
//!
//! * RFC 9397 §4.3: each TC is recorded as the installing TAM's, and UnrequestTA's
//!   unneeded-manifest-list goes to that TAM only;
//! * -26 §7.2 (RequestTA): after a QueryRequest with neither token nor challenge, the Broker
//!   opens the next session with the Agent's own QueryResponse, and the TAM answers it with
//!   the Update.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use teep_agent::agent::{AgentConfig, AgentDevice, AgentEvent};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{Broker, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::runner::AgentRunner;
use teep_cose::{PublicKey, Signer};
use teep_tee::examples::HELLO_WASM;
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

struct Tam {
    uri: String,
    state: Arc<teep_tam::server::AppState>,
    handle: Option<teep_tam::ServerHandle>,
    rt: tokio::runtime::Runtime,
    _addr: SocketAddr,
}

impl Tam {
    /// A TAM that needs no attestation (so devices are registered) and, with `tokenless`,
    /// sends QueryRequests with neither token nor challenge.
    fn start(dir: &Path, tokenless: bool) -> Tam {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let config = teep_tam::Config {
            data: dir.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            enroll: teep_tam::Enroll::Registered,
            require_attestation: false,
            tokenless_queries: tokenless,
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
            state,
            handle: Some(handle),
            rt,
            _addr: addr,
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

    fn kid(&self) -> String {
        hex::encode(self.keys()[0].thumbprint())
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
        self.rt
            .block_on(teep_tam::ops::add_device(
                &self.state.store,
                key.to_spki_pem().as_bytes(),
                None,
                None,
                &[],
                0,
            ))
            .unwrap();
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
    /// A device trusting each TAM's keys and TC signer, registered with each.
    fn trusting(dir: &Path, tams: &[&Tam]) -> Device {
        let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
        for tam in tams {
            for k in tam.keys() {
                tee.add_trust_anchor(TrustAnchorKind::Tam, &k).unwrap();
            }
            tee.add_trust_anchor(TrustAnchorKind::TcSigner, &tam.state.tc_signer.public_key())
                .unwrap();
        }
        let config = AgentConfig {
            tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
            tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
            require_tam_attestation: false,
            ..Default::default()
        };
        let runner = AgentRunner::new(config, AgentState::default(), TeeDevice::new(tee.clone()));
        let key = runner.device.teep_signer().public_key();
        for tam in tams {
            tam.register(&key);
        }
        Device { tee, runner }
    }

    /// RequestPolicyCheck-style sessions with `uri` (the runner's path: unsolicited
    /// QueryResponse when allowed); the Agent's events.
    fn session(&mut self, uri: &str) -> Vec<AgentEvent> {
        let transport = HttpTransport::new(&HttpConfig::default()).unwrap();
        let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
        let results = self.runner.sessions(&mut broker, &[uri.to_string()]);
        let events = std::mem::take(&mut self.runner.events);
        for (uri, r) in results {
            if let Err(e) = r {
                panic!("{uri}: {e}; {events:?}");
            }
        }
        events
    }

    fn installed(&self, tc: &TcId) -> bool {
        self.tee
            .list_components()
            .unwrap()
            .iter()
            .any(|c| c.id == tc.0)
    }
}

fn received(events: &[AgentEvent], name: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(e, AgentEvent::Received { message } if *message == name))
}

fn installed_event(events: &[AgentEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, AgentEvent::Installed { .. }))
}

/// -26 §7.2 (RequestTA; DIGEST §4.2): a TAM whose QueryRequest carries neither token nor
/// challenge; once the Agent has seen one, a RequestTA's session opens with the Agent's own
/// QueryResponse (no QueryRequest in it) and the TAM answers with the Update.
#[test]
fn request_ta_unsolicited_query_response_installs_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), true);
    tam.add_hello();
    let mut dev = Device::trusting(&dir.path().join("dev"), &[&tam]);

    // First contact: the empty POST, a tokenless QueryRequest, nothing to do.
    let events = dev.session(&tam.uri);
    assert!(received(&events, "QueryRequest"), "{events:?}");
    assert!(!installed_event(&events), "{events:?}");
    assert!(dev.runner.state.tam_profiles[&tam.uri].unsolicited_allowed);

    // RequestTA: the session opens with the Agent's QueryResponse.
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    let events = dev.session(&tam.uri);
    assert!(received(&events, "RequestTA"), "{events:?}");
    assert!(!received(&events, "QueryRequest"), "{events:?}");
    assert!(received(&events, "Update"), "{events:?}");
    assert!(installed_event(&events), "{events:?}");
    assert!(dev.installed(&hello));
    assert!(dev.runner.state.requested.is_empty());
    // Nothing wanted now: the next session opens with the empty POST again.
    let events = dev.session(&tam.uri);
    assert!(received(&events, "QueryRequest"), "{events:?}");
}

/// On the path that speaks the legacy numbering the QueryRequest keeps its token (without
/// it, it reads in both numberings), so RequestTA's session opens with the empty POST.
#[test]
fn request_ta_on_the_legacy_path_opens_with_empty_post() {
    let dir = tempfile::tempdir().unwrap();
    let mut tam = Tam::start(&dir.path().join("tam"), true);
    tam.uri.push_str("/legacy");
    tam.add_hello();
    let mut dev = Device::trusting(&dir.path().join("dev"), &[&tam]);
    dev.session(&tam.uri);
    assert!(!dev.runner.state.tam_profiles[&tam.uri].unsolicited_allowed);
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    let events = dev.session(&tam.uri);
    assert!(!received(&events, "RequestTA"), "{events:?}");
    assert!(received(&events, "QueryRequest"), "{events:?}");
    assert!(dev.installed(&hello));
}

/// -26 §7.2 (a): a TAM that sends a token in its QueryRequest (the default) gets no
/// unsolicited QueryResponse; RequestTA's session opens with the empty POST.
#[test]
fn request_ta_after_query_request_with_token_opens_with_empty_post() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), false);
    tam.add_hello();
    let mut dev = Device::trusting(&dir.path().join("dev"), &[&tam]);
    dev.session(&tam.uri);
    assert!(!dev.runner.state.tam_profiles[&tam.uri].unsolicited_allowed);
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    let events = dev.session(&tam.uri);
    assert!(!received(&events, "RequestTA"), "{events:?}");
    assert!(received(&events, "QueryRequest"), "{events:?}");
    assert!(dev.installed(&hello));
}

/// RFC 9397 §4.3: with two TAMs, the TC is recorded as the installing TAM's; UnrequestTA's
/// unneeded-manifest-list goes only to it, so the other TAM's session leaves the TC alone and
/// the installing TAM's removes it.
#[test]
fn rfc9397_4_3_two_tams_each_unlinks_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let a = Tam::start(&dir.path().join("a"), false);
    let b = Tam::start(&dir.path().join("b"), false);
    a.add_hello();
    b.add_hello();
    let mut dev = Device::trusting(&dir.path().join("dev"), &[&a, &b]);
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    let events = dev.session(&a.uri);
    assert!(installed_event(&events), "{events:?}");
    assert_eq!(
        dev.runner.state.installed_by.get(&hello.manifest_id()),
        Some(&a.kid())
    );

    dev.runner.state.unrequest(&hello);
    let events = dev.session(&b.uri);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::Unlinked { .. })),
        "{events:?}"
    );
    assert!(dev.installed(&hello), "B did not install it");
    let events = dev.session(&a.uri);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Unlinked { found: true, .. })),
        "{events:?}"
    );
    assert!(!dev.installed(&hello));
    assert!(dev.runner.state.installed_by.is_empty());
}
