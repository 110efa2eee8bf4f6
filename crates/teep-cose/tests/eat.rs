//! EAT claims sets: typed claims, deterministic encoding, strict decoding, signing, JSON.

use ciborium::value::Value;
use teep_cose::eat::{
    claim, AttestationResult, Confirmation, EatClaims, EatError, EatProfile, HwVersion,
    ManifestEntry, OemId, VersionString, TEEP_EAT_PROFILE,
};
use teep_cose::{KeyType, PrivateKey, SoftwareSigner};

fn int(n: i64) -> Value {
    Value::Integer(n.into())
}

fn full_claims() -> EatClaims {
    let device = PrivateKey::generate(KeyType::P256);
    EatClaims {
        iss: Some("device".into()),
        iat: Some(1_790_000_000),
        cnf: Some(Confirmation::Key(device.public_key())),
        eat_nonce: Some(vec![0xa0; 16]),
        ueid: Some(vec![0x01; 17]),
        oemid: Some(OemId::Bytes(vec![0x89, 0x48, 0x23])),
        hwmodel: Some(vec![0x54; 16]),
        hwversion: Some(HwVersion {
            version: VersionString::Text("1.3.4".into()),
            scheme: Some(1),
        }),
        eat_profile: Some(EatProfile::Uri(TEEP_EAT_PROFILE.into())),
        manifests: Some(vec![ManifestEntry {
            content_type: int(60),
            format: Value::Array(vec![
                Value::Text("https://example.com/manifest.cbor".into()),
                Value::Array(vec![int(-16), Value::Bytes(vec![7; 32])]),
            ]),
        }]),
        other: vec![(int(-70000), Value::Bytes(vec![1, 2, 3]))],
    }
}

#[test]
fn full_claims_round_trip_and_encoding_is_deterministic() {
    let c = full_claims();
    let bytes = c.encode();
    let back = EatClaims::decode(&bytes).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.encode(), bytes);
    // Keys in bytewise order of their encodings: 1, 6, 8, 10, 256, 258, 259, 260, 265, 272,
    // then -70000 (major type 1 sorts after major type 0).
    let v: Value = ciborium::from_reader(&bytes[..]).unwrap();
    let Value::Map(m) = v else { panic!() };
    let keys: Vec<i128> = m
        .iter()
        .map(|(k, _)| i128::from(k.as_integer().unwrap()))
        .collect();
    assert_eq!(
        keys,
        vec![1, 6, 8, 10, 256, 258, 259, 260, 265, 272, -70000]
    );
    // The same claims given in another order encode identically.
    let mut shuffled = c.clone();
    shuffled
        .other
        .insert(0, (Value::Text("z".into()), Value::Null));
    let mut again = c.clone();
    again.other.push((Value::Text("z".into()), Value::Null));
    assert_eq!(shuffled.encode(), again.encode());
}

#[test]
fn sign_and_verify_as_evidence_and_attestation_result() {
    let attester = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
    let verifier_key = PrivateKey::generate(KeyType::P256);
    let verifier = SoftwareSigner::new(verifier_key.clone());
    let c = full_claims();
    let evidence = c.sign(&attester).unwrap();
    use teep_cose::Signer as _;
    assert_eq!(
        EatClaims::verify(&evidence, &attester.public_key()).unwrap(),
        c
    );
    assert!(EatClaims::verify(&evidence, &verifier_key.public_key()).is_err());
    let (opened, unverified) = EatClaims::open_unverified(&evidence).unwrap();
    assert_eq!(unverified, c);
    assert_eq!(
        opened.signatures[0].kid.as_deref(),
        Some(&attester.kid()[..])
    );

    let ar = AttestationResult { claims: c.clone() };
    let signed = ar.sign(&verifier).unwrap();
    let got =
        AttestationResult::verify_fresh(&signed, &verifier_key.public_key(), &[0xa0; 16]).unwrap();
    assert_eq!(got, ar);
    assert!(matches!(
        AttestationResult::verify_fresh(&signed, &verifier_key.public_key(), &[0xa1; 16]),
        Err(EatError::Nonce(_))
    ));
}

#[test]
fn json_view_names_claims() {
    let c = full_claims();
    let j = c.to_json();
    assert_eq!(j["iss"], "device");
    assert_eq!(j["eat_nonce"], "a0".repeat(16));
    // Bytes a person may read are shown as text when printable, else as h'…'.
    assert_eq!(j["oemid"], "h'894823'");
    assert_eq!(j["hwversion"][0], "1.3.4");
    assert_eq!(j["hwversion"][1], 1);
    assert_eq!(j["eat_profile"], TEEP_EAT_PROFILE);
    assert_eq!(j["cnf"]["COSE_Key"]["kty"], "EC");
    assert_eq!(j["cnf"]["thumbprint"].as_str().map(str::len), Some(64));
    assert_eq!(j["manifests"][0][0], 60);
    assert_eq!(j["-70000"], "010203");
}

