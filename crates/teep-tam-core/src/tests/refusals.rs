//! Every [`RefusalKind`]: how a peer provokes it, the explanation it gets, and that a refused
//! message changes nothing in storage (anyone can send one). A TAM drops what is invalid
//! (DIGEST §2.2, §9.16).

use teep_proto::{ErrorCode, Numbering, QueryResponse, TeepMessage};

use super::harness::*;
use crate::{Enroll, Need, RefusalKind, Rejection};

const N: Numbering = Numbering::Draft26;

/// Posts `body` and expects a refusal that leaves storage as it was.
fn refused(tam: &mut Tam, body: &[u8], n: Numbering) -> Rejection {
    let before = (
        tam.storage.audit.len(),
        tam.storage.sessions.len(),
        tam.storage.devices.len(),
    );
    let r = tam.post(body, n).expect_err("refused");
    let after = (
        tam.storage.audit.len(),
        tam.storage.sessions.len(),
        tam.storage.devices.len(),
    );
    assert_eq!(before, after, "a refused message changed storage");
    r
}

/// The last byte of a COSE message is its (last) signature's: flipping it breaks only that.
fn with_bad_signature(mut body: Vec<u8>) -> Vec<u8> {
    *body.last_mut().unwrap() ^= 1;
    body
}

/// `dev`'s QueryResponse to a new QueryRequest, with `edit` applied to what it read first.
fn response_after(
    tam: &mut Tam,
    dev: &teep_bench::sim::SimDevice,
    edit: impl FnOnce(&mut teep_bench::sim::QueryRequestSeen),
) -> Vec<u8> {
    let request = tam.connect(N);
    let mut seen = dev.read_query_request(&request, N, &[]).unwrap();
    edit(&mut seen);
    dev.query_response(&seen, N).unwrap()
}

/// A registered device that was sent an Update: its token, and the device.
fn with_outstanding_update(tam: &mut Tam, seed: u8) -> (Vec<u8>, teep_bench::sim::SimDevice) {
    tam.add_assigned("hello", 1);
    let mut dev = device(seed);
    tam.register(&dev, &[]);
    let response = tam.query_response(&dev, N);
    let update = tam.post(&response, N).unwrap().response.unwrap();
    (dev.read_update(&update, N).unwrap().unwrap(), dev)
}

