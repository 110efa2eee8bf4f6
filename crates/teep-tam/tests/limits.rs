//! A TAM on the open internet: metrics that count only verified facts.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use teep_bench::sim::{ExchangeResult, SimDevice};
use teep_cose::KeyType;
use teep_proto::{ErrorCode, Numbering};
use teep_tam::Enroll;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const N: Numbering = Numbering::Draft26;

/// A generous bound for what should take a fraction of it: only a guard against hanging.
const GUARD: Duration = Duration::from_secs(30);

/// One HTTP/1.1 request on a new connection; the status and the body.
async fn http(addr: SocketAddr, request: String) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut buf))
        .await
        .expect("response within the guard")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Every series of `/metrics` whose name starts with `prefix`, with its value.
async fn series(tam: &Tam, prefix: &str) -> BTreeMap<String, f64> {
    let (status, text) = http(
        tam.addr,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

/// Unauthenticated Error messages (unknown signer, or a known device with a token the TAM
/// never issued), whatever code they carry, move no per-code counter and add no series; a
/// verified one counts under its code.
#[tokio::test]
async fn agent_errors_count_only_when_signature_and_token_are_verified() {
    let tam = start(Enroll::Open).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let mut known = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut known).await, ExchangeResult::Updated);

    let before = series(&tam, "teep_tam_").await;
    let agent_before = series(&tam, "teep_tam_agent_errors_total").await;
    assert!(agent_before.values().all(|v| *v == 0.0), "{agent_before:?}");
    let codes: Vec<ErrorCode> = [1u64, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 99, 12345]
        .into_iter()
        .map(|v| ErrorCode::from_value(v, N))
        .collect();
    for (i, code) in codes.iter().cycle().take(120).enumerate() {
        let token = Some(vec![i as u8; 16]);
        let body = if i % 2 == 0 {
            SimDevice::new(KeyType::P256).error(token, *code, "forged", N)
        } else {
            known.error(token, *code, "unknown token", N)
        }
        .unwrap();
        let r = client.post(body).await.unwrap();
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    }
    let after = series(&tam, "teep_tam_").await;
    let names = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&before), names(&after), "the label sets changed");
    let agent_after = series(&tam, "teep_tam_agent_errors_total").await;
    assert_eq!(agent_before, agent_after, "unverified Errors were counted");

    // A verified Error, answering the Update the TAM sent, counts under its code.
    let mut dev = SimDevice::new(KeyType::P256);
    let upd = tam.answer_query(&dev, None).await;
    assert_eq!(upd.status, 200);
    let token = dev.read_update(&upd.body, N).unwrap();
    let err = dev
        .error(token, ErrorCode::ManifestProcessingFailed, "no space", N)
        .unwrap();
    assert_eq!(client.post(err).await.unwrap().status, 204);
    let counted = series(&tam, "teep_tam_agent_errors_total").await;
    assert_eq!(
        counted["teep_tam_agent_errors_total{code=\"ERR_MANIFEST_PROCESSING_FAILED\"}"], 1.0,
        "{counted:?}"
    );
    assert_eq!(counted.values().sum::<f64>(), 1.0, "{counted:?}");
    tam.handle.shutdown().await;
}
