//! End to end over real HTTP on loopback: an in-process TAM (teep-tam, SQLite), the Broker
//! (ureq) and the Agent on the software TEE. The https tests use the fixtures in `tests/data`
//! (see README.txt there).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use teep_agent::agent::{AgentConfig, AgentEvent};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{
    Broker, HttpConfig, HttpTransport, RetryPolicy, Transport, TransportError,
};
use teep_broker::device::TeeDevice;
use teep_broker::runner::AgentRunner;
use teep_cose::{PublicKey, Signer};
use teep_proto::ErrorCode;
use teep_tee::examples::{COUNTER_WASM, HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

struct Tam {
    addr: SocketAddr,
    uri: String,
    legacy_uri: String,
    state: Arc<teep_tam::server::AppState>,
    handle: Option<teep_tam::ServerHandle>,
    rt: tokio::runtime::Runtime,
}

impl Tam {
    fn start(dir: &Path, enroll: teep_tam::Enroll) -> Tam {
        Self::start_with(dir, enroll, None)
    }

    /// A TAM serving https with the `tests/data` certificate chain.
    fn start_tls(dir: &Path, enroll: teep_tam::Enroll) -> Tam {
        Self::start_with(
            dir,
            enroll,
            Some((fixture("chain.pem"), fixture("key.pem"))),
        )
    }

    fn start_with(dir: &Path, enroll: teep_tam::Enroll, tls: Option<(PathBuf, PathBuf)>) -> Tam {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (tls_cert, tls_key) = tls.unzip();
        let config = teep_tam::Config {
            data: dir.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            enroll,
            tls_cert,
            tls_key,
            ..Default::default()
        };
        let state = rt
            .block_on(teep_tam::server::AppState::open(config))
            .unwrap();
        let (addr, handle) = rt
            .block_on(teep_tam::server::spawn_with_state(state.clone()))
            .unwrap();
        Tam {
            addr,
            uri: format!("{scheme}://{addr}/tam"),
            legacy_uri: format!("{scheme}://{addr}/tam/legacy"),
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

    fn tc_signer(&self) -> PublicKey {
        self.state.tc_signer.public_key()
    }

    fn add_ta(&self, name: &str, wasm: &[u8]) -> u64 {
        let now = teep_tam::server::now_ms();
        self.rt
            .block_on(teep_tam::ops::add_ta(
                &self.state.store,
                &self.state.tc_signer,
                name,
                wasm,
                now,
            ))
            .unwrap()
            .sequence
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
    /// A device of `tam` (see [`Device::of`]) that asks for the `hello` TA, added to the
    /// catalog here.
    fn requesting_hello(dir: &tempfile::TempDir, tam: &Tam) -> (Device, TcId) {
        tam.add_ta("hello", HELLO_WASM);
        let mut dev = Device::of(dir, tam);
        let hello = TcId::parse("hello").unwrap();
        dev.runner.state.request(&hello, &[]);
        (dev, hello)
    }

    /// A device in `dir`/dev that trusts `tam`'s keys and its TC signer.
    fn of(dir: &tempfile::TempDir, tam: &Tam) -> Device {
        Device::new(&dir.path().join("dev"), &tam.keys(), &[tam.tc_signer()])
    }

    fn new(dir: &Path, tam_keys: &[PublicKey], tc_signers: &[PublicKey]) -> Device {
        let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
        for k in tam_keys {
            tee.add_trust_anchor(TrustAnchorKind::Tam, k).unwrap();
        }
        for k in tc_signers {
            tee.add_trust_anchor(TrustAnchorKind::TcSigner, k).unwrap();
        }
        let config = AgentConfig {
            tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
            tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
            require_tam_attestation: false,
            ..Default::default()
        };
        let runner = AgentRunner::new(config, AgentState::default(), TeeDevice::new(tee.clone()));
        Device { tee, runner }
    }

    /// One session with `uri`; returns the Agent's events, or the error with the events so far.
    fn session(&mut self, uri: &str) -> Result<Vec<AgentEvent>, (String, Vec<AgentEvent>)> {
        self.session_with(uri, &HttpConfig::default())
    }

    /// [`Device::session`] with a given HTTP client configuration.
    fn session_with(
        &mut self,
        uri: &str,
        http: &HttpConfig,
    ) -> Result<Vec<AgentEvent>, (String, Vec<AgentEvent>)> {
        let transport = HttpTransport::new(http).unwrap();
        let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
        let r = broker.session(&mut self.runner, uri, None);
        let events = std::mem::take(&mut self.runner.events);
        match r {
            Ok(_) => Ok(events),
            Err(e) => Err((e.to_string(), events)),
        }
    }

    fn installed(&self, tc: &TcId) -> bool {
        self.tee
            .list_components()
            .unwrap()
            .iter()
            .any(|c| c.id == tc.0)
    }

    fn sequence(&self, tc: &TcId) -> Option<u64> {
        self.tee
            .manifest(&tc.manifest_id().0)
            .unwrap()
            .map(|m| m.sequence_number)
    }
}

/// A file of `tests/data`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The Broker's client configuration trusting the test CA of `tests/data`.
fn trusting_test_ca() -> HttpConfig {
    HttpConfig {
        ca_pem: Some(std::fs::read(fixture("ca.pem")).unwrap()),
        ..HttpConfig::default()
    }
}

fn installed_event(events: &[AgentEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, AgentEvent::Installed { .. }))
}

#[test]
fn install_invoke_and_delete_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    let (mut dev, hello) = Device::requesting_hello(&dir, &tam);
    let events = dev.session(&tam.uri).unwrap();
    assert!(installed_event(&events), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::EvidenceProduced { .. })),
        "{events:?}"
    );
    assert!(dev.installed(&hello));
    assert!(dev.runner.state.requested.is_empty(), "request satisfied");
    let answer = dev.tee.invoke_once(&hello.0, 0, b"").unwrap();
    assert_eq!(answer, HELLO_ANSWER.as_bytes());

    dev.runner.state.unrequest(&hello);
    let events = dev.session(&tam.uri).unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Unlinked { found: true, .. })),
        "{events:?}"
    );
    assert!(!dev.installed(&hello));
    assert!(dev.tee.invoke_once(&hello.0, 0, b"").is_err());
    assert!(dev.runner.state.unrequested.is_empty());
}

