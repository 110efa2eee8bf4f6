//! A TAM on the open internet: metrics that count only verified facts, and per-connection
//! limits (header and body timeouts, connection caps) that keep one client from starving
//! the others.

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
    let tam = start(Enroll::Tofu).await;
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

/// A connection from `src` (another loopback address: the TAM sees another client).
async fn connect_from(src: &str, addr: SocketAddr) -> TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(format!("{src}:0").parse().unwrap()).unwrap();
    s.connect(addr).await.unwrap()
}

/// Reads until the server closes `s` (end of stream or reset); what it sent before.
async fn closed_by_server(s: &mut tokio::net::tcp::OwnedReadHalf) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(GUARD, read)
        .await
        .expect("the server closes the connection within the guard");
    String::from_utf8_lossy(&got).into_owned()
}

/// A connection that sends a header line every 200 ms and never ends its headers (or, with
/// `body`, ends them and then trickles the body a byte at a time); returns what the server
/// sent before closing it.
fn slow_client(addr: SocketAddr, src: &'static str, body: bool) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let (mut r, mut w) = connect_from(src, addr).await.into_split();
        let writer = tokio::spawn(async move {
            let mut head = "POST /tam HTTP/1.1\r\nHost: t\r\n".to_string();
            if body {
                head.push_str(
                    "Content-Type: application/teep+cbor\r\nContent-Length: 4000\r\n\r\n",
                );
            }
            if w.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let more: &[u8] = if body { b"\x00" } else { b"X-Slow: yes\r\n" };
                if w.write_all(more).await.is_err() {
                    return;
                }
            }
        });
        let got = closed_by_server(&mut r).await;
        writer.abort();
        got
    })
}

fn limited(c: teep_tam::Config) -> teep_tam::Config {
    teep_tam::Config {
        header_timeout_ms: 1000,
        body_timeout_ms: 1000,
        max_connections: 24,
        max_connections_per_address: 8,
        ..c
    }
}

/// One address opens more than four times its cap of idle, header-less connections (and
/// another trickles header lines): the TAM keeps answering another client, closes the connections
/// over the cap as it accepts them and the others after the header timeout, and counts both.
#[tokio::test]
async fn idle_connections_from_one_address_starve_no_one_and_are_closed() {
    let tam = start_with(tempfile::tempdir().unwrap(), limited, Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut idle = Vec::new();
    for _ in 0..36 {
        let (r, w) = connect_from("127.0.0.2", tam.addr).await.into_split();
        idle.push((r, w));
    }
    let trickling: Vec<_> = (0..4)
        .map(|_| slow_client(tam.addr, "127.0.0.4", false))
        .collect();

    // Another client's full exchange completes meanwhile.
    let mut dev = SimDevice::new(KeyType::P256);
    let exchange = tokio::time::timeout(GUARD, tam.exchange(&mut dev));
    assert_eq!(exchange.await.unwrap(), ExchangeResult::Updated);

    // Every one of them is closed: over the cap at once, the rest by the header timeout.
    for (r, _w) in &mut idle {
        closed_by_server(r).await;
    }
    for t in trickling {
        t.await.unwrap();
    }
    let hits = series(&tam, "teep_tam_limit_hits_total").await;
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"connections-per-address\"}"], 28.0,
        "{hits:?}"
    );
    // The eight idle ones admitted and the four trickling ones were cut off before their
    // headers were complete.
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"header-timeout\"}"], 12.0,
        "{hits:?}"
    );
    // And afterwards the address is served again.
    let (mut r, mut w) = connect_from("127.0.0.2", tam.addr).await.into_split();
    w.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let got = closed_by_server(&mut r).await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    tam.handle.shutdown().await;
}

