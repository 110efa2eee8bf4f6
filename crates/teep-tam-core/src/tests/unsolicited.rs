//! The unsolicited QueryResponse (-26 §4.3 and §7.2, RFC 9397 RequestTA; DIGEST §4.2): a
//! device may open a session with a QueryResponse of its own after a QueryRequest with neither
//! token nor challenge. Without attestation required the TAM answers it as a solicited one
//! (an Update, or nothing); with attestation required, with a new QueryRequest. Both
//! numberings.

use teep_bench::sim::{QueryRequestSeen, SimDevice};
use teep_proto::{Numbering, TeepMessage};

use super::harness::*;
use crate::{CoreConfig, Enroll, ExchangeResult, Need, RefusalKind, Rejection};

const NUMBERINGS: [Numbering; 2] = [Numbering::Draft26, Numbering::Legacy];

/// A TAM that requires no attestation and sends tokenless QueryRequests, with `hello`
/// assigned to every device, and a registered device.
fn tokenless_tam() -> (Tam, SimDevice) {
    let mut tam = Tam::with(
        |c| CoreConfig {
            require_attestation: false,
            tokenless_queries: true,
            ..c
        },
        Vec::new(),
    );
    tam.add_assigned("hello", 1);
    let dev = device(2);
    tam.register(&dev, &[]);
    (tam, dev)
}

/// The device's own QueryResponse: no token, no Evidence.
fn unsolicited(dev: &SimDevice, n: Numbering) -> Vec<u8> {
    let seen = QueryRequestSeen {
        token: None,
        challenge: None,
        multi_signed: false,
    };
    dev.query_response(&seen, n).unwrap()
}

/// -26 §4.2 (QueryRequest token: present when the attestation bit is clear, but a TAM may
/// leave it out) with §7.2: with `tokenless_queries` and no attestation, the QueryRequest
/// carries neither token nor challenge, which is what lets the device send unsolicited
/// QueryResponses later. In the legacy numbering the token stays: without it the message
/// reads in both numberings.
#[test]
fn query_request_without_token_or_challenge_when_tokenless_queries() {
    for n in NUMBERINGS {
        let (mut tam, dev) = tokenless_tam();
        let request = tam.connect(n);
        let seen = dev
            .read_query_request(&request, n, &tam.tam_keys())
            .unwrap();
        assert_eq!(seen.challenge, None, "{n:?}");
        assert_eq!(seen.token.is_some(), n == Numbering::Legacy, "{n:?}");
        // Off (the default), the token goes.
        let mut tam = Tam::with(
            |c| CoreConfig {
                require_attestation: false,
                ..c
            },
            Vec::new(),
        );
        let request = tam.connect(n);
        let seen = dev
            .read_query_request(&request, n, &tam.tam_keys())
            .unwrap();
        assert!(seen.token.is_some(), "{n:?}");
    }
}

/// -26 §7.2 (RequestTA): the TAM accepts an unsolicited QueryResponse and answers it with
/// an Update as it would a solicited one; the session completes with the Success.
#[test]
fn unsolicited_query_response_answered_with_update() {
    for n in NUMBERINGS {
        let (mut tam, mut dev) = tokenless_tam();
        let body = unsolicited(&dev, n);
        let answer = tam.post(&body, n).unwrap();
        assert!(
            matches!(tam.last_need, Some(Need::QueryResponse { .. })),
            "{n:?}: device and policy loaded"
        );
        assert_eq!(answer.result, ExchangeResult::Update, "{n:?}");
        let update = answer.response.unwrap();
        let token = dev.read_update_from(&update, n, &tam.tam_keys()).unwrap();
        let success = dev.success(token, n).unwrap();
        let end = tam.post(&success, n).unwrap();
        assert_eq!(end.result, ExchangeResult::Success, "{n:?}");
        assert_eq!(tam.holdings(&dev).len(), 1, "{n:?}");
        let audit = tam
            .storage
            .audit
            .iter()
            .find(|a| a.message_type == "QueryResponse");
        assert!(audit
            .unwrap()
            .notes
            .iter()
            .any(|note| note.starts_with("unsolicited QueryResponse")));
        // Up to date now: the next one ends the session without an Update.
        let again = tam.post(&unsolicited(&dev, n), n).unwrap();
        assert_eq!(
            (again.response, again.result),
            (None, ExchangeResult::NoUpdate),
            "{n:?}"
        );
    }
}

/// DIGEST §4.1 (only the first validly signed answer counts): the same unsolicited message
/// sent again is refused as a replay, and nothing changes.
#[test]
fn unsolicited_query_response_replayed_is_refused() {
    for n in NUMBERINGS {
        let (mut tam, dev) = tokenless_tam();
        let body = unsolicited(&dev, n);
        tam.post(&body, n).unwrap();
        let sessions = tam.storage.sessions.len();
        match tam.post(&body, n) {
            Err(Rejection::Refused(r)) => assert_eq!(r.kind, RefusalKind::ReplayedToken),
            other => panic!("{n:?}: {:?}", other.map(|o| o.result)),
        }
        assert_eq!(tam.storage.sessions.len(), sessions, "{n:?}");
    }
}

/// -26 §7.2 and DIGEST §4.1: an unsolicited QueryResponse is signed by a device like any
/// other; one this TAM does not know is refused under registered enrollment.
#[test]
fn unsolicited_query_response_from_unknown_device_is_refused() {
    for n in NUMBERINGS {
        let (mut tam, _) = tokenless_tam();
        let stranger = device(4);
        assert!(tam.post(&unsolicited(&stranger, n), n).is_err(), "{n:?}");
    }
}

/// -26 §7.2: a TAM that requires attestation cannot act on a QueryResponse whose Evidence
/// answers no challenge; it answers with a new QueryRequest (token and challenge), loads
/// nothing and stores nothing.
#[test]
fn unsolicited_query_response_with_attestation_required_answered_with_query_request() {
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        tam.add_assigned("hello", 1);
        let dev = device(2);
        tam.register(&dev, &[]);
        let answer = tam.post(&unsolicited(&dev, n), n).unwrap();
        assert_eq!(tam.last_need, Some(Need::Nothing), "{n:?}");
        assert_eq!(answer.result, ExchangeResult::QueryRequest, "{n:?}");
        assert!(answer.effects.is_empty(), "{n:?}");
        let request = answer.response.unwrap();
        let seen = dev
            .read_query_request(&request, n, &tam.tam_keys())
            .unwrap();
        assert!(seen.challenge.is_some(), "{n:?}");
        let (_, m) = teep_proto::signed::open_message(&request, n).unwrap();
        assert!(matches!(m, TeepMessage::QueryRequest(_)), "{n:?}");
    }
}