/// Removes `/ comment /` outside string literals (cbor-diag rejects some placements).
fn strip_comments(diag: &str) -> String {
    let (mut out, mut in_str, mut in_comment) = (String::new(), false, false);
    for c in diag.chars() {
        match c {
            '/' if !in_str => in_comment = !in_comment,
            _ if in_comment => {}
            '"' => {
                in_str = !in_str;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// cbor-diag does not join adjacent `h'..' h'..'` literals (EDN string concatenation).
fn join_hex_strings(diag: &str) -> String {
    let mut out = String::new();
    let mut rest = diag;
    while let Some(i) = rest.find('\'') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let trimmed = after.trim_start();
        if out.ends_with(|c: char| c.is_ascii_hexdigit()) && trimmed.starts_with("h'") {
            rest = &trimmed[2..];
        } else {
            out.push('\'');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn teep_draft_example_claims_set_decodes() {
    let diag = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/spec/teep-protocol/common/eat_claims_set.diag"
    ))
    .unwrap();
    // The example's comment `/ application/cbor, ... /` contains a slash, which ends an EDN
    // comment early; neutralise it before parsing.
    let diag = diag.replace("application/cbor", "application-cbor");
    let bytes = cbor_diag::parse_diag(join_hex_strings(&strip_comments(&diag)))
        .unwrap()
        .to_bytes();
    let c = EatClaims::decode(&bytes).unwrap();
    assert_eq!(
        c.eat_nonce,
        Some(hex::decode("948f8860d13a463e8e").unwrap())
    );
    assert_eq!(
        c.hwversion,
        Some(HwVersion {
            version: VersionString::Text("1.3.4".into()),
            scheme: Some(1)
        })
    );
    assert!(matches!(c.cnf, Some(Confirmation::Kid(ref k)) if k.len() == 32));
    // The example labels manifests 273 (measurements in RFC 9711): kept as an unknown claim.
    assert!(c.manifests.is_none());
    assert_eq!(c.other.len(), 1);
    assert_eq!(c.other[0].0, int(273));
    // Re-encoding sorts the nested SUIT_Reference map, so compare encodings.
    let again = EatClaims::decode(&c.encode()).unwrap();
    assert_eq!(again.encode(), c.encode());
    assert_eq!(again.eat_nonce, c.eat_nonce);
}

fn map(entries: Vec<(Value, Value)>) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&Value::Map(entries), &mut out).unwrap();
    out
}

#[test]
fn strict_decoding_names_the_claim() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x80], "expected claims map"),
        (map(vec![(int(10), int(1))]), "EAT.eat_nonce: expected bstr"),
        (
            map(vec![(int(10), Value::Bytes(vec![1; 4]))]),
            "EAT.eat_nonce: expected bstr of 8..64 bytes, got 4",
        ),
        (
            map(vec![(
                int(10),
                Value::Array(vec![Value::Bytes(vec![1; 8])]),
            )]),
            "single bstr",
        ),
        (map(vec![(int(256), Value::Bytes(vec![1; 40]))]), "EAT.ueid"),
        (map(vec![(int(258), Value::Text("x".into()))]), "EAT.oemid"),
        (map(vec![(int(259), Value::Bytes(vec![]))]), "EAT.hwmodel"),
        (map(vec![(int(260), Value::Array(vec![]))]), "EAT.hwversion"),
        (
            map(vec![(int(260), Value::Array(vec![int(1)]))]),
            "EAT.hwversion.version",
        ),
        (
            map(vec![(
                int(260),
                Value::Array(vec![Value::Text("1".into()), Value::Text("x".into())]),
            )]),
            "EAT.hwversion.scheme",
        ),
        (map(vec![(int(8), Value::Map(vec![]))]), "EAT.cnf"),
        (
            map(vec![(int(8), Value::Map(vec![(int(1), int(5))]))]),
            "EAT.cnf.COSE_Key",
        ),
        (
            map(vec![(int(8), Value::Map(vec![(int(9), int(5))]))]),
            "unknown confirmation",
        ),
        (
            map(vec![(int(272), Value::Array(vec![int(1)]))]),
            "EAT.manifests[0]",
        ),
        (map(vec![(int(265), int(1))]), "EAT.eat_profile"),
        (map(vec![(int(1), int(1))]), "EAT.iss"),
        (map(vec![(int(6), Value::Text("now".into()))]), "EAT.iat"),
        (
            map(vec![(Value::Bytes(vec![1]), int(1))]),
            "claim key must be int or tstr",
        ),
        (
            map(vec![
                (int(1), Value::Text("a".into())),
                (int(1), Value::Text("b".into())),
            ]),
            "duplicate",
        ),
        (vec![0xbf, 0xff], "indefinite"),
        (vec![0xa0, 0x00], "trailing"),
    ];
    for (bytes, needle) in cases {
        let e = EatClaims::decode(&bytes).unwrap_err().to_string();
        assert!(
            e.contains(needle),
            "{}: `{e}` lacks `{needle}`",
            hex::encode(&bytes)
        );
    }
    let cnf_key = PrivateKey::generate(KeyType::Ed25519).public_key();
    let ok = map(vec![(
        int(claim::CNF),
        Value::Map(vec![(int(1), cnf_key.to_cose_key_value())]),
    )]);
    assert_eq!(
        EatClaims::decode(&ok).unwrap().cnf,
        Some(Confirmation::Key(cnf_key))
    );
}
