//! The Broker and Agent against HTTP peers that behave as AttesTAM and tamproto were seen to
//! (captured README, "HTTP-level behaviour seen"), replaying their captured messages: what is
//! tolerated with a named deviation, what `--strict` refuses, and what the Agent answers.

mod common;

use std::cell::RefCell;

use common::peers::{attestam, legacy_token, tamproto, AttesTam, Tamproto};
use common::{attestam_developer_key, secom_tam_key, Device};
use teep_broker::broker::{
    Broker, BrokerError, Exchange, HttpConfig, HttpTransport, RetryPolicy, SessionReport,
    TransportError,
};
use teep_cbor::Tolerance;
use teep_cose::Algorithm;
use teep_proto::{Numbering, TeepMessage};

fn session(
    dev: &mut Device,
    uri: &str,
    tolerance: Tolerance,
    exchanges: &RefCell<Vec<Exchange>>,
) -> Result<SessionReport, BrokerError> {
    let transport = HttpTransport::new(&HttpConfig::default()).unwrap();
    let mut broker = Broker::new(transport)
        .with_retry(RetryPolicy::once())
        .with_tolerance(tolerance)
        .with_dump(|x| exchanges.borrow_mut().push(x.clone()));
    broker.session(&mut dev.runner, uri, None)
}

fn codes(report: &SessionReport) -> Vec<&'static str> {
    report.deviations.iter().map(|d| d.code()).collect()
}

/// An Agent message as the peer received it: its payload in legacy numbering, the signature's
/// algorithm and whether its kid was protected.
fn agent_message(dev: &Device, body: &[u8]) -> (TeepMessage, Algorithm, bool) {
    let opened = teep_cose::open(body).unwrap();
    let info = opened
        .verify(&dev.tee.teep_signer().public_key())
        .unwrap()
        .clone();
    assert!(info.kid.is_some());
    let payload = opened.payload.as_deref().unwrap();
    let m = teep_proto::decode(payload, Numbering::Legacy).unwrap();
    (m, info.alg, info.kid_protected)
}

fn strict_refusal(r: Result<SessionReport, BrokerError>) -> String {
    match r {
        Err(BrokerError::Transport(e @ TransportError::Strict { .. })) => e.to_string(),
        other => panic!("expected a refusal under --strict, got {other:?}"),
    }
}

