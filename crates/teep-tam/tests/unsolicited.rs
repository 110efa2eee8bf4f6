//! The unsolicited QueryResponse over HTTP (-26 §7.2, RFC 9397 RequestTA): a QueryResponse
//! with no token and no challenge of this TAM opens a session as the empty POST does.

mod common;

use common::*;
use teep_bench::sim::{QueryRequestSeen, SimDevice};
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::Enroll;

const N: Numbering = Numbering::Draft26;

fn unsolicited(dev: &SimDevice) -> Vec<u8> {
    let seen = QueryRequestSeen {
        token: None,
        challenge: None,
        multi_signed: false,
    };
    dev.query_response(&seen, N).unwrap()
}

/// -26 §7.2: a TAM that requires attestation answers an unsolicited QueryResponse with a
/// new QueryRequest (token and challenge: 200, the TEEP media type); the device's answer to
/// it gets the Update.
#[tokio::test]
async fn unsolicited_query_response_with_attestation_required_gets_query_request() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = SimDevice::new(KeyType::P256);
    let client = tam.client();
    let r = client.post(unsolicited(&dev)).await.unwrap();
    assert_eq!(r.status, 200);
    let seen = dev.read_query_request(&r.body, N, &tam.tam_keys()).unwrap();
    assert!(seen.token.is_some() && seen.challenge.is_some());
    let answer = client
        .post(dev.query_response(&seen, N).unwrap())
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "the Update");
    assert!(dev.read_update(&answer.body, N).unwrap().is_some());
    tam.handle.shutdown().await;
}

/// -26 §7.2 with TEEP-HTTP §6.4: an unsolicited QueryResponse opens a session, so it counts
/// against `max_sessions` like the empty POST: over the cap it gets 503.
#[tokio::test]
async fn unsolicited_query_response_over_the_session_cap_gets_503() {
    let tam = start_with(
        tempfile::tempdir().unwrap(),
        |c| teep_tam::Config {
            max_sessions: 1,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let dev = SimDevice::new(KeyType::P256);
    let client = tam.client();
    assert_eq!(client.post(Vec::new()).await.unwrap().status, 200);
    let r = client.post(unsolicited(&dev)).await.unwrap();
    assert_eq!(r.status, 503);
    tam.handle.shutdown().await;
}
