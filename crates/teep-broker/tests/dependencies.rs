//! Dependencies end to end (issue 18 item 4): draft-ietf-teep-protocol-26 Appendix E Example 3,
//! personalization data whose manifest depends on a TC that is fetched by URI (Example 1),
//! through teep's TAM (catalog, policy) and Agent (SUIT processor, HTTPS fetcher) over HTTPS on
//! loopback with the test CA of `tests/data`, on both numberings.
//!
//! The personalization manifest has Example 3's shape — components `['TEEP-Device',
//! 'SecureFS', 'config.json']`, dependency index 1 with prefix `[.., tc-uuid, 'suit']`,
//! dependency-resolution setting the dependency's digest, size and URI and fetching it, install
//! processing the dependency and then writing the personalization data encrypted to the
//! device — built by `ManifestBuilder::depends_on`, signed by the TAM's TC signer. Its
//! dependency URI is Example 3's `https://example.org/….suit`, which no test can reach: the
//! Agent resolves the dependency from the Update (or from what it holds), which is what these
//! tests show.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use teep_agent::agent::{AgentConfig, AgentEvent};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{Broker, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::fetch::{FetchConfig, HttpFetcher};
use teep_broker::runner::AgentRunner;
use teep_cose::{PublicKey, Signer};
use teep_proto::ErrorCode;
use teep_suit::{DependsOn, ManifestBuilder, ReportResult, SuitReport};
use teep_tam::model::{ComponentId, Target, TcRecord};
use teep_tee::examples::{HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

const CONFIG: &[u8] = br#"{"name":"FOO Bar","secret":"0123456789abfcdef0123456789abcd"}"#;

/// Example 3's URI of the dependency manifest: unreachable from a test, never fetched here.
fn example_3_uri(tc: &TcRecord) -> String {
    let cid = ComponentId::decode(&tc.component_id).unwrap();
    format!("https://example.org/{}.suit", hex::encode(&cid[2]))
}

fn config_id() -> ComponentId {
    ComponentId::new(vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        b"config.json".to_vec(),
    ])
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn test_ca() -> Vec<u8> {
    std::fs::read(fixture("ca.pem")).unwrap()
}

/// A TAM serving https on 127.0.0.1 with the `tests/data` certificate.
struct Tam {
    uri: String,
    public_url: String,
    state: Arc<teep_tam::server::AppState>,
    handle: Option<teep_tam::ServerHandle>,
    rt: tokio::runtime::Runtime,
}

impl Tam {
    fn start(dir: &Path) -> Tam {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let config = teep_tam::Config {
            data: dir.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            enroll: teep_tam::Enroll::Tofu,
            tls_cert: Some(fixture("chain.pem")),
            tls_key: Some(fixture("key.pem")),
            ..Default::default()
        };
        let state = rt
            .block_on(teep_tam::server::AppState::open(config))
            .unwrap();
        let (addr, handle) = rt
            .block_on(teep_tam::server::spawn_with_state(state.clone()))
            .unwrap();
        Tam {
            uri: format!("https://{addr}/tam"),
            public_url: format!("https://127.0.0.1:{}", addr.port()),
            state,
            handle: Some(handle),
            rt,
        }
    }

    fn keys(&self) -> Vec<PublicKey> {
        let signers = self.state.core.signers();
        signers.iter().map(|s| s.public_key()).collect()
    }

    /// `teep tam tc add --ta --by-uri` (Appendix E Example 1): the dependency.
    fn add_ta_by_uri(&self, name: &str, ta: &[u8]) -> TcRecord {
        self.rt
            .block_on(teep_tam::ops::add_ta_by_uri(
                &self.state.store,
                &self.state.tc_signer,
                Some(&self.public_url),
                name,
                ta,
                teep_tam::server::now_ms(),
            ))
            .unwrap()
    }

    /// `teep tam tc add FILE`: a signed envelope into the catalog.
    fn add_envelope(
        &self,
        name: &str,
        envelope: &[u8],
    ) -> Result<TcRecord, teep_tam::ops::OpsError> {
        let anchors =
            teep_tam::catalog::TcSignerAnchors::new(vec![self.state.tc_signer.public_key()]);
        self.rt.block_on(teep_tam::ops::add_envelope(
            &self.state.store,
            &anchors,
            Some(name),
            envelope,
            teep_tam::server::now_ms(),
        ))
    }

    /// The Example 3 manifest for `device`, depending on `dependency`, signed by the TAM's TC
    /// signer.
    fn personalization(&self, dependency: &TcRecord, device: &Device) -> Vec<u8> {
        let key = device
            .tee
            .payload_encryption_key()
            .expect("device payload key");
        ManifestBuilder::new(config_id(), CONFIG.to_vec())
            .sequence_number(1)
            .encrypt_to(key)
            .depends_on(DependsOn::by_uri(&dependency.envelope, example_3_uri(dependency)).unwrap())
            .build(
                &self.state.tc_signer,
                &teep_suit::builder::provider_random().unwrap(),
            )
            .unwrap()
            .0
    }

    fn assign_to_all(&self, tc: &TcRecord) {
        self.rt
            .block_on(self.state.store.assign(
                &tc.component_id,
                &Target::All,
                teep_tam::server::now_ms(),
            ))
            .unwrap();
    }

    /// The newest audit entry of `message_type`.
    fn audit(&self, message_type: &str) -> teep_tam::model::AuditRecord {
        let audit = self
            .rt
            .block_on(self.state.store.recent_audit(50, None))
            .unwrap();
        audit
            .into_iter()
            .find(|a| a.entry.message_type == message_type)
            .unwrap_or_else(|| panic!("no {message_type} recorded"))
    }

    /// The origins the TAM recorded for what the (only) device holds, by component id.
    fn holdings(&self) -> Vec<(Vec<u8>, String)> {
        let devices = self.rt.block_on(self.state.store.list_devices(10)).unwrap();
        let device = devices.first().expect("a device");
        let held = self
            .rt
            .block_on(self.state.store.installed(device.id))
            .unwrap();
        held.into_iter()
            .map(|t| (t.component_id, t.origin))
            .collect()
    }
}

impl Drop for Tam {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

/// A device on a software TEE trusting `tam`, whose fetcher trusts the test CA.
struct Device {
    tee: Arc<dyn Tee>,
    runner: AgentRunner<TeeDevice>,
}

impl Device {
    fn of(dir: &Path, tam: &Tam) -> Device {
        let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
        for k in tam.keys() {
            tee.add_trust_anchor(TrustAnchorKind::Tam, &k).unwrap();
        }
        tee.add_trust_anchor(TrustAnchorKind::TcSigner, &tam.state.tc_signer.public_key())
            .unwrap();
        let config = AgentConfig {
            tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
            tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
            require_tam_attestation: false,
            ..Default::default()
        };
        let fetcher = HttpFetcher::new(FetchConfig {
            ca_pem: Some(test_ca()),
            timeout: Duration::from_secs(3),
            ..FetchConfig::default()
        })
        .unwrap();
        let device = TeeDevice::new(tee.clone()).with_fetcher(Box::new(fetcher));
        let runner = AgentRunner::new(config, AgentState::default(), device);
        Device { tee, runner }
    }

    /// One session with the TAM at `path` (`/tam`: draft-26 numbering, `/tam/legacy`: the
    /// numbering before -26), after asking for `request` if given; the Agent's events.
    fn session(&mut self, tam: &Tam, path: &str, request: Option<&str>) -> Vec<AgentEvent> {
        if let Some(name) = request {
            self.runner.state.request(&TcId::parse(name).unwrap(), &[]);
        }
        let http = HttpConfig {
            ca_pem: Some(test_ca()),
            ..HttpConfig::default()
        };
        let transport = HttpTransport::new(&http).unwrap();
        let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
        let uri = format!("{}{}", tam.uri, path.strip_prefix("/tam").unwrap());
        // An Error answered to the TAM still ends the session normally.
        let _ = broker.session(&mut self.runner, &uri, None);
        std::mem::take(&mut self.runner.events)
    }

    fn holds(&self, id: &ComponentId) -> bool {
        let components = self.tee.list_components().unwrap();
        components.iter().any(|c| c.id == *id)
    }
}

/// Manifest ids the Agent installed, in order.
fn installed(events: &[AgentEvent]) -> Vec<ComponentId> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Installed { manifest_id, .. } => Some(manifest_id.clone()),
            _ => None,
        })
        .collect()
}

