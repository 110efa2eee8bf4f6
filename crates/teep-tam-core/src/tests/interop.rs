//! What older and independent agents do, and what the TAM does with it (issue 17, the TAM
//! side): the suite an agent selected is used for the rest of the session (-26 §8.1), a path
//! can send its first QueryRequest as COSE_Sign1 for agents that read nothing else, agents
//! that sign without a kid are found by their token, their UEID or their key, and a
//! QueryResponse without a token finds its session by the challenge (DIGEST §9.2).

use std::sync::Arc;

use teep_cbor::deviation::Tolerance;
use teep_cose::{Algorithm, CoseError, CoseKind, PublicKey, Signer, SoftwareSigner};
use teep_proto::{ErrorCode, Numbering, TeepMessage};

use super::harness::*;
use crate::session::FirstQuery;
use crate::{CoreConfig, Enroll, ExchangeResult, InternalError, RefusalKind, Rejection, TamCore};

const N: Numbering = Numbering::Draft26;
const L: Numbering = Numbering::Legacy;

/// A signer that names no key: libteep's agent signs this way (RFC 9052 §3.1 makes kid
/// optional).
struct NoKid(SoftwareSigner);

impl Signer for NoKid {
    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
    fn kid(&self) -> Vec<u8> {
        Vec::new()
    }
    fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CoseError> {
        self.0.sign(tbs)
    }
}

/// `body`'s TEEP message signed again by `signer` (COSE_Sign1).
fn resign(body: &[u8], n: Numbering, signer: &dyn Signer) -> Vec<u8> {
    let (_, m) = teep_proto::signed::open_message(body, n).unwrap();
    teep_proto::signed::sign_message(&m, n, signer).unwrap()
}

/// The algorithm of the first signature of a COSE message.
fn alg_of(body: &[u8]) -> i64 {
    teep_cose::open(body).unwrap().signatures[0].alg.to_cose()
}

/// A device of the -12…-25 era: its P-256 key signs ES256 (-7).
fn es256_device(seed: u8) -> teep_bench::sim::SimDevice {
    let mut dev = device(seed);
    dev.signer = SoftwareSigner::with_algorithm(dev.private.clone(), Algorithm::Es256).unwrap();
    dev
}

/// -26 §8.1: the suite the agent selected (the algorithm it signed with) is used in both
/// directions: an ES256 agent gets an ES256 Update, an EdDSA agent an EdDSA one, from the
/// TAM key of that type, which verifies it.
#[test]
fn the_update_is_signed_with_the_algorithm_the_agent_selected() {
    for (seed, alg) in [
        (2, Algorithm::Es256),
        (2, Algorithm::Esp256),
        (3, Algorithm::EdDsa),
        (3, Algorithm::Ed25519),
    ] {
        let mut tam = Tam::new(Enroll::Tofu);
        tam.add_assigned("hello", 1);
        let mut dev = device(seed);
        dev.signer = SoftwareSigner::with_algorithm(dev.private.clone(), alg).unwrap();
        let response = tam.query_response(&dev, N);
        assert_eq!(alg_of(&response), alg.to_cose());
        let update = tam.post(&response, N).unwrap().response.unwrap();
        assert_eq!(alg_of(&update), alg.to_cose(), "{alg}");
        assert_eq!(tam.device(&dev).suite_alg, Some(alg.to_cose()));
        let token = dev.read_update_from(&update, N, &tam.tam_keys()).unwrap();
        let success = dev.success(token, N).unwrap();
        assert_eq!(
            tam.post(&success, N).unwrap().result,
            ExchangeResult::Success
        );
    }
}

/// The error Update of a failed attestation is signed in the agent's suite too.
#[test]
fn the_error_update_of_an_es256_agent_is_es256() {
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = es256_device(2);
    let request = tam.connect(N);
    let mut seen = dev.read_query_request(&request, N, &[]).unwrap();
    seen.challenge = Some(vec![7; 32]);
    let response = dev.query_response(&seen, N).unwrap();
    let answer = tam.post(&response, N).unwrap();
    assert_eq!(answer.result, ExchangeResult::AttestationFailed);
    assert_eq!(alg_of(answer.response.as_ref().unwrap()), -7);
}

