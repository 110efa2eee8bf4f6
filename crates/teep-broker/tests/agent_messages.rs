//! The Agent driven with hand-made TAM messages (no HTTP): error codes, SUIT failures, rollback,
//! and answering in kind.

use std::sync::Arc;

use teep_agent::agent::{Agent, AgentConfig, AgentEvent, Outcome};
use teep_agent::state::AgentState;
use teep_broker::device::TeeDevice;
use teep_cose::{Algorithm, KeyType, PrivateKey, Signer, SoftwareSigner};
use teep_proto::{
    CipherSuite, DataItems, ErrorCode, Numbering, QueryRequest, SuitCoseProfile, TeepMessage,
    Update,
};
use teep_tee::examples::{COUNTER_WASM, HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, Tee};

struct Fixture {
    _dir: tempfile::TempDir,
    tee: Arc<dyn Tee>,
    device: TeeDevice,
    state: AgentState,
    config: AgentConfig,
    tam: SoftwareSigner,
    tc_signer: SoftwareSigner,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir.path()).unwrap());
        let tam = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
        let tc_signer = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
        let config = AgentConfig {
            tam_trust_anchors: vec![tam.public_key()],
            tc_signer_trust_anchors: vec![tc_signer.public_key()],
            require_tam_attestation: false,
            ..Default::default()
        };
        Fixture {
            device: TeeDevice::new(tee.clone()),
            tee,
            state: AgentState::default(),
            config,
            tam,
            tc_signer,
            _dir: dir,
        }
    }

    fn handle(&mut self, bytes: &[u8]) -> Outcome {
        let mut random = |b: &mut [u8]| b.fill(7);
        Agent::new(&self.config, &mut self.state, &mut self.device).handle_message(
            "http://tam",
            bytes,
            &mut random,
        )
    }

    fn signed(&self, msg: &TeepMessage, n: Numbering, signer: &dyn Signer) -> Vec<u8> {
        teep_cose::sign1(&msg.encode(n), signer).unwrap()
    }

    fn envelope(&self, name: &str, wasm: &[u8], seq: u64) -> Vec<u8> {
        let ids = teep_tam::suit_wrap::ta_ids(name);
        teep_tam::suit_wrap::wrap_ta(&ids, wasm, seq, &self.tc_signer).unwrap()
    }

    fn update(&mut self, envelopes: Vec<Vec<u8>>) -> Outcome {
        let update = TeepMessage::Update(Update {
            token: Some(vec![1; 16]),
            manifest_list: envelopes,
            ..Default::default()
        });
        let bytes = self.signed(&update, Numbering::Draft26, &self.tam);
        self.handle(&bytes)
    }
}

/// Opens the Agent's reply (verifying it with the device key) as a TEEP message.
fn reply(f: &Fixture, out: &Outcome) -> (TeepMessage, Numbering, Algorithm) {
    let bytes = out.reply.as_ref().expect("a reply");
    let opened = teep_cose::open(bytes).unwrap();
    let info = opened
        .verify(&f.tee.teep_signer().public_key())
        .unwrap()
        .clone();
    let (m, n) = teep_proto::decode_auto(opened.payload.as_deref().unwrap()).unwrap();
    (m, n, info.alg)
}

fn query_request(suites: Vec<CipherSuite>) -> QueryRequest {
    QueryRequest {
        token: Some(vec![9; 16]),
        challenge: Some(vec![5; 32]),
        supported_cipher_suites: suites,
        supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
        data_item_requested: DataItems(DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS),
        ..Default::default()
    }
}

fn err_code(m: &TeepMessage) -> Option<ErrorCode> {
    match m {
        TeepMessage::Error(e) => Some(e.err_code),
        _ => None,
    }
}

#[test]
fn query_response_carries_evidence_bound_to_the_challenge_and_the_teep_key() {
    let mut f = Fixture::new();
    let qr = TeepMessage::QueryRequest(query_request(vec![CipherSuite::SIGN1_ESP256]));
    let out = f.handle(&f.signed(&qr, Numbering::Draft26, &f.tam));
    let (m, n, alg) = reply(&f, &out);
    assert_eq!(n, Numbering::Draft26);
    assert_eq!(alg, Algorithm::Esp256);
    let TeepMessage::QueryResponse(resp) = m else {
        panic!("{m:?}")
    };
    assert_eq!(resp.token, Some(vec![9; 16]));
    let evidence = opened_evidence(&f, resp.attestation_payload.as_deref().unwrap());
    let eat =
        teep_cose::eat::EatClaims::verify(&evidence, &f.tee.attestation_signer().public_key())
            .unwrap();
    assert_eq!(eat.eat_nonce, Some(vec![5; 32]));
    assert_eq!(eat.ueid, Some(f.tee.identity().ueid));
    assert!(
        matches!(eat.cnf, Some(teep_cose::eat::Confirmation::Key(ref k)) if *k == f.tee.teep_signer().public_key())
    );
    assert!(eat.manifests.is_some());
}

