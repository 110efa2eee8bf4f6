//! Device identity, keys, trust anchors and sealed storage through the `Tee` trait.

use std::fs;

use teep_cose::{KeyType, PrivateKey};
use teep_tee::examples::{COUNTER_INCREMENT, COUNTER_WASM};
use teep_tee::{
    component_id, ta_namespace, ComponentBatch, SoftwareTee, SoftwareTeeOptions, Tee, TeeError,
    TrustAnchorKind,
};

#[test]
fn identity_and_key_are_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, kid) = {
        let tee = SoftwareTee::open(dir.path()).unwrap();
        (tee.identity(), tee.teep_signer().kid())
    };
    assert_eq!(identity.ueid.len(), 33);
    assert_eq!(identity.ueid[0], 0x01, "UEID type RAND");
    assert_eq!(identity.oemid.len(), 16);
    let tee = SoftwareTee::open(dir.path()).unwrap();
    assert_eq!(tee.identity(), identity);
    assert_eq!(tee.teep_signer().kid(), kid);
    assert_eq!(
        tee.attestation_signer().kid(),
        kid,
        "attestation key defaults to the TEEP key"
    );
}

#[test]
fn two_devices_differ() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        SoftwareTee::open(a.path()).unwrap(),
        SoftwareTee::open(b.path()).unwrap(),
    );
    assert_ne!(a.identity().ueid, b.identity().ueid);
    assert_ne!(a.teep_signer().kid(), b.teep_signer().kid());
}

#[test]
fn signer_signs_verifiably_p256_and_ed25519() {
    for (key_type, alg_name) in [(KeyType::P256, "ESP256"), (KeyType::Ed25519, "Ed25519")] {
        let dir = tempfile::tempdir().unwrap();
        let options = SoftwareTeeOptions {
            key_type,
            ..SoftwareTeeOptions::default()
        };
        let tee = SoftwareTee::open_with(dir.path(), options).unwrap();
        let signer = tee.teep_signer();
        assert_eq!(signer.algorithm().name(), alg_name);
        assert_eq!(signer.public_key().key_type(), key_type);
        let sig = signer.sign(b"to be signed").unwrap();
        signer
            .public_key()
            .verify(signer.algorithm(), b"to be signed", &sig)
            .unwrap();
        assert!(signer
            .public_key()
            .verify(signer.algorithm(), b"other", &sig)
            .is_err());
        drop(tee);
        // The stored key type wins over options on reopen.
        let tee = SoftwareTee::open(dir.path()).unwrap();
        assert_eq!(tee.teep_signer().public_key().key_type(), key_type);
    }
}

#[test]
fn private_key_is_not_in_plaintext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let _tee = SoftwareTee::open(dir.path()).unwrap();
    for entry in walk(dir.path()) {
        let data = fs::read(&entry).unwrap();
        assert!(
            !data.windows(10).any(|w| w == b"PRIVATE KE"),
            "{}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn trust_anchors_are_kept_sealed_and_separate() {
    let dir = tempfile::tempdir().unwrap();
    let tam = PrivateKey::generate(KeyType::P256).public_key();
    let signer = PrivateKey::generate(KeyType::Ed25519).public_key();
    {
        let tee = SoftwareTee::open(dir.path()).unwrap();
        assert!(tee.trust_anchors(TrustAnchorKind::Tam).unwrap().is_empty());
        assert!(tee.add_trust_anchor(TrustAnchorKind::Tam, &tam).unwrap());
        assert!(!tee.add_trust_anchor(TrustAnchorKind::Tam, &tam).unwrap());
        assert!(tee
            .add_trust_anchor(TrustAnchorKind::TcSigner, &signer)
            .unwrap());
    }
    let tee = SoftwareTee::open(dir.path()).unwrap();
    assert_eq!(
        tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
        vec![tam.clone()]
    );
    assert_eq!(
        tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
        vec![signer.clone()]
    );
    assert!(tee.remove_trust_anchor(TrustAnchorKind::Tam, &tam).unwrap());
    assert!(!tee.remove_trust_anchor(TrustAnchorKind::Tam, &tam).unwrap());
    assert!(tee.trust_anchors(TrustAnchorKind::Tam).unwrap().is_empty());
    assert_eq!(
        tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
        vec![signer]
    );
}

#[test]
fn agent_records_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    assert_eq!(tee.agent_get("state").unwrap(), None);
    tee.agent_put("state", b"v1").unwrap();
    tee.agent_put("state", b"v2").unwrap();
    assert_eq!(tee.agent_get("state").unwrap().as_deref(), Some(&b"v2"[..]));
    tee.agent_delete("state").unwrap();
    assert_eq!(tee.agent_get("state").unwrap(), None);
    let err = tee.agent_put("", b"x").unwrap_err().to_string();
    assert!(err.contains("expected 1..=100 bytes, got 0"), "{err}");
}

#[test]
fn flipped_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    tee.agent_put("state", b"some sealed value").unwrap();
    let path = tee.sealed_store().blob_file("agent", b"state");
    let mut blob = fs::read(&path).unwrap();
    for i in [0, 5, blob.len() / 2, blob.len() - 1] {
        blob[i] ^= 0x01;
        fs::write(&path, &blob).unwrap();
        let err = tee.agent_get("state").unwrap_err();
        assert!(matches!(err, TeeError::Integrity { .. }), "byte {i}: {err}");
        blob[i] ^= 0x01;
    }
    fs::write(&path, &blob).unwrap();
    assert_eq!(
        tee.agent_get("state").unwrap().as_deref(),
        Some(&b"some sealed value"[..])
    );
    fs::write(&path, &blob[..10]).unwrap();
    assert!(matches!(
        tee.agent_get("state"),
        Err(TeeError::Integrity { .. })
    ));
}

