//! COSE_Sign1 / COSE_Sign round trips, header rules and malformed input.

use proptest::prelude::*;
use teep_cose::deviation::{Deviations, Tolerance};
use teep_cose::provider::{self, CryptoProvider};
use teep_cose::{
    open, open_with, open_with_limits, sign, sign1, sign1_detached, sign1_untagged, sign_untagged,
    Algorithm, CoseError, CoseKind, KeyType, Limits, PrivateKey, Signer, SoftwareSigner,
};

const ALGS: [Algorithm; 4] = [
    Algorithm::Esp256,
    Algorithm::Es256,
    Algorithm::Ed25519,
    Algorithm::EdDsa,
];

fn signer(alg: Algorithm, p: &'static dyn CryptoProvider) -> SoftwareSigner {
    let kt = alg.key_type().unwrap();
    SoftwareSigner::with_provider(PrivateKey::generate(kt), alg, p).unwrap()
}

#[test]
fn sign1_round_trip_all_algorithms_both_providers_cross_verified() {
    let msg = [0x5au8; 256];
    for alg in ALGS {
        for sp in provider::all() {
            let s = signer(alg, sp);
            for (tagged, bytes) in [
                (true, sign1(&msg, &s).unwrap()),
                (false, sign1_untagged(&msg, &s).unwrap()),
            ] {
                let o = open(&bytes).unwrap();
                assert_eq!((o.kind, o.tagged), (CoseKind::Sign1, tagged));
                assert_eq!(o.payload.as_deref(), Some(&msg[..]));
                for vp in provider::all() {
                    let info = o.verify_with(&s.public_key(), vp).unwrap();
                    assert_eq!(info.alg, alg);
                    assert_eq!(info.kid.as_deref(), Some(&s.kid()[..]));
                    assert!(info.kid_protected);
                }
                // Another key of the same type fails.
                let other = PrivateKey::generate(alg.key_type().unwrap()).public_key();
                assert!(o.verify(&other).is_err());
            }
        }
    }
}

#[test]
fn sign_carries_one_signature_per_signer() {
    let msg = b"QueryRequest";
    for sp in provider::all() {
        let a = signer(Algorithm::Esp256, sp);
        let b = signer(Algorithm::Ed25519, sp);
        for (tagged, bytes) in [
            (true, sign(msg, &[&a, &b]).unwrap()),
            (false, sign_untagged(msg, &[&a, &b]).unwrap()),
        ] {
            let o = open(&bytes).unwrap();
            assert_eq!((o.kind, o.tagged), (CoseKind::Sign, tagged));
            assert_eq!(o.signatures.len(), 2);
            for vp in provider::all() {
                assert_eq!(
                    o.verify_with(&a.public_key(), vp).unwrap().alg,
                    Algorithm::Esp256
                );
                assert_eq!(
                    o.verify_with(&b.public_key(), vp).unwrap().alg,
                    Algorithm::Ed25519
                );
            }
            let keys = [
                PrivateKey::generate(KeyType::P256).public_key(),
                b.public_key(),
            ];
            let (k, info) = o.verify_any(&keys).unwrap();
            assert_eq!(k, &b.public_key());
            assert_eq!(info.alg, Algorithm::Ed25519);
        }
    }
    assert!(sign(msg, &[]).is_err());
}

#[test]
fn detached_payload_verifies_only_with_the_payload() {
    let s = signer(Algorithm::Esp256, &provider::AWS_LC_RS);
    let digest = [0x58, 0x20]
        .iter()
        .chain([7u8; 32].iter())
        .copied()
        .collect::<Vec<_>>();
    let bytes = sign1_detached(&digest, &s).unwrap();
    let o = open(&bytes).unwrap();
    assert!(o.payload.is_none());
    o.verify_detached(&digest, &s.public_key()).unwrap();
    assert!(o.verify_detached(b"other", &s.public_key()).is_err());
    assert!(matches!(
        o.verify(&s.public_key()),
        Err(CoseError::Payload(_))
    ));
    let attached = open(&sign1(&digest, &s).unwrap()).unwrap();
    assert!(matches!(
        attached.verify_detached(&digest, &s.public_key()),
        Err(CoseError::Payload(_))
    ));
}

#[test]
fn kid_selects_the_signature_and_unmatched_kid_still_tries_each() {
    // Two P-256 signers: the kid picks the right one.
    let a = signer(Algorithm::Esp256, &provider::AWS_LC_RS);
    let b = signer(Algorithm::Esp256, &provider::AWS_LC_RS);
    let bytes = sign(b"x", &[&a, &b]).unwrap();
    let o = open(&bytes).unwrap();
    let info = o.verify(&b.public_key()).unwrap();
    assert_eq!(info.kid.as_deref(), Some(&b.kid()[..]));
}

