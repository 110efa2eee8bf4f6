//! -26 §8.2 ("EATs and SUIT Reports"): Evidence and SUIT reports the agent encrypted to a TAM
//! key (COSE_Encrypt, ECDH-ES+A128KW, A128GCM or A128CTR) are decrypted with that signer's
//! key agreement before appraisal and before the nonce check; what cannot be decrypted fails
//! attestation or refuses the report, with the reason in err-msg.

use ciborium::Value;
use teep_bench::sim::SimDevice;
use teep_cose::encrypt::{encrypt, ContentAlgorithm, Purpose};
use teep_cose::{PrivateKey, PublicKey};
use teep_proto::{ErrorCode, Numbering, QueryResponse, TeepMessage};

use super::harness::*;
use crate::model::DeviceStatus;
use crate::{Enroll, ExchangeResult, Outcome};

const NUMBERINGS: [Numbering; 2] = [Numbering::Draft26, Numbering::Legacy];
const CONTENTS: [ContentAlgorithm; 2] = [ContentAlgorithm::A128Gcm, ContentAlgorithm::A128Ctr];

/// Makes an attestation-payload from the Evidence and the TAM's key.
type Seal<'a> = dyn Fn(&[u8], &PublicKey) -> Vec<u8> + 'a;

/// The TAM's P-256 key, the one an agent encrypts to.
fn tam_p256(tam: &Tam) -> PublicKey {
    tam.tam_keys()[0].clone()
}

/// `dev`'s QueryResponse to a fresh QueryRequest, `edit`ed and signed again.
fn answer(
    tam: &mut Tam,
    dev: &SimDevice,
    n: Numbering,
    edit: impl FnOnce(&mut QueryResponse),
) -> Outcome {
    let request = tam.connect(n);
    let seen = dev.read_query_request(&request, n, &[]).unwrap();
    let body = dev.query_response(&seen, n).unwrap();
    let (_, m) = teep_proto::signed::open_message(&body, n).unwrap();
    let TeepMessage::QueryResponse(mut q) = m else {
        panic!("{m:?}")
    };
    edit(&mut q);
    let body =
        teep_proto::signed::sign_message(&TeepMessage::QueryResponse(q), n, &dev.signer).unwrap();
    tam.post(&body, n).unwrap()
}

fn seal(plain: &[u8], to: &PublicKey, content: ContentAlgorithm, purpose: Purpose) -> Vec<u8> {
    encrypt(
        plain,
        to,
        content,
        purpose,
        &[0x21; teep_cose::encrypt::RANDOM_LEN],
    )
    .unwrap()
}

/// The err-code and err-msg of the error Update an outcome sends.
fn error_of(o: &Outcome, n: Numbering) -> (ErrorCode, String) {
    let (_, m) = teep_proto::signed::open_message(o.response.as_ref().unwrap(), n).unwrap();
    let TeepMessage::Update(u) = m else {
        panic!("{m:?}")
    };
    (u.err_code.expect("err-code"), u.err_msg.unwrap_or_default())
}

/// The device attested and got its Update; otherwise the failure names the err-code and msg.
fn updated_and_attested(tam: &Tam, dev: &SimDevice, o: &Outcome, n: Numbering, case: &str) {
    assert_eq!(
        o.result,
        ExchangeResult::Update,
        "{n:?} {case} {:?}",
        (o.result != ExchangeResult::Update).then(|| error_of(o, n))
    );
    assert_eq!(tam.device(dev).status, DeviceStatus::Attested);
}

/// Evidence encrypted to the TAM's key is appraised like plain Evidence: the device attests
/// and gets its TC, registered or enrolled by the key its (decrypted) `cnf` names.
#[test]
fn teep_8_2_encrypted_evidence_attests_end_to_end() {
    for n in NUMBERINGS {
        for content in CONTENTS {
            for enroll in [Enroll::Registered, Enroll::Tofu] {
                let mut tam = Tam::new(enroll);
                tam.add_assigned("hello", 1);
                let dev = device(2);
                if enroll == Enroll::Registered {
                    tam.register(&dev, &[]);
                }
                let key = tam_p256(&tam);
                let o = answer(&mut tam, &dev, n, |q| {
                    let eat = q.attestation_payload.take().unwrap();
                    q.attestation_payload = Some(seal(&eat, &key, content, Purpose::Eat));
                });
                updated_and_attested(&tam, &dev, &o, n, &format!("{content:?} {enroll:?}"));
            }
        }
    }
}

