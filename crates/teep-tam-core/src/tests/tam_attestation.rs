//! The TAM attesting itself (-26 §4.2 attestation-payload of a QueryRequest, §7.1.2 "Handling
//! an Error": on ERR_ATTESTATION_REQUIRED the TAM MUST send another QueryRequest that includes
//! its attestation-payload; DIGEST §4.1), in both numberings.

use std::sync::Arc;

use teep_cose::eat::{AttestationResult, Confirmation, EatClaims};
use teep_cose::{PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{ErrorCode, ErrorMessage, Numbering, QueryRequest, TeepMessage};

use super::harness::*;
use crate::tam_attestation::{SignedAttestationResult, TEEP_EAT_MEDIA_TYPE};
use crate::{CoreConfig, Enroll, ExchangeResult};

const NUMBERINGS: [Numbering; 2] = [Numbering::Draft26, Numbering::Legacy];
const CHALLENGE: [u8; 32] = [0x33; 32];

fn verifier() -> SoftwareSigner {
    SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x71; 32]).unwrap())
}

/// A TAM under `enroll` that attests itself with the built-in source.
fn attesting_tam(enroll: Enroll) -> Tam {
    let mut tam = Tam::with(|c| CoreConfig { enroll, ..c }, Vec::new());
    let source = SignedAttestationResult::new(
        Arc::new(verifier()),
        EatClaims {
            iss: Some("tam.test".into()),
            ..Default::default()
        },
    );
    let core = std::mem::replace(
        &mut tam.core,
        crate::TamCore::new(vec![], vec![], CoreConfig::default(), token_key()),
    );
    tam.core = core.with_tam_attestation(Arc::new(source));
    tam
}

/// The device's Error answering `request`: ERR_ATTESTATION_REQUIRED with `challenge`.
fn attestation_required(
    dev: &teep_bench::sim::SimDevice,
    request: &[u8],
    n: Numbering,
    challenge: Option<&[u8]>,
) -> Vec<u8> {
    let seen = dev.read_query_request(request, n, &[]).unwrap();
    let mut e = ErrorMessage::new(ErrorCode::AttestationRequired);
    e.token = seen.token;
    e.challenge = challenge.map(<[u8]>::to_vec);
    e.err_msg = Some("this Agent requires TAM attestation".into());
    dev.sign(&TeepMessage::Error(e), n).unwrap()
}

/// The QueryRequest in `bytes` and the TAM key (among `keys`) that signed it.
fn open_query_request(bytes: &[u8], n: Numbering, keys: &[PublicKey]) -> (QueryRequest, PublicKey) {
    let (opened, msg) = teep_proto::signed::open_message(bytes, n).unwrap();
    let (key, _) = opened.verify_any(keys).unwrap();
    let TeepMessage::QueryRequest(q) = msg else {
        panic!("{msg:?}")
    };
    (q, key.clone())
}

/// §7.1.2: the Error's answer is a new QueryRequest, a COSE_Sign1 by the TAM key of the
/// Agent's suite, carrying the TEEP EAT media type and an Attestation Result signed by the
/// Verifier key, whose eat_nonce is the Error's challenge and whose cnf names that TAM key by
/// key ID (§7.2.1.1), encrypted to the Agent's TEEP key (§8.2). It has a fresh token and
/// challenge, and the Error's token is consumed.
#[test]
fn handling_an_error_attestation_required_sends_a_query_request_with_the_tams_attestation() {
    for n in NUMBERINGS {
        for seed in [2u8, 3] {
            let mut tam = attesting_tam(Enroll::Registered);
            let dev = device(seed);
            tam.register(&dev, &[]);
            let request = tam.connect(n);
            let first = dev.read_query_request(&request, n, &[]).unwrap();
            let error = attestation_required(&dev, &request, n, Some(&CHALLENGE));
            let out = tam.post(&error, n).unwrap();
            assert_eq!(out.result, ExchangeResult::QueryRequest, "{n:?}");
            let consumed = out.effects.consume.as_ref().unwrap();
            assert_eq!(Some(&consumed.token), first.token.as_ref());
            let bytes = out.response.unwrap();
            let opened = teep_cose::open(&bytes).unwrap();
            assert_eq!(
                opened.signatures.len(),
                1,
                "{n:?}: one key, the one cnf names"
            );
            let (q, key) = open_query_request(&bytes, n, &tam.tam_keys());
            assert_eq!(
                key.key_type(),
                dev.public_key().key_type(),
                "the Agent's suite"
            );
            assert_eq!(
                q.attestation_payload_format.as_deref(),
                Some(TEEP_EAT_MEDIA_TYPE)
            );
            // -26 §8.2: encrypted to the (registered) Agent's TEEP key.
            let sealed = q.attestation_payload.as_deref().unwrap();
            assert!(teep_cose::encrypt::is_encrypted(sealed), "{n:?} {seed}");
            let private = if seed.is_multiple_of(2) {
                teep_cose::PrivateKey::from_p256_scalar(&[seed; 32]).unwrap()
            } else {
                teep_cose::PrivateKey::from_ed25519_seed(&[seed; 32]).unwrap()
            };
            let mut enc = teep_cose::encrypt::open_encrypted(sealed).unwrap();
            enc.select_recipient(0);
            let eat = enc
                .decrypt(&private, teep_cose::encrypt::Purpose::Eat)
                .unwrap();
            let ar = AttestationResult::verify_fresh(&eat, &verifier().public_key(), &CHALLENGE)
                .unwrap();
            assert_eq!(
                ar.claims.cnf,
                Some(Confirmation::Kid(key.thumbprint().to_vec()))
            );
            assert!(
                q.token.is_some() && q.token != first.token,
                "{n:?}: a fresh token"
            );
            assert!(q.challenge.is_some() && q.challenge != first.challenge);
            let status = tam.device(&dev).status_detail.clone().unwrap();
            assert!(
                status.contains("carrying the TAM's attestation"),
                "{status}"
            );
        }
    }
}

