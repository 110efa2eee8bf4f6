//! draft-ietf-teep-protocol-26 Appendix E Example 1 (`suit_uri`) end to end over HTTPS on
//! loopback with the test CA of `tests/data`: the TAM's manifest names the TA by URI, the
//! Agent's SUIT processor fetches it with `teep_broker::fetch::HttpFetcher` (RFC 9124
//! directive-fetch, SUIT manifest §8.4.10) and checks it with condition-image-match.
//!
//! The draft's own example names `https://example.org/8d82573a-….ta`, which no test can serve
//! under that name and certificate; the TAM's `--by-uri` manifests have the same shape (checked
//! command for command in teep-tam's `suit_wrap` tests) and name the TAM's own payload URL.
//!
//! The refusals are made with manifests signed by the TAM's TC signer (so trusted) that point at
//! an HTTPS server of this file: each must end in an Error whose err-msg and SUIT report say why,
//! recorded by the TAM, and nothing installed.

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
use teep_suit::{ReportReason, ReportResult, SuitReport};
use teep_tee::examples::{HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

/// How long the device's fetcher waits for one payload (the slow-body case waits this long).
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

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
            // The port is known only once bound, so the public URL is given to the operation
            // rather than the configuration.
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

    /// `teep tam tc add --ta --by-uri`: the catalog record of the new entry.
    fn add_ta_by_uri(&self, name: &str, ta: &[u8]) -> teep_tam::model::TcRecord {
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

    /// A manifest like `--by-uri` makes for `name` (image digest and size of `ta`) that names
    /// `uri` instead, signed by the TAM's TC signer and added to the catalog.
    fn add_manifest_naming(&self, name: &str, ta: &[u8], uri: &str) {
        let ids = teep_tam::suit_wrap::ta_ids(name);
        let envelope =
            teep_tam::suit_wrap::wrap_ta_by_uri(&ids, ta, 1, uri, &self.state.tc_signer).unwrap();
        let anchors =
            teep_tam::catalog::TcSignerAnchors::new(vec![self.state.tc_signer.public_key()]);
        self.rt
            .block_on(teep_tam::ops::add_envelope(
                &self.state.store,
                &anchors,
                Some(name),
                &envelope,
                teep_tam::server::now_ms(),
            ))
            .unwrap();
    }

    /// The err-msg and the SUIT report of the newest Error the TAM recorded.
    fn recorded_error(&self) -> (String, SuitReport) {
        let audit = self
            .rt
            .block_on(self.state.store.recent_audit(20, None))
            .unwrap();
        let error = audit
            .iter()
            .find(|a| a.entry.message_type == "Error")
            .unwrap_or_else(|| panic!("no Error recorded: {audit:?}"));
        let summary: serde_json::Value = serde_json::from_str(&error.entry.summary).unwrap();
        let err_msg = find(&summary, "err-msg")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("no err-msg: {summary}"))
            .to_string();
        let report_hex = find(&summary, "suit-reports")
            .and_then(|v| v.get(0))
            .and_then(|r| r.get("hex").or(Some(r)))
            .and_then(|h| h.as_str())
            .unwrap_or_else(|| panic!("no suit-reports: {summary}"));
        let bytes = opened_for_tam(&self.state, hex::decode(report_hex).unwrap());
        let report = SuitReport::decode(&bytes).unwrap();
        (err_msg, report)
    }
}

impl Drop for Tam {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
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
            timeout: FETCH_TIMEOUT,
            ..FetchConfig::default()
        })
        .unwrap();
        let device = TeeDevice::new(tee.clone()).with_fetcher(Box::new(fetcher));
        let runner = AgentRunner::new(config, AgentState::default(), device);
        Device { tee, runner }
    }

    /// Asks for `name` and runs one session with `tam`; the Agent's events.
    fn session_for(&mut self, tam: &Tam, name: &str) -> (TcId, Vec<AgentEvent>) {
        let tc = TcId::parse(name).unwrap();
        self.runner.state.request(&tc, &[]);
        let http = HttpConfig {
            ca_pem: Some(test_ca()),
            ..HttpConfig::default()
        };
        let transport = HttpTransport::new(&http).unwrap();
        let mut broker = Broker::new(transport).with_retry(RetryPolicy::once());
        // An Error answered to the TAM still ends the session normally.
        let _ = broker.session(&mut self.runner, &tam.uri, None);
        (tc, std::mem::take(&mut self.runner.events))
    }

    fn installed(&self, tc: &TcId) -> bool {
        let components = self.tee.list_components().unwrap();
        components.iter().any(|c| c.id == tc.0)
    }
}

#[test]
fn appendix_e_example_1_ta_by_uri_installs_from_the_tam_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"));
    let tc = tam.add_ta_by_uri("hello", HELLO_WASM);
    // The manifest carries no payload; the TAM serves it at its digest.
    assert!(!tc
        .envelope
        .windows(HELLO_WASM.len())
        .any(|w| w == HELLO_WASM));
    let sha = hex::encode(teep_suit::Digest::sha256(HELLO_WASM).bytes);
    let uri = format!("{}/tam/payloads/{sha}", tam.public_url);
    let mut fetcher = HttpFetcher::new(FetchConfig {
        ca_pem: Some(test_ca()),
        ..FetchConfig::default()
    })
    .unwrap();
    let served = teep_suit::PayloadFetcher::fetch(&mut fetcher, &uri, u64::MAX).unwrap();
    assert_eq!(&served[..], HELLO_WASM);
    let unknown = format!("{}/tam/payloads/{}", tam.public_url, "0".repeat(64));
    let e = teep_suit::PayloadFetcher::fetch(&mut fetcher, &unknown, u64::MAX).unwrap_err();
    assert_eq!(e.reason, "HTTP 404");

    let mut dev = Device::of(&dir.path().join("dev"), &tam);
    let (hello, events) = dev.session_for(&tam, "hello");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Installed { .. })),
        "{events:?}"
    );
    assert!(dev.installed(&hello));
    let answer = dev.tee.invoke_once(&hello.0, 0, b"").unwrap();
    assert_eq!(answer, HELLO_ANSWER.as_bytes());
}

