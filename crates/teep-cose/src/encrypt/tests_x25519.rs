//! The two Ed25519 SUIT MTI profiles (draft-ietf-suit-mti `suit-sha256-ed25519-ecdh-a128ctr`
//! and `suit-sha256-ed25519-ecdh-chacha-poly`): ECDH-ES+A128KW on X25519 to an Ed25519 TEEP
//! key, through both providers.

use alloc::vec::Vec;

use super::*;
use crate::provider;

fn ed(seed: u8) -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[seed; 32]).unwrap()
}

fn random(seed: u8) -> [u8; RANDOM_LEN] {
    [seed; RANDOM_LEN]
}

const X25519_CONTENTS: [ContentAlgorithm; 2] = [
    ContentAlgorithm::ChaCha20Poly1305,
    ContentAlgorithm::A128Ctr,
];

/// -26 §8.2 with the Ed25519 profiles: what one provider encrypts, the other decrypts, for
/// both purposes; the ephemeral key is an OKP X25519 COSE_Key; the kid is the Ed25519 key's
/// thumbprint.
#[test]
fn teep_8_2_x25519_round_trip_across_providers() {
    let tam = ed(5);
    let plaintext = b"signed EAT bytes".to_vec();
    for content in X25519_CONTENTS {
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
                let opened = open_encrypted(&bytes).unwrap();
                assert_eq!(opened.content_algorithm(), content);
                assert!(matches!(
                    opened.recipient.ephemeral,
                    decode::Ephemeral::X25519(_)
                ));
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
                let signer =
                    SoftwareSigner::with_provider(ed(5), crate::Algorithm::Ed25519, enc).unwrap();
                let agreement = crate::Signer::key_agreement(&signer).unwrap();
                assert_eq!(opened.decrypt(agreement, purpose).unwrap(), plaintext);
            }
        }
    }
}

/// The exact layout: `96([<<{1: 24}>>, {5: 12-byte nonce}, ct, [[<<{1: -29}>>,
/// {-1: {1: 1, -1: 4, -2: u}, 4: kid}, 40-byte wrapped key]]])`, identical from both
/// providers.
#[test]
fn chacha_layout_and_identical_bytes() {
    let tam = ed(5).public_key();
    let out: Vec<Vec<u8>> = provider::all()
        .into_iter()
        .map(|p| {
            encrypt_with(
                p,
                b"x",
                &tam,
                ContentAlgorithm::ChaCha20Poly1305,
                Purpose::Eat,
                &random(9),
            )
            .unwrap()
        })
        .collect();
    assert!(out.windows(2).all(|w| w[0] == w[1]));
    let b = &out[0];
    // tag 96, array(4), bstr(4) a1 01 18 18, map(1) 05 bstr(12)
    assert_eq!(
        &b[..9],
        &[0xd8, 0x60, 0x84, 0x44, 0xa1, 0x01, 0x18, 0x18, 0xa1]
    );
    assert_eq!(&b[9..11], &[0x05, 0x4c]);
    assert_eq!(&b[11..23], &[9u8; 12]);
    let opened = open_encrypted(b).unwrap();
    assert_eq!(opened.recipient.wrapped.len(), 40);
    // The OKP key: a3 01 01 20 04 21 58 20 u
    let okp = [0xa3, 0x01, 0x01, 0x20, 0x04, 0x21, 0x58, 0x20];
    assert!(b.windows(okp.len()).any(|w| w == okp));
    let decode::Ephemeral::X25519(u) = opened.recipient.ephemeral else {
        panic!("not X25519")
    };
    assert_eq!(u, provider::all()[0].x25519_public(&[9; 32]).unwrap());
}