/// §7.1.2 loop guard: an ERR_ATTESTATION_REQUIRED answering a QueryRequest that already
/// carried the TAM's attestation ends the session (204), and the device's status says why.
#[test]
fn handling_an_error_attestation_required_twice_ends_the_session() {
    for n in NUMBERINGS {
        let mut tam = attesting_tam(Enroll::Registered);
        let dev = device(2);
        tam.register(&dev, &[]);
        let request = tam.connect(n);
        let error = attestation_required(&dev, &request, n, Some(&CHALLENGE));
        let attested = tam.post(&error, n).unwrap().response.unwrap();
        let again = attestation_required(&dev, &attested, n, Some(&[0x44; 32]));
        let end = tam.post(&again, n).unwrap();
        assert_eq!(
            (end.response, end.result),
            (None, ExchangeResult::AgentError),
            "{n:?}"
        );
        let status = tam.device(&dev).status_detail.clone().unwrap();
        assert!(
            status.contains("already carried the TAM's attestation"),
            "{status}"
        );
        let audit = tam.storage.audit.last().unwrap();
        assert!(audit
            .notes
            .iter()
            .any(|x| x.starts_with("TAM attestation: none sent")));
    }
}

/// §7.1.2 without a source: the TAM has no attestation to send, so the session ends as
/// before, and the device's status and the audit say so.
#[test]
fn handling_an_error_attestation_required_without_a_source_ends_the_session() {
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        let dev = device(3);
        tam.register(&dev, &[]);
        let request = tam.connect(n);
        let error = attestation_required(&dev, &request, n, Some(&CHALLENGE));
        let end = tam.post(&error, n).unwrap();
        assert_eq!(
            (end.response, end.result),
            (None, ExchangeResult::AgentError)
        );
        assert!(end.effects.consume.is_some());
        let status = tam.device(&dev).status_detail.clone().unwrap();
        assert!(
            status.starts_with("agent error ERR_ATTESTATION_REQUIRED (7)"),
            "{status}"
        );
        assert!(
            status.contains("tam_attestation_key not configured"),
            "{status}"
        );
    }
}

/// -26 §4.6: the challenge is the freshness input of the TAM's attestation; an Error without
/// one leaves nothing to bind it to, and the session ends saying so.
#[test]
fn handling_an_error_attestation_required_without_a_challenge_ends_the_session() {
    let mut tam = attesting_tam(Enroll::Registered);
    let dev = device(2);
    tam.register(&dev, &[]);
    let request = tam.connect(Numbering::Draft26);
    let error = attestation_required(&dev, &request, Numbering::Draft26, None);
    let end = tam.post(&error, Numbering::Draft26).unwrap();
    assert_eq!(end.response, None);
    let status = tam.device(&dev).status_detail.clone().unwrap();
    assert!(status.contains("no challenge"), "{status}");
}

/// A challenge the TAM's result cannot carry as eat_nonce (over 64 bytes, which -26 §4.6
/// allows up to 512): the session ends, the reason naming the field and the rule.
#[test]
fn handling_an_error_attestation_required_with_a_challenge_too_long_ends_the_session() {
    let mut tam = attesting_tam(Enroll::Registered);
    let dev = device(3);
    tam.register(&dev, &[]);
    let request = tam.connect(Numbering::Legacy);
    let error = attestation_required(&dev, &request, Numbering::Legacy, Some(&[1; 100]));
    let end = tam.post(&error, Numbering::Legacy).unwrap();
    assert_eq!(
        (end.response, end.result),
        (None, ExchangeResult::AgentError)
    );
    let status = tam.device(&dev).status_detail.clone().unwrap();
    assert!(
        status.contains("Error.challenge: 100 bytes; eat_nonce takes 8..64"),
        "{status}"
    );
}

/// Open enrollment: a device is recorded from its Evidence, which an Agent requiring TAM
/// attestation sends only afterwards; its Error is answered like a new session, consuming
/// and recording nothing. Under registered enrollment it is refused as an unknown device.
#[test]
fn an_unknown_device_requiring_attestation_is_answered_only_under_open_enrollment() {
    for n in NUMBERINGS {
        let mut tam = attesting_tam(Enroll::Open);
        let dev = device(2);
        let request = tam.connect(n);
        let error = attestation_required(&dev, &request, n, Some(&CHALLENGE));
        let out = tam.post(&error, n).unwrap();
        assert_eq!(out.result, ExchangeResult::QueryRequest);
        assert!(out.effects.is_empty(), "nothing verified, nothing written");
        let (q, _) = open_query_request(&out.response.unwrap(), n, &tam.tam_keys());
        assert!(q.attestation_payload.is_some());

        let mut tam = attesting_tam(Enroll::Registered);
        let request = tam.connect(n);
        let error = attestation_required(&dev, &request, n, Some(&CHALLENGE));
        let r = tam.post(&error, n).unwrap_err();
        assert_eq!(r.refusal().unwrap().kind, crate::RefusalKind::UnknownDevice);
    }
}
