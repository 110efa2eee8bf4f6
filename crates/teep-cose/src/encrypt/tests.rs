//! Encrypted EATs and SUIT reports (-26 §8.2): round trips through both providers, and every
//! way a COSE_Encrypt can be wrong.

use alloc::vec::Vec;

use super::*;
use crate::provider;

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from_p256_scalar(&[seed; 32]).unwrap()
}

fn random(seed: u8) -> [u8; RANDOM_LEN] {
    let mut r = [seed; RANDOM_LEN];
    r[0] = 0x11; // keep the ephemeral scalar below the group order
    r
}

const BOTH: [ContentAlgorithm; 2] = [ContentAlgorithm::A128Gcm, ContentAlgorithm::A128Ctr];

/// -26 §8.2 with the two P-256 SUIT MTI profiles: what one provider encrypts, the other
/// decrypts, for both purposes.
#[test]
fn teep_8_2_round_trip_each_profile_across_providers() {
    let tam = key(5);
    let plaintext = b"signed EAT bytes".to_vec();
    for content in BOTH {
        for purpose in [Purpose::Eat, Purpose::SuitReport] {
            for enc in provider::all() {
                let bytes = encrypt_with(
                    enc,
                    &plaintext,
                    &tam.public_key(),
                    content,
                    purpose,
                    &random(3),
                )
                .unwrap();
                assert!(is_encrypted(&bytes));
                let opened = open_encrypted(&bytes).unwrap();
                assert_eq!(opened.content_algorithm(), content);
                assert_eq!(
                    opened.recipient_kids().collect::<Vec<_>>(),
                    [Some(&tam.public_key().thumbprint()[..])]
                );
                for dec in provider::all() {
                    assert_eq!(
                        opened.decrypt_with(dec, &tam, purpose).unwrap(),
                        plaintext,
                        "{} -> {} {content:?} {purpose:?}",
                        enc.name(),
                        dec.name()
                    );
                }
            }
        }
    }
}

/// Both providers emit the same bytes for the same randomness.
#[test]
fn providers_emit_identical_bytes() {
    let tam = key(5).public_key();
    for content in BOTH {
        let out: Vec<Vec<u8>> = provider::all()
            .into_iter()
            .map(|p| encrypt_with(p, b"x", &tam, content, Purpose::Eat, &random(9)).unwrap())
            .collect();
        assert!(out.windows(2).all(|w| w[0] == w[1]));
    }
}

/// The software signer decrypts through its key agreement, as a hardware store would.
#[test]
fn a_signer_decrypts_through_its_key_agreement() {
    let signer = SoftwareSigner::new(key(6));
    let bytes = encrypt(
        b"report",
        &signer.agreement_public_key(),
        ContentAlgorithm::A128Gcm,
        Purpose::SuitReport,
        &random(1),
    )
    .unwrap();
    let opened = open_encrypted(&bytes).unwrap();
    assert_eq!(
        opened.decrypt(&signer, Purpose::SuitReport).unwrap(),
        b"report"
    );
}

/// The label is bound into the KEK: an EAT key does not open a SUIT report.
#[test]
fn teep_8_2_other_purpose_does_not_decrypt() {
    let tam = key(5);
    for content in BOTH {
        let bytes = encrypt(b"x", &tam.public_key(), content, Purpose::Eat, &random(2)).unwrap();
        let err = open_encrypted(&bytes)
            .unwrap()
            .decrypt(&tam, Purpose::SuitReport)
            .unwrap_err();
        assert!(err.to_string().contains("integrity check failed"), "{err}");
    }
}

#[test]
fn wrong_key_is_named_by_kid_or_fails_the_unwrap() {
    let bytes = encrypt(
        b"x",
        &key(5).public_key(),
        ContentAlgorithm::A128Gcm,
        Purpose::Eat,
        &random(2),
    )
    .unwrap();
    let opened = open_encrypted(&bytes).unwrap();
    let err = opened.decrypt(&key(7), Purpose::Eat).unwrap_err();
    assert_eq!(
        err.to_string(),
        "COSE_Encrypt.recipients[0].unprotected.kid: names another key than the one given to decrypt"
    );
    // Without the kid, the wrong key fails the key wrap's integrity check.
    let mut anonymous = opened.clone();
    anonymous.recipient.kid = None;
    let err = anonymous.decrypt(&key(7), Purpose::Eat).unwrap_err();
    assert!(err.to_string().contains("integrity check failed"), "{err}");
}

/// AES-GCM authenticates the ciphertext and the protected header; AES-KW the content key.
#[test]
fn tampering_is_detected() {
    let tam = key(5);
    let bytes = encrypt(
        b"0123456789abcdef",
        &tam.public_key(),
        ContentAlgorithm::A128Gcm,
        Purpose::Eat,
        &random(4),
    )
    .unwrap();
    let mut opened = open_encrypted(&bytes).unwrap();
    opened.ciphertext[0] ^= 1;
    let err = opened.decrypt(&tam, Purpose::Eat).unwrap_err();
    assert!(err.to_string().contains("AES-GCM"), "{err}");
    for content in BOTH {
        let bytes = encrypt(b"x", &tam.public_key(), content, Purpose::Eat, &random(4)).unwrap();
        let mut opened = open_encrypted(&bytes).unwrap();
        opened.recipient.wrapped[3] ^= 1;
        let err = opened.decrypt(&tam, Purpose::Eat).unwrap_err();
        assert!(err.to_string().contains("integrity check failed"), "{err}");
    }
}