#[test]
fn attestam_unmodified_completes_with_retry_legacy_answers_and_unprotected_kid() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[attestam_developer_key()]);
    let (peer, seen) = attestam(AttesTam {
        interop_build: false,
    });
    let exchanges = RefCell::new(Vec::new());
    let report = session(&mut dev, &peer.uri, Tolerance::Tolerant, &exchanges).unwrap();
    assert_eq!(
        codes(&report),
        ["http.empty-post-needs-content-type", "http.cache-control"]
    );
    assert!(seen.lock().unwrap().installed, "AttesTAM got its Success");

    let requests = peer.requests();
    // The empty POST as the binding describes it (-15 §5.1.1, §7 step 4), refused with 415,
    // then once more with a Content-Type.
    assert!(requests[0].body.is_empty());
    assert_eq!(requests[0].header("accept"), Some("application/teep+cbor"));
    assert_eq!(requests[0].header("content-type"), None);
    assert_eq!(requests[0].header("content-length"), Some("0"));
    assert!(requests[1].body.is_empty());
    assert_eq!(
        requests[1].header("content-type"),
        Some("application/teep+cbor")
    );
    // QueryResponse to attestam_01, QueryResponse to the ambiguous attestam_02, Success: all in
    // legacy numbering, ESP256 as AttesTAM signed, the kid unprotected as AttesTAM put its own.
    let answers: Vec<_> = requests[2..]
        .iter()
        .map(|r| agent_message(&dev, &r.body))
        .collect();
    assert_eq!(answers.len(), 3);
    for (_, alg, kid_protected) in &answers {
        assert_eq!(*alg, Algorithm::Esp256);
        assert!(!kid_protected);
    }
    let TeepMessage::QueryResponse(first) = &answers[0].0 else {
        panic!("{:?}", answers[0].0)
    };
    assert_eq!(first.token, legacy_token("attestam_01_query_request.cbor"));
    let TeepMessage::QueryResponse(second) = &answers[1].0 else {
        panic!("{:?}", answers[1].0)
    };
    assert!(second.attestation_payload.is_some());
    // Read as draft-26 it would not decode: the answer is unambiguously legacy.
    let opened = teep_cose::open(&requests[3].body).unwrap();
    assert!(teep_proto::decode(opened.payload.as_deref().unwrap(), Numbering::Draft26).is_err());
    assert!(matches!(answers[2].0, TeepMessage::Success(_)));

    // Remembered for that TAM: the next session's empty POST carries the Content-Type at once,
    // still noted as a deviation.
    let uri = peer.uri.clone();
    assert!(dev.runner.state.tam_http[&uri].empty_post_content_type);
    let profile = &dev.runner.state.tam_profiles[&uri];
    assert!(profile.numbering_learned && profile.kid_unprotected);
    assert_eq!(profile.numbering(), Numbering::Legacy);
    let report = session(&mut dev, &uri, Tolerance::Tolerant, &exchanges).unwrap();
    let requests = peer.requests();
    assert_eq!(
        requests[5].header("content-type"),
        Some("application/teep+cbor")
    );
    assert!(requests[5].body.is_empty());
    assert!(codes(&report).contains(&"http.empty-post-needs-content-type"));

    // The dump: the empty POST named, the 415 and why it was retried, where the kid was.
    let dump: Vec<String> = exchanges
        .borrow()
        .iter()
        .map(teep_broker::dump::render)
        .collect();
    assert!(dump[0].contains("(empty body: new session)"), "{}", dump[0]);
    assert!(
        dump[0].contains("<<< 415 Unsupported Media Type"),
        "{}",
        dump[0]
    );
    assert!(
        dump[0].contains("deviation: http.empty-post-needs-content-type at HTTP response 415"),
        "{}",
        dump[0]
    );
    assert!(
        !dump[0].contains("\n  Content-Type: application/teep+cbor"),
        "{}",
        dump[0]
    );
    assert!(
        dump[1].contains("\n  Content-Type: application/teep+cbor")
            && dump[1].contains("cache-control: no-store"),
        "{}",
        dump[1]
    );
    assert!(
        dump[1].contains(
            "  QueryRequest (163 bytes, Sign1, legacy numbering)\n  \
             header: COSE_Sign1 protected alg (1): -9\n  \
             header: COSE_Sign1 unprotected kid (4): h'c770ec53"
        ),
        "{}",
        dump[1]
    );
    // The Agent's answer (holding nothing, it sends `tc-list: []`, -26 §4.3), and the
    // ambiguous attestam_02 read in the numbering known by then.
    assert!(
        dump[2].contains(
            "  QueryResponse (150 bytes, Sign1, legacy numbering)\n  \
             header: COSE_Sign1 protected alg (1): -9\n  \
             header: COSE_Sign1 unprotected kid (4): h'"
        ),
        "{}",
        dump[2]
    );
    assert!(
        dump[2].contains("  QueryRequest (163 bytes, Sign1, legacy numbering)\n"),
        "{}",
        dump[2]
    );
    // Read top-down, the dump is the session's sequence: each half opens with its direction
    // and the message's summary.
    let sequence: Vec<&str> = dump
        .iter()
        .flat_map(|d| d.lines())
        .filter(|l| l.starts_with("Broker→TAM  ") || l.starts_with("TAM→Broker  "))
        .collect();
    assert_eq!(sequence.len(), 2 * dump.len(), "{sequence:#?}");
    assert_eq!(sequence[0], "Broker→TAM  empty POST");
    assert!(
        sequence[1].starts_with("TAM→Broker  415 Unsupported Media Type"),
        "{sequence:#?}"
    );
    assert_eq!(sequence[2], "Broker→TAM  empty POST");
    assert!(
        sequence[3].starts_with("TAM→Broker  QueryRequest"),
        "{sequence:#?}"
    );
    assert!(
        sequence[4].starts_with("Broker→TAM  QueryResponse"),
        "{sequence:#?}"
    );
    assert!(dump[0].starts_with("Broker→TAM  empty POST\n>>> POST "));
}