#[test]
fn blob_moved_to_another_name_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    tee.agent_put("a", b"value of a").unwrap();
    tee.agent_put("b", b"value of b").unwrap();
    let store = tee.sealed_store();
    fs::copy(
        store.blob_file("agent", b"a"),
        store.blob_file("agent", b"b"),
    )
    .unwrap();
    let err = tee.agent_get("b").unwrap_err();
    assert!(matches!(err, TeeError::Integrity { .. }), "{err}");
    assert!(err.to_string().contains("agent/b"), "{err}");
}

#[test]
fn blob_moved_to_another_ta_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let (a, b) = (component_id(&["counter-a"]), component_id(&["counter-b"]));
    let mut batch = ComponentBatch::new();
    batch.put_component(a.clone(), COUNTER_WASM.to_vec());
    batch.put_component(b.clone(), COUNTER_WASM.to_vec());
    tee.commit_components(&batch).unwrap();
    for _ in 0..5 {
        tee.invoke_once(&a, COUNTER_INCREMENT, b"").unwrap();
    }
    tee.invoke_once(&b, COUNTER_INCREMENT, b"").unwrap();
    let store = tee.sealed_store();
    let (ns_a, ns_b) = (ta_namespace(&a), ta_namespace(&b));
    assert_ne!(ns_a, ns_b);
    // An attacker copies A's count (5) over B's: B must not accept it.
    fs::copy(
        store.blob_file(&ns_a, b"count"),
        store.blob_file(&ns_b, b"count"),
    )
    .unwrap();
    let err = tee.invoke_once(&b, COUNTER_INCREMENT, b"").unwrap_err();
    assert!(matches!(err, TeeError::Integrity { .. }), "{err}");
}

#[test]
fn sealed_store_limits_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let store = tee.sealed_store();
    let max = store.limits().max_value_bytes;
    let err = store
        .put("agent", b"big", &vec![0; max + 1])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("expected at most {max} bytes")),
        "{err}"
    );
    assert_eq!(store.get("agent", b"big").unwrap(), None);
}

#[test]
fn concurrent_first_opens_agree_on_one_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let tee = SoftwareTee::open(&path).unwrap();
                (tee.identity(), tee.teep_signer().kid())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let tee = SoftwareTee::open(&path).unwrap();
    assert_eq!((tee.identity(), tee.teep_signer().kid()), results[0]);
}

#[test]
fn payload_key_is_made_once_kept_sealed_and_differs_per_device() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let public = {
        let tee = SoftwareTee::open(a.path()).unwrap();
        let public = tee.payload_encryption_key().unwrap();
        assert_eq!(tee.payload_decryption_key().unwrap().public_key(), public);
        public
    };
    let tee = SoftwareTee::open(a.path()).unwrap();
    assert_eq!(tee.payload_encryption_key().unwrap(), public);
    let other = SoftwareTee::open(b.path()).unwrap();
    assert_ne!(other.payload_encryption_key().unwrap(), public);
    let secret = tee.payload_decryption_key().unwrap().secret_bytes();
    for file in walk(a.path()) {
        let bytes = fs::read(&file).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == &secret[..]),
            "payload key in plaintext in {}",
            file.display()
        );
    }
}

/// A device made with one crypto provider opens with the other: its sealed identity, keys,
/// records and trust anchors read back, and its TEEP key's signatures verify everywhere.
#[test]
fn a_device_made_with_one_provider_opens_with_the_other() {
    for a in teep_cose::provider::all() {
        for b in teep_cose::provider::all() {
            let dir = tempfile::tempdir().unwrap();
            let with = |provider| SoftwareTeeOptions {
                provider,
                ..SoftwareTeeOptions::default()
            };
            let (identity, kid, payload_key) = {
                let tee = SoftwareTee::open_with(dir.path(), with(a)).unwrap();
                assert_eq!(tee.sealed_store().provider().name(), a.name());
                tee.agent_put("record", b"kept").unwrap();
                let anchor = PrivateKey::generate(KeyType::Ed25519).public_key();
                tee.add_trust_anchor(TrustAnchorKind::Tam, &anchor).unwrap();
                (
                    tee.identity(),
                    tee.teep_signer().kid(),
                    tee.payload_encryption_key().unwrap(),
                )
            };
            let tee = SoftwareTee::open_with(dir.path(), with(b)).unwrap();
            let names = format!("made with {}, opened with {}", a.name(), b.name());
            assert_eq!(tee.identity(), identity, "{names}");
            assert_eq!(tee.teep_signer().kid(), kid, "{names}");
            assert_eq!(
                tee.payload_encryption_key().unwrap(),
                payload_key,
                "{names}"
            );
            assert_eq!(
                tee.agent_get("record").unwrap().as_deref(),
                Some(&b"kept"[..]),
                "{names}"
            );
            assert_eq!(tee.trust_anchors(TrustAnchorKind::Tam).unwrap().len(), 1);
            let signer = tee.teep_signer();
            let sig = signer.sign(b"msg").unwrap();
            for v in teep_cose::provider::all() {
                signer
                    .public_key()
                    .verify_with(v, signer.algorithm(), b"msg", &sig)
                    .unwrap();
            }
        }
    }
}