/// Over the total cap, connections are closed as they are accepted; those under it wait for
/// the header timeout. Once the first ones are gone, others get through again.
#[tokio::test]
async fn connections_over_the_total_cap_are_closed_when_accepted() {
    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config {
            header_timeout_ms: 600_000,
            max_connections: 4,
            max_connections_per_address: 0,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.2", tam.addr).await);
    }
    // The header timeout is ten minutes: closed within the guard, they were refused.
    for _ in 0..6 {
        let (mut r, _w) = connect_from("127.0.0.3", tam.addr).await.into_split();
        closed_by_server(&mut r).await;
    }
    drop(held);
    // A scrape needs a free place too: retried until the held connections are gone.
    let started = std::time::Instant::now();
    let hits = loop {
        let hits = scrape(tam.addr).await.unwrap_or_default();
        if hits
            .get("teep_tam_connections_open")
            .is_some_and(|v| *v <= 1.0)
        {
            break hits;
        }
        assert!(started.elapsed() < GUARD, "the held connections stay open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"connections\"}"], 6.0,
        "{hits:?}"
    );
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    tam.handle.shutdown().await;
}

/// Every `teep_tam_` series of `/metrics`; `None` when the TAM closed the connection.
async fn scrape(addr: SocketAddr) -> Option<BTreeMap<String, f64>> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf);
    if !text.starts_with("HTTP/1.1 200 ") {
        return None;
    }
    Some(
        text.lines()
            .filter(|l| l.starts_with("teep_tam_"))
            .filter_map(|l| l.rsplit_once(' '))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect(),
    )
}

/// Bodies slower than the body timeout allows get 408 and their connection is closed; a
/// device meanwhile completes its exchange.
#[tokio::test]
async fn slow_bodies_get_408_and_are_closed() {
    let tam = start_with(tempfile::tempdir().unwrap(), limited, Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let slow: Vec<_> = (0..6)
        .map(|_| slow_client(tam.addr, "127.0.0.2", true))
        .collect();
    let mut dev = SimDevice::new(KeyType::P256);
    let exchange = tokio::time::timeout(GUARD, tam.exchange(&mut dev));
    assert_eq!(exchange.await.unwrap(), ExchangeResult::Updated);
    for s in slow {
        let got = s.await.unwrap();
        assert!(got.starts_with("HTTP/1.1 408 "), "{got}");
        assert!(got.contains("not received in time"), "{got}");
    }
    let hits = series(&tam, "teep_tam_limit_hits_total").await;
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"body-timeout\"}"], 6.0,
        "{hits:?}"
    );
    let errors = series(&tam, "teep_tam_errors_total").await;
    assert_eq!(errors["teep_tam_errors_total{code=\"body-timeout\"}"], 6.0);
    tam.handle.shutdown().await;
}

/// An idle keep-alive connection is closed by the header timeout after its last answer.
#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let tam = start_with(tempfile::tempdir().unwrap(), limited, Enroll::Tofu).await;
    let (mut r, mut w) = connect_from("127.0.0.2", tam.addr).await.into_split();
    w.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let got = closed_by_server(&mut r).await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    assert!(
        !got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
    // That is its normal end, not a limit hit.
    let hits = series(&tam, "teep_tam_limit_hits_total").await;
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"header-timeout\"}"], 0.0,
        "{hits:?}"
    );
    tam.handle.shutdown().await;
}

/// Over its rate, an address gets 429 with Retry-After, and its request changes nothing:
/// no session, no audit entry. Another address is not affected.
#[tokio::test]
async fn teep_requests_over_the_rate_get_429_and_change_nothing() {
    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config {
            rate_per_address: 1,
            rate_burst: 2,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let addr = tam.addr;
    let empty_post = |src: &'static str| empty_post_from(src, addr);
    for _ in 0..2 {
        let got = empty_post("127.0.0.2").await;
        assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    }
    let before = db_state(&tam).await;
    let got = empty_post("127.0.0.2").await;
    assert!(got.starts_with("HTTP/1.1 429 "), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n"),
        "{got}"
    );
    assert_eq!(
        db_state(&tam).await,
        before,
        "a refused request changed the database"
    );
    // Another address still has its burst.
    let got = empty_post("127.0.0.3").await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    let hits = series(&tam, "teep_tam_limit_hits_total").await;
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"rate\"}"], 1.0,
        "{hits:?}"
    );
    tam.handle.shutdown().await;
}

