//! -26 §4.3 ("QueryResponse Message") and the TAM's "Handling a QueryResponse" (DIGEST §4.1
//! step 1): the data items the QueryRequest asked for must be there and SUIT reports must be
//! bound to the token; otherwise the TAM answers an Update carrying ERR_PERMANENT_ERROR and
//! the stored holdings stand. Success and Error carrying reports bound to another token are
//! dropped (DIGEST §4.1, "On Success / Error"). Every rule in both numberings.

use ciborium::Value;
use teep_bench::sim::SimDevice;
use teep_proto::{DataItems, ErrorCode, Numbering, QueryResponse, Success, TeepMessage, Update};

use super::harness::*;
use crate::{Enroll, ExchangeResult, Outcome, RefusalKind, Rejection};

const NUMBERINGS: [Numbering; 2] = [Numbering::Draft26, Numbering::Legacy];

/// A registered device that installed TC "hello" in a whole session: its holdings are stored.
fn holding_hello(n: Numbering) -> (Tam, SimDevice) {
    let mut tam = Tam::new(Enroll::Registered);
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    tam.register(&dev, &[]);
    assert_eq!(tam.exchange_in(&mut dev, n), Exchange::Updated);
    assert_eq!(tam.holdings(&dev).len(), 1);
    (tam, dev)
}

/// `dev`'s QueryResponse to a new QueryRequest, with `edit` applied, signed again.
fn edited_response(
    tam: &mut Tam,
    dev: &SimDevice,
    n: Numbering,
    edit: impl FnOnce(&mut QueryResponse),
) -> Vec<u8> {
    let body = tam.query_response(dev, n);
    resign(dev, n, &body, edit)
}

fn resign(
    dev: &SimDevice,
    n: Numbering,
    body: &[u8],
    edit: impl FnOnce(&mut QueryResponse),
) -> Vec<u8> {
    let (_, m) = teep_proto::signed::open_message(body, n).unwrap();
    let TeepMessage::QueryResponse(mut q) = m else {
        panic!("{m:?}")
    };
    edit(&mut q);
    teep_proto::signed::sign_message(&TeepMessage::QueryResponse(q), n, &dev.signer).unwrap()
}

/// A QueryResponse answering a QueryRequest this TAM minted asking for `bits` (as a TAM
/// configured to ask for them would), with `edit` applied.
fn response_to_request_asking(
    tam: &Tam,
    dev: &SimDevice,
    n: Numbering,
    bits: u64,
    edit: impl FnOnce(&mut QueryResponse),
) -> Vec<u8> {
    let key = token_key();
    let token = key.mint_asking(
        n,
        DataItems(bits),
        tam.now + tam.core.config.session_ttl_ms,
        [7; 8],
    );
    // Holds a TC the catalog does not know (left alone by policy): no `tc-list: []`.
    let held = teep_proto::SystemPropertyClaims {
        component_id: component("x"),
        parameters: [(3, teep_proto::Value::Bytes(vec![1]))].into(),
    };
    let mut q = QueryResponse {
        token: Some(token.clone()),
        attestation_payload_format: Some("application/eat+cwt".into()),
        attestation_payload: Some(dev.evidence(&key.challenge(&token)).unwrap()),
        tc_list: Some(vec![held]),
        ..Default::default()
    };
    edit(&mut q);
    teep_proto::signed::sign_message(&TeepMessage::QueryResponse(q), n, &dev.signer).unwrap()
}

/// The Update an outcome sends.
fn update_of(o: &Outcome, n: Numbering) -> Update {
    let (_, m) = teep_proto::signed::open_message(o.response.as_ref().unwrap(), n).unwrap();
    match m {
        TeepMessage::Update(u) => u,
        m => panic!("{m:?}"),
    }
}