fn example_3_installs_both(path: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"));
    let mut dev = Device::of(&dir.path().join("dev"), &tam);
    let hello = tam.add_ta_by_uri("hello", HELLO_WASM);
    let config = tam
        .add_envelope("config", &tam.personalization(&hello, &dev))
        .unwrap();
    // The catalog learnt the dependency, by its digest, from the manifest.
    assert_eq!(config.component_id, config_id().encode());
    assert_eq!(config.dependencies.len(), 1, "{:?}", config.dependencies);
    let dep = &config.dependencies[0];
    assert_eq!(dep.component_id, hello.component_id);
    assert_eq!(dep.manifest_component_id, hello.manifest_component_id);
    assert_eq!(dep.uri.as_deref(), Some(example_3_uri(&hello).as_str()));
    tam.assign_to_all(&config);

    let events = dev.session(&tam, path, None);
    let hello_manifest = ComponentId::decode(hello.manifest_component_id.as_ref().unwrap());
    assert_eq!(
        installed(&events),
        vec![
            hello_manifest.unwrap(),
            ManifestBuilder::default_manifest_component_id(&config_id())
        ],
        "the dependency first, then the dependent: {events:?}"
    );
    let hello_id = ComponentId::decode(&hello.component_id).unwrap();
    assert!(dev.holds(&hello_id));
    assert_eq!(
        dev.tee.invoke_once(&hello_id, 0, b"").unwrap(),
        HELLO_ANSWER.as_bytes()
    );
    // Decrypted inside the TEE.
    assert_eq!(
        dev.tee.component(&config_id()).unwrap().as_deref(),
        Some(CONFIG)
    );
    let mut held = tam.holdings();
    held.sort();
    let mut want = vec![
        (hello.component_id.clone(), "dependency".to_string()),
        (config.component_id.clone(), "policy".to_string()),
    ];
    want.sort();
    assert_eq!(held, want);
}