/// Encrypted to a key the TAM does not hold, tampered with, or sealed under the SUIT report
/// label: attestation fails with ERR_ATTESTATION_REQUIRED and the reason.
#[test]
fn teep_8_2_undecryptable_evidence_fails_attestation_with_the_reason() {
    let stranger = PrivateKey::from_p256_scalar(&[0x77; 32])
        .unwrap()
        .public_key();
    for n in NUMBERINGS {
        let cases: [(&str, Box<Seal<'_>>); 5] = [
            (
                "encrypted to a key this TAM does not hold",
                Box::new(|eat, _| seal(eat, &stranger, ContentAlgorithm::A128Gcm, Purpose::Eat)),
            ),
            (
                "cannot decrypt",
                Box::new(|eat, key| {
                    let mut e = seal(eat, key, ContentAlgorithm::A128Gcm, Purpose::Eat);
                    // Inside the ciphertext: past the tag, the protected header and the IV.
                    e[30] ^= 1;
                    e
                }),
            ),
            (
                "integrity check failed",
                Box::new(|eat, key| seal(eat, key, ContentAlgorithm::A128Ctr, Purpose::SuitReport)),
            ),
            (
                "COSE_Encrypt: array of 3, expected 4",
                Box::new(|_, _| vec![0xd8, 0x60, 0x83, 0x40, 0xa0, 0x40]),
            ),
            (
                "cannot decrypt: crypto provider: ECDH: needs P-256 keys, got a Ed25519 key",
                Box::new(|eat, _| {
                    // A P-256 ephemeral, named by the kid of the TAM's Ed25519 key (which
                    // agrees keys by X25519 only).
                    let ed = tam_signers()[1].public_key().thumbprint();
                    let p256 = PrivateKey::from_p256_scalar(&[0x42; 32])
                        .unwrap()
                        .public_key();
                    let mut e = seal(eat, &p256, ContentAlgorithm::A128Gcm, Purpose::Eat);
                    let at = e.windows(32).position(|w| w == p256.thumbprint()).unwrap();
                    e[at..at + 32].copy_from_slice(&ed);
                    e
                }),
            ),
        ];
        for (want, make) in cases {
            let mut tam = Tam::new(Enroll::Registered);
            tam.add_assigned("hello", 1);
            let dev = device(2);
            tam.register(&dev, &[]);
            let key = tam_p256(&tam);
            let o = answer(&mut tam, &dev, n, |q| {
                let eat = q.attestation_payload.take().unwrap();
                q.attestation_payload = Some(make(&eat, &key));
            });
            assert_eq!(o.result, ExchangeResult::AttestationFailed, "{n:?} {want}");
            let (code, why) = error_of(&o, n);
            assert_eq!(code, ErrorCode::AttestationRequired);
            assert!(
                why.starts_with("attestation-payload: COSE_Encrypt"),
                "{why}"
            );
            assert!(why.contains(want), "{n:?}: {why}");
            assert_eq!(tam.device(&dev).status, DeviceStatus::AttestationFailed);
        }
    }
}

/// A SUIT_Report_Unprotected with `nonce` (suit-report: 2 nonce, 3 records, 4 result).
fn report(nonce: &[u8]) -> Vec<u8> {
    let m = Value::Map(vec![
        (Value::Integer(2.into()), Value::Bytes(nonce.to_vec())),
        (Value::Integer(3.into()), Value::Array(Vec::new())),
        (Value::Integer(4.into()), Value::Bool(true)),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&m, &mut out).unwrap();
    out
}

/// -26 §4.3 with §8.2: an encrypted SUIT report's nonce is checked once decrypted, whether
/// the COSE_Encrypt wraps the report or is its COSE_Sign1's payload; one that cannot be
/// decrypted is refused, not waved through.
#[test]
fn teep_8_2_encrypted_suit_report_nonce_is_checked() {
    for n in NUMBERINGS {
        for content in CONTENTS {
            let mut tam = Tam::new(Enroll::Registered);
            let dev = device(2);
            tam.register(&dev, &[]);
            let key = tam_p256(&tam);
            // Bound to the token: accepted.
            let o = answer(&mut tam, &dev, n, |q| {
                let token = q.token.clone().unwrap();
                let signed = teep_cose::sign1(&report(&token), &dev.signer).unwrap();
                q.suit_reports = vec![seal(&signed, &key, content, Purpose::SuitReport)];
            });
            assert_ne!(
                o.result,
                ExchangeResult::BadQueryResponse,
                "{n:?} {content:?}"
            );
            // Bound to another token, encrypted around the report or inside its signature.
            for inside in [false, true] {
                let o = answer(&mut tam, &dev, n, |q| {
                    let plain = report(&[9; 16]);
                    q.suit_reports = vec![if inside {
                        let enc = seal(&plain, &key, content, Purpose::SuitReport);
                        teep_cose::sign1(&enc, &dev.signer).unwrap()
                    } else {
                        seal(&plain, &key, content, Purpose::SuitReport)
                    }];
                });
                assert_eq!(o.result, ExchangeResult::BadQueryResponse, "{n:?}");
                let (code, why) = error_of(&o, n);
                assert_eq!(code, ErrorCode::PermanentError);
                assert!(
                    why.starts_with(
                        "QueryResponse.suit-reports[0]: suit-report-nonce is not the token of the request answered"
                    ),
                    "{why}"
                );
            }
            // Sealed under the EAT label: refused with the reason.
            let o = answer(&mut tam, &dev, n, |q| {
                let token = q.token.clone().unwrap();
                q.suit_reports = vec![seal(&report(&token), &key, content, Purpose::Eat)];
            });
            let (_, why) = error_of(&o, n);
            assert!(
                why.starts_with("QueryResponse.suit-reports[0]: encrypted report refused: COSE_Encrypt: cannot decrypt"),
                "{why}"
            );
        }
    }
}

/// -26 §4.5 with §8.2: a Success whose SUIT report is encrypted to the TAM is held to the
/// Update's token once decrypted; one the TAM cannot decrypt is dropped like a wrong nonce.
#[test]
fn teep_8_2_encrypted_report_in_success_is_checked_against_the_update_token() {
    use crate::{RefusalKind, Rejection};
    use teep_proto::Success;
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        tam.add_assigned("hello", 1);
        let mut dev = device(2);
        tam.register(&dev, &[]);
        let key = tam_p256(&tam);
        let response = tam.query_response(&dev, n);
        let update = tam.post(&response, n).unwrap().response.unwrap();
        let token = dev
            .read_update_from(&update, n, &tam.tam_keys())
            .unwrap()
            .unwrap();
        let success = |report: Vec<u8>| {
            let s = Success {
                token: Some(token.clone()),
                suit_reports: vec![report],
                ..Default::default()
            };
            teep_proto::signed::sign_message(&TeepMessage::Success(s), n, &dev.signer).unwrap()
        };
        let stranger = PrivateKey::from_p256_scalar(&[0x77; 32])
            .unwrap()
            .public_key();
        for (wrong, why) in [
            (
                seal(&report(&[9; 16]), &key, ContentAlgorithm::A128Gcm, Purpose::SuitReport),
                "Success.suit-reports[0]: suit-report-nonce is not the token",
            ),
            (
                seal(&report(&token), &stranger, ContentAlgorithm::A128Gcm, Purpose::SuitReport),
                "Success.suit-reports[0]: encrypted report refused: COSE_Encrypt: encrypted to a key this TAM does not hold",
            ),
        ] {
            let Err(Rejection::Refused(r)) = tam.post(&success(wrong), n) else {
                panic!("{n:?}: accepted")
            };
            assert_eq!(r.kind, RefusalKind::SuitReportNonce);
            assert!(r.explanation.starts_with(why), "{r:?}");
            assert!(tam.holdings(&dev).is_empty());
        }
        let good = seal(
            &report(&token),
            &key,
            ContentAlgorithm::A128Ctr,
            Purpose::SuitReport,
        );
        let o = tam.post(&success(good), n).unwrap();
        assert_eq!(o.result, ExchangeResult::Success, "{n:?}");
        assert_eq!(tam.holdings(&dev).len(), 1);
    }
}

/// A128CTR authenticates nothing itself: a flipped ciphertext bit decrypts to Evidence whose
/// COSE_Sign1 no longer parses or verifies, so attestation still fails (sign, then encrypt).
#[test]
fn teep_8_2_tampered_a128ctr_evidence_fails_on_its_signature() {
    for n in NUMBERINGS {
        let mut tam = Tam::new(Enroll::Registered);
        tam.add_assigned("hello", 1);
        let dev = device(2);
        tam.register(&dev, &[]);
        let key = tam_p256(&tam);
        let o = answer(&mut tam, &dev, n, |q| {
            let eat = q.attestation_payload.take().unwrap();
            let mut e = seal(&eat, &key, ContentAlgorithm::A128Ctr, Purpose::Eat);
            // 96([h'', {1: -65534, 5: IV}, ciphertext, ...]): the ciphertext starts after 27
            // bytes and its bstr head; 10 bytes before its end lies the Evidence's signature.
            let head = if eat.len() < 256 { 2 } else { 3 };
            let at = 27 + head + eat.len() - 10;
            e[at] ^= 1;
            q.attestation_payload = Some(e);
        });
        assert_eq!(o.result, ExchangeResult::AttestationFailed, "{n:?}");
        let (code, why) = error_of(&o, n);
        assert_eq!(code, ErrorCode::AttestationRequired);
        assert!(
            why.starts_with("attestation-payload: signature does not verify"),
            "{why}"
        );
    }
}

/// The TAM's Ed25519 key, which an agent encrypts to with the Ed25519 SUIT MTI profiles
/// (X25519 on the key's Montgomery form).
fn tam_ed25519(tam: &Tam) -> PublicKey {
    let key = tam.tam_keys()[1].clone();
    assert_eq!(key.key_type(), teep_cose::KeyType::Ed25519);
    key
}

const X25519_CONTENTS: [ContentAlgorithm; 2] = [
    ContentAlgorithm::ChaCha20Poly1305,
    ContentAlgorithm::A128Ctr,
];

/// -26 §8.2 with `suit-sha256-ed25519-ecdh-chacha-poly` and `suit-sha256-ed25519-ecdh-a128ctr`:
/// an Ed25519 device's Evidence and SUIT report, encrypted to the TAM's Ed25519 key, are
/// decrypted with that key's X25519 agreement: the device attests and its report's nonce is
/// checked.
#[test]
fn teep_8_2_x25519_encrypted_evidence_and_report_from_an_ed25519_device() {
    for n in NUMBERINGS {
        for content in X25519_CONTENTS {
            for enroll in [Enroll::Registered, Enroll::Tofu] {
                let mut tam = Tam::new(enroll);
                tam.add_assigned("hello", 1);
                let dev = device(3);
                assert_eq!(
                    teep_cose::Signer::public_key(&dev.signer).key_type(),
                    teep_cose::KeyType::Ed25519
                );
                if enroll == Enroll::Registered {
                    tam.register(&dev, &[]);
                }
                let key = tam_ed25519(&tam);
                let o = answer(&mut tam, &dev, n, |q| {
                    let eat = q.attestation_payload.take().unwrap();
                    q.attestation_payload = Some(seal(&eat, &key, content, Purpose::Eat));
                    let token = q.token.clone().unwrap();
                    let signed = teep_cose::sign1(&report(&token), &dev.signer).unwrap();
                    q.suit_reports = vec![seal(&signed, &key, content, Purpose::SuitReport)];
                });
                updated_and_attested(&tam, &dev, &o, n, &format!("{content:?} {enroll:?}"));
            }
        }
    }
}

/// ChaCha20/Poly1305 Evidence with a flipped ciphertext byte, or sealed to another Ed25519
/// key, fails attestation with the reason.
#[test]
fn teep_8_2_undecryptable_chacha_evidence_fails_with_the_reason() {
    let stranger = PrivateKey::from_ed25519_seed(&[0x78; 32])
        .unwrap()
        .public_key();
    for n in NUMBERINGS {
        for (want, tamper) in [
            ("ChaCha20-Poly1305: authentication failed", false),
            ("encrypted to a key this TAM does not hold", true),
        ] {
            let mut tam = Tam::new(Enroll::Registered);
            tam.add_assigned("hello", 1);
            let dev = device(3);
            tam.register(&dev, &[]);
            let key = tam_ed25519(&tam);
            let o = answer(&mut tam, &dev, n, |q| {
                let eat = q.attestation_payload.take().unwrap();
                let to = if tamper { &stranger } else { &key };
                let mut e = seal(&eat, to, ContentAlgorithm::ChaCha20Poly1305, Purpose::Eat);
                if !tamper {
                    e[30] ^= 1;
                }
                q.attestation_payload = Some(e);
            });
            assert_eq!(o.result, ExchangeResult::AttestationFailed, "{n:?}");
            let (code, why) = error_of(&o, n);
            assert_eq!(code, ErrorCode::AttestationRequired);
            assert!(why.contains(want), "{n:?}: {why}");
        }
    }
}