#[test]
fn legacy_es256_tam_is_answered_in_legacy_numbering_with_es256() {
    let mut f = Fixture::new();
    let key = PrivateKey::generate(KeyType::P256);
    let old_tam = SoftwareSigner::with_algorithm(key, Algorithm::Es256).unwrap();
    f.config.tam_trust_anchors.push(old_tam.public_key());
    let qr = TeepMessage::QueryRequest(query_request(vec![CipherSuite::SIGN1_ES256]));
    let out = f.handle(&f.signed(&qr, Numbering::Legacy, &old_tam));
    let (m, n, alg) = reply(&f, &out);
    assert!(matches!(m, TeepMessage::QueryResponse(_)), "{m:?}");
    assert_eq!(n, Numbering::Legacy);
    assert_eq!(alg, Algorithm::Es256);
}

#[test]
fn no_common_cipher_suite_is_err_unsupported_cipher_suites() {
    let mut f = Fixture::new();
    let qr = TeepMessage::QueryRequest(query_request(vec![CipherSuite::SIGN1_ED25519]));
    let out = f.handle(&f.signed(&qr, Numbering::Draft26, &f.tam));
    let (m, _, _) = reply(&f, &out);
    assert_eq!(err_code(&m), Some(ErrorCode::UnsupportedCipherSuites));
    let TeepMessage::Error(e) = m else {
        unreachable!()
    };
    assert!(e
        .supported_cipher_suites
        .contains(&CipherSuite::SIGN1_ESP256));
}

#[test]
fn unknown_version_is_err_unsupported_msg_version() {
    let mut f = Fixture::new();
    let mut q = query_request(vec![CipherSuite::SIGN1_ESP256]);
    q.versions = vec![7];
    let out = f.handle(&f.signed(&TeepMessage::QueryRequest(q), Numbering::Draft26, &f.tam));
    let (m, _, _) = reply(&f, &out);
    assert_eq!(err_code(&m), Some(ErrorCode::UnsupportedMsgVersion));
}

#[test]
fn timestamp_only_freshness_is_err_unsupported_freshness() {
    let mut f = Fixture::new();
    let mut q = query_request(vec![CipherSuite::SIGN1_ESP256]);
    q.supported_freshness_mechanisms = vec![teep_proto::FreshnessMechanism::Timestamp];
    let out = f.handle(&f.signed(&TeepMessage::QueryRequest(q), Numbering::Draft26, &f.tam));
    let (m, _, _) = reply(&f, &out);
    assert_eq!(
        err_code(&m),
        Some(ErrorCode::UnsupportedFreshnessMechanisms)
    );
}

#[test]
fn agent_requiring_tam_attestation_answers_err_attestation_required() {
    let mut f = Fixture::new();
    f.config.require_tam_attestation = true;
    let qr = TeepMessage::QueryRequest(query_request(vec![CipherSuite::SIGN1_ESP256]));
    let out = f.handle(&f.signed(&qr, Numbering::Draft26, &f.tam));
    let (m, _, _) = reply(&f, &out);
    assert_eq!(err_code(&m), Some(ErrorCode::AttestationRequired));
    let TeepMessage::Error(e) = m else {
        unreachable!()
    };
    assert_eq!(e.challenge, Some(vec![7; 32]));
}

#[test]
fn message_signed_by_an_unknown_key_is_refused_before_parsing() {
    let mut f = Fixture::new();
    let stranger = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
    let qr = TeepMessage::QueryRequest(query_request(vec![CipherSuite::SIGN1_ESP256]));
    let out = f.handle(&f.signed(&qr, Numbering::Draft26, &stranger));
    let (m, _, _) = reply(&f, &out);
    assert_eq!(err_code(&m), Some(ErrorCode::BadCertificate));
}

#[test]
fn garbage_gets_an_error_not_a_panic() {
    let mut f = Fixture::new();
    for bytes in [&b""[..], b"\xff", b"\xd2\x84\x40\xa0\xf6\x40", &[0x9f; 64]] {
        let out = f.handle(bytes);
        let (m, _, _) = reply(&f, &out);
        assert_eq!(err_code(&m), Some(ErrorCode::PermanentError), "{bytes:?}");
    }
}