/// The answer is an error Update with ERR_PERMANENT_ERROR and `err_msg`, carrying nothing to
/// install or remove, and the step records no holdings.
fn assert_err_update(o: &Outcome, n: Numbering, err_msg: &str) {
    assert_eq!(o.result, ExchangeResult::BadQueryResponse, "{n:?}");
    let u = update_of(o, n);
    assert_eq!(u.err_code, Some(ErrorCode::PermanentError), "{n:?}");
    assert_eq!(u.err_msg.as_deref(), Some(err_msg), "{n:?}");
    assert!(u.manifest_list.is_empty() && u.unneeded_manifest_list.is_empty());
    let d = o
        .effects
        .device
        .as_ref()
        .expect("the device row is touched");
    assert!(d.replace_installed.is_none(), "{n:?}: holdings rewritten");
    assert!(d.add_installed.is_empty() && d.remove_installed.is_empty());
}

/// A SUIT_Report_Unprotected whose suit-report-nonce is `nonce` (draft-ietf-suit-report:
/// nonce 2, records 3, result 4).
fn report(nonce: Option<&[u8]>) -> Vec<u8> {
    let mut entries = Vec::new();
    if let Some(n) = nonce {
        entries.push((Value::Integer(2.into()), Value::Bytes(n.to_vec())));
    }
    entries.push((Value::Integer(3.into()), Value::Array(Vec::new())));
    entries.push((Value::Integer(4.into()), Value::Bool(true)));
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Map(entries), &mut out).unwrap();
    out
}

/// -26 §4.3: tc-list MUST be present when the trusted-components bit is set. Left out, the
/// TAM cannot tell "holds nothing" from "did not answer": it answers ERR_PERMANENT_ERROR and
/// keeps what it stored.
#[test]
fn query_response_handling_missing_tc_list_requested_gets_err_update() {
    for n in NUMBERINGS {
        let (mut tam, dev) = holding_hello(n);
        let before = tam.holdings(&dev);
        let body = edited_response(&mut tam, &dev, n, |q| q.tc_list = None);
        let o = tam.post(&body, n).unwrap();
        assert_err_update(
            &o,
            n,
            "QueryResponse.tc-list: absent, but the QueryRequest asked for trusted-components (value 2)",
        );
        assert_eq!(tam.holdings(&dev), before, "{n:?}: stored holdings changed");
        assert!(o.deviations.is_empty());
    }
}

/// The same QueryResponse with `tc-list: []` says "holds nothing" (deviation
/// `teep.tc-list-empty`): the holdings are rewritten and the TC goes again.
#[test]
fn query_response_handling_empty_tc_list_is_holds_nothing() {
    for n in NUMBERINGS {
        let (mut tam, dev) = holding_hello(n);
        let body = edited_response(&mut tam, &dev, n, |q| q.tc_list = Some(Vec::new()));
        let o = tam.post(&body, n).unwrap();
        assert_eq!(o.result, ExchangeResult::Update, "{n:?}");
        assert_eq!(o.deviations.codes(), ["teep.tc-list-empty"]);
        assert_eq!(
            o.effects.device.as_ref().unwrap().replace_installed,
            Some(Vec::new())
        );
    }
}

/// The data items asked for ride in the token: asked for trusted-components only by the
/// token, the check holds even if the configuration says otherwise now.
#[test]
fn query_response_handling_requested_items_come_from_the_token() {
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        let dev = device(2);
        tam.register(&dev, &[]);
        let bits = DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS;
        let body = response_to_request_asking(&tam, &dev, n, bits, |q| q.tc_list = None);
        let o = tam.post(&body, n).unwrap();
        assert_eq!(o.result, ExchangeResult::BadQueryResponse, "{n:?}");

        // Asked for attestation only: no tc-list is needed, and none is recorded.
        let body =
            response_to_request_asking(&tam, &dev, n, DataItems::ATTESTATION, |q| q.tc_list = None);
        let o = tam.post(&body, n).unwrap();
        assert_eq!(o.result, ExchangeResult::NoUpdate, "{n:?}");
        assert!(o.effects.device.unwrap().replace_installed.is_none());
    }
}

/// -26 §4.3: ext-list MUST be present when the extensions bit is set; absent, the TAM answers
/// ERR_PERMANENT_ERROR.
#[test]
fn query_response_handling_missing_ext_list_requested_gets_err_update() {
    let bits = DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS | DataItems::EXTENSIONS;
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        let dev = device(2);
        tam.register(&dev, &[]);
        let body = response_to_request_asking(&tam, &dev, n, bits, |_| {});
        let o = tam.post(&body, n).unwrap();
        assert_err_update(
            &o,
            n,
            "QueryResponse.ext-list: absent, but the QueryRequest asked for extensions (value 4)",
        );
    }
}

