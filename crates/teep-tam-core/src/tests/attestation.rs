//! Attestation (DIGEST §4.1 steps 2-4, §5): what the appraisal decides and what it does to
//! the device row. A failure answers with an Update carrying ERR_ATTESTATION_REQUIRED
//! (DIGEST §9.15), not a bare refusal, and marks the device.

use teep_cose::{KeyType, PrivateKey, SoftwareSigner};
use teep_proto::{ErrorCode, Numbering, QueryResponse, TeepMessage};

use super::harness::*;
use crate::model::{DeviceRecord, DeviceStatus};
use crate::session::{DeviceUpdate, LAST_SEEN_RESOLUTION_MS};
use crate::{CoreConfig, Enroll, ExchangeResult};

const N: Numbering = Numbering::Draft26;

/// The error an Update carries (it must carry one, and no manifest).
fn error_update(body: &[u8]) -> (ErrorCode, String) {
    let TeepMessage::Update(u) = teep_proto::signed::open_message(body, N).unwrap().1 else {
        panic!("expected an Update");
    };
    assert!(
        u.manifest_list.is_empty(),
        "an error Update installs nothing"
    );
    (u.err_code.expect("err-code"), u.err_msg.unwrap_or_default())
}

/// A session up to the TAM's answer to `dev`'s QueryResponse, the QueryRequest's challenge
/// replaced by `challenge` (`Some(None)` drops it, so the device sends no evidence).
fn answer_with_challenge(
    tam: &mut Tam,
    dev: &teep_bench::sim::SimDevice,
    challenge: Option<Option<Vec<u8>>>,
) -> crate::Outcome {
    let request = tam.connect(N);
    let mut seen = dev.read_query_request(&request, N, &[]).unwrap();
    if let Some(c) = challenge {
        seen.challenge = c;
    }
    let response = dev.query_response(&seen, N).unwrap();
    tam.post(&response, N).unwrap()
}

/// DIGEST §5 (eat_nonce = the challenge): evidence for another challenge gets the error
/// Update, marks the device, registered or new, as failed with the reason; its next session
/// with fresh evidence attests and installs.
#[test]
fn evidence_with_a_stale_nonce_gets_attestation_required_and_marks_the_device() {
    for enroll in [Enroll::Registered, Enroll::Tofu] {
        let mut tam = Tam::new(enroll);
        tam.add_assigned("hello", 1);
        let mut dev = device(2);
        if enroll == Enroll::Registered {
            tam.register(&dev, &[]);
        }
        let answer = answer_with_challenge(&mut tam, &dev, Some(Some(vec![7; 32])));
        assert_eq!(answer.result, ExchangeResult::AttestationFailed);
        let (code, why) = error_update(answer.response.as_ref().unwrap());
        assert_eq!(code, ErrorCode::AttestationRequired, "{enroll:?}");
        assert!(why.contains("eat_nonce"), "{why}");
        let d = tam.device(&dev);
        assert_eq!(d.status, DeviceStatus::AttestationFailed, "{enroll:?}");
        assert!(d.status_detail.as_ref().unwrap().contains("eat_nonce"));
        assert!(
            tam.storage.audit.last().unwrap().result == "attestation-failed",
            "audited"
        );

        assert_eq!(tam.exchange(&mut dev), Exchange::Updated, "{enroll:?}");
        assert_eq!(dev.installed.len(), 1);
        assert_eq!(tam.device(&dev).status, DeviceStatus::Attested);
    }
}

/// DIGEST §3.3: with the attestation bit set, attestation-payload MUST be present.
#[test]
fn a_query_response_without_the_evidence_asked_for_gets_attestation_required() {
    let mut tam = Tam::new(Enroll::Registered);
    tam.add_assigned("hello", 1);
    let dev = device(2);
    tam.register(&dev, &[]);
    let answer = answer_with_challenge(&mut tam, &dev, Some(None));
    let (code, why) = error_update(answer.response.as_ref().unwrap());
    assert_eq!(code, ErrorCode::AttestationRequired);
    // The device holds nothing: its `tc-list: []` is the deviation the err-msg names.
    assert_eq!(
        why,
        "attestation-payload missing (accepted: teep.tc-list-empty)"
    );
}

/// DIGEST §3.3: a payload in a format the TAM does not appraise is not trusted.
#[test]
fn evidence_in_an_unknown_format_gets_attestation_required() {
    let mut tam = Tam::new(Enroll::Registered);
    let dev = device(2);
    tam.register(&dev, &[]);
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    let response = QueryResponse {
        token: seen.token.clone(),
        attestation_payload_format: Some("application/x-unknown".into()),
        attestation_payload: Some(dev.evidence(seen.challenge.as_ref().unwrap()).unwrap()),
        ..Default::default()
    };
    let body =
        teep_proto::signed::sign_message(&TeepMessage::QueryResponse(response), N, &dev.signer)
            .unwrap();
    let answer = tam.post(&body, N).unwrap();
    let (code, why) = error_update(answer.response.as_ref().unwrap());
    assert_eq!(code, ErrorCode::AttestationRequired);
    assert!(why.contains("application/x-unknown"), "{why}");
}