/// Makes the TAM refuse a message with `kind`; the TAM and its refusal.
fn provoke(kind: RefusalKind) -> (Tam, Rejection) {
    let mut tam = Tam::new(Enroll::Registered);
    let r = match kind {
        RefusalKind::Malformed => refused(&mut tam, b"\xa0", N),
        RefusalKind::WrongNumberingForPath => {
            let dev = device(2);
            let request = tam.connect(Numbering::Legacy);
            let seen = dev
                .read_query_request(&request, Numbering::Legacy, &[])
                .unwrap();
            let legacy = dev.query_response(&seen, Numbering::Legacy).unwrap();
            refused(&mut tam, &legacy, N)
        }
        RefusalKind::UnexpectedMessageType => {
            let own = tam.connect(N);
            refused(&mut tam, &own, N)
        }
        // A QueryResponse without either is unsolicited (see `unsolicited.rs`): a Success.
        RefusalKind::MissingToken => {
            let mut dev = device(2);
            tam.register(&dev, &[]);
            let success = dev.success(None, N).unwrap();
            refused(&mut tam, &success, N)
        }
        RefusalKind::UnknownToken => {
            let mut dev = device(2);
            tam.register(&dev, &[]);
            let success = dev.success(Some(vec![9; 16]), N).unwrap();
            refused(&mut tam, &success, N)
        }
        RefusalKind::ReplayedToken => {
            let (token, mut dev) = with_outstanding_update(&mut tam, 2);
            let success = dev.success(Some(token), N).unwrap();
            tam.post(&success, N).unwrap();
            refused(&mut tam, &success, N)
        }
        RefusalKind::ExpiredToken => {
            let dev = device(2);
            tam.register(&dev, &[]);
            let body = tam.query_response(&dev, N);
            tam.now += tam.core.config.session_ttl_ms + 1_500;
            refused(&mut tam, &body, N)
        }
        RefusalKind::SessionInOtherNumbering => {
            let dev = device(2);
            tam.register(&dev, &[]);
            let request = tam.connect(Numbering::Legacy);
            let seen = dev
                .read_query_request(&request, Numbering::Legacy, &[])
                .unwrap();
            let body = dev.query_response(&seen, N).unwrap();
            refused(&mut tam, &body, N)
        }
        RefusalKind::TokenOfOtherRequestType => {
            let mut dev = device(2);
            tam.register(&dev, &[]);
            let request = tam.connect(N);
            let seen = dev.read_query_request(&request, N, &[]).unwrap();
            let success = dev.success(seen.token, N).unwrap();
            refused(&mut tam, &success, N)
        }
        RefusalKind::TokenOfAnotherDevice => {
            let (token, _) = with_outstanding_update(&mut tam, 2);
            let mut other = device(4);
            tam.register(&other, &[]);
            let success = other.success(Some(token), N).unwrap();
            refused(&mut tam, &success, N)
        }
        RefusalKind::UnregisteredDevice => {
            let dev = device(2);
            let body = tam.query_response(&dev, N);
            refused(&mut tam, &body, N)
        }
        RefusalKind::UnknownDevice => {
            let mut dev = device(2);
            let request = tam.connect(N);
            let seen = dev.read_query_request(&request, N, &[]).unwrap();
            let error = dev
                .error(seen.token, ErrorCode::PermanentError, "who am I", N)
                .unwrap();
            refused(&mut tam, &error, N)
        }
        RefusalKind::NoEnrollmentEvidence => {
            tam = Tam::new(Enroll::Tofu);
            let dev = device(2);
            let body = response_after(&mut tam, &dev, |s| s.challenge = None);
            refused(&mut tam, &body, N)
        }
        RefusalKind::BadEnrollmentEvidence => {
            tam = Tam::new(Enroll::Tofu);
            let dev = device(2);
            let request = tam.connect(N);
            let seen = dev.read_query_request(&request, N, &[]).unwrap();
            let response = QueryResponse {
                token: seen.token,
                attestation_payload: Some(b"not evidence".to_vec()),
                ..Default::default()
            };
            let body = teep_proto::signed::sign_message(
                &TeepMessage::QueryResponse(response),
                N,
                &dev.signer,
            )
            .unwrap();
            refused(&mut tam, &body, N)
        }
        RefusalKind::BadSignature => {
            let dev = device(2);
            tam.register(&dev, &[]);
            let body = tam.query_response(&dev, N);
            refused(&mut tam, &with_bad_signature(body), N)
        }
        RefusalKind::NotSignedByCnfKey => {
            tam = Tam::new(Enroll::Tofu);
            let dev = device(2);
            let body = tam.query_response(&dev, N);
            refused(&mut tam, &with_bad_signature(body), N)
        }
        RefusalKind::SuitReportNonce => {
            let (token, dev) = with_outstanding_update(&mut tam, 2);
            // A SUIT_Report_Unprotected bound to another nonce.
            let mut report = Vec::new();
            ciborium::into_writer(
                &ciborium::Value::Map(vec![(
                    ciborium::Value::Integer(2.into()),
                    ciborium::Value::Bytes(vec![9; 16]),
                )]),
                &mut report,
            )
            .unwrap();
            let success = teep_proto::Success {
                token: Some(token),
                suit_reports: vec![report],
                ..Default::default()
            };
            let body =
                teep_proto::signed::sign_message(&TeepMessage::Success(success), N, &dev.signer)
                    .unwrap();
            refused(&mut tam, &body, N)
        }
        RefusalKind::StrictDeviation => {
            tam = Tam::with(
                |c| crate::CoreConfig {
                    tolerance: teep_cbor::deviation::Tolerance::Strict,
                    ..c
                },
                Vec::new(),
            );
            let dev = device(2);
            tam.register(&dev, &[]);
            let body = response_after(&mut tam, &dev, |s| s.token = None);
            refused(&mut tam, &body, N)
        }
    };
    (tam, r)
}

/// The refusal `kind` gets, with its explanation.
fn explanation(kind: RefusalKind) -> String {
    let (_, r) = provoke(kind);
    assert_eq!(r.kind(), Some(kind), "{r}");
    r.to_string()
}