#[test]
fn appendix_e_example_3_personalization_data_depending_on_a_uri_tc_installs_both_draft26() {
    example_3_installs_both("/tam");
}

#[test]
fn appendix_e_example_3_personalization_data_depending_on_a_uri_tc_installs_both_legacy() {
    example_3_installs_both("/tam/legacy");
}

fn dependency_already_held_is_not_resent(path: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"));
    let mut dev = Device::of(&dir.path().join("dev"), &tam);
    let hello = tam.add_ta_by_uri("hello", HELLO_WASM);
    let hello_manifest =
        ComponentId::decode(hello.manifest_component_id.as_ref().unwrap()).unwrap();
    let events = dev.session(&tam, path, Some("hello"));
    assert_eq!(installed(&events), vec![hello_manifest]);

    let config = tam
        .add_envelope("config", &tam.personalization(&hello, &dev))
        .unwrap();
    tam.assign_to_all(&config);
    let events = dev.session(&tam, path, None);
    // Only the dependent: the device's tc-list shows the dependency.
    assert_eq!(
        installed(&events),
        vec![ManifestBuilder::default_manifest_component_id(&config_id())],
        "{events:?}"
    );
    let update = tam.audit("QueryResponse");
    let sent = update.entry.response.expect("the Update, kept whole");
    let opened = teep_cose::open(&sent).unwrap();
    let (msg, _) = teep_proto::decode_auto(opened.payload.as_deref().unwrap()).unwrap();
    let teep_proto::TeepMessage::Update(u) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(u.manifest_list.len(), 1);
    assert_eq!(
        dev.tee.component(&config_id()).unwrap().as_deref(),
        Some(CONFIG)
    );
}

#[test]
fn trust_domains_dependency_already_held_is_not_resent_draft26() {
    dependency_already_held_is_not_resent("/tam");
}

#[test]
fn trust_domains_dependency_already_held_is_not_resent_legacy() {
    dependency_already_held_is_not_resent("/tam/legacy");
}

#[test]
fn trust_domains_missing_dependency_is_refused_when_added_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"));
    // A TC signed and served elsewhere, never added to this catalog.
    let other = tempfile::tempdir().unwrap();
    let elsewhere = Tam::start(other.path());
    let hello = elsewhere.add_ta_by_uri("hello", HELLO_WASM);
    let envelope = ManifestBuilder::new(config_id(), CONFIG.to_vec())
        .depends_on(DependsOn::by_uri(&hello.envelope, example_3_uri(&hello)).unwrap())
        .build(&tam.state.tc_signer, &[0; 64])
        .unwrap()
        .0;
    let e = tam.add_envelope("config", &envelope).unwrap_err();
    assert_eq!(e.status(), 409);
    let text = e.to_string();
    let prefix =
        teep_tam::model::component_id_display(hello.manifest_component_id.as_ref().unwrap());
    assert!(
        text.starts_with("SUIT_Manifest.common.dependencies[1] (dependency-prefix ")
            && text.contains(&prefix)
            && text.contains(&example_3_uri(&hello))
            && text.ends_with(
                "the dependency is not in the catalog; add the TC that carries it first"
            ),
        "{text}"
    );
    let catalog = tam.rt.block_on(tam.state.store.list_tcs()).unwrap();
    assert!(catalog.is_empty());
}

