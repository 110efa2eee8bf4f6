//! libteep interop vectors (shared/spec/interop/libteep): every signed message verifies with
//! the key that signed it, and any single flipped byte in the protected header, payload or
//! signature makes verification fail.

use teep_cose::eat::{AttestationResult, Confirmation, EatClaims, HwVersion, OemId, VersionString};
use teep_cose::provider;
use teep_cose::{open, Algorithm, CoseKind, PrivateKey, PublicKey};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/spec/interop/libteep"
);

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn key(name: &str) -> PublicKey {
    PublicKey::from_bytes_any(&read(&format!("key/{name}"))).unwrap()
}

const TAM_KID: &str = "c770ec535d8c949586324adaf2ddffb76b1a852dfa52e19c80f7440ec163beea";
const AGENT_KID: &str = "e96788b10b1610abe478f9ce8dcfe2304c0911dd8cfeadde25ec30ccb5a7b5af";

/// (file, signing key file)
const SIGNED: &[(&str, &str)] = &[
    ("query_request_cose.cbor", "tam_prime256v1_pub.pem"),
    ("update_cose.cbor", "tam_prime256v1_pub.pem"),
    ("query_response_cose.cbor", "teep_agent_prime256v1_pub.pem"),
    ("teep_success_cose.cbor", "teep_agent_prime256v1_pub.pem"),
    ("teep_error_cose.cbor", "teep_agent_prime256v1_pub.pem"),
    ("evidence_cose.cbor", "teep_agent_prime256v1_pub.pem"),
    ("attestation_results_cose.cbor", "verifier_prime256v1.pem"),
];

#[test]
fn libteep_kids_are_rfc9679_thumbprints() {
    assert_eq!(
        hex::encode(key("tam_prime256v1_pub.pem").thumbprint()),
        TAM_KID
    );
    assert_eq!(hex::encode(key("tam_prime256v1.pem").thumbprint()), TAM_KID);
    assert_eq!(
        hex::encode(key("teep_agent_prime256v1_pub.pem").thumbprint()),
        AGENT_KID
    );
    assert_eq!(
        hex::encode(key("teep_agent_prime256v1.pem").thumbprint()),
        AGENT_KID
    );
}