#[test]
fn upgrade_by_higher_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    assert_eq!(tam.add_ta("counter", COUNTER_WASM), 1);
    let mut dev = Device::of(&dir, &tam);
    let counter = TcId::parse("counter").unwrap();
    dev.runner.state.request(&counter, &[]);
    dev.session(&tam.uri).unwrap();
    assert_eq!(dev.sequence(&counter), Some(1));

    // A satisfied request is no longer sent, and nothing assigns the TC: the TAM upgrades what
    // the device holds because it asked for it.
    assert!(dev.runner.state.requested.is_empty());
    assert_eq!(tam.add_ta("counter", COUNTER_WASM), 2);
    let events = dev.session(&tam.uri).unwrap();
    assert!(installed_event(&events), "{events:?}");
    assert_eq!(dev.sequence(&counter), Some(2));
}

#[test]
fn untrusted_tam_key_gets_an_error_and_installs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    tam.add_ta("hello", HELLO_WASM);
    let stranger = teep_cose::PrivateKey::generate(teep_cose::KeyType::P256).public_key();
    let mut dev = Device::new(&dir.path().join("dev"), &[stranger], &[tam.tc_signer()]);
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    let events = match dev.session(&tam.uri) {
        Ok(events) => events,
        Err((_, events)) => events,
    };
    let refused = events.iter().any(|e| {
        matches!(
            e,
            AgentEvent::Refused {
                code: ErrorCode::BadCertificate,
                ..
            }
        )
    });
    assert!(refused, "{events:?}");
    assert!(!events
        .iter()
        .any(|e| matches!(e, AgentEvent::TamVerified { .. })));
    assert!(!dev.installed(&hello));
}