/// Web UI log-in attempts are throttled per address, whatever the rate settings: after the
/// burst, 429 with Retry-After and the token is not even checked; another address still gets
/// its answer (401 for a wrong token).
#[tokio::test]
async fn log_in_attempts_over_the_throttle_get_429() {
    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config {
            admin_token: Some("right-token-0123456789".into()),
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let addr = tam.addr;
    let attempt = |src: &'static str| async move {
        let (mut r, mut w) = connect_from(src, addr).await.into_split();
        let body = "token=wrong";
        w.write_all(
            format!(
                "POST /ui/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        closed_by_server(&mut r).await
    };
    for i in 0..10 {
        let got = attempt("127.0.0.4").await;
        assert!(got.starts_with("HTTP/1.1 401 "), "attempt {i}: {got}");
    }
    let got = attempt("127.0.0.4").await;
    assert!(got.starts_with("HTTP/1.1 429 "), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("\r\nretry-after: "),
        "{got}"
    );
    let got = attempt("127.0.0.5").await;
    assert!(got.starts_with("HTTP/1.1 401 "), "{got}");
    // An admin API request with a wrong token is a log-in attempt too: once they are used
    // up, even the right token waits.
    let admin = |token: &str| {
        format!("GET /admin/devices HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
    };
    let right = admin("right-token-0123456789");
    let got = request_from("127.0.0.8", addr, &right).await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    for i in 0..10 {
        let got = request_from("127.0.0.8", addr, &admin("wrong-token-x")).await;
        assert!(got.starts_with("HTTP/1.1 401 "), "attempt {i}: {got}");
    }
    assert_status_retry_after(&request_from("127.0.0.8", addr, &right).await, 429);
    let hits = series(&tam, "teep_tam_limit_hits_total").await;
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"login-rate\"}"], 2.0,
        "{hits:?}"
    );
    tam.handle.shutdown().await;
}

/// An empty POST (a new session) from `src` on a new connection: what the TAM answered.
async fn empty_post_from(src: &str, addr: SocketAddr) -> String {
    request_from(
        src,
        addr,
        "POST /tam HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
}

/// `request` from `src` on a new connection: what the TAM answered before closing it.
async fn request_from(src: &str, addr: SocketAddr, request: &str) -> String {
    let (mut r, mut w) = connect_from(src, addr).await.into_split();
    w.write_all(request.as_bytes()).await.unwrap();
    closed_by_server(&mut r).await
}

fn assert_status_retry_after(got: &str, status: u16) {
    assert!(got.starts_with(&format!("HTTP/1.1 {status} ")), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("\r\nretry-after: "),
        "{got}"
    );
}

/// Session caps (issue: quotas): a new session beyond `max_sessions_per_address` gets 429,
/// beyond `max_sessions` 503, each with Retry-After and nothing stored; a device whose
/// session is already open finishes it (QueryResponse → Update → Success) while the caps
/// are full, and its end frees a place.
#[tokio::test]
async fn new_sessions_over_the_caps_get_429_or_503_and_open_ones_finish() {
    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config {
            max_sessions: 4,
            max_sessions_per_address: 2,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let addr = tam.addr;
    // A device opens its session (from 127.0.0.1).
    let client = tam.client();
    let mut dev = SimDevice::new(KeyType::P256);
    let qreq = client.post(Vec::new()).await.unwrap();
    assert_eq!(qreq.status, 200);
    let seen = dev.read_query_request(&qreq.body, N, &[]).unwrap();
    // Another address takes its two.
    for _ in 0..2 {
        let got = empty_post_from("127.0.0.2", addr).await;
        assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    }
    let before = db_state(&tam).await;
    assert_status_retry_after(&empty_post_from("127.0.0.2", addr).await, 429);
    let got = empty_post_from("127.0.0.3", addr).await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    // Four open: the TAM's cap, whoever asks.
    assert_status_retry_after(&empty_post_from("127.0.0.4", addr).await, 503);
    assert_eq!(
        db_state(&tam).await,
        before,
        "a refused session changed the database"
    );

    // The device's session goes on; while its Update awaits the Success it still counts.
    let upd = client
        .post(dev.query_response(&seen, N).unwrap())
        .await
        .unwrap();
    assert_eq!(upd.status, 200, "{}", String::from_utf8_lossy(&upd.body));
    let token = dev.read_update(&upd.body, N).unwrap();
    assert_status_retry_after(&empty_post_from("127.0.0.4", addr).await, 503);
    let done = client.post(dev.success(token, N).unwrap()).await.unwrap();
    assert_eq!(done.status, 204);
    // Its end frees a place.
    let got = empty_post_from("127.0.0.4", addr).await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");

    let hits = series(&tam, "teep_tam_limit_hits_total").await;
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"sessions\"}"], 2.0,
        "{hits:?}"
    );
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"sessions-per-address\"}"], 1.0,
        "{hits:?}"
    );
    tam.handle.shutdown().await;
}

