//! The Agent fed the TAM messages captured from AttesTAM and tamproto (no HTTP): which numbering
//! it reads a TAM's messages in, and how it answers, Errors included, in kind (issue items 2 and
//! 4 of the interop cross-tests).

mod common;

use common::peers::legacy_token;
use common::{attestam_developer_key, captured, secom_tam_key, secom_tam_private, Device};
use teep_broker::broker::AgentEndpoint;
use teep_broker::state_file::{load_state, save_state};
use teep_cbor::Tolerance;
use teep_cose::{Algorithm, PublicKey, Signer, SoftwareSigner};
use teep_proto::{
    CipherSuite, DataItems, ErrorCode, FreshnessMechanism, Numbering, QueryRequest,
    SuitCoseProfile, TeepMessage,
};

const ATTESTAM: &str = "http://attestam.test/tam";

/// What the Agent answered: the message (in the numbering it decodes in), that numbering, the
/// algorithm and whether the kid was protected.
struct Answer {
    message: TeepMessage,
    numbering: Numbering,
    alg: Algorithm,
    kid_protected: bool,
}

fn answer(dev: &mut Device, uri: &str, bytes: &[u8]) -> Answer {
    let reply = dev
        .runner
        .process_teep_message(uri, bytes)
        .unwrap()
        .expect("an answer");
    let opened = teep_cose::open(&reply).unwrap();
    let info = opened
        .verify(&dev.tee.teep_signer().public_key())
        .unwrap()
        .clone();
    assert_eq!(info.kid.as_deref(), Some(&dev.tee.teep_signer().kid()[..]));
    let payload = opened.payload.as_deref().unwrap();
    // Decoded in the one numbering it is valid in: an answer must not be ambiguous to its TAM.
    let (message, numbering) = match (
        teep_proto::decode(payload, Numbering::Draft26),
        teep_proto::decode(payload, Numbering::Legacy),
    ) {
        (Ok(m), Err(_)) => (m, Numbering::Draft26),
        (Err(_), Ok(m)) => (m, Numbering::Legacy),
        other => panic!("answer valid in both or neither numbering: {other:?}"),
    };
    Answer {
        message,
        numbering,
        alg: info.alg,
        kid_protected: info.kid_protected,
    }
}

fn attestam_device(dir: &tempfile::TempDir) -> Device {
    Device::new(dir.path(), &[secom_tam_key()], &[attestam_developer_key()])
}

#[test]
fn attestams_ambiguous_second_query_is_read_and_answered_as_legacy() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = attestam_device(&dir);
    let first = answer(
        &mut dev,
        ATTESTAM,
        &captured("attestam_01_query_request.cbor"),
    );
    assert_eq!(first.numbering, Numbering::Legacy);
    assert_eq!((first.alg, first.kid_protected), (Algorithm::Esp256, false));

    // attestam_02 is valid in both numberings; this TAM spoke legacy one message earlier.
    let second = answer(
        &mut dev,
        ATTESTAM,
        &captured("attestam_02_query_request_attestation_challenge.cbor"),
    );
    assert_eq!(second.numbering, Numbering::Legacy);
    assert_eq!(
        (second.alg, second.kid_protected),
        (Algorithm::Esp256, false)
    );
    let TeepMessage::QueryResponse(r) = second.message else {
        panic!("{:?}", second.message)
    };
    assert!(r.attestation_payload.is_some());
    assert!(dev.runner.events.iter().any(|e| matches!(
        e,
        teep_agent::agent::AgentEvent::TamVerified {
            numbering: Numbering::Legacy,
            ..
        }
    )));

    // Remembered across sessions: a later Agent with the saved state reads it as legacy too.
    let file = dir.path().join("agent.json");
    save_state(&dev.runner.state, &file).unwrap();
    let mut later = attestam_device(&tempfile::tempdir().unwrap());
    later.runner.state = load_state(&file).unwrap();
    let again = answer(
        &mut later,
        ATTESTAM,
        &captured("attestam_02_query_request_attestation_challenge.cbor"),
    );
    assert_eq!(again.numbering, Numbering::Legacy);
    assert!(!again.kid_protected);
}

