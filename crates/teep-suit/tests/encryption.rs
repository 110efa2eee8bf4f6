//! SUIT payload encryption through the crypto provider: the published firmware-encryption
//! examples reproduced byte for byte, unchanged wire output, and every algorithm combination
//! encrypted by one provider and decrypted by the other.

mod common;

use common::*;
use teep_cose::provider::{self, CryptoProvider};
use teep_cose::{CryptoError as Primitive, KeyType, PrivateKey};
use teep_suit::encryption::{
    alg, decrypt_payload_with, encrypt_payload_ecdh_a128ctr, encrypt_payload_with, random_len,
    Recipient,
};
use teep_suit::{CryptoError, DecryptionKeys};

const PLAINTEXT: &[u8] = b"This is a real firmware image.";
const KEK: &[u8] = b"aaaaaaaaaaaaaaaa";

fn example(name: &str) -> Vec<u8> {
    read(&format!("suit-firmware-encryption/examples/derived/{name}"))
}

/// draft-ietf-suit-firmware-encryption's AES-KW examples: with the published CEK and IV
/// (keys/fwenc-symmetric-test-keys.txt) both providers emit exactly the published
/// SUIT_Encryption_Info and ciphertext (AES-KW, CTR and GCM are deterministic).
#[test]
fn aes_kw_examples_are_reproduced_byte_for_byte() {
    let cases = [
        (
            alg::A128CTR,
            "261DE6165070FB8951EC5D7B92A065FEDAE613B2E0DC55F4322BE38BDBA9DC68",
            "aes-kw-aes-ctr",
        ),
        (
            alg::A128GCM,
            "15F785B5C931414411B4B71373A9C0F7F14AAB9D81D51F7AD943FE87",
            "aes-kw-aes-gcm",
        ),
    ];
    for p in provider::all() {
        for (content, random, name) in cases {
            let recipient = Recipient::AesKw {
                kek: KEK,
                kid: Some(b"kid-1"),
            };
            let random = hex::decode(random).unwrap();
            let (info, ct) = encrypt_payload_with(p, PLAINTEXT, content, &recipient, &random)
                .unwrap_or_else(|e| panic!("{} {name}: {e}", p.name()));
            assert_eq!(
                info,
                example(&format!("suit-encryption-info-{name}.cbor")),
                "{} {name}",
                p.name()
            );
            assert_eq!(
                ct,
                example(&format!("encrypted-payload-{name}.bin")),
                "{} {name}",
                p.name()
            );
        }
    }
}

/// All four published encryption-info examples (AES-KW and ES-DH, CTR and GCM) decrypt with
/// each provider.
#[test]
fn firmware_encryption_examples_decrypt_on_every_provider() {
    let keys = DecryptionKeys {
        ecdh: vec![kek_p256()],
        aes_kw: vec![(Some(b"kid-1".to_vec()), KEK.to_vec())],
    };
    for p in provider::all() {
        for name in [
            "aes-kw-aes-ctr",
            "aes-kw-aes-gcm",
            "es-ecdh-aes-ctr",
            "es-ecdh-aes-gcm",
        ] {
            let info = example(&format!("suit-encryption-info-{name}.cbor"));
            let ct = example(&format!("encrypted-payload-{name}.bin"));
            let plain = decrypt_payload_with(p, &info, &ct, &keys)
                .unwrap_or_else(|e| panic!("{} {name}: {e}", p.name()));
            assert_eq!(plain, PLAINTEXT, "{} {name}", p.name());
        }
    }
}

/// What `ManifestBuilder::encrypt_to` emits for fixed randomness, recorded before the
/// primitives moved into the provider: the bytes must not change.
#[test]
fn ecdh_a128ctr_output_is_unchanged() {
    let device = kek_p256().public_key();
    let (info, ct) =
        encrypt_payload_ecdh_a128ctr(b"golden plaintext for the wire check", &device, &[5; 64])
            .unwrap();
    assert_eq!(
        hex::encode(info),
        "d8608440a20139fffd055005050505050505050505050505050505f6818344a101381ca120a4010220\
         0121582007810ea974cea5773e63b897f37e3be9a09e7a5fe9b971a44d1065ac2a3a931122582063\
         7e47a4f99464a0fdce44a88ec7d703a9183c1d06552d9e2d6b76069481c57758182cd8b0d1529da8\
         c145577bc4137b8ea1eea925803f8d1fbd"
    );
    assert_eq!(
        hex::encode(ct),
        "7acddf2cb00f336ca5c56d9ee88dfad443a1496f59311120ae5656f87f26554d2e58ff"
    );
}

fn random(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| seed.wrapping_add(i as u8) | 1).collect()
}

