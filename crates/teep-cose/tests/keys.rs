//! Key formats and thumbprints.

use teep_cose::{KeyType, PrivateKey, PublicKey};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec/keys");

#[test]
fn suit_examples_key_thumbprint_matches_the_published_value() {
    let expected = "ca9e35f23b2b525fb4fc83f512b0dcac4ac29e457e873a5d6a7313f71690b33c";
    let private =
        PrivateKey::load(format!("{KEYS}/suit-examples-p256-private.pem").as_ref()).unwrap();
    let public = PublicKey::load(format!("{KEYS}/suit-examples-p256-public.pem").as_ref()).unwrap();
    assert_eq!(hex::encode(public.thumbprint()), expected);
    assert_eq!(private.public_key(), public);
    // The same key as COSE_Key from the .diag file (x, y, d transcribed).
    let diag = std::fs::read_to_string(format!("{KEYS}/suit-examples-p256.cose_key.diag")).unwrap();
    let field = |label: &str| {
        let i = diag.find(&format!("{label}: h'")).unwrap() + label.len() + 4;
        hex::decode(&diag[i..i + 64]).unwrap()
    };
    let (x, y, d) = (field("-2"), field("-3"), field("-4"));
    assert_eq!(&public.raw()[1..33], &x[..]);
    assert_eq!(&public.raw()[33..], &y[..]);
    assert_eq!(&private.secret_bytes()[..], &d[..]);
    let from_cose = PrivateKey::from_bytes_any(&private.to_cose_key()).unwrap();
    assert_eq!(hex::encode(from_cose.public_key().thumbprint()), expected);
}

#[test]
fn thumbprint_input_is_the_rfc9679_map() {
    for kt in [KeyType::P256, KeyType::Ed25519] {
        let k = PrivateKey::generate(kt).public_key();
        let raw = k.raw();
        let expected: Vec<u8> = match kt {
            KeyType::P256 => [
                &[0xa4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20][..],
                &raw[1..33],
                &[0x22, 0x58, 0x20],
                &raw[33..],
            ]
            .concat(),
            KeyType::Ed25519 => {
                [&[0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20][..], raw].concat()
            }
        };
        assert_eq!(k.to_cose_key(), expected);
        assert_eq!(k.thumbprint(), teep_cose::sha256(&expected));
    }
}

#[test]
fn every_format_round_trips_for_both_key_types() {
    for kt in [KeyType::P256, KeyType::Ed25519] {
        let k = PrivateKey::generate(kt);
        let p = k.public_key();
        let private_forms: Vec<Vec<u8>> = vec![
            k.to_pkcs8_pem().into_bytes(),
            k.to_jwk().to_string().into_bytes(),
            k.to_cose_key(),
        ];
        for f in &private_forms {
            let back = PrivateKey::from_bytes_any(f).unwrap();
            assert_eq!(back.public_key(), p);
            assert_eq!(*back.secret_bytes(), *k.secret_bytes());
            assert_eq!(PublicKey::from_bytes_any(f).unwrap(), p);
        }
        let public_forms: Vec<Vec<u8>> = vec![
            p.to_spki_pem().into_bytes(),
            p.to_jwk().to_string().into_bytes(),
            p.to_cose_key(),
        ];
        for f in &public_forms {
            assert_eq!(PublicKey::from_bytes_any(f).unwrap(), p);
            assert!(matches!(
                PrivateKey::from_bytes_any(f),
                Err(teep_cose::KeyError::NotPrivate(_))
            ));
        }
        if kt == KeyType::P256 {
            let sec1 = k.to_sec1_pem().unwrap();
            assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
            assert_eq!(
                PrivateKey::from_bytes_any(sec1.as_bytes())
                    .unwrap()
                    .public_key(),
                p
            );
        } else {
            assert!(k.to_sec1_pem().is_none());
        }
        // JWK carries the thumbprint as kid.
        let jwk = p.to_jwk();
        assert!(jwk["kid"].as_str().unwrap().len() == 43);
        assert!(jwk.get("d").is_none());
        assert!(k.to_jwk().get("d").is_some());
    }
}

#[test]
fn load_and_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let k = PrivateKey::generate(KeyType::Ed25519);
    let path = dir.path().join("k.pem");
    std::fs::write(&path, k.to_pkcs8_pem()).unwrap();
    assert_eq!(
        PrivateKey::load(&path).unwrap().public_key(),
        k.public_key()
    );
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b' '; 100_000]).unwrap();
    let e = PublicKey::load(&big).unwrap_err().to_string();
    assert!(e.contains("too large"), "{e}");
    let e = PublicKey::load(&dir.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");
}

#[test]
fn bad_key_data_gives_named_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"hello", "unrecognised"),
        (b"{\"kty\":\"RSA\",\"crv\":\"x\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", "kty"),
        (b"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\"}", "JWK.x"),
        (b"{\"kty\":\"OKP\"}", "JWK.crv"),
        (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "PUBLIC KEY"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "CERTIFICATE"),
        (&[0xa1, 0x01, 0x02], "COSE_Key.crv"),
        (&[0xa2, 0x01, 0x02, 0x01, 0x02], "duplicate"),
        (&[0xa1, 0x01], "COSE_Key"),
        (&[0xa3, 0x01, 0x03, 0x20, 0x01, 0x21, 0x40], "COSE_Key.x"),
        (&[0xa2, 0x01, 0x03, 0x20, 0x01], "COSE_Key.x: missing"),
        (&[0x30, 0x03, 0x02, 0x01, 0x00], "DER"),
    ];
    for (data, needle) in cases {
        let e = PublicKey::from_bytes_any(data).unwrap_err().to_string();
        assert!(
            e.contains(needle),
            "{:?}: `{e}` lacks `{needle}`",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn compressed_cose_key_point_is_accepted() {
    let k = PrivateKey::generate(KeyType::P256).public_key();
    let raw = k.raw();
    let mut m = vec![0xa4, 0x01, 0x02, 0x20, 0x01, 0x21, 0x58, 0x20];
    m.extend_from_slice(&raw[1..33]);
    m.push(0x22);
    m.push(if raw[64] & 1 == 1 { 0xf5 } else { 0xf4 });
    assert_eq!(PublicKey::from_cose_key(&m).unwrap(), k);
}