#[test]
fn every_libteep_message_verifies_with_its_key_on_both_providers() {
    for (file, keyfile) in SIGNED {
        let bytes = read(file);
        let k = key(keyfile);
        let o = open(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(o.kind, CoseKind::Sign1, "{file}");
        assert!(o.tagged, "{file}");
        for p in provider::all() {
            let s = o
                .verify_with(&k, p)
                .unwrap_or_else(|e| panic!("{file} with {}: {e}", p.name()));
            assert_eq!(s.alg, Algorithm::Es256, "{file}");
            // libteep puts the kid in the unprotected header.
            assert_eq!(s.kid.as_deref(), Some(&k.thumbprint()[..]), "{file}");
            assert!(!s.kid_protected);
        }
        // The payload is the unsigned libteep file where one exists.
        let plain = file.replace("_cose", "");
        if let Ok(p) = std::fs::read(format!("{DIR}/{plain}")) {
            assert_eq!(o.payload.as_deref(), Some(&p[..]), "{file}");
        }
    }
}

#[test]
fn wrong_key_is_rejected() {
    let bytes = read("query_request_cose.cbor");
    let o = open(&bytes).unwrap();
    assert!(o.verify(&key("teep_agent_prime256v1_pub.pem")).is_err());
    // An Ed25519 key has no usable signature at all.
    let err = o.verify(&key("tam_ed25519_pub.pem")).unwrap_err();
    assert!(err.to_string().contains("no signature usable"), "{err}");
    let keys = [
        key("teep_agent_prime256v1_pub.pem"),
        key("tam_prime256v1_pub.pem"),
    ];
    let (k, _) = o.verify_any(&keys).unwrap();
    assert_eq!(hex::encode(k.thumbprint()), TAM_KID);
}

/// Offsets of (protected header contents, payload contents, signature) in a tagged
/// COSE_Sign1 with one-byte-headed protected bstr, as libteep writes them.
fn regions(bytes: &[u8]) -> Vec<(usize, usize)> {
    let o = open(bytes).unwrap();
    let prot = o.protected_bytes();
    let payload = o.payload.as_deref().unwrap();
    let sig = o.signature_bytes(0).unwrap();
    let find = |needle: &[u8], from: usize| {
        from + bytes[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    let p = find(prot, 0);
    let pl = find(payload, p + prot.len());
    let s = bytes.len() - sig.len();
    assert_eq!(&bytes[s..], sig);
    vec![
        (p, p + prot.len()),
        (pl, pl + payload.len()),
        (s, bytes.len()),
    ]
}

#[test]
fn any_flipped_byte_in_protected_payload_or_signature_fails() {
    for (file, keyfile) in SIGNED {
        let bytes = read(file);
        let k = key(keyfile);
        for (start, end) in regions(&bytes) {
            for i in start..end {
                let mut b = bytes.clone();
                b[i] ^= 0x01;
                let ok = open(&b).map(|o| o.verify(&k).is_ok()).unwrap_or(false);
                assert!(!ok, "{file}: flipping byte {i} still verifies");
            }
        }
    }
}

#[test]
fn evidence_decodes_with_typed_claims() {
    let bytes = read("evidence_cose.cbor");
    let claims = EatClaims::verify(&bytes, &key("teep_agent_prime256v1_pub.pem")).unwrap();
    assert_eq!(claims.iss.as_deref(), Some("Intel SGX TEEP Agent"));
    assert_eq!(
        claims.eat_nonce.as_deref(),
        Some(&hex::decode("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf").unwrap()[..])
    );
    assert_eq!(
        claims.ueid,
        Some(hex::decode("0198f50a4ff6c05861c8860d13a638ea").unwrap())
    );
    assert_eq!(
        claims.oemid,
        Some(OemId::Bytes(hex::decode("894823").unwrap()))
    );
    assert_eq!(
        claims.hwversion,
        Some(HwVersion {
            version: VersionString::Bytes(b"1.3.4".to_vec()),
            scheme: Some(1)
        })
    );
    assert_eq!(
        claims.cnf,
        Some(Confirmation::Kid(
            hex::decode("fb30d5697e41ae46ab43357cea7aceb91132ed85c1634899d3c198d16cbce718")
                .unwrap()
        ))
    );
    // verifier_nonce (-70000) is kept as data and survives re-encoding.
    assert_eq!(claims.other.len(), 1);
    let plain = read("evidence.cbor");
    assert_eq!(EatClaims::decode(&plain).unwrap(), claims);
    let j = claims.to_json();
    assert_eq!(j["ueid"], "0198f50a4ff6c05861c8860d13a638ea");
    assert_eq!(j["-70000"], "000102030405060708090a0b0c0d0e0f");
    claims
        .check_nonce(&hex::decode("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf").unwrap())
        .unwrap();
    assert!(claims.check_nonce(b"somethingelse").is_err());
}

#[test]
fn attestation_result_verifies_with_verifier_key_only() {
    let bytes = read("attestation_results_cose.cbor");
    let verifier = key("verifier_prime256v1.pem");
    let nonce = hex::decode("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf").unwrap();
    let ar = AttestationResult::verify_fresh(&bytes, &verifier, &nonce).unwrap();
    assert_eq!(ar.claims.iss.as_deref(), Some("Naive Verifier"));
    assert!(AttestationResult::verify(&bytes, &key("teep_agent_prime256v1_pub.pem")).is_err());
    assert!(AttestationResult::verify_fresh(&bytes, &verifier, b"0123456789").is_err());
}

#[test]
fn libteep_private_keys_load_in_every_form() {
    // verifier_prime256v1.pem is SEC1 `EC PRIVATE KEY` after an `EC PARAMETERS` block.
    for f in [
        "tam_prime256v1.pem",
        "teep_agent_prime256v1.pem",
        "verifier_prime256v1.pem",
        "tam_ed25519.pem",
    ] {
        let k = PrivateKey::from_bytes_any(&read(&format!("key/{f}")))
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let pubf = f.replace(".pem", "_pub.pem");
        if let Ok(p) = std::fs::read(format!("{DIR}/key/{pubf}")) {
            assert_eq!(
                PublicKey::from_bytes_any(&p).unwrap(),
                k.public_key(),
                "{f}"
            );
        }
    }
    // query_request.md quotes 866eefbd... as the TAM's EdDSA kid, but that value belongs to
    // the draft's example text, not to tam_ed25519_pub.pem; RFC 9679 over {1: 1, -1: 6, -2: x}
    // gives the value below (checked independently with Python's hashlib).
    let ed = key("tam_ed25519_pub.pem");
    assert_eq!(
        hex::encode(ed.thumbprint()),
        "2daf64ab7e2f1b101fa305add0f09cb9179f49d89f8bb15630b5aa36d725d036"
    );
}
