//! libteep's captured messages (`../shared/interop/captured/libteep_*.cbor`, README there)
//! as the TAM handles them: each file as sent (its token is another TAM's, so it is refused
//! for that, with the deviations it carries told), refused earlier when the TAM is strict; and
//! libteep's whole session emulated with the same message shapes and this TAM's tokens: a
//! COSE_Sign1 ES256 first QueryRequest on the legacy path, a QueryResponse with `tc-list: []`,
//! legacy label 5 and no kid, an ES256 Update, a kid-less Success, and an Error with an
//! undefined err-code.

use ciborium::Value;
use teep_cbor::deviation::Tolerance;
use teep_cose::{Algorithm, KeyType, PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::Numbering;

use super::harness::*;
use crate::session::FirstQuery;
use crate::wire::Incoming;
use crate::{CoreConfig, Enroll, ExchangeResult, RefusalKind, TamCore};

const L: Numbering = Numbering::Legacy;

fn shared(path: &str) -> Vec<u8> {
    let p = format!(
        "{}/../../../shared/interop/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn captured(name: &str) -> Vec<u8> {
    shared(&format!("captured/{name}"))
}

/// libteep's agent key (it signs ES256 with it) and the SECOM test TAM key it trusts.
fn libteep_key() -> PrivateKey {
    PrivateKey::from_bytes_any(&shared("libteep/testfiles/key/teep_agent_prime256v1.pem")).unwrap()
}

fn secom_tam_key() -> PrivateKey {
    PrivateKey::from_bytes_any(&shared("libteep/testfiles/key/tam_prime256v1.pem")).unwrap()
}

/// A TAM as an operator points libteep at it: the SECOM key (libteep's trust anchor) and an
/// Ed25519 key, ES256 COSE_Sign1 first QueryRequests on the legacy path, the libteep agent's
/// key registered; `strict` and `attestation` as given.
fn tam_for_libteep(strict: bool, attestation: bool) -> Tam {
    let mut tam = Tam::new(Enroll::Registered);
    let config = CoreConfig {
        enroll: Enroll::Registered,
        first_query_legacy: FirstQuery::Sign1(Algorithm::Es256),
        require_attestation: attestation,
        tolerance: if strict {
            Tolerance::Strict
        } else {
            Tolerance::Tolerant
        },
        render_json: false,
        ..CoreConfig::default()
    };
    let signers: Vec<std::sync::Arc<dyn Signer>> = vec![
        std::sync::Arc::new(SoftwareSigner::new(secom_tam_key())),
        std::sync::Arc::new(SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519))),
    ];
    tam.core = TamCore::new(signers, Vec::new(), config, token_key());
    let dev = teep_bench::sim::SimDevice::from_key(libteep_key());
    tam.register(&dev, &[]);
    tam
}

fn int(n: i64) -> Value {
    Value::Integer(n.into())
}

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// The TEEP payload of a captured COSE_Sign1 with its token (legacy label 20) replaced.
fn retoken(cose: &[u8], token: &[u8]) -> Vec<u8> {
    let opened = teep_cose::open(cose).unwrap();
    let mut m: Value = ciborium::from_reader(opened.payload.unwrap().as_slice()).unwrap();
    let Value::Array(items) = &mut m else {
        panic!("a TEEP message")
    };
    let Value::Map(options) = &mut items[1] else {
        panic!("options")
    };
    for (k, v) in options.iter_mut() {
        if *k == int(20) {
            *v = Value::Bytes(token.to_vec());
        }
    }
    cbor(&m)
}

/// COSE_Sign1 as libteep writes it: protected `{1: -7}`, the kid (if any) unprotected.
fn libteep_sign1(payload: &[u8], unprotected_kid: Option<&[u8]>) -> Vec<u8> {
    let signer = SoftwareSigner::with_algorithm(libteep_key(), Algorithm::Es256).unwrap();
    let protected = cbor(&Value::Map(vec![(int(1), int(-7))]));
    let tbs = cbor(&Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.clone()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.to_vec()),
    ]));
    let unprotected = match unprotected_kid {
        Some(k) => vec![(int(4), Value::Bytes(k.to_vec()))],
        None => Vec::new(),
    };
    cbor(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(unprotected),
            Value::Bytes(payload.to_vec()),
            Value::Bytes(signer.sign(&tbs).unwrap()),
        ])),
    ))
}

