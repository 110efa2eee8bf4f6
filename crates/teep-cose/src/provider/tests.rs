//! Known-answer tests run against every built-in provider.

use super::*;

/// RFC 6979 A.2.5 (P-256, SHA-256, message "sample") and RFC 8032 7.1 test 1.
#[test]
fn known_answer_vectors_on_both_providers() {
    let p256 = PrivateKey::from_p256_scalar(
        &hex::decode("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721").unwrap(),
    )
    .unwrap();
    assert_eq!(
        hex::encode_upper(&p256.public_key().raw()[1..]),
        "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6\
         7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
    );
    let sig = hex::decode(
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
         F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
    )
    .unwrap();
    // RustCrypto signs deterministically (RFC 6979), so the signature is reproduced.
    assert_eq!(
        RUST_CRYPTO
            .sign(&p256, Algorithm::Esp256, b"sample")
            .unwrap(),
        sig
    );

    let ed = PrivateKey::from_ed25519_seed(
        &hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap(),
    )
    .unwrap();
    assert_eq!(
        hex::encode(ed.public_key().raw()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let ed_sig = hex::decode(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555\
         fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    )
    .unwrap();
    for p in all() {
        p.verify(&p256.public_key(), Algorithm::Esp256, b"sample", &sig)
            .unwrap();
        p.verify(&p256.public_key(), Algorithm::Es256, b"sample", &sig)
            .unwrap();
        assert!(p
            .verify(&p256.public_key(), Algorithm::Esp256, b"sample!", &sig)
            .is_err());
        // Ed25519 is deterministic in both providers.
        assert_eq!(p.sign(&ed, Algorithm::Ed25519, b"").unwrap(), ed_sig);
        p.verify(&ed.public_key(), Algorithm::EdDsa, b"", &ed_sig)
            .unwrap();
        assert!(p
            .verify(&ed.public_key(), Algorithm::Ed25519, b"x", &ed_sig)
            .is_err());
        // Wrong lengths and mismatched algorithms are errors, not panics.
        assert!(p
            .verify(&ed.public_key(), Algorithm::Ed25519, b"", &ed_sig[..63])
            .is_err());
        assert!(matches!(
            p.verify(&ed.public_key(), Algorithm::Esp256, b"", &ed_sig),
            Err(CoseError::KeyMismatch { .. })
        ));
        assert_eq!(
            hex::encode(p.sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