#[test]
fn strict_broker_refuses_attestams_415_and_cache_control_without_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[]);
    let (peer, _) = attestam(AttesTam {
        interop_build: false,
    });
    let exchanges = RefCell::new(Vec::new());
    let text = strict_refusal(session(&mut dev, &peer.uri, Tolerance::Strict, &exchanges));
    assert!(
        text.contains(
            "refused under --strict: http.empty-post-needs-content-type at HTTP response 415"
        ),
        "{text}"
    );
    assert_eq!(peer.requests().len(), 1, "no retry under --strict");
    assert!(dev.runner.state.tam_http.is_empty());
    assert_eq!(
        exchanges.borrow().len(),
        1,
        "the refused exchange is dumped"
    );

    let (peer, _) = attestam(AttesTam {
        interop_build: true,
    });
    let text = strict_refusal(session(&mut dev, &peer.uri, Tolerance::Strict, &exchanges));
    assert!(
        text.contains("http.cache-control at HTTP response Cache-Control"),
        "{text}"
    );
    assert!(dev.runner.events.is_empty(), "nothing reached the Agent");
}

#[test]
fn attestam_interop_build_is_answered_with_the_kid_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[attestam_developer_key()]);
    let (peer, seen) = attestam(AttesTam {
        interop_build: true,
    });
    let exchanges = RefCell::new(Vec::new());
    let report = session(&mut dev, &peer.uri, Tolerance::Tolerant, &exchanges).unwrap();
    assert_eq!(codes(&report), ["http.cache-control"]);
    assert!(seen.lock().unwrap().installed);
    assert_eq!(peer.requests()[0].header("content-type"), None);
    assert!(dev.runner.state.tam_http.is_empty());
}

#[test]
fn tamproto_teep_cose_content_type_is_read_and_answered_with_es256() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[]);
    let peer = tamproto(Tamproto {
        teep_cose_content_type: true,
        query: "tamproto_01_query_request.cbor",
    });
    let exchanges = RefCell::new(Vec::new());
    let report = session(&mut dev, &peer.uri, Tolerance::Tolerant, &exchanges).unwrap();
    assert_eq!(codes(&report), ["http.content-type-teep-cose"]);
    let requests = peer.requests();
    assert_eq!(requests.len(), 2);
    let (m, alg, kid_protected) = agent_message(&dev, &requests[1].body);
    assert!(matches!(m, TeepMessage::QueryResponse(_)), "{m:?}");
    assert_eq!(alg, Algorithm::Es256, "tamproto knows no -9");
    assert!(!kid_protected, "tamproto put kid 'hoge' unprotected");
    // The closing 204 carries a Content-Type: no deviation, no refusal.
    let last = exchanges.borrow().last().unwrap().clone();
    assert_eq!(last.status, 204);
    assert!(last.deviations.is_empty());

    let text = strict_refusal(session(&mut dev, &peer.uri, Tolerance::Strict, &exchanges));
    assert!(
        text.contains("http.content-type-teep-cose at HTTP response Content-Type"),
        "{text}"
    );
}

#[test]
fn tamproto_fixed_config_needs_no_deviation_even_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[]);
    let peer = tamproto(Tamproto {
        teep_cose_content_type: false,
        query: "tamproto_01_query_request.cbor",
    });
    let exchanges = RefCell::new(Vec::new());
    let report = session(&mut dev, &peer.uri, Tolerance::Strict, &exchanges).unwrap();
    assert!(report.deviations.is_empty());
}

#[test]
fn tamproto_with_its_original_settings_is_answered_es256_with_every_deviation_named() {
    // Empty kid, two-element SUIT COSE profile, freshness mechanisms without attestation: each
    // captured with one original setting undone, all with application/teep+cose here.
    for (query, code) in [
        ("tamproto_02_query_request_empty_kid.cbor", "cose.kid-empty"),
        (
            "tamproto_03_query_request_suit_profile_two_elements.cbor",
            "teep.suit-cose-profile-two-elements",
        ),
        (
            "tamproto_04_query_request_freshness_without_attestation.cbor",
            "teep.freshness-without-attestation",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[]);
        let peer = tamproto(Tamproto {
            teep_cose_content_type: true,
            query,
        });
        let exchanges = RefCell::new(Vec::new());
        let report = session(&mut dev, &peer.uri, Tolerance::Tolerant, &exchanges).unwrap();
        assert_eq!(
            codes(&report),
            ["http.content-type-teep-cose", code],
            "{query}"
        );
        let requests = peer.requests();
        let (m, alg, _) = agent_message(&dev, &requests[1].body);
        assert!(matches!(m, TeepMessage::QueryResponse(_)), "{query}: {m:?}");
        assert_eq!(alg, Algorithm::Es256, "{query}");
        // The dump shows the message's deviation under its headers.
        let dump = teep_broker::dump::render(&exchanges.borrow()[0]);
        assert!(dump.contains(&format!("  deviation: {code} at ")), "{dump}");
    }
}
