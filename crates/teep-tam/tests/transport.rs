//! HTTP transport rules (draft-ietf-teep-otrp-over-http §5), limits, hostile input, metrics
//! and the admin API.

mod common;

use common::*;
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::sim::{exchange, SimDevice};
use teep_tam::Enroll;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(url: &str, content_type: Option<&str>, body: &[u8]) -> ureq::http::Response<ureq::Body> {
    let mut req = agent().post(url).header("Accept", "application/teep+cbor");
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    req.send(body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn teep_responses_carry_the_transport_headers_and_no_cache_control() {
    let tam = start(Enroll::Open).await;
    let url = tam.url("/tam");
    let r = tokio::task::spawn_blocking(move || post(&url, None, b""))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["content-type"], "application/teep+cbor");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h.get("cache-control").is_none());
    assert!(h.get("set-cookie").is_none());
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_content_type_is_415_and_oversized_body_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |mut c| {
            c.body_limit = 4096;
            c
        },
        Enroll::Open,
    )
    .await;
    let url = tam.url("/tam");
    let (a, b, c) = tokio::task::spawn_blocking(move || {
        let a = post(&url, Some("application/json"), b"{}").status();
        let b = post(&url, Some("application/teep+cbor"), &vec![0u8; 5000]).status();
        let c = agent().get(&url).call().unwrap().status();
        (a, b, c)
    })
    .await
    .unwrap();
    assert_eq!(a, 415);
    assert_eq!(b, 413);
    assert_eq!(c, 405);

    // A chunked body announces no length: it is refused once it passes the limit, with
    // the limit named; one under the limit is read whole and judged as a TEEP message.
    let chunked = |len: usize| {
        let addr = tam.addr;
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut req = format!(
                "POST /tam HTTP/1.1\r\nHost: x\r\nContent-Type: application/teep+cbor\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{len:x}\r\n"
            )
            .into_bytes();
            req.extend(std::iter::repeat_n(0u8, len));
            req.extend_from_slice(b"\r\n0\r\n\r\n");
            // The server may answer and close before it has read everything.
            let _ = s.write_all(&req).await;
            let mut resp = Vec::new();
            let _ = s.read_to_end(&mut resp).await;
            String::from_utf8_lossy(&resp).to_string()
        }
    };
    let over = chunked(5000).await;
    assert!(over.starts_with("HTTP/1.1 413"), "{over}");
    assert!(over.contains("limit of 4096 bytes"), "{over}");
    let under = chunked(100).await;
    assert!(under.starts_with("HTTP/1.1 400"), "{under}");
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_message_gets_400_naming_the_problem_or_not_when_explanations_are_off() {
    let tam = start(Enroll::Open).await;
    let url = tam.url("/tam");
    let (status, text) = tokio::task::spawn_blocking(move || {
        let mut r = post(&url, Some("application/teep+cbor"), &[0x82, 0x01, 0xa0]);
        (r.status(), r.body_mut().read_to_string().unwrap())
    })
    .await
    .unwrap();
    assert_eq!(status, 400);
    assert!(text.to_lowercase().contains("cose"), "{text}");
    tam.handle.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |mut c| {
            c.explain_errors = false;
            c
        },
        Enroll::Open,
    )
    .await;
    let url = tam.url("/tam");
    let text = tokio::task::spawn_blocking(move || {
        post(&url, Some("application/teep+cbor"), &[0x82, 0x01, 0xa0])
            .body_mut()
            .read_to_string()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(text.trim(), "Bad Request");
    tam.handle.shutdown().await;
}

/// Deterministic xorshift, so a failure reproduces.
struct Xs(u64);
impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_hostile_bodies_change_nothing_and_never_5xx() {
    let tam = start(Enroll::Open).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    // Valid material to mutate: a QueryResponse and a Success of a real session.
    let mut dev = SimDevice::new(KeyType::P256);
    let qreq = client.post(Vec::new()).await.unwrap();
    let seen = dev
        .read_query_request(&qreq.body, Numbering::Draft26, &[])
        .unwrap();
    let qresp = dev.query_response(&seen, Numbering::Draft26).unwrap();
    let success = dev.success(Some(vec![1; 16]), Numbering::Draft26).unwrap();
    let before = tam.store().fingerprint().await.unwrap();

    let mut rng = Xs(0x5eed_1234_abcd_ef01);
    for i in 0..1000u32 {
        let base = if i % 2 == 0 { &qresp } else { &success };
        let body: Vec<u8> = match i % 4 {
            // Random bytes.
            0 => (0..(rng.next() % 300 + 1))
                .map(|_| rng.next() as u8)
                .collect(),
            // Bit flips.
            1 | 2 => {
                let mut b = base.clone();
                for _ in 0..(rng.next() % 4 + 1) {
                    let p = (rng.next() as usize) % b.len();
                    b[p] ^= 1 << (rng.next() % 8);
                }
                b
            }
            // Truncation.
            _ => base[..(rng.next() as usize) % base.len()].to_vec(),
        };
        if body.is_empty() {
            continue;
        }
        let r = client.post(body).await.unwrap();
        assert!(
            r.status == 400 || r.status == 200 || r.status == 204,
            "body {i}: status {}",
            r.status
        );
        // A mutation that still verifies is impossible: signatures cover everything.
        assert_eq!(r.status, 400, "body {i} was accepted");
    }
    // Only the session opened above exists; nothing else moved.
    assert_eq!(tam.store().fingerprint().await.unwrap(), before);
    // And the untouched QueryResponse still works.
    assert_eq!(client.post(qresp).await.unwrap().status, 200);
    let _ = exchange(&client, &mut dev, Numbering::Draft26, &tam.tam_keys())
        .await
        .unwrap();
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_exchanges_errors_and_devices() {
    let tam = start(Enroll::Open).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let mut dev = SimDevice::new(KeyType::P256);
    exchange(&client, &mut dev, Numbering::Draft26, &tam.tam_keys())
        .await
        .unwrap();
    client.post(vec![0xff]).await.unwrap();
    let url = tam.url("/metrics");
    let text = tokio::task::spawn_blocking(move || {
        agent()
            .get(&url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        text.contains("teep_tam_exchanges_total{result=\"update\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("teep_tam_exchanges_total{result=\"success\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("teep_tam_errors_total{code=\"malformed\"} 1"),
        "{text}"
    );
    assert!(text.contains("teep_tam_devices 1"), "{text}");
    assert!(
        text.contains("teep_tam_request_duration_seconds_count 4"),
        "{text}"
    );
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_needs_the_token_and_drives_catalog_devices_and_policy() {
    let tam = start(Enroll::Open).await;
    let base = tam.url("");
    let dev = SimDevice::new(KeyType::Ed25519);
    let pem = dev.public_key().to_spki_pem();
    tokio::task::spawn_blocking(move || {
        let a = agent();
        let auth = format!("Bearer {ADMIN_TOKEN}");
        assert_eq!(
            a.get(format!("{base}/admin/tcs")).call().unwrap().status(),
            401
        );
        assert_eq!(
            a.get(format!("{base}/admin/tcs"))
                .header("Authorization", "Bearer wrong-token")
                .call()
                .unwrap()
                .status(),
            401
        );
        let spec: serde_json::Value = serde_json::from_str(
            &a.get(format!("{base}/admin/openapi.json"))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(spec["openapi"], "3.1.0");
        let mut r = a
            .post(format!("{base}/admin/tas?name=hello"))
            .header("Authorization", &auth)
            .send(&b"Hello"[..])
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "{}",
            r.body_mut().read_to_string().unwrap()
        );
        let mut r = a
            .post(format!("{base}/admin/devices"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "key": pem, "name": "d1", "tags": ["lab"] }).to_string())
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "{}",
            r.body_mut().read_to_string().unwrap()
        );
        let r = a
            .post(format!("{base}/admin/assignments"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "tc": "hello", "target": "tag:lab" }).to_string())
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = a
            .post(format!("{base}/admin/assignments"))
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "tc": "nope", "target": "all" }).to_string())
            .unwrap();
        assert_eq!(r.status(), 404);
        let devices: serde_json::Value = serde_json::from_str(
            &a.get(format!("{base}/admin/devices"))
                .header("Authorization", &auth)
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(devices[0]["name"], "d1");
        assert_eq!(devices[0]["assigned"].as_array().unwrap().len(), 1);
    })
    .await
    .unwrap();
    // The tag assignment reaches the device.
    let mut d = dev;
    let r = exchange(&tam.client(), &mut d, Numbering::Draft26, &tam.tam_keys())
        .await
        .unwrap();
    assert_eq!(r, teep_tam::sim::ExchangeResult::Updated);
    tam.handle.shutdown().await;
}