/// ChaCha20/Poly1305 authenticates the ciphertext and the protected header; AES-KW the key;
/// another purpose and another Ed25519 key do not open it.
#[test]
fn chacha_tampering_wrong_key_and_purpose_fail() {
    let tam = ed(5);
    let bytes = encrypt(
        b"0123456789abcdef",
        &tam.public_key(),
        ContentAlgorithm::ChaCha20Poly1305,
        Purpose::Eat,
        &random(4),
    )
    .unwrap();
    let opened = open_encrypted(&bytes).unwrap();
    for p in provider::all() {
        let mut c = opened.clone();
        c.ciphertext[0] ^= 1;
        let err = c.decrypt_with(p, &tam, Purpose::Eat).unwrap_err();
        assert!(
            err.to_string()
                .contains("ChaCha20-Poly1305: authentication failed"),
            "{err}"
        );
        let mut c = opened.clone();
        let last = c.protected.len() - 1;
        c.protected[last] ^= 1;
        let err = c.decrypt_with(p, &tam, Purpose::Eat).unwrap_err();
        assert!(
            err.to_string()
                .contains("ChaCha20-Poly1305: authentication failed"),
            "{err}"
        );
        let mut c = opened.clone();
        c.recipient.wrapped[3] ^= 1;
        let err = c.decrypt_with(p, &tam, Purpose::Eat).unwrap_err();
        assert!(err.to_string().contains("integrity check failed"), "{err}");
        let err = opened
            .decrypt_with(p, &tam, Purpose::SuitReport)
            .unwrap_err();
        assert!(err.to_string().contains("integrity check failed"), "{err}");
    }
    let err = opened.decrypt(&ed(7), Purpose::Eat).unwrap_err();
    assert!(err.to_string().contains("names another key"), "{err}");
    let mut anonymous = opened.clone();
    anonymous.recipient.kid = None;
    let err = anonymous.decrypt(&ed(7), Purpose::Eat).unwrap_err();
    assert!(err.to_string().contains("integrity check failed"), "{err}");
    // A P-256 key cannot agree with an X25519 ephemeral, and says so.
    let p256 = PrivateKey::from_p256_scalar(&[5; 32]).unwrap();
    anonymous.recipient.kid = None;
    let err = anonymous.decrypt(&p256, Purpose::Eat).unwrap_err();
    assert!(
        err.to_string()
            .contains("X25519: needs Ed25519 keys, got a P-256 key"),
        "{err}"
    );
}

/// Strict on send: ChaCha20/Poly1305 pairs with X25519 only.
#[test]
fn chacha_to_a_p256_recipient_is_refused() {
    let p256 = PrivateKey::from_p256_scalar(&[5; 32]).unwrap().public_key();
    let err = encrypt(
        b"x",
        &p256,
        ContentAlgorithm::ChaCha20Poly1305,
        Purpose::Eat,
        &random(1),
    )
    .unwrap_err();
    assert!(matches!(err, CoseError::KeyMismatch { .. }), "{err}");
}

fn hex(s: &str) -> Vec<u8> {
    let s: alloc::string::String = s.chars().filter(|c| !c.is_whitespace()).collect();
    ::hex::decode(s).unwrap()
}

/// Decoding rules of the X25519 recipient and the ChaCha20/Poly1305 layer name the path.
#[test]
fn x25519_decoding_rules_name_the_path() {
    let u = "5820".to_owned() + &"11".repeat(32);
    let wrapped40 = "5828".to_owned() + &"22".repeat(40);
    let body = |prot: &str, unprot: &str, eph: &str, wrapped: &str| {
        hex(&format!(
            "d860 84 {prot} {unprot} 4100 81 83 44a101381c a2 20 {eph} 04 4101 {wrapped}"
        ))
    };
    let prot = "44a1011818";
    let iv = "a1 05 4c".to_owned() + &"00".repeat(12);
    let good = body(prot, &iv, &format!("a3 0101 2004 21{u}"), &wrapped40);
    open_encrypted(&good).unwrap();
    let cases = [
        (
            body("40", &("a2 0118 18 05 4c".to_owned() + &"00".repeat(12)), &format!("a3 0101 2004 21{u}"), &wrapped40),
            "COSE_Encrypt.protected: ChaCha20/Poly1305's alg must be protected",
        ),
        (
            body(prot, &iv, &format!("a3 0101 2004 21{u}"), &("5818".to_owned() + &"22".repeat(24))),
            "COSE_Encrypt.recipients[0].ciphertext: a wrapped ChaCha20/Poly1305 content key is 40 bytes, got 24",
        ),
        (
            body(prot, &iv, "a3 0101 2004 21 5810 00000000000000000000000000000000", &wrapped40),
            "COSE_Encrypt.recipients[0].unprotected.-1: an X25519 key is 32 bytes",
        ),
        (
            body(prot, &iv, &format!("a4 0101 2004 21{u} 22{u}"), &wrapped40),
            "COSE_Encrypt.recipients[0].unprotected.-1: an OKP key has no y (-3)",
        ),
        (
            body(prot, &iv, &format!("a4 0101 2004 21{u} 23{u}"), &wrapped40),
            "COSE_Encrypt.recipients[0].unprotected.-1.-4: an ephemeral key must not carry its private part (d)",
        ),
        (
            body(prot, &iv, &format!("a3 0101 2006 21{u}"), &wrapped40),
            "COSE_Encrypt.recipients[0].unprotected.-1: ephemeral key must be EC2 (kty 2) on P-256 (crv 1) or OKP (kty 1) on X25519 (crv 4)",
        ),
        (
            body(prot, &("a1 05 4b".to_owned() + &"00".repeat(11)), &format!("a3 0101 2004 21{u}"), &wrapped40),
            "COSE_Encrypt.unprotected.iv: ChaCha20/Poly1305 needs a 12-byte IV, got 11",
        ),
    ];
    for (bytes, want) in cases {
        let err = open_encrypted(&bytes).unwrap_err().to_string();
        assert!(err.starts_with(want), "{err}\nwant {want}");
    }
}