/// The admin API and web UI have their own per-address rate: beyond it 429 with Retry-After,
/// while the same address's TEEP requests and another address's admin requests go on.
#[tokio::test]
async fn admin_requests_over_their_rate_get_429_apart_from_teep() {
    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config {
            admin_rate_per_address: 1,
            admin_rate_burst: 2,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let addr = tam.addr;
    let list = format!(
        "GET /admin/devices HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..2 {
        let got = request_from("127.0.0.6", addr, &list).await;
        assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    }
    assert_status_retry_after(&request_from("127.0.0.6", addr, &list).await, 429);
    let page = "GET /ui HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_status_retry_after(&request_from("127.0.0.6", addr, page).await, 429);
    let got = empty_post_from("127.0.0.6", addr).await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    let got = request_from("127.0.0.7", addr, &list).await;
    assert!(got.starts_with("HTTP/1.1 200 "), "{got}");
    let hits = series(&tam, "teep_tam_limit_hits_total").await;
    assert_eq!(
        hits["teep_tam_limit_hits_total{limit=\"admin-rate\"}"], 2.0,
        "{hits:?}"
    );
    tam.handle.shutdown().await;
}

/// A client that asks and never reads its answers (pipelined requests filling the socket
/// buffers) is cut off once the answer has made no progress for `write_timeout_ms`.
#[tokio::test]
async fn a_client_that_never_reads_its_answer_is_cut_off() {
    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config {
            write_timeout_ms: 500,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    let (mut r, mut w) = s.connect(tam.addr).await.unwrap().into_split();
    // Each answer is kilobytes of metrics: together far beyond what the buffers hold.
    let writer = tokio::spawn(async move {
        let one = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
        for _ in 0..4000 {
            if w.write_all(one).await.is_err() {
                return;
            }
        }
        std::future::pending::<()>().await;
    });
    let hit = "teep_tam_limit_hits_total{limit=\"write-timeout\"}";
    let start = std::time::Instant::now();
    while series(&tam, hit).await.get(hit) != Some(&1.0) {
        assert!(start.elapsed() < GUARD, "no write timeout");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The connection was closed: what was buffered drains, then it ends.
    closed_by_server(&mut r).await;
    writer.abort();
    tam.handle.shutdown().await;
}

/// Sessions and audit entries stored.
async fn db_state(tam: &Tam) -> (i64, i64) {
    (
        scalar(tam.store(), "SELECT COUNT(*) FROM sessions").await,
        scalar(tam.store(), "SELECT COUNT(*) FROM audit").await,
    )
}