#[test]
fn every_refusal_kind_is_reached_and_counted_under_its_code() {
    for kind in RefusalKind::ALL {
        let (_, r) = provoke(kind);
        assert_eq!(r.kind(), Some(kind), "{r}");
        assert_eq!(r.code(), kind.code());
        assert!(!r.to_string().is_empty());
    }
}

/// DIGEST §2.2: not COSE, not TEEP: dropped, named before any type is known.
#[test]
fn malformed_bytes_are_refused_before_any_message_type_is_known() {
    let (_, r) = provoke(RefusalKind::Malformed);
    assert_eq!(r.message_type(), None);
    assert_eq!(r.code(), "malformed");
}

/// DIGEST §0, §9.1: a message that decodes only in the other numbering is explained.
#[test]
fn a_message_in_the_other_numbering_is_sent_to_the_other_path() {
    let e = explanation(RefusalKind::WrongNumberingForPath);
    assert!(
        e.starts_with(
            "QueryResponse: this message decodes only in the legacy numbering, but this path \
             speaks draft26; send it to the path that speaks legacy ("
        ),
        "{e}"
    );
}

/// DIGEST §4.3: QueryRequest and Update go from TAM to agent only.
#[test]
fn a_query_request_or_update_sent_to_the_tam_is_refused() {
    assert_eq!(
        explanation(RefusalKind::UnexpectedMessageType),
        "QueryRequest: a TAM accepts only QueryResponse, Success and Error"
    );
}

/// DIGEST §3.3, §9.2: an answer names its session by the token, or a QueryResponse by the
/// challenge its evidence carries; a Success with neither is refused without storage.
#[test]
fn an_answer_without_a_token_or_challenge_is_refused_without_storage() {
    let (tam, r) = provoke(RefusalKind::MissingToken);
    assert_eq!(tam.last_need, Some(Need::Nothing));
    assert_eq!(
        r.to_string(),
        "Success.token: missing, and no evidence whose eat_nonce is a challenge of this \
         TAM; echo the QueryRequest's token"
    );
}

/// DIGEST §4.1: a token names an outstanding request of this TAM, or nothing.
#[test]
fn a_token_of_no_outstanding_request_is_refused() {
    assert_eq!(
        explanation(RefusalKind::UnknownToken),
        format!(
            "Success.token: {} is not an outstanding request of this TAM",
            "09".repeat(16)
        )
    );
}

/// DIGEST §4.1: only the first validly signed answer to a token counts. A stored request
/// says so itself; a QueryRequest token is stateless, so storage finds the replay when the
/// second answer commits.
#[test]
fn a_token_is_answered_once() {
    assert_eq!(
        explanation(RefusalKind::ReplayedToken),
        "Success.token: already answered (replay refused)"
    );
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = device(2);
    let body = tam.query_response(&dev, N);
    tam.post(&body, N).unwrap();
    let r = refused(&mut tam, &body, N);
    assert_eq!(r.kind(), Some(RefusalKind::ReplayedToken));
    assert_eq!(
        (r.message_type(), r.to_string().as_str()),
        (None, "token: already answered (replay refused)")
    );
}

/// DIGEST §4.1: unanswered tokens expire; a token is answered until the end of its
/// lifetime and refused after, with how long ago it expired.
#[test]
fn a_token_is_answered_until_its_lifetime_ends_and_refused_after() {
    let mut tam = Tam::new(Enroll::Registered);
    let ttl = tam.core.config.session_ttl_ms;
    let dev = device(0x12);
    tam.register(&dev, &[]);
    let body = tam.query_response(&dev, N);
    tam.now = T0 + ttl;
    let (msg, ctx) = tam.load(&body, N).unwrap();
    tam.answer(msg, &ctx).unwrap();
    tam.now = T0 + ttl + 1_500;
    let (msg, ctx) = tam.load(&body, N).unwrap();
    let r = tam.answer(msg, &ctx).unwrap_err();
    assert_eq!(
        (r.kind(), r.code()),
        (Some(RefusalKind::ExpiredToken), "expired")
    );
    assert_eq!(
        r.to_string(),
        "QueryResponse.token: expired 2 s ago (tokens are valid for 21600 s); start a new session"
    );
    assert_eq!(
        explanation(RefusalKind::ExpiredToken),
        "QueryResponse.token: expired 2 s ago (tokens are valid for 21600 s); start a new session"
    );
}