/// One answer of the payload server: what it writes after reading the request.
type Answer = fn(port: u16, out: &mut dyn Write);

/// An HTTPS server on 127.0.0.1 with the `tests/data` certificate answering every request
/// with `answer`; its port.
fn https_server(answer: Answer) -> u16 {
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
                answer(port, &mut tls);
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

/// HELLO_WASM's length in other bytes.
fn wrong_bytes(_: u16, out: &mut dyn Write) {
    let body = vec![0x5a; HELLO_WASM.len()];
    let head = format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
}

/// One byte more than image-size, announced.
fn larger_than_image_size(_: u16, out: &mut dyn Write) {
    let mut body = HELLO_WASM.to_vec();
    body.push(0);
    let head = format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
}

/// A chunked body that never ends.
fn endless(_: u16, out: &mut dyn Write) {
    let head = "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    let _ = out.write_all(head.as_bytes());
    while out.write_all(b"400\r\n").is_ok()
        && out.write_all(&[b'x'; 1024]).is_ok()
        && out.write_all(b"\r\n").is_ok()
    {}
}

/// A redirect from https to plain http.
fn redirect_to_http(port: u16, out: &mut dyn Write) {
    let head = format!(
        "HTTP/1.1 302 Found\r\nConnection: close\r\nLocation: http://127.0.0.1:{port}/p\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let _ = out.write_all(head.as_bytes());
}

/// A few bytes of the announced body, then nothing for longer than the fetcher waits.
fn slow(_: u16, out: &mut dyn Write) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        HELLO_WASM.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&HELLO_WASM[..8]);
    let _ = out.flush();
    std::thread::sleep(FETCH_TIMEOUT * 10);
}

/// A trusted manifest for HELLO_WASM naming the server of `answer`: the Agent answers with an
/// Error (ERR_MANIFEST_PROCESSING_FAILED) whose reason contains `why`, and a SUIT report that
/// failed at `command` for `reason`; the TAM records both; nothing is installed.
fn refused(answer: Answer, why: &str, command: i64, reason: ReportReason) {
    let dir = tempfile::tempdir().unwrap();
    let tam = Tam::start(&dir.path().join("tam"));
    let port = https_server(answer);
    // A URI as long as the TAM's own payload URLs, which leave err-msg (at most 128
    // characters) little room: the reason must come first to reach the TAM.
    let sha = hex::encode(teep_suit::Digest::sha256(HELLO_WASM).bytes);
    let uri = format!("https://127.0.0.1:{port}/tam/payloads/{sha}");
    tam.add_manifest_naming("hello", HELLO_WASM, &uri);
    let mut dev = Device::of(&dir.path().join("dev"), &tam);
    let (hello, events) = dev.session_for(&tam, "hello");

    let agent_reason = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::Refused {
                code: ErrorCode::ManifestProcessingFailed,
                reason,
            } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Error for the manifest: {events:?}"));
    assert!(agent_reason.contains(why), "{agent_reason}");
    assert!(!events
        .iter()
        .any(|e| matches!(e, AgentEvent::Installed { .. })));
    assert!(!dev.installed(&hello), "installed despite: {agent_reason}");

    // The TAM learns the reason: err-msg (at most 128 characters) holds it whole.
    let (err_msg, report) = tam.recorded_error();
    assert!(
        agent_reason.starts_with(&err_msg) && err_msg.contains(why),
        "{err_msg} / {agent_reason}"
    );
    match report.result {
        ReportResult::Failure {
            code, reason: r, ..
        } => assert_eq!((code, r), (command, reason), "{err_msg}"),
        ReportResult::Success => panic!("SUIT report says success: {err_msg}"),
    }
}

/// The command codes of RFC 9124 / draft-ietf-suit-manifest §8.4.
const CONDITION_IMAGE_MATCH: i64 = 3;
const DIRECTIVE_FETCH: i64 = 21;

#[test]
fn suit_condition_image_match_refuses_a_payload_of_another_digest() {
    refused(
        wrong_bytes,
        "condition condition-image-match failed: digest",
        CONDITION_IMAGE_MATCH,
        ReportReason::ConditionFailed,
    );
}

#[test]
fn suit_fetch_refuses_a_body_larger_than_image_size() {
    refused(
        larger_than_image_size,
        &format!(
            "Content-Length {} exceeds the limit of {} bytes",
            HELLO_WASM.len() + 1,
            HELLO_WASM.len()
        ),
        DIRECTIVE_FETCH,
        ReportReason::OperationFailed,
    );
}

#[test]
fn suit_fetch_stops_an_endless_body_at_image_size() {
    refused(
        endless,
        &format!("body exceeds the limit of {} bytes", HELLO_WASM.len()),
        DIRECTIVE_FETCH,
        ReportReason::OperationFailed,
    );
}

#[test]
fn suit_fetch_refuses_a_redirect_from_https_to_http() {
    refused(
        redirect_to_http,
        "redirect to another scheme refused: https to \"http://127.0.0.1:",
        DIRECTIVE_FETCH,
        ReportReason::OperationFailed,
    );
}

#[test]
fn suit_fetch_gives_up_on_a_slow_body() {
    refused(
        slow,
        "timed out",
        DIRECTIVE_FETCH,
        ReportReason::OperationFailed,
    );
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