#[test]
fn trust_domains_dependency_deleted_from_the_catalog_holds_back_the_dependent() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"));
    let mut dev = Device::of(&dir.path().join("dev"), &tam);
    let hello = tam.add_ta_by_uri("hello", HELLO_WASM);
    let config = tam
        .add_envelope("config", &tam.personalization(&hello, &dev))
        .unwrap();
    tam.assign_to_all(&config);
    tam.rt
        .block_on(tam.state.store.delete_tc(&hello.component_id))
        .unwrap();
    let events = dev.session(&tam, "/tam", None);
    assert!(installed(&events).is_empty(), "{events:?}");
    assert!(!dev.holds(&config_id()));
    let audit = tam.audit("QueryResponse");
    let note = audit
        .entry
        .notes
        .iter()
        .find(|n| n.starts_with("not sending config "))
        .unwrap_or_else(|| panic!("no note: {:?}", audit.entry.notes));
    assert!(
        note.contains(&format!(
            "depends on {}, which is not in the catalog",
            teep_tam::model::component_id_display(&hello.component_id)
        )),
        "{note}"
    );
}

/// An HTTPS server on 127.0.0.1 (test certificate) answering every request with 200 and a
/// body of HELLO_WASM's length in other bytes; its port.
fn wrong_bytes_server() -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("chain.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("key.pem")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { return };
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && matches!(tls.read(&mut byte), Ok(1)) {
                    head.push(byte[0]);
                }
                let body = vec![0x5a; HELLO_WASM.len()];
                let head = format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes());
                let _ = tls.write_all(&body);
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

fn failing_dependency_installs_nothing_of_the_dependent(path: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"));
    let mut dev = Device::of(&dir.path().join("dev"), &tam);
    // The dependency fetches its TA from a server that answers with other bytes.
    let port = wrong_bytes_server();
    let ids = teep_tam::suit_wrap::ta_ids("hello");
    let uri = format!("https://127.0.0.1:{port}/hello.wasm");
    let envelope =
        teep_tam::suit_wrap::wrap_ta_by_uri(&ids, HELLO_WASM, 1, &uri, &tam.state.tc_signer)
            .unwrap();
    let hello = tam.add_envelope("hello", &envelope).unwrap();
    let config = tam
        .add_envelope("config", &tam.personalization(&hello, &dev))
        .unwrap();
    tam.assign_to_all(&config);

    let events = dev.session(&tam, path, None);
    let reason = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::Refused {
                code: ErrorCode::ManifestProcessingFailed,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Error: {events:?}"));
    assert!(
        reason.starts_with("manifest-list[0]: ") && reason.contains("condition-image-match"),
        "{reason}"
    );
    assert!(installed(&events).is_empty(), "{events:?}");
    assert!(!dev.holds(&ids.component_id));
    assert!(!dev.holds(&config_id()));
    assert!(dev.tee.list_manifests().unwrap().is_empty());
    // The TAM got the Error with its SUIT report, and records nothing as installed.
    let error = tam.audit("Error");
    let summary: serde_json::Value = serde_json::from_str(&error.entry.summary).unwrap();
    let report_hex = find(&summary, "suit-reports")
        .and_then(|v| v.get(0))
        .and_then(|r| r.get("hex").or(Some(r)))
        .and_then(|h| h.as_str())
        .unwrap_or_else(|| panic!("no suit-reports: {summary}"));
    let bytes = opened_for_tam(&tam.state, hex::decode(report_hex).unwrap());
    let report = SuitReport::decode(&bytes).unwrap();
    assert!(matches!(report.result, ReportResult::Failure { .. }));
    assert!(tam.holdings().is_empty());
}

/// The first value under `key` anywhere in `v`.
fn find<'v>(v: &'v serde_json::Value, key: &str) -> Option<&'v serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => {
            m.get(key).or_else(|| m.values().find_map(|x| find(x, key)))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

#[test]
fn trust_domains_failing_dependency_reports_error_and_installs_nothing_of_the_dependent_draft26() {
    failing_dependency_installs_nothing_of_the_dependent("/tam");
}

#[test]
fn trust_domains_failing_dependency_reports_error_and_installs_nothing_of_the_dependent_legacy() {
    failing_dependency_installs_nothing_of_the_dependent("/tam/legacy");
}

/// -26 §8.2: teep's Agent encrypts its SUIT reports to the TAM key it trusts (the recipient
/// kid); the audit keeps them as received, so they are opened here with that key.
fn opened_for_tam(state: &teep_tam::server::AppState, bytes: Vec<u8>) -> Vec<u8> {
    if !teep_cose::encrypt::is_encrypted(&bytes) {
        return bytes;
    }
    let enc = teep_cose::encrypt::open_encrypted(&bytes).unwrap();
    let kid = enc.recipient_kids().next().flatten().unwrap().to_vec();
    let signers = state.core.signers();
    let signer = signers
        .iter()
        .find(|s| s.public_key().thumbprint()[..] == kid[..])
        .unwrap();
    enc.decrypt(
        signer.key_agreement().unwrap(),
        teep_cose::encrypt::Purpose::SuitReport,
    )
    .unwrap()
}