fn first_query(draft26: FirstQuery, legacy: FirstQuery) -> Tam {
    Tam::with(
        |c| CoreConfig {
            enroll: Enroll::Tofu,
            first_query_draft26: draft26,
            first_query_legacy: legacy,
            ..c
        },
        Vec::new(),
    )
}

/// -26 §8.1 by default (a COSE_Sign with one signature per TAM key); a path configured for
/// agents that verify COSE_Sign1 only (libteep) sends a COSE_Sign1 with the configured
/// algorithm, signed by the TAM key of its type, and the other path is unchanged byte for byte.
#[test]
fn a_path_can_send_its_first_query_request_as_cose_sign1() {
    let mut default = first_query(FirstQuery::CoseSign, FirstQuery::CoseSign);
    let mut legacy_sign1 = first_query(FirstQuery::CoseSign, FirstQuery::Sign1(Algorithm::Es256));
    // Same payload, same signers (ECDSA signatures are randomised, Ed25519 ones are not).
    let (a, b) = (default.connect(N), legacy_sign1.connect(N));
    let (a, b) = (teep_cose::open(&a).unwrap(), teep_cose::open(&b).unwrap());
    assert_eq!(a.payload, b.payload, "draft-26 path unchanged");
    assert_eq!(a.signatures, b.signatures);
    assert_eq!(a.signature_bytes(1), b.signature_bytes(1));

    let plain = default.connect(L);
    let opened = teep_cose::open(&plain).unwrap();
    assert_eq!(opened.kind, CoseKind::Sign);

    let request = legacy_sign1.connect(L);
    let opened = teep_cose::open(&request).unwrap();
    assert_eq!((opened.kind, opened.tagged), (CoseKind::Sign1, true));
    let sig = &opened.signatures[0];
    let p256 = legacy_sign1.tam_keys()[0].clone();
    assert_eq!(sig.alg, Algorithm::Es256);
    assert_eq!(sig.kid.as_deref(), Some(&p256.thumbprint()[..]));
    assert!(opened.verify(&p256).is_ok());

    // The whole session then runs on that path, in the legacy numbering.
    legacy_sign1.add_assigned("hello", 1);
    let mut dev = es256_device(2);
    assert_eq!(legacy_sign1.exchange_in(&mut dev, L), Exchange::Updated);

    let mut ed = first_query(FirstQuery::Sign1(Algorithm::Ed25519), FirstQuery::CoseSign);
    assert_eq!(alg_of(&ed.connect(N)), -19);
}

#[test]
fn first_query_names_parse_and_print_back() {
    for name in FirstQuery::NAMES {
        let f: FirstQuery = name.parse().unwrap();
        assert_eq!(f.name(), name);
    }
    let e = "es384".parse::<FirstQuery>().unwrap_err();
    assert!(e.contains("\"es384\"") && e.contains("cose-sign"), "{e}");
}

