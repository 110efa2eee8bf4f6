//! The remote Verifier (RFC 9334 background-check model) over Veraison's challenge-response
//! API, against an in-test Verifier that implements the documented flow: newSession with the
//! TAM's challenge as the nonce, the Evidence posted with its media type, the EAR read from
//! the session, the session deleted. Its failures (timeout, 4xx/5xx, an EAR signed by another
//! key, a status other than affirming) fail attestation: an Update with
//! ERR_ATTESTATION_REQUIRED that says why, and the device marked failed.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use teep_bench::sim::{ExchangeResult, SimDevice};
use teep_cose::{KeyType, PrivateKey, Signer, SoftwareSigner};
use teep_proto::ErrorCode;
use teep_tam::config::VerifierChoice;
use teep_tam::model::DeviceStatus;
use teep_tam::Enroll;

/// How the in-test Verifier behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Affirm,
    Contraindicate,
    /// The EAR is signed by a key the TAM does not trust.
    ForeignSignature,
    /// newSession answers 400.
    RefuseSession,
    /// The evidence POST answers 500.
    Fail,
    /// Answers the evidence after the TAM's timeout.
    Slow,
    /// Answers 202, then `complete` when the session is read.
    Async,
    /// Answers the evidence with a body larger than the TAM reads.
    Oversized,
    /// Affirms, in an EAR bound to another nonce.
    OtherNonce,
}

#[derive(Default)]
struct Seen {
    nonces: Vec<Vec<u8>>,
    media_types: Vec<String>,
    deleted: usize,
}

struct Verifier {
    mode: Mode,
    ear_key: SoftwareSigner,
    seen: Mutex<Seen>,
}

fn ear_jwt(signer: &SoftwareSigner, status: &str, nonce: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "eat_profile": "tag:github.com,2023:veraison/ear",
        "iat": 1_800_000_000,
        "eat_nonce": URL_SAFE_NO_PAD.encode(nonce),
        "ear.verifier-id": {"build": "test", "developer": "teep tests"},
        "submods": {"TEEP": {"ear.status": status}},
    });
    let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let signed = format!("{h}.{p}");
    let sig = signer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

const SESSION: &str = "application/vnd.veraison.challenge-response-session+json";

async fn new_session(
    State(v): State<Arc<Verifier>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    if v.mode == Mode::RefuseSession {
        return (StatusCode::BAD_REQUEST, HeaderMap::new(), String::new());
    }
    let nonce = q.get("nonce").cloned().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(&nonce)
        .unwrap();
    v.seen.lock().unwrap().nonces.push(bytes);
    let mut h = HeaderMap::new();
    h.insert(
        "location",
        "/challenge-response/v1/session/1".parse().unwrap(),
    );
    h.insert("content-type", SESSION.parse().unwrap());
    let body = serde_json::json!({"nonce": nonce, "expiry": "2030-01-01T00:00:00Z",
        "accept": ["application/eat+cwt"], "status": "waiting"});
    (StatusCode::CREATED, h, body.to_string())
}

fn complete(v: &Verifier) -> String {
    let nonce = v.seen.lock().unwrap().nonces.last().cloned().unwrap();
    let ear = match v.mode {
        Mode::Contraindicate => ear_jwt(&v.ear_key, "contraindicated", &nonce),
        Mode::OtherNonce => ear_jwt(&v.ear_key, "affirming", &[0x5a; 32]),
        Mode::ForeignSignature => {
            let other = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x99; 32]).unwrap());
            ear_jwt(&other, "affirming", &nonce)
        }
        _ => ear_jwt(&v.ear_key, "affirming", &nonce),
    };
    serde_json::json!({"status": "complete", "result": ear}).to_string()
}