/// Each captured file as sent: decoded on the legacy path with its deviations, then refused
/// because its token is another TAM's; the refusal tells the deviations accepted. A strict
/// TAM refuses the deviation itself, naming it.
#[test]
fn each_libteep_file_is_read_with_its_deviations_and_refused_for_its_token() {
    for (file, codes, strict_text) in [
        (
            "libteep_01_query_response_empty_tc_list.cbor",
            &["teep.tc-list-empty", "teep.selected-cipher-suite"][..],
            Some("strict mode refuses teep."),
        ),
        (
            "libteep_02_error_err_code_out_of_range.cbor",
            &["teep.err-code-undefined"][..],
            Some("strict mode refuses teep.err-code-undefined"),
        ),
        ("libteep_03_success.cbor", &[][..], None),
    ] {
        let bytes = captured(file);
        let mut tam = tam_for_libteep(false, true);
        let msg = tam.core.inspect(&bytes, L).unwrap();
        let mut got = msg.deviations.codes();
        got.sort_unstable();
        let mut want = codes.to_vec();
        want.sort_unstable();
        assert_eq!(got, want, "{file}");
        if let Incoming::Error {
            code,
            name,
            undefined,
            ..
        } = &msg.message
        {
            assert_eq!((*code, name.as_str()), (1, "ERR_PERMANENT_ERROR"));
            assert_eq!(*undefined, Some(143360));
        }
        let r = tam.post(&bytes, L).unwrap_err();
        let refusal = r.refusal().unwrap();
        assert_eq!(refusal.kind, RefusalKind::UnknownToken, "{file}: {r}");
        let text = refusal.full_explanation();
        for c in codes {
            assert!(
                text.contains(&format!("\naccepted deviation: {c} at ")),
                "{text}"
            );
        }

        let strict = tam_for_libteep(true, true);
        match (strict.core.inspect(&bytes, L), strict_text) {
            (Err(r), Some(t)) => {
                assert_eq!(r.kind(), Some(RefusalKind::StrictDeviation), "{file}: {r}");
                assert_eq!(r.code(), "deviation");
                assert!(r.to_string().contains(t), "{file}: {r}");
            }
            (Ok(m), None) => assert!(m.deviations.is_empty()),
            (other, _) => panic!("{file}: {:?}", other.map(|m| m.type_name)),
        }
    }
}

/// libteep's session, emulated with its captured shapes and this TAM's tokens: the first
/// QueryRequest is a COSE_Sign1 ES256 by the key libteep trusts; the kid-less QueryResponse
/// with `tc-list: []` and label 5 is matched by the agent's registered key and answered with
/// an ES256 Update; the kid-less legacy Success by its token. The audit tells it all.
#[test]
fn libteeps_session_completes_on_the_legacy_path() {
    let mut tam = tam_for_libteep(false, false);
    tam.add_assigned("hello", 1);
    let request = tam.connect(L);
    let opened = teep_cose::open(&request).unwrap();
    assert_eq!(opened.kind, teep_cose::CoseKind::Sign1);
    let tam_pub =
        PublicKey::from_bytes_any(&shared("libteep/testfiles/key/tam_prime256v1_pub.pem")).unwrap();
    assert_eq!(opened.verify(&tam_pub).unwrap().alg, Algorithm::Es256);
    let (_, q) = teep_proto::signed::open_message(&request, L).unwrap();
    let teep_proto::TeepMessage::QueryRequest(q) = q else {
        panic!("a QueryRequest")
    };
    let token = q.token.expect("a token without attestation");

    let qr = libteep_sign1(
        &retoken(
            &captured("libteep_01_query_response_empty_tc_list.cbor"),
            &token,
        ),
        None,
    );
    let answer = tam.post(&qr, L).unwrap();
    assert_eq!(answer.result, ExchangeResult::Update);
    let mut codes = answer.deviations.codes();
    codes.sort_unstable();
    assert_eq!(codes, ["teep.selected-cipher-suite", "teep.tc-list-empty"]);
    let update = answer.response.unwrap();
    let opened = teep_cose::open(&update).unwrap();
    assert_eq!(opened.verify(&tam_pub).unwrap().alg, Algorithm::Es256);
    let notes = &tam.storage.audit[0].notes;
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(
        notes[0].starts_with("signer: the message names no kid; device 1"),
        "{notes:?}"
    );

    let (_, u) = teep_proto::signed::open_message(&update, L).unwrap();
    let teep_proto::TeepMessage::Update(u) = u else {
        panic!("an Update")
    };
    let success = libteep_sign1(
        &retoken(&captured("libteep_03_success.cbor"), &u.token.unwrap()),
        None,
    );
    let end = tam.post(&success, L).unwrap();
    assert_eq!((end.result, end.response), (ExchangeResult::Success, None));
    assert!(tam.storage.audit[1].notes[0].contains("found by the token of the Update sent to it"));
    assert_eq!(tam.storage.holdings.get(&1).map(Vec::len), Some(1));
}

/// libteep cannot attest: it answers the QueryRequest with an Error whose err-code is
/// uninitialised memory (libteep_02). The TAM reads it as ERR_PERMANENT_ERROR, keeps the
/// value sent in the device's status, ends the session, and records the deviation.
#[test]
fn libteeps_error_with_an_undefined_code_ends_the_session() {
    let mut tam = tam_for_libteep(false, true);
    let request = tam.connect(L);
    let (_, q) = teep_proto::signed::open_message(&request, L).unwrap();
    let teep_proto::TeepMessage::QueryRequest(q) = q else {
        panic!("a QueryRequest")
    };
    let kid = libteep_key().public_key().thumbprint();
    let error = libteep_sign1(
        &retoken(
            &captured("libteep_02_error_err_code_out_of_range.cbor"),
            &q.token.unwrap(),
        ),
        Some(&kid),
    );
    let end = tam.post(&error, L).unwrap();
    assert_eq!(
        (end.result, end.response),
        (ExchangeResult::AgentError, None)
    );
    assert_eq!(end.deviations.codes(), ["teep.err-code-undefined"]);
    assert_eq!(
        tam.storage.devices[0].status_detail.as_deref(),
        Some(
            "agent error ERR_PERMANENT_ERROR (1; sent as the undefined err-code 143360): \
             ATTESTATION IS NOT SUPPORTED"
        )
    );
    let notes = &tam.storage.audit[0].notes;
    assert_eq!(notes.len(), 1, "kid named: no signer note ({notes:?})");
    assert!(
        notes[0].starts_with("teep.err-code-undefined at Error"),
        "{notes:?}"
    );
}