/// A COSE_Sign1 under an algorithm no TAM key signs is the TAM's own error, named.
#[test]
fn a_first_query_algorithm_without_a_key_is_an_internal_error() {
    let ed_only: Vec<Arc<dyn Signer>> = vec![tam_signers()[1].clone()];
    let core = TamCore::new(
        ed_only,
        Vec::new(),
        CoreConfig {
            first_query_legacy: FirstQuery::Sign1(Algorithm::Es256),
            ..CoreConfig::default()
        },
        token_key(),
    );
    let e = core.handle_connect(L, T0, &mut Counter(0)).unwrap_err();
    assert!(matches!(e, InternalError::NoKeyFor { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "first QueryRequest: configured as COSE_Sign1 ES256 (-7), but no TAM key signs ES256 (-7)"
    );
}

/// A kid-less agent (libteep) with its key registered: its QueryResponse is matched by trying
/// the registered keys (a small fleet), its Success by the token of the Update sent to it;
/// the audit says how, and nothing counts as a deviation (a missing kid is legal COSE).
#[test]
fn a_kidless_agent_is_matched_by_its_key_then_by_its_token() {
    let mut tam = Tam::new(Enroll::Registered);
    tam.add_assigned("hello", 1);
    let other = device(4);
    tam.register(&other, &[]);
    let mut dev = es256_device(2);
    tam.register(&dev, &[]);
    let no_kid =
        NoKid(SoftwareSigner::with_algorithm(dev.private.clone(), Algorithm::Es256).unwrap());

    let response = resign(&tam.query_response(&dev, N), N, &no_kid);
    let answer = tam.post(&response, N).unwrap();
    assert_eq!(answer.result, ExchangeResult::Update);
    // A device holding nothing answers `tc-list: []` (-26 §4.3 wants it present).
    assert_eq!(answer.deviations.codes(), ["teep.tc-list-empty"]);
    assert_eq!(alg_of(answer.response.as_ref().unwrap()), -7);
    let note = &tam.storage.audit[0].notes;
    assert_eq!(note.len(), 2, "{note:?}");
    assert!(
        note[0].starts_with("signer: the message names no kid; device 2 (kid ")
            && note[0].ends_with(
                "found by trying the registered keys (2 devices), its key verifies the signature"
            ),
        "{note:?}"
    );

    let token = dev
        .read_update(answer.response.as_ref().unwrap(), N)
        .unwrap();
    let success = resign(&dev.success(token, N).unwrap(), N, &no_kid);
    assert_eq!(
        tam.post(&success, N).unwrap().result,
        ExchangeResult::Success
    );
    let note = &tam.storage.audit[1].notes;
    assert!(
        note[0].contains("found by the token of the Update sent to it"),
        "{note:?}"
    );
    assert_eq!(tam.holdings(&dev).len(), 1);
}

/// Once a device attested, its recorded UEID finds it even when trying keys is off; with
/// neither, the refusal says what was tried.
#[test]
fn a_kidless_agent_is_matched_by_the_ueid_it_attested_with() {
    let mut tam = Tam::with(
        |c| CoreConfig {
            kidless_max_devices: 0,
            ..c
        },
        Vec::new(),
    );
    let mut dev = device(2);
    tam.register(&dev, &[]);
    assert_eq!(tam.exchange(&mut dev), Exchange::UpToDate);
    assert_eq!(tam.device(&dev).ueid.as_ref(), Some(&dev.ueid));
    let no_kid = NoKid(SoftwareSigner::new(dev.private.clone()));

    let response = resign(&tam.query_response(&dev, N), N, &no_kid);
    assert_eq!(
        tam.post(&response, N).unwrap().result,
        ExchangeResult::NoUpdate
    );
    let note = &tam.storage.audit.last().unwrap().notes;
    assert!(
        note[0].contains(&format!(
            "found by the evidence's ueid {}",
            hex::encode(&dev.ueid)
        )),
        "{note:?}"
    );

    // Another device's evidence names a UEID nobody recorded, and keys are not tried.
    let stranger = device(6);
    let no_kid = NoKid(SoftwareSigner::new(stranger.private.clone()));
    let response = resign(&tam.query_response(&stranger, N), N, &no_kid);
    let r = tam.post(&response, N).unwrap_err();
    assert_eq!(r.kind(), Some(RefusalKind::UnregisteredDevice));
    assert_eq!(
        r.to_string(),
        format!(
            "QueryResponse: the signer is not a registered device (enrollment is \
             registered-only): the message names no kid; no device has the evidence's ueid {}; \
             trying registered keys is off (kidless_max_devices = 0)",
            hex::encode(&stranger.ueid)
        )
    );
}

/// A fleet larger than the limit is not tried; the refusal of a kid-less Error says so.
#[test]
fn a_fleet_larger_than_the_limit_is_not_tried() {
    let mut tam = Tam::with(
        |c| CoreConfig {
            kidless_max_devices: 1,
            ..c
        },
        Vec::new(),
    );
    let dev = device(2);
    tam.register(&dev, &[]);
    tam.register(&device(4), &[]);
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let mut d = device(2);
    let error = d
        .error(seen.token, ErrorCode::PermanentError, "no", N)
        .unwrap();
    let no_kid = NoKid(SoftwareSigner::new(dev.private.clone()));
    let r = tam.post(&resign(&error, N, &no_kid), N).unwrap_err();
    assert_eq!(r.kind(), Some(RefusalKind::UnknownDevice));
    assert_eq!(
        r.to_string(),
        "Error: the signer is not a known device: the message names no kid; more devices are \
         registered than kidless_max_devices (1), so their keys were not tried"
    );
    // Within the limit, the same Error is matched and ends the session.
    tam.core.config.kidless_max_devices = 2;
    let outcome = tam.post(&resign(&error, N, &no_kid), N).unwrap();
    assert_eq!(outcome.result, ExchangeResult::AgentError);
}

/// DIGEST §9.2, -26 §4.2 to the letter: with `token_with_attestation` off, a QueryRequest
/// that asks for attestation carries the challenge alone; the answer, without a token, finds
/// its session by the evidence's eat_nonce, conforms, and is answered once only.
#[test]
fn without_a_token_the_challenge_finds_the_session() {
    let mut tam = Tam::with(
        |c| CoreConfig {
            enroll: Enroll::Tofu,
            token_with_attestation: false,
            ..c
        },
        Vec::new(),
    );
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    let request = tam.connect(N);
    let TeepMessage::QueryRequest(q) = teep_proto::signed::open_message(&request, N).unwrap().1
    else {
        panic!("a QueryRequest");
    };
    assert!(q.token.is_none() && q.challenge.is_some());
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let response = dev.query_response(&seen, N).unwrap();
    let answer = tam.post(&response, N).unwrap();
    assert_eq!(answer.result, ExchangeResult::Update);
    assert_eq!(
        answer.deviations.codes(),
        ["teep.tc-list-empty"],
        "holds nothing"
    );
    let again = tam.post(&response, N).unwrap_err();
    assert_eq!(again.kind(), Some(RefusalKind::ReplayedToken));
    let token = dev
        .read_update(answer.response.as_ref().unwrap(), N)
        .unwrap();
    let success = dev.success(token, N).unwrap();
    assert_eq!(
        tam.post(&success, N).unwrap().result,
        ExchangeResult::Success
    );

    // Without attestation the token is sent as always (-26 §4.2).
    let mut plain = Tam::with(
        |c| CoreConfig {
            require_attestation: false,
            token_with_attestation: false,
            ..c
        },
        Vec::new(),
    );
    let request = plain.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    assert!(seen.token.is_some() && seen.challenge.is_none());
}

/// By default the QueryRequest carries both (DIGEST §9.2); an agent that leaves the token out
/// of its answer is still found by the challenge, a named deviation (refused when strict:
/// see `refusals`).
#[test]
fn an_answer_that_drops_the_token_sent_is_a_deviation() {
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = device(2);
    let request = tam.connect(N);
    let mut seen = dev.read_query_request(&request, N, &[]).unwrap();
    assert!(seen.token.is_some() && seen.challenge.is_some());
    seen.token = None;
    let response = dev.query_response(&seen, N).unwrap();
    let answer = tam.post(&response, N).unwrap();
    assert_eq!(answer.result, ExchangeResult::NoUpdate);
    assert_eq!(
        answer.deviations.codes(),
        ["teep.tc-list-empty", "teep.token-not-echoed"]
    );
    assert_eq!(answer.deviations.tolerance(), Tolerance::Tolerant);
    let notes = &tam.storage.audit[0].notes;
    assert!(
        notes[1].starts_with("teep.token-not-echoed at QueryResponse.token (TEEP-26 §4.3"),
        "{notes:?}"
    );
}

/// A challenge that expired finds its session, which says so.
#[test]
fn an_expired_challenge_is_refused_as_expired() {
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = device(2);
    let request = tam.connect(N);
    let mut seen = dev.read_query_request(&request, N, &[]).unwrap();
    seen.token = None;
    let response = dev.query_response(&seen, N).unwrap();
    tam.now += tam.core.config.session_ttl_ms + 1;
    let r: Rejection = tam.post(&response, N).unwrap_err();
    assert_eq!(r.kind(), Some(RefusalKind::ExpiredToken), "{r}");
}

/// A deviation accepted before the message is refused for another reason, or before its
/// attestation fails, is told to the peer: in the refusal, and in the error Update's err-msg.
#[test]
fn accepted_deviations_are_in_the_explanation_the_peer_gets() {
    let mut tam = Tam::new(Enroll::Registered);
    let dev = device(2);
    let request = tam.connect(N);
    let mut seen = dev.read_query_request(&request, N, &[]).unwrap();
    seen.token = None;
    let response = dev.query_response(&seen, N).unwrap();
    let r = tam.post(&response, N).unwrap_err();
    let refusal = r.refusal().unwrap();
    assert_eq!(refusal.kind, RefusalKind::UnregisteredDevice);
    assert_eq!(
        refusal.deviations.codes(),
        ["teep.tc-list-empty", "teep.token-not-echoed"]
    );
    let text = refusal.full_explanation();
    assert!(
        text.starts_with(&refusal.explanation)
            && text.contains("\naccepted deviation: teep.token-not-echoed at QueryResponse.token"),
        "{text}"
    );

    // Registered with an attestation key the evidence is not signed with: the error Update
    // names the failure; the deviations follow only as far as 128 bytes allow (here neither
    // fits; `attestation::a_query_response_without_the_evidence_asked_for_gets_attestation_required`
    // shows one that does).
    tam.register(&dev, &[]);
    tam.storage.devices[0].attest_key = Some(device(4).public_key().to_cose_key());
    let request = tam.connect(N);
    let mut seen = dev.read_query_request(&request, N, &[]).unwrap();
    seen.token = None;
    let response = dev.query_response(&seen, N).unwrap();
    let answer = tam.post(&response, N).unwrap();
    assert_eq!(answer.result, ExchangeResult::AttestationFailed);
    let TeepMessage::Update(u) =
        teep_proto::signed::open_message(answer.response.as_ref().unwrap(), N)
            .unwrap()
            .1
    else {
        panic!("an Update");
    };
    assert_eq!(
        u.err_msg.as_deref(),
        Some(
            // Both codes would pass 128 bytes: the reason is never cut for them.
            "attestation-payload: signature does not verify with the device attestation key"
        )
    );
}

/// TEEP-26 §8.1: after the first QueryRequest the selected suite, COSE_Sign1, is used both
/// ways. An agent's QueryResponse as a COSE_Sign with its one valid signature is accepted as
/// the named deviation `teep.agent-cose-sign`, and refused when strict.
#[test]
fn teep_8_1_an_agent_answer_as_cose_sign_is_a_named_deviation() {
    let as_cose_sign = |tam: &mut Tam, dev: &teep_bench::sim::SimDevice| {
        let request = tam.connect(N);
        let seen = dev.read_query_request(&request, N, &[]).unwrap();
        let response = dev.query_response(&seen, N).unwrap();
        let (_, m) = teep_proto::signed::open_message(&response, N).unwrap();
        dev.sign_multi(&m, N).unwrap()
    };
    let mut tam = Tam::new(Enroll::Tofu);
    let dev = device(2);
    let body = as_cose_sign(&mut tam, &dev);
    assert_eq!(teep_cose::open(&body).unwrap().kind, CoseKind::Sign);
    let answer = tam.post(&body, N).unwrap();
    assert_eq!(
        answer.deviations.codes(),
        ["teep.tc-list-empty", "teep.agent-cose-sign"]
    );

    let mut strict = Tam::with(
        |c| crate::CoreConfig {
            tolerance: Tolerance::Strict,
            ..c
        },
        Vec::new(),
    );
    let dev = device(3);
    strict.register(&dev, &[]);
    let request = strict.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    // A strict TAM refuses `tc-list: []` first; a device holding something is asked instead.
    let mut response = dev.query_response_message(&seen).unwrap();
    response.tc_list = None;
    let body = dev
        .sign_multi(&TeepMessage::QueryResponse(response), N)
        .unwrap();
    let r = strict.post(&body, N).unwrap_err();
    assert_eq!(r.kind(), Some(RefusalKind::StrictDeviation), "{r}");
    assert!(r.to_string().contains("teep.agent-cose-sign"), "{r}");
}