/// Every content algorithm with every recipient kind, encrypted by one provider and
/// decrypted by the other (and by itself).
#[test]
fn every_combination_round_trips_across_providers() {
    let device = kek_p256();
    let kek256 = [0x42u8; 32];
    let recipients = [
        Recipient::EcdhEs {
            key: &device.public_key(),
            alg: alg::ECDH_ES_A128KW,
        },
        Recipient::EcdhEs {
            key: &device.public_key(),
            alg: alg::ECDH_ES_A256KW,
        },
        Recipient::AesKw {
            kek: KEK,
            kid: None,
        },
        Recipient::AesKw {
            kek: &kek256,
            kid: Some(b"k256"),
        },
    ];
    let keys = DecryptionKeys {
        ecdh: vec![device.clone()],
        aes_kw: vec![
            (None, KEK.to_vec()),
            (Some(b"k256".to_vec()), kek256.to_vec()),
        ],
    };
    for content in [alg::A128CTR, alg::A256CTR, alg::A128GCM, alg::A256GCM] {
        for (i, recipient) in recipients.iter().enumerate() {
            let r = random(random_len(content, recipient).unwrap(), i as u8);
            let mut outputs = Vec::new();
            for a in provider::all() {
                let (info, ct) = encrypt_payload_with(a, PLAINTEXT, content, recipient, &r)
                    .unwrap_or_else(|e| panic!("{} {content} #{i}: {e}", a.name()));
                assert_ne!(&ct[..PLAINTEXT.len()], PLAINTEXT);
                for b in provider::all() {
                    let plain = decrypt_payload_with(b, &info, &ct, &keys).unwrap_or_else(|e| {
                        panic!("{} -> {} {content} #{i}: {e}", a.name(), b.name())
                    });
                    assert_eq!(plain, PLAINTEXT);
                }
                outputs.push((info, ct));
            }
            // The same inputs give the same bytes whichever provider encrypts.
            assert!(outputs.windows(2).all(|w| w[0] == w[1]), "{content} #{i}");
        }
    }
}

fn primitive_source(e: CryptoError) -> Primitive {
    match e {
        CryptoError::Primitive { source, .. } => source,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[test]
fn failures_are_typed_errors() {
    let p: &dyn CryptoProvider = teep_cose::default_provider();
    let info = example("suit-encryption-info-aes-kw-aes-gcm.cbor");
    let ct = example("encrypted-payload-aes-kw-aes-gcm.bin");
    // A wrong KEK fails the key-wrap integrity check.
    let wrong = DecryptionKeys {
        ecdh: vec![],
        aes_kw: vec![(None, b"bbbbbbbbbbbbbbbb".to_vec())],
    };
    let e = decrypt_payload_with(p, &info, &ct, &wrong).unwrap_err();
    assert!(matches!(
        primitive_source(e),
        Primitive::Authentication {
            op: "AES key unwrap",
            ..
        }
    ));
    // A changed ciphertext byte fails the GCM tag.
    let right = DecryptionKeys {
        ecdh: vec![],
        aes_kw: vec![(None, KEK.to_vec())],
    };
    let mut bad = ct.clone();
    bad[3] ^= 1;
    let e = decrypt_payload_with(p, &info, &bad, &right).unwrap_err();
    assert_eq!(
        e.to_string(),
        "encryption-info: A128GCM: AES-GCM: authentication failed"
    );
    assert!(matches!(
        primitive_source(e),
        Primitive::Authentication { op: "AES-GCM", .. }
    ));
    // Shorter than the tag.
    let e = decrypt_payload_with(p, &info, &ct[..10], &right).unwrap_err();
    assert!(matches!(
        primitive_source(e),
        Primitive::InputLength { got: 10, .. }
    ));
    // No key for the only recipient.
    let e = decrypt_payload_with(p, &info, &ct, &DecryptionKeys::default()).unwrap_err();
    assert_eq!(e, CryptoError::NoKey);
    // A non-P-256 device key is skipped, and the next key still decrypts.
    let info = example("suit-encryption-info-es-ecdh-aes-ctr.cbor");
    let ct = example("encrypted-payload-es-ecdh-aes-ctr.bin");
    let ed_key = PrivateKey::from_ed25519_seed(&[1; 32]).unwrap();
    let only_ed = DecryptionKeys {
        ecdh: vec![ed_key.clone()],
        aes_kw: vec![],
    };
    let e = decrypt_payload_with(p, &info, &ct, &only_ed).unwrap_err();
    assert!(matches!(primitive_source(e), Primitive::KeyType { .. }));
    let both = DecryptionKeys {
        ecdh: vec![ed_key, kek_p256()],
        aes_kw: vec![],
    };
    assert_eq!(
        decrypt_payload_with(p, &info, &ct, &both).unwrap(),
        PLAINTEXT
    );
    // An Ed25519 key cannot receive ECDH-ES.
    let ed = PrivateKey::from_ed25519_seed(&[1; 32])
        .unwrap()
        .public_key();
    assert_eq!(ed.key_type(), KeyType::Ed25519);
    let e = encrypt_payload_ecdh_a128ctr(b"x", &ed, &[5; 64]).unwrap_err();
    assert!(matches!(primitive_source(e), Primitive::KeyType { .. }));
    // Randomness of the wrong length is refused, not sliced.
    let r = Recipient::AesKw {
        kek: KEK,
        kid: None,
    };
    assert!(matches!(
        encrypt_payload_with(p, b"x", alg::A128CTR, &r, &[1; 31]),
        Err(CryptoError::Failed(_))
    ));
    assert_eq!(
        encrypt_payload_with(p, b"x", 24, &r, &[1; 31]),
        Err(CryptoError::UnsupportedAlgorithm(24))
    );
}