#[test]
fn legacy_profile_against_the_legacy_path() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    let (mut dev, hello) = Device::requesting_hello(&dir, &tam);
    let events = dev.session(&tam.legacy_uri).unwrap();
    assert!(
        events.iter().any(|e| matches!(
            e,
            AgentEvent::TamVerified {
                numbering: teep_proto::Numbering::Legacy,
                ..
            }
        )),
        "{events:?}"
    );
    assert!(installed_event(&events), "{events:?}");
    assert!(dev.installed(&hello));
    assert_eq!(
        dev.runner.state.tam_profiles[&tam.legacy_uri].numbering,
        "legacy"
    );
}

#[test]
fn two_tams_serve_one_device() {
    let dir = tempfile::tempdir().unwrap();
    let tam_a = Tam::start(&dir.path().join("tam-a"), teep_tam::Enroll::Tofu);
    let tam_b = Tam::start(&dir.path().join("tam-b"), teep_tam::Enroll::Tofu);
    tam_a.add_ta("hello", HELLO_WASM);
    tam_b.add_ta("counter", COUNTER_WASM);
    let keys: Vec<PublicKey> = tam_a.keys().into_iter().chain(tam_b.keys()).collect();
    let mut dev = Device::new(
        &dir.path().join("dev"),
        &keys,
        &[tam_a.tc_signer(), tam_b.tc_signer()],
    );
    let hello = TcId::parse("hello").unwrap();
    let counter = TcId::parse("counter").unwrap();
    dev.runner
        .state
        .request(&hello, std::slice::from_ref(&tam_a.uri));
    dev.runner
        .state
        .request(&counter, std::slice::from_ref(&tam_b.uri));
    let transport = HttpTransport::new(&HttpConfig::default()).unwrap();
    let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
    let results = dev.runner.policy_check(&mut broker);
    assert_eq!(results.len(), 2);
    for (uri, r) in &results {
        assert!(r.is_ok(), "{uri}: {r:?}");
    }
    assert!(dev.installed(&hello));
    assert!(dev.installed(&counter));
    let n = dev
        .tee
        .invoke_once(&counter.0, teep_tee::examples::COUNTER_INCREMENT, b"")
        .unwrap();
    assert_eq!(n, 1u64.to_le_bytes());
}

/// Registers the device at a TAM in registered-enrollment mode with `attest_key` as its
/// attestation key.
fn register(tam: &Tam, dev: &Device, attest_key: &str) {
    let teep_key = dev.tee.teep_signer().public_key().to_spki_pem();
    let now = teep_tam::server::now_ms();
    tam.rt
        .block_on(teep_tam::ops::add_device(
            &tam.state.store,
            teep_key.as_bytes(),
            Some(attest_key.as_bytes()),
            Some("dev"),
            &[],
            now,
        ))
        .unwrap();
}

#[test]
fn registered_device_with_its_own_attestation_key_gets_the_install() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Registered);
    tam.add_ta("hello", HELLO_WASM);
    let mut dev = Device::of(&dir, &tam);
    let own = dev.tee.attestation_signer().public_key().to_spki_pem();
    register(&tam, &dev, &own);
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    dev.session(&tam.uri).unwrap();
    assert!(dev.installed(&hello));
}

#[test]
fn wrong_attestation_key_gets_no_install() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Registered);
    tam.add_ta("hello", HELLO_WASM);
    let mut dev = Device::of(&dir, &tam);
    // Registered with its TEEP key but another attestation key: the Evidence cannot verify.
    let other = teep_cose::PrivateKey::generate(teep_cose::KeyType::P256)
        .public_key()
        .to_spki_pem();
    register(&tam, &dev, &other);
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    let _ = dev.session(&tam.uri);
    assert!(!dev.installed(&hello));
}