#[test]
fn an_ambiguous_first_contact_is_a_guess_that_the_first_unambiguous_message_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = attestam_device(&dir);
    let ambiguous = captured("attestam_02_query_request_attestation_challenge.cbor");
    let guessed = answer(&mut dev, ATTESTAM, &ambiguous);
    assert_eq!(guessed.numbering, Numbering::Draft26);
    let profile = &dev.runner.state.tam_profiles[ATTESTAM];
    assert!(!profile.numbering_learned, "{profile:?}");

    answer(
        &mut dev,
        ATTESTAM,
        &captured("attestam_01_query_request.cbor"),
    );
    let profile = &dev.runner.state.tam_profiles[ATTESTAM];
    assert!(profile.numbering_learned);
    assert_eq!(profile.numbering(), Numbering::Legacy);
    assert_eq!(
        answer(&mut dev, ATTESTAM, &ambiguous).numbering,
        Numbering::Legacy
    );
}

/// The SECOM test key labelled with another algorithm id and kid, as tamproto signs.
struct Relabelled {
    inner: SoftwareSigner,
    alg: Algorithm,
    kid: Vec<u8>,
}

impl Signer for Relabelled {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
    fn kid(&self) -> Vec<u8> {
        self.kid.clone()
    }
    fn public_key(&self) -> PublicKey {
        self.inner.public_key()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, teep_cose::CoseError> {
        self.inner.sign(tbs)
    }
}

fn tamproto_signer() -> Relabelled {
    Relabelled {
        inner: SoftwareSigner::new(secom_tam_private()),
        alg: Algorithm::Es256,
        kid: b"hoge".to_vec(),
    }
}

#[test]
fn tamproto_query_is_answered_in_legacy_with_es256_and_an_unprotected_kid() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[]);
    let a = answer(
        &mut dev,
        "http://tamproto.test/api/tam_cose",
        &captured("tamproto_01_query_request.cbor"),
    );
    assert!(matches!(a.message, TeepMessage::QueryResponse(_)));
    assert_eq!(a.numbering, Numbering::Legacy);
    assert_eq!((a.alg, a.kid_protected), (Algorithm::Es256, false));
}

#[test]
fn the_error_on_first_contact_mirrors_the_tam_and_carries_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[]);
    // A legacy QueryRequest (token under label 20) whose data-item-requested is text: valid in
    // neither numbering. Signed ES256, kid 'hoge' unprotected, as tamproto signs.
    let mut payload = vec![0x85, 0x01, 0xa1, 0x14, 0x48];
    payload.extend([0x5a; 8]);
    payload.extend([0x81, 0x81, 0x82, 0x12, 0x26]); // [[[18, -7]]]
    payload.extend([
        0x81, 0x84, 0x2f, 0x26, 0x38, 0x1c, 0x3a, 0x00, 0x00, 0xff, 0xfd,
    ]);
    payload.extend([0x63, b't', b'w', b'o']);
    assert!(teep_proto::decode_auto(&payload).is_err());
    let bytes = teep_cose::sign1_kid_unprotected(&payload, &tamproto_signer()).unwrap();
    let a = answer(&mut dev, "http://tamproto.test/api/tam_cose", &bytes);
    let TeepMessage::Error(e) = a.message else {
        panic!("{:?}", a.message)
    };
    assert_eq!(e.err_code, ErrorCode::PermanentError);
    assert_eq!(e.token, Some(vec![0x5a; 8]));
    assert_eq!(a.numbering, Numbering::Legacy);
    assert_eq!((a.alg, a.kid_protected), (Algorithm::Es256, false));
    assert!(
        dev.runner.state.tam_profiles.is_empty(),
        "a refused message teaches nothing"
    );
}