/// ext-list is `[+ ext-info]`, yet no extension is defined: `[]` is the only answer an agent
/// asked for its extensions can give. Accepted as deviation `teep.ext-list-empty` (read as
/// "supports none"), refused under `--strict`.
#[test]
fn query_response_handling_empty_ext_list_is_a_named_deviation() {
    let bits = DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS | DataItems::EXTENSIONS;
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        let dev = device(2);
        tam.register(&dev, &[]);
        let body =
            response_to_request_asking(&tam, &dev, n, bits, |q| q.ext_list = Some(Vec::new()));
        let o = tam.post(&body, n).unwrap();
        assert_eq!(o.result, ExchangeResult::NoUpdate, "{n:?}");
        assert!(o.deviations.codes().contains(&"teep.ext-list-empty"));

        let mut strict = Tam::with(
            |c| crate::CoreConfig {
                tolerance: teep_cbor::deviation::Tolerance::Strict,
                ..c
            },
            Vec::new(),
        );
        strict.register(&dev, &[]);
        let body =
            response_to_request_asking(&strict, &dev, n, bits, |q| q.ext_list = Some(Vec::new()));
        let Err(Rejection::Refused(r)) = strict.post(&body, n) else {
            panic!("{n:?}: strict accepted ext-list []")
        };
        assert_eq!(r.kind, RefusalKind::StrictDeviation);
        assert!(r.explanation.contains("teep.ext-list-empty"), "{r:?}");
    }
}

/// -26 §4.3: a QueryResponse's SUIT reports carry the QueryRequest's token as
/// suit-report-nonce; another nonce gets ERR_PERMANENT_ERROR and the holdings stand.
#[test]
fn query_response_handling_suit_report_nonce_not_token_gets_err_update() {
    for n in NUMBERINGS {
        let (mut tam, dev) = holding_hello(n);
        let before = tam.holdings(&dev);
        let body = edited_response(&mut tam, &dev, n, |q| {
            q.suit_reports = vec![report(Some(&[9; 16]))];
        });
        let o = tam.post(&body, n).unwrap();
        assert_err_update(
            &o,
            n,
            "QueryResponse.suit-reports[0]: suit-report-nonce is not the token of the request answered",
        );
        assert_eq!(tam.holdings(&dev), before);

        // Bound to the token, the same report passes.
        let body = tam.query_response(&dev, n);
        let body = resign(&dev, n, &body, |q| {
            let t = q.token.clone().unwrap();
            q.suit_reports = vec![report(Some(&t))];
        });
        let o = tam.post(&body, n).unwrap();
        assert_eq!(o.result, ExchangeResult::NoUpdate, "{n:?}");

        // An agent that dropped the token it was sent is still held to it.
        let body = edited_response(&mut tam, &dev, n, |q| {
            q.token = None;
            q.suit_reports = vec![report(Some(&[9; 16]))];
        });
        let o = tam.post(&body, n).unwrap();
        assert_eq!(o.result, ExchangeResult::BadQueryResponse, "{n:?}");
        assert_eq!(o.deviations.codes(), ["teep.token-not-echoed"]);
    }
}

/// -26 §4.5: a Success's SUIT reports carry the Update's token; another nonce (or none) and
/// the Success is dropped: nothing is recorded, and the right one still counts.
#[test]
fn success_suit_report_nonce_not_update_token_is_dropped() {
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        tam.add_assigned("hello", 1);
        let mut dev = device(2);
        tam.register(&dev, &[]);
        let response = tam.query_response(&dev, n);
        let update = tam.post(&response, n).unwrap().response.unwrap();
        let token = dev
            .read_update_from(&update, n, &tam.tam_keys())
            .unwrap()
            .unwrap();
        let success = |nonce: Option<&[u8]>| {
            let s = Success {
                token: Some(token.clone()),
                suit_reports: vec![report(nonce)],
                ..Default::default()
            };
            teep_proto::signed::sign_message(&TeepMessage::Success(s), n, &dev.signer).unwrap()
        };
        for wrong in [success(Some(&[9; 16])), success(None)] {
            let audit = tam.storage.audit.len();
            let Err(Rejection::Refused(r)) = tam.post(&wrong, n) else {
                panic!("{n:?}: accepted")
            };
            assert_eq!(r.kind, RefusalKind::SuitReportNonce);
            assert!(
                r.explanation.starts_with("Success.suit-reports[0]: "),
                "{r:?}"
            );
            assert!(tam.holdings(&dev).is_empty());
            assert_eq!(tam.storage.audit.len(), audit);
        }
        let o = tam.post(&success(Some(&token)), n).unwrap();
        assert_eq!(o.result, ExchangeResult::Success);
        assert_eq!(tam.holdings(&dev).len(), 1);
    }
}