#[test]
fn install_over_https_with_the_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start_tls(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    assert!(tam.uri.starts_with("https://127.0.0.1:"), "{}", tam.uri);
    tam.add_ta("hello", HELLO_WASM);
    let mut dev = Device::of(&dir, &tam);
    let hello = TcId::parse("hello").unwrap();
    let https = trusting_test_ca();

    dev.runner.state.request(&hello, &[]);
    let events = dev.session_with(&tam.uri, &https).unwrap();
    assert!(installed_event(&events), "{events:?}");
    assert!(dev.installed(&hello));
    assert!(dev.runner.state.requested.is_empty(), "request satisfied");
    let answer = dev.tee.invoke_once(&hello.0, 0, b"").unwrap();
    assert_eq!(answer, HELLO_ANSWER.as_bytes());

    // The certificate's DNS name works too: the removal goes to https://localhost.
    let by_name = format!("https://localhost:{}/tam", tam.addr.port());
    dev.runner.state.unrequest(&hello);
    let events = dev.session_with(&by_name, &https).unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Unlinked { found: true, .. })),
        "{events:?}"
    );
    assert!(!dev.installed(&hello));
}

#[test]
fn client_without_the_test_ca_refuses_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start_tls(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    let (mut dev, hello) = Device::requesting_hello(&dir, &tam);

    // The default configuration trusts the Mozilla roots only.
    let (error, events) = dev.session(&tam.uri).unwrap_err();
    let lower = error.to_lowercase();
    assert!(
        lower.contains("certificate") && lower.contains("unknownissuer"),
        "expected an untrusted-certificate error, got: {error}"
    );
    assert!(
        !events.iter().any(|e| matches!(
            e,
            AgentEvent::TamVerified { .. } | AgentEvent::Installed { .. }
        )),
        "no TEEP message got through: {events:?}"
    );
    assert!(!dev.installed(&hello));
    assert!(!dev.runner.state.requested.is_empty(), "request still open");

    // The same refusal straight from the transport, for a CA that did not sign the chain:
    // the leaf itself as the only "root".
    let leaf_only = std::fs::read_to_string(fixture("chain.pem")).unwrap();
    let leaf_end = leaf_only.find("-----END CERTIFICATE-----").unwrap();
    let leaf = &leaf_only[..leaf_end + "-----END CERTIFICATE-----".len()];
    let transport = HttpTransport::new(&HttpConfig {
        ca_pem: Some(format!("{leaf}\n").into_bytes()),
        ..HttpConfig::default()
    })
    .unwrap();
    let err = transport.post(&tam.uri, b"").unwrap_err();
    assert!(
        matches!(err, TransportError::Handshake { .. })
            && err.to_string().to_lowercase().contains("certificate"),
        "expected a certificate error, got: {err}"
    );
}

#[test]
fn plain_http_to_the_tls_port_gets_no_teep_answer() {
    use std::io::{Read, Write};

    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start_tls(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    tam.add_ta("hello", HELLO_WASM);

    // Through the Broker's transport: an error, not an exchange.
    let plain = format!("http://{}/tam", tam.addr);
    let transport = HttpTransport::new(&HttpConfig::default()).unwrap();
    let result = transport.post(&plain, b"");
    assert!(result.is_err(), "plain http got an answer: {result:?}");

    // On the wire: whatever comes back (a TLS alert or nothing) is not an HTTP response, and
    // the server closes the connection.
    let mut tcp = std::net::TcpStream::connect(tam.addr).unwrap();
    // Guards against a hang only; the assertions below do not depend on time.
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let request = format!(
        "POST /tam HTTP/1.1\r\nHost: {}\r\nAccept: application/teep+cbor\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n",
        tam.addr
    );
    // The server may close (even reset) as soon as it sees the first bytes are not TLS.
    let closes = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        )
    };
    match tcp.write_all(request.as_bytes()) {
        Ok(()) => {}
        Err(e) if closes(&e) => {}
        Err(e) => panic!("writing the request: {e}"),
    }
    let mut answer = Vec::new();
    match tcp.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if closes(&e) => {}
        Err(e) => panic!("reading the answer: {e}"),
    }
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain http got an HTTP answer: {:?}",
        String::from_utf8_lossy(&answer)
    );
    if let Some(&first) = answer.first() {
        assert_eq!(
            first, 0x15,
            "only a TLS alert record may come back: {answer:?}"
        );
    }

    // The TLS side still works after the junk.
    let mut dev = Device::of(&dir, &tam);
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    dev.session_with(&tam.uri, &trusting_test_ca()).unwrap();
    assert!(dev.installed(&hello));
}