#[test]
fn a_learnt_numbering_is_not_replaced_by_another_reading() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = attestam_device(&dir);
    answer(
        &mut dev,
        ATTESTAM,
        &captured("attestam_01_query_request.cbor"),
    );
    let learnt = dev.runner.state.clone();
    // A QueryRequest valid in draft-26 numbering only, from the same TAM.
    let qr = TeepMessage::QueryRequest(QueryRequest {
        challenge: Some(vec![4; 32]),
        supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
        supported_freshness_mechanisms: vec![FreshnessMechanism::Nonce],
        supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
        data_item_requested: DataItems(DataItems::ATTESTATION),
        ..Default::default()
    });
    let payload = qr.encode(Numbering::Draft26);
    assert!(teep_proto::decode(&payload, Numbering::Legacy).is_err());
    teep_proto::decode(&payload, Numbering::Draft26).unwrap();
    let signer = Relabelled {
        inner: SoftwareSigner::new(secom_tam_private()),
        alg: Algorithm::Esp256,
        kid: secom_tam_key().thumbprint().to_vec(),
    };
    let bytes = teep_cose::sign1_kid_unprotected(&payload, &signer).unwrap();
    let a = answer(&mut dev, ATTESTAM, &bytes);
    let TeepMessage::Error(e) = a.message else {
        panic!("{:?}", a.message)
    };
    assert_eq!(a.numbering, Numbering::Legacy);
    assert_eq!(e.err_code, ErrorCode::PermanentError);
    // The refusal names the other reading (err-msg itself is cut at 128 bytes).
    let reason = dev
        .runner
        .events
        .iter()
        .rev()
        .find_map(|ev| match ev {
            teep_agent::agent::AgentEvent::Refused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        reason.starts_with("not a valid TEEP message: QueryRequest.options.")
            && reason.contains("this looks like a draft-26-numbered QueryRequest"),
        "{reason}"
    );
    assert_eq!(dev.runner.state, learnt);
}

/// The reason of the last Error the Agent answered with (err-msg itself is cut at 128 bytes).
fn last_refusal(dev: &Device) -> String {
    dev.runner
        .events
        .iter()
        .rev()
        .find_map(|ev| match ev {
            teep_agent::agent::AgentEvent::Refused { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("a refusal")
}

fn codes(dev: &mut Device) -> Vec<&'static str> {
    dev.runner
        .take_deviations()
        .iter()
        .map(|d| d.code())
        .collect()
}

#[test]
fn attestams_tagged_envelope_is_installed_with_a_deviation_and_refused_in_kind_when_strict() {
    let update = captured("attestam_03_update_tagged_envelope.cbor");
    let token = legacy_token("attestam_03_update_tagged_envelope.cbor");
    assert_eq!(token.as_ref().map(Vec::len), Some(32));

    let dir = tempfile::tempdir().unwrap();
    let mut dev = attestam_device(&dir);
    answer(
        &mut dev,
        ATTESTAM,
        &captured("attestam_01_query_request.cbor"),
    );
    assert!(codes(&mut dev).is_empty());
    let a = answer(&mut dev, ATTESTAM, &update);
    let TeepMessage::Success(ok) = a.message else {
        panic!("{:?}", a.message)
    };
    assert_eq!(ok.token, token);
    assert_eq!(a.numbering, Numbering::Legacy);
    assert_eq!((a.alg, a.kid_protected), (Algorithm::Esp256, false));
    assert_eq!(codes(&mut dev), ["suit.envelope-tagged"]);
    let installed = dev.tee.list_components().unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].id, vec![b"hello.txt".to_vec()].into());

    let dir = tempfile::tempdir().unwrap();
    let mut strict = Device::with_tolerance(
        dir.path(),
        &[secom_tam_key()],
        &[attestam_developer_key()],
        Tolerance::Strict,
    );
    answer(
        &mut strict,
        ATTESTAM,
        &captured("attestam_01_query_request.cbor"),
    );
    let a = answer(&mut strict, ATTESTAM, &update);
    let TeepMessage::Error(e) = a.message else {
        panic!("{:?}", a.message)
    };
    assert_eq!(e.err_code, ErrorCode::PermanentError);
    assert_eq!(e.token, token, "the Error names the Update it answers");
    assert_eq!(a.numbering, Numbering::Legacy);
    assert_eq!((a.alg, a.kid_protected), (Algorithm::Esp256, false));
    let reason = last_refusal(&strict);
    assert!(
        reason.contains(": strict mode refuses suit.envelope-tagged ("),
        "{reason}"
    );
    assert!(strict.tee.list_components().unwrap().is_empty());
    assert!(codes(&mut strict).is_empty(), "nothing was tolerated");
}

