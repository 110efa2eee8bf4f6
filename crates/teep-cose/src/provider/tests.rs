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

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Runs `f` on every built-in provider and checks they all give the same answer.
fn same_on_all<T: PartialEq + core::fmt::Debug>(f: impl Fn(&dyn CryptoProvider) -> T) -> T {
    let mut answers = all().into_iter().map(|p| (p.name(), f(p)));
    let (first_name, first) = answers.next().unwrap();
    for (name, other) in answers {
        assert_eq!(other, first, "{name} and {first_name} disagree");
    }
    first
}

/// RFC 4231 section 4: test cases 1, 2, 3, 4, 6 and 7 (5 is a truncated tag).
#[test]
fn hmac_sha256_rfc4231() {
    let aa131 = [0xaa; 131];
    let cases: [(&[u8], &[u8], &str); 6] = [
        (
            &[0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            &[0xaa; 20],
            &[0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            &h("0102030405060708090a0b0c0d0e0f10111213141516171819"),
            &[0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            &aa131,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            &aa131,
            b"This is a test using a larger than block-size key and a larger than \
              block-size data. The key needs to be hashed before being used by the \
              HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (key, data, expected) in cases {
        let tag = same_on_all(|p| p.hmac_sha256(key, data).unwrap());
        assert_eq!(hex::encode(tag), expected);
        // A prepared key gives the same tag, whole or in parts, and stays usable.
        same_on_all(|p| {
            let k = p.hmac_sha256_key(key).unwrap();
            let (a, b) = data.split_at(data.len() / 3);
            assert_eq!(k.sign(&[data]), tag);
            assert_eq!(k.sign(&[a, &[], b]), tag);
            k.sign(&[a, b])
        });
        same_on_all(|p| {
            p.hmac_sha256_verify(key, data, &tag).unwrap();
            let mut bad = tag;
            bad[31] ^= 1;
            let e = p.hmac_sha256_verify(key, data, &bad).unwrap_err();
            let short = p.hmac_sha256_verify(key, data, &tag[..16]).unwrap_err();
            assert_eq!(e, rules::hmac_mismatch());
            (e, short)
        });
    }
}

/// RFC 5869 appendix A, test cases 1 to 3 (SHA-256).
#[test]
fn hkdf_sha256_rfc5869() {
    let seq = |from: u8, to: u8| (from..=to).collect::<Vec<u8>>();
    let cases = [
        (
            vec![0x0b; 22],
            seq(0x00, 0x0c),
            seq(0xf0, 0xf9),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        ),
        (
            seq(0x00, 0x4f),
            seq(0x60, 0xaf),
            seq(0xb0, 0xff),
            "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c\
             59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71\
             cc30c58179ec3e87c14c01d5c1f3434f1d87",
        ),
        (
            vec![0x0b; 22],
            vec![],
            vec![],
            "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
        ),
    ];
    for (ikm, salt, info, prk, okm) in cases {
        let got_prk = same_on_all(|p| *p.hkdf_sha256_extract(&salt, &ikm).unwrap());
        assert_eq!(hex::encode(got_prk), prk);
        let okm = h(okm);
        let got = same_on_all(|p| {
            let mut out = vec![0u8; okm.len()];
            p.hkdf_sha256_expand(&got_prk, &info, &mut out).unwrap();
            let mut both = vec![0u8; okm.len()];
            p.hkdf_sha256(&salt, &ikm, &info, &mut both).unwrap();
            assert_eq!(both, out);
            out
        });
        assert_eq!(got, okm);
    }
}

#[test]
fn hkdf_sha256_edges_agree() {
    // A PRK longer than the HMAC block is hashed first; both providers must agree.
    same_on_all(|p| {
        let mut out = [0u8; 40];
        p.hkdf_sha256_expand(&[7u8; 100], b"info", &mut out)
            .unwrap();
        out
    });
    let errors = same_on_all(|p| {
        let short = p.hkdf_sha256_expand(&[7u8; 31], b"", &mut [0u8; 32]);
        let long = p.hkdf_sha256_expand(&[7u8; 32], b"", &mut vec![0u8; 255 * 32 + 1]);
        let mut max = vec![0u8; 255 * 32];
        p.hkdf_sha256_expand(&[7u8; 32], b"", &mut max).unwrap();
        (short.unwrap_err(), long.unwrap_err())
    });
    assert_eq!(
        errors.0.to_string(),
        "HKDF-SHA-256: PRK must be at least 32 bytes, got 31"
    );
    assert!(matches!(
        errors.1,
        CryptoError::InputLength { got: 8161, .. }
    ));
}

/// RFC 3394 section 4: 4.1 (128-bit KEK), 4.3 and 4.6 (256-bit KEK).
#[test]
fn aes_key_wrap_rfc3394() {
    let kek128 = h("000102030405060708090A0B0C0D0E0F");
    let kek256 = h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
    let key128 = h("00112233445566778899AABBCCDDEEFF");
    let key256 = h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
    let cases = [
        (
            &kek128,
            &key128,
            "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5",
        ),
        (
            &kek256,
            &key128,
            "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7",
        ),
        (
            &kek256,
            &key256,
            "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21",
        ),
    ];
    for (kek, key, wrapped) in cases {
        let got = same_on_all(|p| p.aes_key_wrap(kek, key).unwrap());
        assert_eq!(hex::encode_upper(&got), wrapped);
        same_on_all(|p| {
            assert_eq!(&p.aes_key_unwrap(kek, &got).unwrap()[..], &key[..]);
            let mut bad = got.clone();
            bad[0] ^= 1;
            p.aes_key_unwrap(kek, &bad).unwrap_err()
        });
    }
    let errors = same_on_all(|p| {
        [
            p.aes_key_wrap(&kek128[..15], &key128).unwrap_err(),
            p.aes_key_wrap(&kek128, &key128[..8]).unwrap_err(),
            p.aes_key_wrap(&kek128, &key128[..12]).unwrap_err(),
            p.aes_key_unwrap(&kek128, &[0u8; 16]).unwrap_err(),
            p.aes_key_unwrap(&kek256, &[0u8; 24]).unwrap_err(),
        ]
    });
    assert!(matches!(
        errors[0],
        CryptoError::KeyLength {
            op: "AES key wrap",
            got: 15,
            ..
        }
    ));
    assert!(matches!(errors[1], CryptoError::InputLength { got: 8, .. }));
    assert!(matches!(
        errors[3],
        CryptoError::InputLength { got: 16, .. }
    ));
    assert_eq!(errors[4], rules::key_unwrap_failed());
    assert_eq!(
        errors[4].to_string(),
        "AES key unwrap: integrity check failed"
    );
}

/// The GCM specification's test cases 4 (AES-128) and 16 (AES-256), as in NIST's GCM
/// validation vectors: 60-byte plaintext, 20-byte AAD, 96-bit IV.
#[test]
fn aes_gcm_known_answers() {
    let plaintext = h(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                       1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let nonce: [u8; 12] = h("cafebabefacedbaddecaf888").try_into().unwrap();
    let cases = [
        (
            "feffe9928665731c6d6a8f9467308308",
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            "5bc94fbc3221a5db94fae95ae7121a47",
        ),
        (
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
    ];
    for (key, ciphertext, tag) in cases {
        let key = h(key);
        let sealed = same_on_all(|p| p.aes_gcm_seal(&key, &nonce, &aad, &plaintext).unwrap());
        assert_eq!(hex::encode(&sealed), format!("{ciphertext}{tag}"));
        same_on_all(|p| {
            assert_eq!(
                p.aes_gcm_open(&key, &nonce, &aad, &sealed).unwrap(),
                plaintext
            );
            let mut bad = sealed.clone();
            bad[0] ^= 1;
            let tampered = p.aes_gcm_open(&key, &nonce, &aad, &bad).unwrap_err();
            let wrong_aad = p.aes_gcm_open(&key, &nonce, b"", &sealed).unwrap_err();
            let short = p
                .aes_gcm_open(&key, &nonce, &aad, &sealed[..15])
                .unwrap_err();
            let bad_key = p.aes_gcm_seal(&[0u8; 24], &nonce, &aad, b"").unwrap_err();
            assert_eq!(tampered, rules::aead_open_failed(rules::AES_GCM));
            assert!(matches!(short, CryptoError::InputLength { got: 15, .. }));
            assert!(matches!(bad_key, CryptoError::KeyLength { got: 24, .. }));
            [tampered, wrong_aad, short, bad_key]
        });
    }
    // Empty plaintext: the output is the tag alone, and it opens to nothing.
    let key = [1u8; 16];
    let sealed = same_on_all(|p| p.aes_gcm_seal(&key, &nonce, b"aad", b"").unwrap());
    assert_eq!(sealed.len(), 16);
    same_on_all(|p| p.aes_gcm_open(&key, &nonce, b"aad", &sealed).unwrap());
}

/// RFC 5903 section 8.1 (ECDH on P-256): both sides derive the published shared x.
#[test]
fn ecdh_p256_rfc5903() {
    let i = PrivateKey::from_p256_scalar(&h(
        "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
    ))
    .unwrap();
    let r = PrivateKey::from_p256_scalar(&h(
        "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
    ))
    .unwrap();
    assert_eq!(
        hex::encode_upper(&i.public_key().raw()[1..33]),
        "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
    );
    assert_eq!(
        hex::encode_upper(&r.public_key().raw()[1..33]),
        "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
    );
    let shared = same_on_all(|p| {
        let a = p.ecdh_p256(&i, &r.public_key()).unwrap();
        let b = p.ecdh_p256(&r, &i.public_key()).unwrap();
        assert_eq!(a, b);
        *a
    });
    assert_eq!(
        hex::encode_upper(shared),
        "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"
    );
    assert_eq!(*i.ecdh(&r.public_key()).unwrap(), shared);
    let ed = PrivateKey::from_ed25519_seed(&[9u8; 32]).unwrap();
    let errors = same_on_all(|p| {
        [
            p.ecdh_p256(&ed, &r.public_key()).unwrap_err(),
            p.ecdh_p256(&i, &ed.public_key()).unwrap_err(),
        ]
    });
    assert_eq!(
        errors[0].to_string(),
        "ECDH: needs P-256 keys, got a Ed25519 key"
    );
    assert_eq!(
        CoseError::from(errors[1].clone()).to_string(),
        "crypto provider: ECDH: needs P-256 keys, got a Ed25519 key"
    );
}

/// NIST SP 800-38A F.5.1 (CTR-AES128) and F.5.5 (CTR-AES256): four blocks from the counter
/// f0f1..feff, whose low byte carries into the next on the second block.
#[test]
fn aes_ctr_sp800_38a() {
    let iv: [u8; 16] = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().unwrap();
    let plaintext = h(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                       30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
    );
    let cases = [
        (
            "2b7e151628aed2a6abf7158809cf4f3c",
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
             5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
        ),
        (
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5\
             2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
        ),
    ];
    for (key, ciphertext) in cases {
        let key = h(key);
        let got = same_on_all(|p| {
            let mut buf = plaintext.clone();
            p.aes_ctr(&key, &iv, &mut buf).unwrap();
            // The same call decrypts.
            let mut back = buf.clone();
            p.aes_ctr(&key, &iv, &mut back).unwrap();
            assert_eq!(back, plaintext, "{}", p.name());
            buf
        });
        assert_eq!(hex::encode(got), ciphertext);
        // A partial last block (CTR needs no padding).
        same_on_all(|p| {
            let mut buf = plaintext[..37].to_vec();
            p.aes_ctr(&key, &iv, &mut buf).unwrap();
            assert_eq!(hex::encode(&buf), ciphertext[..74]);
        });
    }
}

/// RFC 3686 section 6, test vector #1: the counter block is nonce || IV || 32-bit counter 1.
#[test]
fn aes_ctr_rfc3686() {
    let key = h("AE6852F8121067CC4BF7A5765577F39E");
    let block: [u8; 16] = h("00000030000000000000000000000001").try_into().unwrap();
    let got = same_on_all(|p| {
        let mut buf = b"Single block msg".to_vec();
        p.aes_ctr(&key, &block, &mut buf).unwrap();
        buf
    });
    assert_eq!(hex::encode_upper(got), "E4095D4FB7A7B3792D6175A3261311B8");
}

/// The counter is one 128-bit integer: after ff..ff comes 00..00 (not a 32- or 64-bit wrap),
/// so the second keystream block from ff..ff is the first from zero.
#[test]
fn aes_ctr_counter_wraps_at_128_bits() {
    let key = [7u8; 32];
    same_on_all(|p| {
        let mut from_max = [0u8; 32];
        p.aes_ctr(&key, &[0xff; 16], &mut from_max).unwrap();
        let mut from_zero = [0u8; 16];
        p.aes_ctr(&key, &[0; 16], &mut from_zero).unwrap();
        assert_eq!(from_max[16..], from_zero, "{}", p.name());
        from_max
    });
    let errors = same_on_all(|p| {
        let mut buf = [0u8; 4];
        let e = p.aes_ctr(&[0u8; 24], &[0; 16], &mut buf).unwrap_err();
        assert_eq!(buf, [0u8; 4], "a refused call leaves the data alone");
        e
    });
    assert_eq!(
        errors,
        CryptoError::KeyLength {
            op: "AES-CTR",
            expected: "16 or 32",
            got: 24
        }
    );
}

/// What one provider seals or wraps, the other opens: the providers are interchangeable for
/// stored data and for a peer that uses the other library.
#[test]
fn sealed_and_wrapped_data_opens_with_the_other_provider() {
    let key = [0x5a; 32];
    let nonce = [3u8; 12];
    for a in all() {
        for b in all() {
            let sealed = a.aes_gcm_seal(&key, &nonce, b"aad", b"payload").unwrap();
            assert_eq!(
                b.aes_gcm_open(&key, &nonce, b"aad", &sealed).unwrap(),
                b"payload"
            );
            let wrapped = a.aes_key_wrap(&key[..16], &[9u8; 32]).unwrap();
            assert_eq!(
                &b.aes_key_unwrap(&key[..16], &wrapped).unwrap()[..],
                &[9u8; 32]
            );
            let mut data = *b"counter mode, any length";
            a.aes_ctr(&key[..16], &[1; 16], &mut data).unwrap();
            b.aes_ctr(&key[..16], &[1; 16], &mut data).unwrap();
            assert_eq!(&data, b"counter mode, any length");
            let x = a.generate_key(KeyType::P256).unwrap();
            let y = b.generate_key(KeyType::P256).unwrap();
            assert_eq!(
                a.ecdh_p256(&x, &y.public_key()).unwrap(),
                b.ecdh_p256(&y, &x.public_key()).unwrap(),
                "{} and {}",
                a.name(),
                b.name()
            );
        }
    }
}

#[test]
fn generated_keys_sign_and_verify_across_providers() {
    for p in all() {
        for kt in [KeyType::P256, KeyType::Ed25519] {
            let a = p.generate_key(kt).unwrap();
            let b = p.generate_key(kt).unwrap();
            assert_eq!(a.key_type(), kt);
            assert_ne!(a.public_key(), b.public_key(), "{}", p.name());
            let alg = kt.default_algorithm();
            let sig = p.sign(&a, alg, b"generated").unwrap();
            for v in all() {
                v.verify(&a.public_key(), alg, b"generated", &sig).unwrap();
            }
            // The generated P-256 keys agree on ECDH whoever computes it.
            if kt == KeyType::P256 {
                same_on_all(|q| *q.ecdh_p256(&a, &b.public_key()).unwrap());
            }
        }
    }
}

#[test]
fn generation_draws_from_the_providers_random_source() {
    // A failing source is reported, not retried or replaced.
    fn failing(_: &mut [u8]) -> Result<(), CryptoError> {
        Err(CryptoError::Random("no randomness here".into()))
    }
    static FAILING: RustCryptoProvider = RustCryptoProvider::with_random(failing);
    let err = PrivateKey::generate_with(KeyType::P256, &FAILING).unwrap_err();
    assert_eq!(err, CryptoError::Random("no randomness here".into()));

    // A counting (not random) source: the Ed25519 seed is exactly what it supplied.
    fn counting(buf: &mut [u8]) -> Result<(), CryptoError> {
        buf.iter_mut().zip(1u8..).for_each(|(b, i)| *b = i);
        Ok(())
    }
    static COUNTING: RustCryptoProvider = RustCryptoProvider::with_random(counting);
    let a = PrivateKey::generate_with(KeyType::Ed25519, &COUNTING).unwrap();
    assert_eq!(&a.secret_bytes()[..], &(1..=32).collect::<Vec<u8>>()[..]);
}