/// DIGEST §5 (passport model): an Attestation Result from a trusted Verifier, with the
/// token as nonce, attests; one from a Verifier the TAM does not trust does not.
#[test]
fn a_passport_from_a_trusted_verifier_attests_and_others_do_not() {
    let verifier = PrivateKey::from_p256_scalar(&[0x61; 32]).unwrap();
    let mut tam = Tam::with(
        |c| CoreConfig {
            enroll: Enroll::Tofu,
            ..c
        },
        vec![verifier.public_key()],
    );
    tam.add_assigned("hello", 1);
    let mut dev = device(3);
    dev.verifier = Some(SoftwareSigner::new(verifier));
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    let d = tam.device(&dev);
    assert_eq!(d.status, DeviceStatus::Attested);
    let claims: serde_json::Value = serde_json::from_str(d.claims.as_deref().unwrap()).unwrap();
    assert_eq!(claims["passport"], true, "{claims}");

    let mut other = device(4);
    other.verifier = Some(SoftwareSigner::new(PrivateKey::generate(KeyType::P256)));
    let answer = answer_with_challenge(&mut tam, &other, None);
    let (code, why) = error_update(answer.response.as_ref().unwrap());
    assert_eq!(code, ErrorCode::AttestationRequired);
    assert!(why.contains("erifier"), "{why}");
}

/// A TAM configured not to require attestation sends no challenge; a device that sends no
/// evidence is served without being appraised (its status stays as it was).
#[test]
fn without_required_attestation_no_challenge_is_sent_and_nothing_is_appraised() {
    let mut tam = Tam::with(
        |c| CoreConfig {
            require_attestation: false,
            ..c
        },
        Vec::new(),
    );
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    tam.register(&dev, &[]);
    let request = tam.connect(N);
    let seen = dev.read_query_request(&request, N, &[]).unwrap();
    assert_eq!(seen.challenge, None);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    let d = tam.device(&dev);
    assert_eq!(
        (d.status.clone(), d.claims.clone()),
        (DeviceStatus::Registered, None)
    );
}

fn registered(dev: &teep_bench::sim::SimDevice) -> DeviceRecord {
    DeviceRecord {
        id: 9,
        name: None,
        kid: dev.kid(),
        teep_key: dev.public_key().to_cose_key(),
        attest_key: None,
        suite_alg: None,
        status: DeviceStatus::Registered,
        status_detail: None,
        ueid: None,
        claims: None,
        created_at: T0 - 3_600_000,
        last_seen: None,
        tags: Vec::new(),
    }
}

/// One full QueryRequest/QueryResponse at `now` against what storage holds for the device;
/// returns the device-row changes the TAM would commit.
fn device_changes(
    dev: &teep_bench::sim::SimDevice,
    stored: &DeviceRecord,
    now: i64,
) -> DeviceUpdate {
    let mut tam = Tam::new(Enroll::Registered);
    tam.now = now;
    tam.storage.devices.push(stored.clone());
    let response = tam.query_response(dev, N);
    let (msg, mut ctx) = tam.load(&response, N).unwrap();
    ctx.device = Some(stored.clone());
    let outcome = tam.answer(msg, &ctx).unwrap();
    assert_eq!(outcome.result, ExchangeResult::NoUpdate);
    outcome.effects.device.unwrap()
}

/// What storage holds after `u` was committed at `now` over `stored`.
fn committed(stored: &DeviceRecord, u: &DeviceUpdate, now: i64) -> DeviceRecord {
    let mut d = stored.clone();
    if u.writes_row() {
        u.apply_row(&mut d, now);
    }
    d
}

/// A QueryResponse re-reports the same claims, suite and status each time: the row is
/// written only for news, or when `last_seen` is a minute stale.
#[test]
fn a_device_row_is_rewritten_only_for_news_or_a_stale_last_seen() {
    let dev = device(0x12);
    let fresh = registered(&dev);

    // First attested contact: everything is new.
    let u = device_changes(&dev, &fresh, T0);
    assert!(u.touch && u.suite_alg.is_some() && u.claims.is_some() && u.ueid.is_some());
    assert_eq!(u.status, Some(DeviceStatus::Attested));
    let stored = committed(&fresh, &u, T0);

    // The same report 59 s later changes nothing: the row is left alone.
    let u = device_changes(&dev, &stored, T0 + 59_000);
    assert!(!u.writes_row(), "{u:?}");

    // A minute after the last write, the row is written for last_seen alone.
    let u = device_changes(&dev, &stored, T0 + LAST_SEEN_RESOLUTION_MS);
    assert!(u.writes_row() && u.touch);
    assert!(u.suite_alg.is_none() && u.status.is_none() && u.claims.is_none() && u.ueid.is_none());

    // A clock that went back also writes.
    assert!(device_changes(&dev, &stored, T0 - 1).touch);

    // Anything that differs from storage is written, even within the minute: a status
    // an operator changed, claims from another appraisal, an unknown suite.
    let mut other = stored.clone();
    other.status = DeviceStatus::AttestationFailed;
    other.claims = Some("{}".into());
    other.suite_alg = None;
    let u = device_changes(&dev, &other, T0 + 1_000);
    assert!(!u.touch);
    assert_eq!(u.status, Some(DeviceStatus::Attested));
    assert_eq!(u.claims, stored.claims);
    assert_eq!(u.suite_alg, stored.suite_alg);
    assert!(u.ueid.is_none() && u.status_detail.is_none());
}