async fn evidence(
    State(v): State<Arc<Verifier>>,
    Path(_id): Path<String>,
    headers: HeaderMap,
    _body: axum::body::Bytes,
) -> impl IntoResponse {
    let ct = headers
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .to_string();
    v.seen.lock().unwrap().media_types.push(ct);
    match v.mode {
        Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            (StatusCode::OK, complete(&v))
        }
        Mode::Oversized => (StatusCode::OK, " ".repeat(70_000) + &complete(&v)),
        Mode::Async => (
            StatusCode::ACCEPTED,
            serde_json::json!({"status": "processing"}).to_string(),
        ),
        _ => (StatusCode::OK, complete(&v)),
    }
}

async fn read_session(
    State(v): State<Arc<Verifier>>,
    Path(_id): Path<String>,
) -> impl IntoResponse {
    (StatusCode::OK, complete(&v))
}

async fn delete_session(State(v): State<Arc<Verifier>>, Path(_id): Path<String>) -> StatusCode {
    v.seen.lock().unwrap().deleted += 1;
    StatusCode::NO_CONTENT
}

/// Starts the in-test Verifier; returns its base URL.
async fn start_verifier(v: Arc<Verifier>) -> String {
    let app = Router::new()
        .route("/challenge-response/v1/newSession", post(new_session))
        .route(
            "/challenge-response/v1/session/{id}",
            post(evidence).get(read_session).delete(delete_session),
        )
        .with_state(v);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// A TAM whose Verifier is the in-test one in `mode`, with `policy` for `[appraisal]`.
async fn setup(
    mode: Mode,
    appraisal: impl FnOnce(&mut teep_tam::config::AppraisalConfig),
) -> (Tam, Arc<Verifier>) {
    let v = Arc::new(Verifier {
        mode,
        ear_key: SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x31; 32]).unwrap()),
        seen: Mutex::default(),
    });
    let url = start_verifier(v.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("ear-key.pem");
    std::fs::write(&key_path, v.ear_key.public_key().to_spki_pem()).unwrap();
    let tam = start_with(
        dir,
        |mut c| {
            c.verifier = VerifierChoice::Veraison;
            c.veraison.url = Some(url);
            c.veraison.ear_key = Some(key_path);
            c.veraison.timeout_ms = 1000;
            appraisal(&mut c.appraisal);
            c
        },
        Enroll::Open,
    )
    .await;
    (tam, v)
}

/// RFC 9334 background check through Veraison: the TAM's challenge is the session nonce, the
/// Evidence goes with its media type, an affirming EAR signed by the configured key attests
/// the device (the Verifier is recorded in its claims) and the session is deleted.
#[tokio::test]
async fn an_affirming_veraison_ear_attests_the_device() {
    for mode in [Mode::Affirm, Mode::Async] {
        let (tam, v) = setup(mode, |_| {}).await;
        add_assigned_ta(&tam, "hello", b"hi").await;
        let mut dev = SimDevice::new(KeyType::P256);
        assert_eq!(
            tam.exchange(&mut dev).await,
            ExchangeResult::Updated,
            "{mode:?}"
        );
        let d = tam.device(&dev).await;
        assert_eq!(d.status, DeviceStatus::Attested);
        assert!(
            d.claims.as_deref().unwrap().contains("veraison"),
            "{:?}",
            d.claims
        );
        {
            let seen = v.seen.lock().unwrap();
            assert_eq!(seen.nonces.len(), 1);
            assert_eq!(seen.nonces[0].len(), 32, "the TAM's challenge");
            assert_eq!(seen.media_types, ["application/eat+cwt"]);
            assert_eq!(seen.deleted, 1);
        }
        tam.handle.shutdown().await;
    }
}

