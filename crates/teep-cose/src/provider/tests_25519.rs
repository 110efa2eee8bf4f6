//! X25519 (RFC 7748) and ChaCha20-Poly1305 (RFC 8439) known answers on every built-in
//! provider, and each provider opening what the other sealed.

use super::*;

fn h32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// RFC 7748 §5.2: the two single-multiplication vectors.
#[test]
fn x25519_rfc7748_5_2() {
    let cases = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for p in all() {
        for (k, u, out) in cases {
            let got = p.x25519(&h32(k), &h32(u)).unwrap();
            assert_eq!(hex::encode(&got[..]), out, "{}", p.name());
        }
    }
}

/// RFC 7748 §5.2: the iterated vector, 1 and 1,000 iterations (k and u start at 9).
#[test]
fn x25519_rfc7748_5_2_iterated() {
    for p in all() {
        let mut k = [0u8; 32];
        k[0] = 9;
        let mut u = k;
        for i in 1..=1000 {
            let r = p.x25519(&k, &u).unwrap();
            u = k;
            k = *r;
            if i == 1 {
                assert_eq!(
                    hex::encode(k),
                    "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
                    "{}",
                    p.name()
                );
            }
        }
        assert_eq!(
            hex::encode(k),
            "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
            "{}",
            p.name()
        );
    }
}

/// RFC 7748 §6.1: Alice's and Bob's public keys and their shared secret.
#[test]
fn x25519_rfc7748_6_1() {
    let a = h32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let b = h32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    let a_pub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    let b_pub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    for p in all() {
        assert_eq!(
            hex::encode(p.x25519_public(&a).unwrap()),
            a_pub,
            "{}",
            p.name()
        );
        assert_eq!(
            hex::encode(p.x25519_public(&b).unwrap()),
            b_pub,
            "{}",
            p.name()
        );
        let ab = p.x25519(&a, &h32(b_pub)).unwrap();
        let ba = p.x25519(&b, &h32(a_pub)).unwrap();
        assert_eq!(hex::encode(&ab[..]), shared, "{}", p.name());
        assert_eq!(ab, ba);
    }
}

/// RFC 7748 §6.1: a small-order peer (u = 0, u = 1) gives the all-zero secret, refused the
/// same way by both providers.
#[test]
fn x25519_small_order_peer_refused() {
    let k = h32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let mut one = [0u8; 32];
    one[0] = 1;
    for p in all() {
        for u in [[0u8; 32], one] {
            let e = p.x25519(&k, &u).unwrap_err();
            assert!(
                matches!(e, CryptoError::Authentication { op: "X25519", .. }),
                "{}: {e}",
                p.name()
            );
        }
    }
}

const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only \
one tip for the future, sunscreen would be it.";

/// RFC 8439 §2.8.2: the AEAD_CHACHA20_POLY1305 example.
#[test]
fn chacha20_poly1305_rfc8439_2_8_2() {
    let key = h32("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
    let nonce: [u8; 12] = hex::decode("070000004041424344454647")
        .unwrap()
        .try_into()
        .unwrap();
    let aad = hex::decode("50515253c0c1c2c3c4c5c6c7").unwrap();
    let expected = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
                    3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
                    92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
                    3ff4def08e4b7a9de576d26586cec64b6116\
                    1ae10b594f09e26a7e902ecbd0600691";
    for p in all() {
        let sealed = p
            .chacha20_poly1305_seal(&key, &nonce, &aad, SUNSCREEN)
            .unwrap();
        assert_eq!(hex::encode(&sealed), expected, "{}", p.name());
        assert_eq!(
            p.chacha20_poly1305_open(&key, &nonce, &aad, &sealed)
                .unwrap(),
            SUNSCREEN
        );
    }
}

/// A changed byte, AAD, nonce or key fails authentication; a short input names the rule.
#[test]
fn chacha20_poly1305_tampering_fails_on_both_providers() {
    let key = [7u8; 32];
    let nonce = [9u8; 12];
    for p in all() {
        let sealed = p
            .chacha20_poly1305_seal(&key, &nonce, b"aad", b"payload")
            .unwrap();
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        let mut other_key = key;
        other_key[31] ^= 1;
        let mut other_nonce = nonce;
        other_nonce[0] ^= 1;
        for e in [
            p.chacha20_poly1305_open(&key, &nonce, b"aad", &flipped),
            p.chacha20_poly1305_open(&key, &nonce, b"aaD", &sealed),
            p.chacha20_poly1305_open(&key, &other_nonce, b"aad", &sealed),
            p.chacha20_poly1305_open(&other_key, &nonce, b"aad", &sealed),
        ] {
            assert_eq!(
                e.unwrap_err().to_string(),
                "ChaCha20-Poly1305: authentication failed",
                "{}",
                p.name()
            );
        }
        assert_eq!(
            p.chacha20_poly1305_open(&key, &nonce, b"aad", &[0u8; 15])
                .unwrap_err()
                .to_string(),
            "ChaCha20-Poly1305: sealed input must hold the 16-byte tag, got 15"
        );
        // The empty plaintext is the tag alone.
        let empty = p.chacha20_poly1305_seal(&key, &nonce, b"", b"").unwrap();
        assert_eq!(empty.len(), 16);
        assert!(p
            .chacha20_poly1305_open(&key, &nonce, b"", &empty)
            .unwrap()
            .is_empty());
    }
}

/// Each provider opens what the other sealed and agrees on X25519 secrets of random keys.
#[test]
fn x25519_and_chacha_agree_across_providers() {
    let ps = all();
    for (i, a) in ps.iter().enumerate() {
        for b in &ps {
            let mut k1 = [0u8; 32];
            let mut k2 = [0u8; 32];
            a.fill_random(&mut k1).unwrap();
            b.fill_random(&mut k2).unwrap();
            let p1 = a.x25519_public(&k1).unwrap();
            let p2 = b.x25519_public(&k2).unwrap();
            assert_eq!(p1, b.x25519_public(&k1).unwrap());
            let s1 = a.x25519(&k1, &p2).unwrap();
            let s2 = b.x25519(&k2, &p1).unwrap();
            assert_eq!(s1, s2, "{} / {}", a.name(), b.name());

            let nonce = [i as u8; 12];
            let msg = alloc::vec![0xa5u8; 1000 + i];
            let sealed = a.chacha20_poly1305_seal(&s1, &nonce, b"x", &msg).unwrap();
            assert_eq!(
                sealed,
                b.chacha20_poly1305_seal(&s1, &nonce, b"x", &msg).unwrap()
            );
            assert_eq!(
                b.chacha20_poly1305_open(&s2, &nonce, b"x", &sealed)
                    .unwrap(),
                msg
            );
        }
    }
}
