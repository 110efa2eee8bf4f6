//! The contract with the adapter: what each message needs from storage, what each step
//! returns, and the words metrics and audit count them by.

use teep_proto::{ErrorCode, Numbering};

use super::harness::*;
use crate::{Enroll, ExchangeResult, Need};

const N: Numbering = Numbering::Draft26;

/// A QueryResponse to this TAM's QueryRequest: the session comes from the token (no
/// storage read), storage supplies the device, its holdings and the policy.
#[test]
fn a_query_response_needs_the_device_and_policy_and_brings_its_session() {
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = device(2);
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let body = dev.query_response(&seen, N).unwrap();
    let msg = tam.core.inspect(&body, N).unwrap();
    let token = seen.token.unwrap();
    assert_eq!(
        msg.need,
        Need::QueryResponse {
            session: tam.core.query_session(&token).unwrap()
        }
    );
    assert_eq!(msg.token(), Some(&token[..]));
    assert_eq!(msg.kids().collect::<Vec<_>>(), [&dev.kid()[..]]);
}

/// An Error answering a QueryRequest needs the signer only; so does a Success naming one
/// (which is then refused).
#[test]
fn an_answer_to_a_query_request_other_than_a_query_response_needs_the_signer() {
    let mut tam = Tam::new(Enroll::Tofu);
    let mut dev = device(2);
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let session = tam
        .core
        .query_session(seen.token.as_ref().unwrap())
        .unwrap();
    let error = dev
        .error(seen.token.clone(), ErrorCode::TemporaryError, "busy", N)
        .unwrap();
    let success = dev.success(seen.token, N).unwrap();
    for body in [error, success] {
        let need = tam.core.inspect(&body, N).unwrap().need;
        assert_eq!(
            need,
            Need::Signer {
                session: session.clone()
            }
        );
    }
}

/// Answers to an Update need its stored session; a Success also the catalog (for the
/// digests of what it installed).
#[test]
fn answers_to_an_update_need_its_stored_session() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let mut dev = device(2);
    let response = tam.query_response(&dev, N);
    let update = tam.post(&response, N).unwrap().response.unwrap();
    let token = dev.read_update(&update, N).unwrap();
    let error = dev
        .error(token.clone(), ErrorCode::TemporaryError, "busy", N)
        .unwrap();
    let success = dev.success(token, N).unwrap();
    assert_eq!(
        tam.core.inspect(&success, N).unwrap().need,
        Need::StoredSession { catalog: true }
    );
    assert_eq!(
        tam.core.inspect(&error, N).unwrap().need,
        Need::StoredSession { catalog: false }
    );
}

/// An agent Error answering a QueryRequest ends the session and records the error; the
/// QueryRequest's token is spent.
#[test]
fn an_error_answering_a_query_request_ends_the_session() {
    let mut tam = Tam::new(Enroll::Registered);
    let mut dev = device(2);
    tam.register(&dev, &[]);
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let token = seen.token.clone().unwrap();
    let error = dev
        .error(seen.token, ErrorCode::TemporaryError, "busy", N)
        .unwrap();
    let end = tam.post(&error, N).unwrap();
    assert_eq!(
        (end.response, end.result),
        (None, ExchangeResult::AgentError)
    );
    let consume = end.effects.consume.unwrap();
    assert_eq!((consume.token, consume.numbering), (token, N));
    assert!(tam
        .device(&dev)
        .status_detail
        .as_ref()
        .unwrap()
        .starts_with("agent error "));
}

/// The session's numbering is carried, typed, to what storage records for the token.
#[test]
fn the_token_consumed_carries_the_session_numbering() {
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = device(2);
    let request = tam.connect(Numbering::Legacy);
    let seen = dev
        .read_query_request(&request, Numbering::Legacy, &[])
        .unwrap();
    let body = dev.query_response(&seen, Numbering::Legacy).unwrap();
    let outcome = tam.post(&body, Numbering::Legacy).unwrap();
    assert_eq!(
        outcome.effects.consume.unwrap().numbering,
        Numbering::Legacy
    );
    let audit = tam.storage.audit.last().unwrap();
    assert_eq!(audit.numbering.as_deref(), Some("legacy"));
}

/// The words metrics and audit count results by are stable.
#[test]
fn exchange_results_have_stable_words() {
    let words: Vec<&str> = [
        ExchangeResult::QueryRequest,
        ExchangeResult::NoUpdate,
        ExchangeResult::Update,
        ExchangeResult::AttestationFailed,
        ExchangeResult::Success,
        ExchangeResult::AgentError,
    ]
    .iter()
    .map(|r| r.as_str())
    .collect();
    assert_eq!(
        words,
        [
            "query-request",
            "no-update",
            "update",
            "attestation-failed",
            "success",
            "agent-error"
        ]
    );
}

/// `render_json` fills what `--dump` shows, and only then.
#[test]
fn the_response_is_rendered_as_json_only_when_asked() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let dev = device(2);
    let body = tam.query_response(&dev, N);
    assert!(tam.post(&body, N).unwrap().response_json.is_none());
    tam.core.config.render_json = true;
    let body = tam.query_response(&dev, N);
    let json = tam.post(&body, N).unwrap().response_json.unwrap();
    assert!(json.is_object());
}