/// Strict on send: A128GCM pairs with P-256 only in the SUIT MTI profiles.
#[test]
fn a128gcm_to_an_ed25519_recipient_is_refused() {
    let ed = PrivateKey::from_ed25519_seed(&[1; 32])
        .unwrap()
        .public_key();
    let err = encrypt(
        b"x",
        &ed,
        ContentAlgorithm::A128Gcm,
        Purpose::Eat,
        &random(1),
    )
    .unwrap_err();
    assert!(matches!(err, CoseError::KeyMismatch { .. }), "{err}");
}

fn hex(s: &str) -> Vec<u8> {
    ::hex::decode(s).unwrap()
}

/// Each structural rule is refused with its path.
#[test]
fn strict_decoding_names_the_path() {
    let cases: &[(&str, &str)] = &[
        ("d0834043a10101f6", "COSE_Encrypt0: has no recipient"),
        ("84", "COSE_Encrypt: untagged"),
        ("d862", "COSE_Encrypt: tag 98, expected 96"),
        ("d86083", "COSE_Encrypt: array of 3, expected 4"),
        (
            "d8608443a10101a0f680",
            "COSE_Encrypt.unprotected: no IV (5)",
        ),
        (
            "d8608443a10101a1054c000000000000000000000000f680",
            "COSE_Encrypt.ciphertext: detached (nil)",
        ),
        (
            "d8608443a10101a1054c00000000000000000000000040",
            "COSE_Encrypt.recipients",
        ),
        (
            "d8608443a10101a1054c0000000000000000000000004080",
            "COSE_Encrypt.recipients: 0 recipients",
        ),
        (
            "d8608443a10101a20101054c000000000000000000000000",
            "COSE_Encrypt.unprotected.alg: alg (1) in both header buckets",
        ),
        (
            "d8608440a1054c0000000000000000000000004080",
            "COSE_Encrypt.protected: no alg (1)",
        ),
        ("d8608443a10103a0", "unsupported algorithm 3"),
        (
            "d8608443a10101a10543000000",
            "COSE_Encrypt.unprotected.iv: A128GCM needs a 12-byte IV, got 3",
        ),
        (
            "d8608443a10101a2054c000000000000000000000000054c",
            "COSE_Encrypt.unprotected: label 5 twice",
        ),
        (
            "d8608443a10101a1064100",
            "COSE_Encrypt.unprotected.6: Partial IV (6) is not used here",
        ),
        (
            "d8608440a20101054c000000000000000000000000",
            "COSE_Encrypt.protected: A128GCM's alg must be protected",
        ),
    ];
    for (bytes, want) in cases {
        let err = open_encrypted(&hex(bytes)).unwrap_err().to_string();
        assert!(err.starts_with(want), "{bytes}: {err}");
    }
}

#[test]
fn recipient_rules_name_the_path() {
    let tam = key(5);
    let good = encrypt(
        b"x",
        &tam.public_key(),
        ContentAlgorithm::A128Gcm,
        Purpose::Eat,
        &random(4),
    )
    .unwrap();
    // The recipient's protected header <<{1: -29}>> is 44 a1 01 38 1c.
    let at = good
        .windows(5)
        .position(|w| w == [0x44, 0xa1, 0x01, 0x38, 0x1c])
        .unwrap();
    let mut other_alg = good.clone();
    other_alg[at + 4] = 0x1e; // -31: ECDH-ES+A256KW
    assert_eq!(
        open_encrypted(&other_alg).unwrap_err().to_string(),
        "unsupported algorithm -31"
    );
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        open_encrypted(&trailing).unwrap_err().to_string(),
        "COSE_Encrypt: 1 bytes after the COSE_Encrypt"
    );
    // The ephemeral point's y-coordinate moved off the curve.
    let mut off_curve = good.clone();
    let y = off_curve
        .windows(3)
        .position(|w| w == [0x22, 0x58, 0x20])
        .unwrap();
    off_curve[y + 3] ^= 1;
    assert_eq!(
        open_encrypted(&off_curve).unwrap_err().to_string(),
        "COSE_Encrypt.recipients[0].unprotected.-1: not a point on P-256"
    );
    for cut in 0..good.len() {
        assert!(open_encrypted(&good[..cut]).is_err());
    }
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = alloc::vec![0u8; MAX_ENCRYPTED + 1];
    assert!(matches!(
        open_encrypted(&big),
        Err(CoseError::TooLarge { .. })
    ));
}

/// The KDF context follows draft-ietf-suit-firmware-encryption with the TEEP label.
#[test]
fn kdf_context_carries_the_teep_label() {
    let ctx = kdf_context(&[0xa1, 0x01, 0x38, 0x1c], Purpose::SuitReport);
    let mut want = hex("8422" /* [-3, */);
    want.extend(hex("83f6f6f683f6f6f6"));
    want.extend(hex("83188044a101381c"));
    want.push(0x56); // bstr of 22
    want.extend(b"SUIT Report Encryption");
    assert_eq!(ctx, want);
    assert!(kdf_context(&[], Purpose::Eat).ends_with(b"\x4eEAT Encryption"));
}