/// -26 §4.6: the same for an Error's SUIT reports (ERR_MANIFEST_PROCESSING_FAILED carries
/// them).
#[test]
fn error_suit_report_nonce_not_update_token_is_dropped() {
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        tam.add_assigned("hello", 1);
        let mut dev = device(2);
        tam.register(&dev, &[]);
        let response = tam.query_response(&dev, n);
        let update = tam.post(&response, n).unwrap().response.unwrap();
        let token = dev
            .read_update_from(&update, n, &tam.tam_keys())
            .unwrap()
            .unwrap();
        let error = |nonce: &[u8]| {
            let mut e = teep_proto::ErrorMessage::new(ErrorCode::ManifestProcessingFailed);
            e.token = Some(token.clone());
            e.suit_reports = vec![report(Some(nonce))];
            teep_proto::signed::sign_message(&TeepMessage::Error(e), n, &dev.signer).unwrap()
        };
        let Err(Rejection::Refused(r)) = tam.post(&error(&[9; 16]), n) else {
            panic!("{n:?}: accepted")
        };
        assert_eq!(r.kind, RefusalKind::SuitReportNonce);
        assert!(
            r.explanation.starts_with("Error.suit-reports[0]: "),
            "{r:?}"
        );
        let o = tam.post(&error(&token), n).unwrap();
        assert_eq!(o.result, ExchangeResult::AgentError);
    }
}

/// Catalog entry "hello" whose envelope carries its binary as the integrated payload `#tc`
/// (-26 Appendix "Example 2"); the envelope without it.
fn integrated_hello(tam: &mut Tam) -> (Vec<u8>, Vec<u8>) {
    tam.add("hello", 1);
    let record = tam.storage.catalog.last_mut().unwrap();
    let without = record.envelope.clone();
    let Value::Map(mut members) = ciborium::from_reader(&without[..]).unwrap() else {
        panic!("an envelope is a map")
    };
    members.push((
        Value::Text("#tc".into()),
        Value::Bytes(b"the TA binary".to_vec()),
    ));
    let mut with = Vec::new();
    ciborium::into_writer(&Value::Map(members), &mut with).unwrap();
    record.envelope = with.clone();
    (with, without)
}

/// -26 §4.3 requested-tc-info: with have-binary true the agent "only needs an Update message
/// with a SUIT Manifest that authorizes installing it": the envelope goes without its
/// integrated payload (the signed members unchanged); otherwise it goes whole.
#[test]
fn query_response_handling_have_binary_gets_the_manifest_without_the_payload() {
    for n in NUMBERINGS {
        for have_binary in [Some(true), Some(false), None] {
            let mut tam = Tam::new(Enroll::Registered);
            let (with, without) = integrated_hello(&mut tam);
            let dev = device(2);
            tam.register(&dev, &[]);
            let body = edited_response(&mut tam, &dev, n, |q| {
                q.requested_tc_list = vec![teep_proto::RequestedTcInfo {
                    component_id: component("hello"),
                    tc_manifest_sequence_number: Some(1),
                    have_binary,
                }];
            });
            let o = tam.post(&body, n).unwrap();
            assert_eq!(o.result, ExchangeResult::Update, "{n:?} {have_binary:?}");
            let expected = if have_binary == Some(true) {
                &without
            } else {
                &with
            };
            let sent = update_of(&o, n).manifest_list;
            assert_eq!(sent.len(), 1);
            assert_eq!(&sent[0], expected);
        }
    }
}