/// Records every body the Broker posts, over the real HTTP transport.
struct Recording {
    inner: HttpTransport,
    bodies: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl Transport for Recording {
    fn send(
        &self,
        post: &teep_broker::broker::Post<'_>,
    ) -> Result<teep_broker::broker::Exchange, TransportError> {
        self.bodies.lock().unwrap().push(post.body.to_vec());
        self.inner.send(post)
    }
}

/// The attestation-payload of the QueryResponse among `bodies` (draft-26 numbering).
fn posted_evidence(bodies: &[Vec<u8>]) -> Vec<u8> {
    bodies
        .iter()
        .filter(|b| !b.is_empty())
        .find_map(|b| {
            match teep_proto::signed::open_message(b, teep_proto::Numbering::Draft26)
                .ok()?
                .1
            {
                teep_proto::TeepMessage::QueryResponse(q) => q.attestation_payload,
                _ => None,
            }
        })
        .expect("a QueryResponse with Evidence was posted")
}

/// -26 §8.2 with `suit-sha256-ed25519-ecdh-chacha-poly` over HTTP: an Agent that trusts only
/// the TAM's Ed25519 key encrypts its Evidence with ChaCha20/Poly1305 to that key (X25519 on
/// its Montgomery form); the TAM decrypts it with the same key, appraises it and installs.
#[test]
fn teep_8_2_chacha_encrypted_evidence_to_an_ed25519_tam_key_over_http() {
    use teep_cose::encrypt::{is_encrypted, open_encrypted, ContentAlgorithm};
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    tam.add_ta("hello", HELLO_WASM);
    let ed: Vec<PublicKey> = tam
        .keys()
        .into_iter()
        .filter(|k| k.key_type() == teep_cose::KeyType::Ed25519)
        .collect();
    assert_eq!(ed.len(), 1, "the TAM has one Ed25519 key");
    // An Ed25519 device, so the TAM answers in the Ed25519 suite the Agent trusts it for.
    let options = teep_tee::SoftwareTeeOptions {
        key_type: teep_cose::KeyType::Ed25519,
        ..Default::default()
    };
    let tee: Arc<dyn Tee> =
        Arc::new(SoftwareTee::open_with(dir.path().join("dev"), options).unwrap());
    tee.add_trust_anchor(TrustAnchorKind::Tam, &ed[0]).unwrap();
    tee.add_trust_anchor(TrustAnchorKind::TcSigner, &tam.tc_signer())
        .unwrap();
    let config = AgentConfig {
        tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
        tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
        require_tam_attestation: false,
        ..Default::default()
    };
    let runner = AgentRunner::new(config, AgentState::default(), TeeDevice::new(tee.clone()));
    let mut dev = Device { tee, runner };
    let hello = TcId::parse("hello").unwrap();
    dev.runner.state.request(&hello, &[]);
    let transport = Recording {
        inner: HttpTransport::new(&HttpConfig::default()).unwrap(),
        bodies: Default::default(),
    };
    let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
    broker.session(&mut dev.runner, &tam.uri, None).unwrap();
    assert!(dev.installed(&hello));
    let evidence = posted_evidence(&broker.transport().bodies.lock().unwrap());
    assert!(is_encrypted(&evidence));
    let opened = open_encrypted(&evidence).unwrap();
    assert_eq!(
        opened.content_algorithm(),
        ContentAlgorithm::ChaCha20Poly1305
    );
    let kids: Vec<_> = opened
        .recipient_kids()
        .map(|k| k.unwrap().to_vec())
        .collect();
    assert_eq!(kids, [ed[0].thumbprint().to_vec()]);
}

/// -26 §8.2 over HTTP with teep's Agent: the TAM offers the ESP256 ECDH profiles, so the
/// Agent encrypts its Evidence (A128GCM) to the TAM's P-256 key; the TAM decrypts it,
/// appraises it and installs. Turned off, the Evidence goes plain and installs too.
#[test]
fn teep_8_2_encrypted_evidence_attests_over_http() {
    use teep_agent::agent::TamEncryption;
    use teep_cose::encrypt::{is_encrypted, open_encrypted, ContentAlgorithm};
    for encrypt in [TamEncryption::WhenOffered, TamEncryption::Never] {
        let dir = tempfile::tempdir().unwrap();
        let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
        let (mut dev, hello) = Device::requesting_hello(&dir, &tam);
        dev.runner.config.encrypt_to_tam = encrypt;
        let transport = Recording {
            inner: HttpTransport::new(&HttpConfig::default()).unwrap(),
            bodies: Default::default(),
        };
        let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
        broker.session(&mut dev.runner, &tam.uri, None).unwrap();
        assert!(dev.installed(&hello), "{encrypt:?}");
        let evidence = posted_evidence(&broker.transport().bodies.lock().unwrap());
        match encrypt {
            TamEncryption::WhenOffered => {
                assert!(is_encrypted(&evidence));
                assert_eq!(
                    open_encrypted(&evidence).unwrap().content_algorithm(),
                    ContentAlgorithm::A128Gcm
                );
                let kids: Vec<_> = open_encrypted(&evidence)
                    .unwrap()
                    .recipient_kids()
                    .map(|k| k.unwrap().to_vec())
                    .collect();
                assert_eq!(kids, [tam.keys()[0].thumbprint().to_vec()]);
            }
            TamEncryption::Never => assert!(!is_encrypted(&evidence)),
        }
    }
}

/// -26 §5 (`manifests` carries a SUIT_Reference) and draft-ietf-suit-report (`[uri,
/// SUIT_Digest]`, the digest the manifest's authentication wrapper signs), through the real
/// software TEE, Broker and TAM: after `hello` is installed, the next Evidence names it by
/// its manifest digest, and the TAM resolves that digest to the catalog TC and sequence and
/// keeps it with the device's claims.
#[test]
fn teep_26_5_tam_sees_the_installed_tcs_manifest_digest() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"), teep_tam::Enroll::Tofu);
    let (mut dev, hello) = Device::requesting_hello(&dir, &tam);
    dev.session(&tam.uri).unwrap();
    assert!(dev.installed(&hello));
    let claims = |tam: &Tam| {
        let device = tam.rt.block_on(tam.state.store.list_devices(10)).unwrap();
        assert_eq!(device.len(), 1);
        tam.rt
            .block_on(teep_tam::ops::device_view(
                &tam.state.store,
                device[0].clone(),
            ))
            .unwrap()
            .claims
            .unwrap()
    };
    // Installed during that session: its Evidence had only the TEE's own entry.
    assert!(claims(&tam).get("manifest_references").is_none());