/// A signer with a kid that is not a thumbprint (as some peers use).
struct OddKid(SoftwareSigner);
impl Signer for OddKid {
    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
    fn kid(&self) -> Vec<u8> {
        b"device-17".to_vec()
    }
    fn public_key(&self) -> teep_cose::PublicKey {
        self.0.public_key()
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, CoseError> {
        self.0.sign(tbs)
    }
}

#[test]
fn foreign_kid_is_tolerated() {
    let s = OddKid(signer(Algorithm::Ed25519, &provider::RUST_CRYPTO));
    let o = open(&sign1(b"p", &s).unwrap()).unwrap();
    assert_eq!(o.signatures[0].kid.as_deref(), Some(&b"device-17"[..]));
    o.verify(&s.public_key()).unwrap();
}

/// A signer that returns a wrong-length signature is refused at signing time.
struct Broken;
impl Signer for Broken {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Esp256
    }
    fn public_key(&self) -> teep_cose::PublicKey {
        PrivateKey::generate(KeyType::P256).public_key()
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, CoseError> {
        Ok(vec![0; 70])
    }
}

#[test]
fn wrong_length_signature_from_signer_is_an_error() {
    assert!(matches!(sign1(b"p", &Broken), Err(CoseError::Crypto(_))));
}

#[test]
fn algorithm_and_key_must_match() {
    let k = PrivateKey::generate(KeyType::Ed25519);
    assert!(matches!(
        SoftwareSigner::with_algorithm(k.clone(), Algorithm::Esp256),
        Err(CoseError::KeyMismatch { .. })
    ));
    assert!(matches!(
        SoftwareSigner::with_algorithm(k, Algorithm::Unknown(-35)),
        Err(CoseError::UnsupportedAlgorithm(-35))
    ));
}

fn err_of(bytes: &[u8]) -> String {
    match open(bytes) {
        Ok(_) => panic!("accepted {}", hex::encode(bytes)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_input_is_an_error_naming_the_field() {
    let s = signer(Algorithm::Esp256, &provider::AWS_LC_RS);
    let good = sign1(b"payload", &s).unwrap();
    // Truncation at every length.
    for n in 0..good.len() {
        assert!(open(&good[..n]).is_err(), "truncated to {n}");
    }
    // Trailing bytes.
    let mut t = good.clone();
    t.push(0);
    assert!(err_of(&t).contains("trailing"));
    let cases: &[(&str, &str)] = &[
        // tag 17 (not a COSE signature tag)
        ("d18443a10126a0f640", "unexpected tag 17"),
        // protected header not a bstr
        ("d284a10126a0f640", "COSE_Sign1.protected: expected bstr"),
        // protected header bstr holding an array
        ("d2844181a0f640", "COSE_Sign1.protected"),
        // unprotected not a map
        (
            "d28443a1012680f640",
            "COSE_Sign1.unprotected: expected header map",
        ),
        // payload an int
        (
            "d28443a10126a00140",
            "COSE_Sign1.payload: expected bstr or nil",
        ),
        // signature an int
        ("d28443a10126a0f601", "COSE_Sign1.signature: expected bstr"),
        // array of 3
        ("d28343a10126a0f6", "expected array of 4"),
        // no alg anywhere
        ("d28440a0f640", "no alg"),
        // alg in both headers
        ("d28443a10126a10126f640", "both protected and unprotected"),
        // huge bstr length
        ("d2845bffffffffffffffff", "exceeds"),
        // huge array length
        ("9bffffffffffffffff", "cannot fit"),
        // indefinite-length payload
        ("d28443a10126a05f4100ff40", "indefinite"),
        // COSE_Sign with an empty signature list
        (
            "d8628440a0f680",
            "COSE_Sign.signatures: must hold at least one",
        ),
        // COSE_Sign signature not an array
        ("d8628440a0f68101", "COSE_Sign.signatures[0]"),
        // crit naming an unknown label
        ("d28446a20281050126a0f640", "crit"),
        // untagged with an int as 4th element
        ("8443a10126a0f601", "neither a signature"),
        // not an array at all
        ("a0", "expected a COSE_Sign1 or COSE_Sign"),
    ];
    for (h, needle) in cases {
        let e = err_of(&hex::decode(h).unwrap());
        assert!(e.contains(needle), "{h}: `{e}` lacks `{needle}`");
    }
}

/// Header faults name the parameter and its label, not only the map (RFC 9052 §3.1 types).
#[test]
fn header_errors_name_the_parameter_and_label() {
    let cases: &[(&str, &str)] = &[
        // unprotected kid a tstr
        (
            "d28443a10126a1046178f640",
            "COSE_Sign1.unprotected.kid (label 4): expected bstr, got tstr",
        ),
        // protected kid an int
        (
            "d28446a2012604182aa0f640",
            "COSE_Sign1.protected.kid (label 4): expected bstr, got int",
        ),
        // alg a bstr
        (
            "d28444a1014126a0f640",
            "COSE_Sign1.protected.alg (label 1): expected int or tstr algorithm, got bstr",
        ),
        // empty IV
        (
            "d28443a10126a10540f640",
            "COSE_Sign1.unprotected.IV (label 5): expected non-empty bstr, got empty bstr",
        ),
        // kid twice in one map
        (
            "d28443a10126a2044101044102f640",
            "COSE_Sign1.unprotected.kid (label 4): duplicate header parameter",
        ),
        // a content type that is no media type
        (
            "d28443a10126a10363616263f640",
            "COSE_Sign1.unprotected.content type (label 3): expected a media type",
        ),
        // crit in the unprotected bucket
        (
            "d28443a10126a1028101f640",
            "COSE_Sign1.unprotected.crit (label 2): crit must be in the protected header",
        ),
        // a COSE_Signature's unprotected kid a tstr
        (
            "d8628440a0f6818343a10126a104617840",
            "COSE_Sign.signatures[0].unprotected.kid (label 4): expected bstr, got tstr",
        ),
    ];
    for (h, needle) in cases {
        let e = err_of(&hex::decode(h).unwrap());
        assert!(
            e.starts_with(needle),
            "{h}: `{e}` does not start with `{needle}`"
        );
    }
}

/// An empty kid (tamproto) identifies no key: read as none and named `cose.kid-empty`, in
/// either bucket and in a COSE_Signature; strict refuses it. Verification is unaffected.
#[test]
fn empty_kid_is_a_deviation() {
    let s = signer(Algorithm::Es256, &provider::AWS_LC_RS);
    let good = sign1(b"payload", &s).unwrap();
    let o = open(&good).unwrap();
    // Re-assemble with an empty unprotected kid and the same protected bytes and signature.
    let mut empty = hex::decode("d284").unwrap();
    teep_cbor::write_bytes(&mut empty, o.protected_bytes());
    empty.extend_from_slice(&[0xa1, 0x04, 0x40]);
    teep_cbor::write_bytes(&mut empty, b"payload");
    teep_cbor::write_bytes(&mut empty, o.signature_bytes(0).unwrap());
    let mut dev = Deviations::new(Tolerance::Tolerant);
    let opened = open_with(&empty, &Limits::default(), &mut dev).unwrap();
    assert_eq!(dev.codes(), ["cose.kid-empty"]);
    assert_eq!(dev.as_slice()[0].at, "COSE_Sign1.unprotected.kid");
    // The protected kid stays what the signer put there.
    assert_eq!(opened.signatures[0].kid, Some(s.kid()));
    opened.verify(&s.public_key()).unwrap();
    let mut strict = Deviations::new(Tolerance::Strict);
    let e = open_with(&empty, &Limits::default(), &mut strict).unwrap_err();
    assert!(matches!(e, CoseError::Refused(_)));
    assert!(
        e.to_string()
            .starts_with("COSE_Sign1.unprotected.kid: strict mode refuses cose.kid-empty"),
        "{e}"
    );

    for (h, at) in [
        // protected {1: -7, 4: h''}
        ("d28445a2012604 40a0f640", "COSE_Sign1.protected.kid"),
        // COSE_Signature unprotected {4: h''}
        (
            "d8628440a0f6818343a10126a1044040",
            "COSE_Sign.signatures[0].unprotected.kid",
        ),
    ] {
        let bytes = hex::decode(h.replace(' ', "")).unwrap();
        let mut dev = Deviations::new(Tolerance::Tolerant);
        let o = open_with(&bytes, &Limits::default(), &mut dev).unwrap();
        assert_eq!(o.signatures[0].kid, None, "{h}");
        assert_eq!(dev.as_slice()[0].at, at);
        // The old entry point is tolerant.
        open(&bytes).unwrap();
    }
}

/// Every header parameter with the bucket it came from, in one line each.
#[test]
fn header_parameters_name_their_bucket() {
    let s = signer(Algorithm::Esp256, &provider::AWS_LC_RS);
    let o = open(&sign1(b"p", &s).unwrap()).unwrap();
    let lines: Vec<String> = o
        .header_parameters()
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "COSE_Sign1 protected alg (1): -9".to_string(),
            format!("COSE_Sign1 protected kid (4): h'{}'", hex::encode(s.kid())),
        ]
    );
    // kid unprotected, and an unknown text label
    let o = open(&hex::decode("d28443a10126a204426869617863626f6f4040").unwrap()).unwrap();
    let lines: Vec<String> = o
        .header_parameters()
        .iter()
        .map(|h| h.to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "COSE_Sign1 protected alg (1): -7",
            "COSE_Sign1 unprotected kid (4): h'6869'",
            "COSE_Sign1 unprotected \"x\": \"boo\"",
        ]
    );
}

#[test]
fn limits_apply() {
    let s = signer(Algorithm::Ed25519, &provider::AWS_LC_RS);
    let bytes = sign1(&[0u8; 2000], &s).unwrap();
    let small = Limits {
        max_len: 1000,
        ..Limits::default()
    };
    assert!(matches!(
        open_with_limits(&bytes, &small),
        Err(CoseError::TooLarge { .. })
    ));
    let many: Vec<SoftwareSigner> = (0..3)
        .map(|_| signer(Algorithm::Ed25519, &provider::AWS_LC_RS))
        .collect();
    let refs: Vec<&dyn Signer> = many.iter().map(|s| s as &dyn Signer).collect();
    let multi = sign(b"x", &refs).unwrap();
    let two = Limits {
        max_signatures: 2,
        ..Limits::default()
    };
    assert!(open_with_limits(&multi, &two)
        .unwrap_err()
        .to_string()
        .contains("exceed the limit"));
}

#[test]
fn verification_uses_received_protected_bytes() {
    // A protected header in non-preferred encoding (alg as 0x3826 = -39? no: 0x38 0x06 = -7
    // in two-byte form) must still verify, since we never re-encode it.
    let k = PrivateKey::generate(KeyType::P256);
    let prot = hex::decode("a1013806").unwrap(); // {1: -7} with a non-minimal head
    let payload = b"hello";
    let mut tbs = vec![0x84, 0x6a];
    tbs.extend_from_slice(b"Signature1");
    tbs.push(0x44);
    tbs.extend_from_slice(&prot);
    tbs.push(0x40);
    tbs.push(0x45);
    tbs.extend_from_slice(payload);
    let sig = provider::AWS_LC_RS
        .sign(&k, Algorithm::Es256, &tbs)
        .unwrap();
    let mut msg = vec![0xd2, 0x84, 0x44];
    msg.extend_from_slice(&prot);
    msg.push(0xa0);
    msg.push(0x45);
    msg.extend_from_slice(payload);
    msg.extend_from_slice(&[0x58, 0x40]);
    msg.extend_from_slice(&sig);
    let o = open(&msg).unwrap();
    assert_eq!(o.signatures[0].alg, Algorithm::Es256);
    o.verify(&k.public_key()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_sign1_and_sign_round_trip(
        payload in proptest::collection::vec(any::<u8>(), 0..600),
        tagged in any::<bool>(),
        multi in any::<bool>(),
        ed in any::<bool>(),
    ) {
        let alg = if ed { Algorithm::Ed25519 } else { Algorithm::Esp256 };
        let s = signer(alg, &provider::AWS_LC_RS);
        let t = signer(Algorithm::Ed25519, &provider::RUST_CRYPTO);
        let bytes = match (multi, tagged) {
            (false, true) => sign1(&payload, &s).unwrap(),
            (false, false) => sign1_untagged(&payload, &s).unwrap(),
            (true, true) => sign(&payload, &[&s, &t]).unwrap(),
            (true, false) => sign_untagged(&payload, &[&s, &t]).unwrap(),
        };
        let o = open(&bytes).unwrap();
        prop_assert_eq!(o.tagged, tagged);
        prop_assert_eq!(o.kind, if multi { CoseKind::Sign } else { CoseKind::Sign1 });
        prop_assert_eq!(o.payload.as_deref(), Some(&payload[..]));
        prop_assert!(o.verify(&s.public_key()).is_ok());
        prop_assert_eq!(o.verify(&t.public_key()).is_ok(), multi);
    }

    #[test]
    fn prop_random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = open(&data);
    }

    #[test]
    fn prop_mutated_messages_never_panic_or_verify(
        idx in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let s = signer(Algorithm::Esp256, &provider::AWS_LC_RS);
        let mut bytes = sign1(b"0123456789abcdef", &s).unwrap();
        let i = idx.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(o) = open(&bytes) {
            prop_assert!(o.verify(&s.public_key()).is_err());
        }
    }
}