/// A session is answered in the numbering it was opened in.
#[test]
fn a_session_is_answered_in_the_numbering_it_was_opened_in() {
    assert_eq!(
        explanation(RefusalKind::SessionInOtherNumbering),
        "QueryResponse: the session was opened in the legacy numbering"
    );
}

/// DIGEST §3.3, §3.5: a QueryResponse answers a QueryRequest and a Success an Update.
#[test]
fn a_token_answers_only_its_own_request_type() {
    assert_eq!(
        explanation(RefusalKind::TokenOfOtherRequestType),
        "Success.token: answers a Update but the TAM sent a QueryRequest"
    );
    let mut tam = Tam::new(Enroll::Registered);
    let (token, dev) = with_outstanding_update(&mut tam, 2);
    let body = response_after(&mut tam, &dev, |s| s.token = Some(token));
    let r = refused(&mut tam, &body, N);
    assert_eq!(
        tam.last_need,
        Some(Need::StoredSession { catalog: false }),
        "a token only storage can place"
    );
    assert_eq!(
        r.to_string(),
        "QueryResponse.token: answers a QueryRequest but the TAM sent a Update"
    );
}

/// DIGEST §4.1 (tokens are per device): an Update's token answered by another device.
#[test]
fn an_update_token_is_answered_only_by_the_device_it_was_sent_to() {
    assert_eq!(
        explanation(RefusalKind::TokenOfAnotherDevice),
        "Success.token: belongs to another device"
    );
}

/// Registered-only enrollment names the unknown signer and what was tried to find it.
#[test]
fn an_unregistered_signer_is_refused_under_registered_enrollment() {
    let dev = device(2);
    let (kid, ueid) = (hex::encode(dev.kid()), hex::encode(&dev.ueid));
    assert_eq!(
        explanation(RefusalKind::UnregisteredDevice),
        format!(
            "QueryResponse: the signer is not a registered device (enrollment is \
             registered-only): kid {kid} names no registered device; no device has the \
             evidence's ueid {ueid}; no device is registered"
        )
    );
}

/// Only a QueryResponse enrolls: a Success or Error from an unknown signer is refused.
#[test]
fn a_success_or_error_from_an_unknown_device_is_refused() {
    let kid = hex::encode(device(2).kid());
    assert_eq!(
        explanation(RefusalKind::UnknownDevice),
        format!(
            "Error: the signer is not a known device: kid {kid} names no registered device; \
             no device is registered"
        )
    );
}

/// Open enrollment records a new device's key from its evidence's `cnf` (DIGEST §5).
#[test]
fn open_enrollment_needs_evidence() {
    assert_eq!(
        explanation(RefusalKind::NoEnrollmentEvidence),
        "QueryResponse.attestation-payload: missing; an unknown device enrolls with evidence carrying cnf"
    );
    let e = explanation(RefusalKind::BadEnrollmentEvidence);
    assert!(
        e.starts_with("QueryResponse.attestation-payload: not COSE_Sign1")
            && e.ends_with("(open enrollment needs evidence with cnf)"),
        "{e}"
    );
}

/// DIGEST §2.2: the signature verifies with the known device's key.
#[test]
fn a_signature_that_does_not_verify_with_the_device_key_is_refused() {
    let e = explanation(RefusalKind::BadSignature);
    assert!(
        e.starts_with("QueryResponse: signature does not verify with the key of device 1 ("),
        "{e}"
    );
}

/// DIGEST §4.1 step 3: a new device proves possession of the key its evidence names.
#[test]
fn a_new_device_signs_with_the_key_its_evidence_names() {
    assert_eq!(
        explanation(RefusalKind::NotSignedByCnfKey),
        "QueryResponse: signature does not verify with the cnf key of the evidence"
    );
    let (tam, _) = provoke(RefusalKind::NotSignedByCnfKey);
    assert!(tam.storage.devices.is_empty(), "nobody enrolled");
}