/// Every way the remote appraisal can fail fails attestation: ERR_ATTESTATION_REQUIRED with
/// an err-msg that says why, and the device is not admitted.
#[tokio::test]
async fn veraison_failures_fail_attestation_and_say_why() {
    for (mode, says) in [
        (Mode::Contraindicate, "ear.status is contraindicated"),
        (Mode::ForeignSignature, "EAR signature does not verify"),
        (Mode::RefuseSession, "newSession: HTTP 400"),
        (Mode::Fail, "evidence: HTTP 500"),
        (Mode::Slow, "timed out"),
        (Mode::Oversized, "response exceeds 65536 bytes"),
        (Mode::OtherNonce, "EAR eat_nonce is not the challenge"),
    ] {
        let (tam, v) = setup(mode, |_| {}).await;
        let dev = SimDevice::new(KeyType::P256);
        let reply = tam.answer_query(&dev, None).await;
        let (code, why) = error_update(&reply);
        assert_eq!(code, ErrorCode::AttestationRequired, "{mode:?}");
        assert!(why.contains(says), "{mode:?}: {why}");
        assert!(why.starts_with("verifier: "), "{why}");
        // Open enrollment stores nothing of a device it does not admit (the audit says why).
        let stored = tam.store().device_by_kid(&dev.kid()).await.unwrap();
        assert!(stored.is_none(), "{mode:?}: {stored:?}");
        if mode != Mode::RefuseSession {
            assert_eq!(
                v.seen.lock().unwrap().deleted,
                1,
                "{mode:?}: session deleted"
            );
        }
        tam.handle.shutdown().await;
    }
}

/// The appraisal policy applies to a remote Verifier's result too.
#[tokio::test]
async fn the_appraisal_policy_applies_to_a_remote_result() {
    let (tam, _v) = setup(Mode::Affirm, |a| a.hwmodels = vec!["another-tee".into()]).await;
    let dev = SimDevice::new(KeyType::P256);
    let (code, why) = error_update(&tam.answer_query(&dev, None).await);
    assert_eq!(code, ErrorCode::AttestationRequired);
    assert!(why.contains("hwmodel"), "{why}");
    tam.handle.shutdown().await;
}

/// `verifier = "veraison"` needs its URL and EAR key: the configuration says which is
/// missing.
#[test]
fn veraison_config_names_what_is_missing() {
    let mut c = teep_tam::Config {
        verifier: VerifierChoice::Veraison,
        ..Default::default()
    };
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("veraison.url"));
    c.veraison.url = Some("http://v".into());
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("veraison.ear_key"));
    c.veraison.url = Some("ftp://v".into());
    assert!(c.validate().unwrap_err().to_string().contains("http(s)"));
}

/// -26 §4.2, §5 (passport model) over HTTP: `attestation_model = "passport"` sends a token and
/// no challenge, and a device presenting a trusted Verifier's Attestation Result bound to
/// the token is attested and served.
#[tokio::test]
async fn passport_model_end_to_end() {
    let verifier = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x41; 32]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("verifier.pem");
    std::fs::write(&key_path, verifier.public_key().to_spki_pem()).unwrap();
    let tam = start_with(
        dir,
        |mut c| {
            c.attestation_model = teep_tam::config::AttestationModel::Passport;
            c.verifier_keys = vec![key_path];
            c
        },
        Enroll::Open,
    )
    .await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let qreq = client.post(Vec::new()).await.unwrap();
    let mut dev = SimDevice::new(KeyType::P256);
    let seen = dev
        .read_query_request(&qreq.body, teep_proto::Numbering::Draft26, &[])
        .unwrap();
    assert!(seen.challenge.is_none() && seen.token.is_some());
    dev.verifier = Some(verifier);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    let d = tam.device(&dev).await;
    assert_eq!(d.status, DeviceStatus::Attested);
    assert!(d.claims.as_deref().unwrap().contains("\"passport\":true"));
    tam.handle.shutdown().await;
}

/// Passport needs trusted Verifier keys: the configuration says so.
#[test]
fn passport_config_needs_verifier_keys() {
    let c = teep_tam::Config {
        attestation_model: teep_tam::config::AttestationModel::Passport,
        ..Default::default()
    };
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("verifier_keys"));
}