#[test]
fn update_installs_and_succeeds_then_invoke_works() {
    let mut f = Fixture::new();
    let env = f.envelope("hello", HELLO_WASM, 1);
    let out = f.update(vec![env]);
    let (m, _, _) = reply(&f, &out);
    let TeepMessage::Success(s) = m else {
        panic!("{m:?}")
    };
    assert_eq!(s.token, Some(vec![1; 16]));
    let id = teep_tam::suit_wrap::ta_ids("hello").component_id;
    assert_eq!(
        f.tee.invoke_once(&id, 0, b"").unwrap(),
        HELLO_ANSWER.as_bytes()
    );
}

#[test]
fn tampered_manifest_gets_error_with_suit_report_and_leaves_the_old_tc() {
    let mut f = Fixture::new();
    let good = f.envelope("counter", COUNTER_WASM, 1);
    f.update(vec![good]);
    let id = teep_tam::suit_wrap::ta_ids("counter").component_id;
    let before = f.tee.component(&id).unwrap().unwrap();

    let mut bad = f.envelope("counter", COUNTER_WASM, 2);
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let out = f.update(vec![bad]);
    let (m, _, _) = reply(&f, &out);
    let TeepMessage::Error(e) = m else {
        panic!("{m:?}")
    };
    assert_eq!(e.err_code, ErrorCode::ManifestProcessingFailed);
    assert_eq!(e.token, Some(vec![1; 16]));
    assert_eq!(e.suit_reports.len(), 1);
    let report = teep_suit::SuitReport::decode(&e.suit_reports[0]).unwrap();
    assert!(!report.is_success());
    assert_eq!(
        report.nonce,
        Some(vec![1; 16]),
        "report nonce is the Update token"
    );
    assert_eq!(f.tee.component(&id).unwrap().unwrap(), before);
    assert_eq!(
        f.tee
            .manifest(&teep_tam::suit_wrap::ta_ids("counter").manifest_component_id)
            .unwrap()
            .unwrap()
            .sequence_number,
        1
    );
}

#[test]
fn rollback_to_a_lower_sequence_number_is_refused() {
    let mut f = Fixture::new();
    let v2 = f.envelope("hello", HELLO_WASM, 2);
    f.update(vec![v2]);
    let v1 = f.envelope("hello", HELLO_WASM, 1);
    let out = f.update(vec![v1]);
    let (m, _, _) = reply(&f, &out);
    assert_eq!(err_code(&m), Some(ErrorCode::ManifestProcessingFailed));
    let mid = teep_tam::suit_wrap::ta_ids("hello").manifest_component_id;
    assert_eq!(f.tee.manifest(&mid).unwrap().unwrap().sequence_number, 2);
}

#[test]
fn manifest_from_an_untrusted_tc_signer_is_refused() {
    let mut f = Fixture::new();
    let rogue = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
    let ids = teep_tam::suit_wrap::ta_ids("hello");
    let env = teep_tam::suit_wrap::wrap_ta(&ids, HELLO_WASM, 1, &rogue).unwrap();
    let out = f.update(vec![env]);
    let (m, _, _) = reply(&f, &out);
    assert_eq!(err_code(&m), Some(ErrorCode::ManifestProcessingFailed));
    assert!(f.tee.list_components().unwrap().is_empty());
    assert!(out
        .events
        .iter()
        .any(|e| matches!(e, AgentEvent::ManifestFailed { .. })));
}

#[test]
fn update_unneeded_manifest_list_deletes_the_tc() {
    let mut f = Fixture::new();
    let env = f.envelope("hello", HELLO_WASM, 1);
    f.update(vec![env]);
    let ids = teep_tam::suit_wrap::ta_ids("hello");
    let update = TeepMessage::Update(Update {
        token: Some(vec![2; 16]),
        unneeded_manifest_list: vec![ids.manifest_component_id.clone()],
        ..Default::default()
    });
    let out = f.handle(&f.signed(&update, Numbering::Draft26, &f.tam));
    let (m, _, _) = reply(&f, &out);
    assert!(matches!(m, TeepMessage::Success(_)), "{m:?}");
    assert!(f.tee.component(&ids.component_id).unwrap().is_none());
    assert!(f
        .tee
        .manifest(&ids.manifest_component_id)
        .unwrap()
        .is_none());
}

/// Sends a QueryRequest carrying `challenge` (attestation and TC list requested).
fn query_with_challenge(f: &mut Fixture, challenge: Vec<u8>) -> Outcome {
    let mut q = query_request(vec![CipherSuite::SIGN1_ESP256]);
    q.challenge = Some(challenge);
    let bytes = f.signed(&TeepMessage::QueryRequest(q), Numbering::Draft26, &f.tam);
    f.handle(&bytes)
}