    dev.session(&tam.uri).unwrap();
    let catalog = tam.rt.block_on(tam.state.store.latest_tcs()).unwrap();
    let tc = catalog.iter().find(|t| t.name == "hello").unwrap();
    let env =
        teep_suit::decode_envelope_unverified(tc.envelope.clone(), &teep_suit::Limits::default())
            .unwrap();
    let hex: String = env
        .digest()
        .bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // The device's stored envelope signs the same digest (its own record of the install).
    let stored = dev.tee.manifest(&hello.manifest_id().0).unwrap().unwrap();
    let on_device =
        teep_suit::decode_envelope_unverified(stored.envelope, &teep_suit::Limits::default())
            .unwrap();
    assert_eq!(on_device.digest(), env.digest());

    let c = claims(&tam);
    let refs = c["manifest_references"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{c}");
    let r = &refs[0];
    assert_eq!(r["index"], 1, "after the TEE's own entry: {c}");
    assert_eq!(r["digest"].as_str(), Some(hex.as_str()), "{c}");
    assert_eq!(r["digest_alg"], -16);
    assert_eq!(r["tc"].as_str(), Some("hello"), "{c}");
    assert_eq!(r["sequence"], tc.sequence);
    let uri = env
        .manifest
        .reference_uri
        .clone()
        .unwrap_or_else(|| format!("urn:teep:manifest:{}", hello.manifest_id()));
    assert_eq!(r["uri"].as_str(), Some(uri.as_str()), "{c}");
}
