//! The options for driving a foreign TAM (`--request-tc`, `--kid-placement`,
//! `--empty-post-content-type`), each through full exchanges with teep's own TAM in-process.

use teep_bench::any_tam::requested_tcs;
use teep_bench::sim::{load_exchange, DeviceAlg, ExchangeResult, LoadDevice, TeepConnection};
use teep_proto::Numbering;

#[tokio::test]
async fn foreign_tam_options_against_teeps_tam() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = teep_tam::Config {
        data: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll: teep_tam::Enroll::Tofu,
        ..Default::default()
    };
    let (addr, handle) = teep_tam::server::spawn(cfg).await.unwrap();
    let st = &handle.state;
    // A TC the TAM holds but assigns to nobody: only a device that asks for it gets it.
    teep_tam::ops::add_ta(&st.store, &st.tc_signer, "hello", &[0x5a; 300], 0)
        .await
        .unwrap();
    let url = format!("http://{addr}/tam");
    let n = Numbering::Draft26;
    let hello = requested_tcs(&["hello".to_string()]).unwrap();
    // A fresh device for each combination, so no run sees another's holdings.
    for (i, empty_ct) in [(20u64, false), (22, true)] {
        let mut conn = TeepConnection::connect_with(&url, empty_ct).await.unwrap();
        for unprotected in [false, true] {
            let plain = LoadDevice::numbered(i + u64::from(unprotected), DeviceAlg::Mixed)
                .unwrap()
                .with_kid_unprotected(unprotected);
            assert_eq!(
                load_exchange(&mut conn, &plain, n, &[]).await.unwrap(),
                ExchangeResult::UpToDate,
                "nothing assigned, nothing asked for"
            );
            let asking = plain.with_requested(hello.clone());
            assert_eq!(
                load_exchange(&mut conn, &asking, n, &[]).await.unwrap(),
                ExchangeResult::Updated,
                "the TC requested by name (kid unprotected: {unprotected})"
            );
        }
    }
    handle.shutdown().await;
}

/// A TAM that asks for evidence in a second round trip, as AttesTAM does with a device it does
/// not know: empty POST → QueryRequest without a challenge; QueryResponse → QueryRequest with
/// one; QueryResponse with evidence over it → Update; Success → 204. With `endless`, it answers
/// every QueryResponse with another QueryRequest. Returns the URL and the bodies it received.
async fn asking_tam(endless: bool) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let n = Numbering::Draft26;
    let tam = teep_cose::SoftwareSigner::new(teep_bench::sim::numbered_key(90, DeviceAlg::P256));
    let sign =
        move |m: teep_proto::TeepMessage| teep_proto::signed::sign_message(&m, n, &tam).unwrap();
    let first = sign(teep_tam_core::wire::query_request(&[1; 8], None, false));
    let again = sign(teep_tam_core::wire::query_request(
        &[2; 8],
        Some(&[3; 32]),
        true,
    ));
    let update = sign(teep_tam_core::wire::update(&[4; 8], Vec::new(), Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tam", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (first, again, update, log) =
                (first.clone(), again.clone(), update.clone(), log.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request: its head, then Content-Length bytes of body.
                    let (end, len) = loop {
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let len: usize = head
                                .split("\r\n")
                                .find_map(|l| l.strip_prefix("content-length: "))
                                .map_or(0, |v| v.parse().unwrap());
                            if buf.len() >= end + 4 + len {
                                break (end, len);
                            }
                        }
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(k) => buf.extend_from_slice(&chunk[..k]),
                        }
                    };
                    let body: Vec<u8> = buf[end + 4..end + 4 + len].to_vec();
                    buf.drain(..end + 4 + len);
                    let reply = if body.is_empty() {
                        Some(first.clone())
                    } else {
                        match teep_proto::signed::open_message(&body, n).unwrap().1 {
                            teep_proto::TeepMessage::QueryResponse(q)
                                if endless || q.attestation_payload.is_none() =>
                            {
                                Some(again.clone())
                            }
                            teep_proto::TeepMessage::QueryResponse(_) => Some(update.clone()),
                            _ => None,
                        }
                    };
                    log.lock().unwrap().push(body);
                    let head = match &reply {
                        Some(r) => {
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", r.len())
                        }
                        None => "HTTP/1.1 204 No Content\r\n\r\n".to_string(),
                    };
                    let mut out = head.into_bytes();
                    out.extend_from_slice(reply.as_deref().unwrap_or_default());
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_second_query_request_is_answered_with_evidence_for_its_challenge() {
    let n = Numbering::Draft26;
    let (url, seen) = asking_tam(false).await;
    let dev = LoadDevice::numbered(3, DeviceAlg::Mixed).unwrap();
    let mut conn = TeepConnection::connect(&url).await.unwrap();
    assert_eq!(
        load_exchange(&mut conn, &dev, n, &[]).await.unwrap(),
        ExchangeResult::Updated
    );
    // The test-path device and client follow the same round trip.
    let client = teep_bench::sim::TeepClient::new(&url).unwrap();
    let mut sim = teep_bench::sim::SimDevice::numbered(3);
    assert_eq!(
        teep_bench::sim::exchange(&client, &mut sim, n, &[])
            .await
            .unwrap(),
        ExchangeResult::Updated
    );
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 8, "two sessions of four POSTs each");
    for session in bodies.chunks(4) {
        assert!(session[0].is_empty());
        let teep_proto::TeepMessage::QueryResponse(q) =
            teep_proto::signed::open_message(&session[2], n).unwrap().1
        else {
            panic!("the third POST is not a QueryResponse")
        };
        assert_eq!(q.token.as_deref(), Some(&[2u8; 8][..]));
        teep_cose::eat::EatClaims::verify(&q.attestation_payload.unwrap(), &dev.public_key())
            .unwrap()
            .check_nonce(&[3u8; 32])
            .unwrap();
        assert!(matches!(
            teep_proto::signed::open_message(&session[3], n).unwrap().1,
            teep_proto::TeepMessage::Success(s) if s.token == Some(vec![4; 8])
        ));
    }
}

#[tokio::test]
async fn a_tam_that_keeps_asking_is_an_error() {
    let (url, _) = asking_tam(true).await;
    let dev = LoadDevice::numbered(4, DeviceAlg::P256).unwrap();
    let mut conn = TeepConnection::connect(&url).await.unwrap();
    let e = load_exchange(&mut conn, &dev, Numbering::Draft26, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 2 further QueryRequests"), "{e}");
    let client = teep_bench::sim::TeepClient::new(&url).unwrap();
    let mut sim = teep_bench::sim::SimDevice::numbered(4);
    let e = teep_bench::sim::exchange(&client, &mut sim, Numbering::Draft26, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 2 further QueryRequests"), "{e}");
}