#[test]
fn tamprotos_departures_are_answered_in_kind_with_their_deviation_or_refused_when_strict() {
    let uri = "http://tamproto.test/api/tam_cose";
    for (file, code) in [
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
        let bytes = captured(file);
        let token = legacy_token(file);
        assert!(token.is_some(), "{file}");

        let dir = tempfile::tempdir().unwrap();
        let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[]);
        let a = answer(&mut dev, uri, &bytes);
        let TeepMessage::QueryResponse(r) = a.message else {
            panic!("{file}: {:?}", a.message)
        };
        assert_eq!(r.token, token, "{file}");
        assert_eq!(
            (a.numbering, a.alg),
            (Numbering::Legacy, Algorithm::Es256),
            "{file}"
        );
        assert_eq!(codes(&mut dev), [code], "{file}");

        let dir = tempfile::tempdir().unwrap();
        let mut strict =
            Device::with_tolerance(dir.path(), &[secom_tam_key()], &[], Tolerance::Strict);
        let a = answer(&mut strict, uri, &bytes);
        let TeepMessage::Error(e) = a.message else {
            panic!("{file}: {:?}", a.message)
        };
        assert_eq!(e.token, token, "{file}");
        assert_eq!(
            (a.numbering, a.alg),
            (Numbering::Legacy, Algorithm::Es256),
            "{file}"
        );
        let reason = last_refusal(&strict);
        assert!(
            reason.contains(&format!(": strict mode refuses {code} (")),
            "{file}: {reason}"
        );
        assert!(strict.runner.state.tam_profiles.is_empty(), "{file}");
    }
}

#[test]
fn tamprotos_query_with_its_own_eat_is_answered_without_looking_at_that_eat() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::with_tolerance(dir.path(), &[secom_tam_key()], &[], Tolerance::Strict);
    let a = answer(
        &mut dev,
        "http://tamproto.test/api/tam_cose",
        &captured("tamproto_05_query_request_attestation_with_tam_eat.cbor"),
    );
    let TeepMessage::QueryResponse(r) = a.message else {
        panic!("{:?}", a.message)
    };
    assert!(r.token.is_none());
    assert!(
        r.attestation_payload.is_some(),
        "Evidence for its challenge"
    );
    assert_eq!((a.numbering, a.alg), (Numbering::Legacy, Algorithm::Es256));
}

#[test]
fn tamprotos_obsolete_suit_envelope_is_refused_in_kind_naming_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = Device::new(dir.path(), &[secom_tam_key()], &[secom_tam_key()]);
    let a = answer(
        &mut dev,
        "http://tamproto.test/api/tam_cose",
        &captured("tamproto_06_update.cbor"),
    );
    let TeepMessage::Error(e) = a.message else {
        panic!("{:?}", a.message)
    };
    assert_eq!(e.err_code, ErrorCode::ManifestProcessingFailed);
    assert_eq!(e.token, legacy_token("tamproto_06_update.cbor"));
    assert_eq!((a.numbering, a.alg), (Numbering::Legacy, Algorithm::Es256));
    let reason = last_refusal(&dev);
    assert!(reason.contains("digest"), "{reason}");
}