fn evidence_nonce_of(f: &Fixture, m: TeepMessage) -> Option<Vec<u8>> {
    let TeepMessage::QueryResponse(resp) = m else {
        panic!("expected a QueryResponse, got {m:?}")
    };
    let evidence = opened_evidence(f, resp.attestation_payload.as_deref().expect("Evidence"));
    teep_cose::eat::EatClaims::verify(&evidence, &f.tee.attestation_signer().public_key())
        .unwrap()
        .eat_nonce
}

/// -26 §8.2: the QueryRequests offer an ESP256 ECDH profile and the TAM key is P-256, so the
/// Agent encrypts its Evidence to that key; opened here with it.
fn opened_evidence(f: &Fixture, sealed: &[u8]) -> Vec<u8> {
    assert!(
        teep_cose::encrypt::is_encrypted(sealed),
        "Evidence encrypted to the TAM"
    );
    teep_cose::encrypt::open_encrypted(sealed)
        .unwrap()
        .decrypt(&f.tam, teep_cose::encrypt::Purpose::Eat)
        .unwrap()
}

#[test]
fn challenge_of_64_bytes_becomes_the_eat_nonce() {
    let mut f = Fixture::new();
    let challenge: Vec<u8> = (0..64).collect();
    let out = query_with_challenge(&mut f, challenge.clone());
    let (m, _, _) = reply(&f, &out);
    assert_eq!(evidence_nonce_of(&f, m), Some(challenge.clone()));
    assert!(out
        .events
        .contains(&AgentEvent::EvidenceProduced { nonce: challenge }));
}

#[test]
fn challenge_longer_than_64_bytes_is_refused_and_changes_nothing() {
    let mut f = Fixture::new();
    // A first exchange records the TAM's profile; the refused ones must not touch it either.
    let out = query_with_challenge(&mut f, vec![1; 16]);
    assert!(matches!(reply(&f, &out).0, TeepMessage::QueryResponse(_)));
    for len in [65usize, 512] {
        let before = f.state.clone();
        let out = query_with_challenge(&mut f, vec![2; len]);
        let (m, n, alg) = reply(&f, &out);
        assert_eq!((n, alg), (Numbering::Draft26, Algorithm::Esp256));
        let TeepMessage::Error(e) = m else {
            panic!("expected an Error for a {len}-byte challenge, got {m:?}")
        };
        assert_eq!(e.err_code, ErrorCode::PermanentError);
        assert_eq!(
            e.err_msg.as_deref(),
            Some(
                format!("QueryRequest.challenge: {len} bytes; eat_nonce takes at most 64").as_str()
            )
        );
        assert_eq!(e.token, Some(vec![9; 16]));
        assert!(!out
            .events
            .iter()
            .any(|ev| matches!(ev, AgentEvent::EvidenceProduced { .. })));
        assert_eq!(f.state, before);
    }
    // The Agent still serves a normal request afterwards.
    let out = query_with_challenge(&mut f, vec![3; 32]);
    let (m, _, _) = reply(&f, &out);
    assert_eq!(evidence_nonce_of(&f, m), Some(vec![3; 32]));
}

#[test]
fn refusal_on_first_contact_records_no_tam_profile() {
    let mut f = Fixture::new();
    let out = query_with_challenge(&mut f, vec![2; 100]);
    assert_eq!(
        err_code(&reply(&f, &out).0),
        Some(ErrorCode::PermanentError)
    );
    assert_eq!(f.state, AgentState::default());
}

#[test]
fn long_challenge_without_the_attestation_bit_is_not_used() {
    let mut f = Fixture::new();
    let mut q = query_request(vec![CipherSuite::SIGN1_ESP256]);
    q.challenge = Some(vec![2; 100]);
    q.data_item_requested = DataItems(DataItems::TRUSTED_COMPONENTS);
    let out = f.handle(&f.signed(&TeepMessage::QueryRequest(q), Numbering::Draft26, &f.tam));
    let (m, _, _) = reply(&f, &out);
    let TeepMessage::QueryResponse(resp) = m else {
        panic!("expected a QueryResponse, got {m:?}")
    };
    assert_eq!(resp.attestation_payload, None);
}

#[test]
fn without_challenge_the_token_is_the_nonce_and_without_both_there_is_none() {
    let mut f = Fixture::new();
    let mut q = query_request(vec![CipherSuite::SIGN1_ESP256]);
    q.challenge = None;
    let out = f.handle(&f.signed(
        &TeepMessage::QueryRequest(q.clone()),
        Numbering::Draft26,
        &f.tam,
    ));
    assert_eq!(evidence_nonce_of(&f, reply(&f, &out).0), Some(vec![9; 16]));
    q.token = None;
    let out = f.handle(&f.signed(&TeepMessage::QueryRequest(q), Numbering::Draft26, &f.tam));
    assert_eq!(evidence_nonce_of(&f, reply(&f, &out).0), None);
}
