//! Independent agents' observed behaviour against the TAM over HTTP (issue 17): an agent of
//! the -12…-25 era signs ES256 (-7) and is answered in ES256; an agent that drops the token
//! it was sent (reading -26 §4.2's token rule as its own) is found by its challenge, and the
//! deviation shows in the exchange's log span, the metrics and the admin API's log; a TAM
//! that follows §4.2 to the letter sends the challenge alone.

mod common;

use common::*;
use teep_bench::sim::SimDevice;
use teep_cose::{Algorithm, KeyType, PrivateKey, SoftwareSigner};
use teep_proto::{Numbering, TeepMessage};
use teep_tam::Enroll;

const N: Numbering = Numbering::Draft26;

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn alg_of(body: &[u8]) -> i64 {
    teep_cose::open(body).unwrap().signatures[0].alg.to_cose()
}

/// -26 §8.1 over HTTP: the suite the agent selected is used for the Update.
#[tokio::test]
async fn an_es256_agent_gets_an_es256_update() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = SimDevice::from_key(PrivateKey::generate(KeyType::P256));
    dev.signer = SoftwareSigner::with_algorithm(dev.private.clone(), Algorithm::Es256).unwrap();
    let reply = tam.answer_query(&dev, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(alg_of(&reply.body), -7);
    let token = dev
        .read_update_from(&reply.body, N, &tam.tam_keys())
        .unwrap();
    let done = tam
        .client()
        .post(dev.success(token, N).unwrap())
        .await
        .unwrap();
    assert_eq!(done.status, 204);
    assert_eq!(tam.device(&dev).await.suite_alg, Some(-7));
    tam.handle.shutdown().await;
}

/// An agent that leaves out the token it was sent: accepted by its challenge, the deviation
/// in the step's span (and a log line naming it), counted, and in the admin API's log.
#[tokio::test]
async fn a_dropped_token_is_a_deviation_in_the_span_the_metrics_and_the_log() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("teep_tam=info")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let tam = start(Enroll::Tofu).await;
    let mut dev = SimDevice::new(KeyType::Ed25519);
    // Holds a TC (unknown to the catalog, left alone): its tc-list is not `[]`, so the one
    // deviation is the dropped token.
    dev.installed = vec![vec![b"TEEP-Device".to_vec(), b"held".to_vec(), b"ta".to_vec()].into()];
    let client = tam.client();
    let request = client.post(Vec::new()).await.unwrap();
    let mut seen = dev.read_query_request(&request.body, N, &[]).unwrap();
    seen.token = None;
    let reply = client
        .post(dev.query_response(&seen, N).unwrap())
        .await
        .unwrap();
    assert_eq!(
        reply.status,
        204,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    let metrics = get_text(&tam.url("/metrics")).await;
    assert!(
        metrics.contains("teep_tam_deviations_total{code=\"teep.token-not-echoed\"} 1"),
        "{metrics}"
    );
    let log = admin_get(&tam, "/admin/log").await;
    let notes = log[0]["notes"].as_array().unwrap();
    assert!(
        notes[0]
            .as_str()
            .unwrap()
            .starts_with("teep.token-not-echoed at QueryResponse.token (TEEP-26 §4.3"),
        "{log}"
    );
    tam.handle.shutdown().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let kid = hex::encode(dev.kid());
    let line = logs
        .lines()
        .find(|l| l.contains("accepted deviation: teep.token-not-echoed") && l.contains(&kid))
        .unwrap_or_else(|| panic!("no deviation line for {kid} in\n{logs}"));
    assert!(
        line.contains("deviations=\"teep.token-not-echoed\"")
            || line.contains("deviations=teep.token-not-echoed"),
        "{line}"
    );
}

/// With `token_with_attestation` off, the QueryRequest carries the challenge alone (-26
/// §4.2) and the session completes without a token.
#[tokio::test]
async fn a_tam_that_sends_no_token_with_attestation_completes_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |c| teep_tam::Config {
            token_with_attestation: false,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = SimDevice::new(KeyType::P256);
    let request = tam.client().post(Vec::new()).await.unwrap();
    let (_, m) = teep_tam::wire::signed::open_message(&request.body, N).unwrap();
    let TeepMessage::QueryRequest(q) = m else {
        panic!("a QueryRequest")
    };
    assert!(q.token.is_none() && q.challenge.is_some());
    assert_eq!(
        tam.exchange(&mut dev).await,
        teep_bench::sim::ExchangeResult::Updated
    );
    tam.handle.shutdown().await;
}

/// The kid-less signer search's reads on SQLite (PostgreSQL: `tests/postgres.rs`).
#[tokio::test]
async fn kidless_lookups_on_sqlite() {
    let tam = start(Enroll::Registered).await;
    check_kidless_lookups(tam.store()).await;
    tam.handle.shutdown().await;
}

async fn get_text(url: &str) -> String {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    })
    .await
    .unwrap()
}

async fn admin_get(tam: &Tam, path: &str) -> serde_json::Value {
    let url = tam.url(path);
    tokio::task::spawn_blocking(move || {
        let text = ureq::get(&url)
            .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    })
    .await
    .unwrap()
}
