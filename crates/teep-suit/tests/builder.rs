//! Builder output: verifies, installs, round-trips, and validates against the SUIT CDDL.

mod common;
use common::*;
use teep_suit::*;

fn signer() -> teep_cose::SoftwareSigner {
    let pem = std::fs::read(format!("{SPEC}/keys/suit-examples-p256-private.pem")).unwrap();
    teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::from_bytes_any(&pem).unwrap())
}

const VENDOR: [u8; 16] = [
    0xC0, 0xDD, 0xD5, 0xF1, 0x52, 0x43, 0x56, 0x60, 0x87, 0xDB, 0x4F, 0x5B, 0x0A, 0xA2, 0x6C, 0x2F,
];
const CLASS: [u8; 16] = [
    0xDB, 0x42, 0xF7, 0x09, 0x3D, 0x8C, 0x55, 0xBA, 0xA8, 0xC5, 0x26, 0x5F, 0xC5, 0x82, 0x0F, 0x4E,
];

fn tc() -> Vec<u8> {
    read("teep-protocol/common/8d82573a-926d-4754-9353-32dc29997f74.ta")
}

#[test]
fn integrated_build_matches_teep_template_and_installs() {
    let (env, _) = ManifestBuilder::new(tc_id(), tc())
        .vendor_id(VENDOR)
        .class_id(CLASS)
        .sequence_number(3)
        .build(&signer(), &[1; 64])
        .unwrap();
    let v = verify_envelope(env.clone(), &anchors()).unwrap();
    assert_eq!(v.manifest_component_id(), Some(&tc_manifest_id()));
    assert!(v.manifest.uninstall.is_some());
    // Same manifest as TEEP Appendix E Example 2 (the signature differs: ECDSA is randomised).
    let published = verify_envelope(
        read("teep-protocol/common/derived/suit_integrated.cbor"),
        &anchors(),
    )
    .unwrap();
    assert_eq!(v.manifest, published.manifest);
    assert_eq!(
        v.manifest_bstr, published.manifest_bstr,
        "byte-identical manifest"
    );
    let p = Processor::new(anchors()).with_identity(DeviceIdentity {
        vendor_ids: vec![VENDOR.to_vec()],
        class_ids: vec![CLASS.to_vec()],
        device_ids: vec![],
    });
    let mut store = MemoryStore::new();
    p.install(env, &mut store, &mut NoFetcher).result.unwrap();
    assert_eq!(&store.components[&tc_id()][..], b"Hello, Secure World!");
}

#[test]
fn uri_build_matches_teep_example_1() {
    let (env, _) = ManifestBuilder::new(tc_id(), tc())
        .vendor_id(VENDOR)
        .class_id(CLASS)
        .sequence_number(3)
        .uri(TC_URI)
        .build(&signer(), &[1; 64])
        .unwrap();
    let v = verify_envelope(env, &anchors()).unwrap();
    let published = verify_envelope(
        read("teep-protocol/common/derived/suit_uri.cbor"),
        &anchors(),
    )
    .unwrap();
    assert_eq!(v.manifest_bstr, published.manifest_bstr);
}

#[test]
fn wrong_class_is_refused_by_the_device() {
    let (env, _) = ManifestBuilder::new(tc_id(), tc())
        .vendor_id(VENDOR)
        .class_id([9u8; 16])
        .build(&signer(), &[1; 64])
        .unwrap();
    let p = Processor::new(anchors()).with_identity(DeviceIdentity {
        vendor_ids: vec![VENDOR.to_vec()],
        class_ids: vec![CLASS.to_vec()],
        device_ids: vec![],
    });
    let mut store = MemoryStore::new();
    let out = p.install(env, &mut store, &mut NoFetcher);
    assert!(out
        .result
        .unwrap_err()
        .to_string()
        .contains("condition-class-identifier"));
    assert_eq!(store.commits, 0);
}

#[test]
fn encrypted_build_decrypts_on_install() {
    let device = kek_p256();
    let (env, _) = ManifestBuilder::new(tc_id(), tc())
        .encrypt_to(device.public_key())
        .build(&signer(), &[5; 64])
        .unwrap();
    let v = verify_envelope(env.clone(), &anchors()).unwrap();
    assert_ne!(
        &v.integrated("#tc").unwrap()[..],
        &tc()[..],
        "carried encrypted"
    );
    let p = Processor::new(anchors()).with_keys(DecryptionKeys {
        ecdh: vec![device],
        aes_kw: vec![],
    });
    let mut store = MemoryStore::new();
    p.install(env, &mut store, &mut NoFetcher).result.unwrap();
    assert_eq!(&store.components[&tc_id()][..], &tc()[..]);
}

#[test]
fn tagged_and_untagged_both_accepted() {
    for tagged in [false, true] {
        let (env, _) = ManifestBuilder::new(tc_id(), tc())
            .tagged(tagged)
            .build(&signer(), &[1; 64])
            .unwrap();
        assert_eq!(env[0] == 0xd8, tagged);
        assert_eq!(verify_envelope(env, &anchors()).unwrap().tagged, tagged);
    }
}

#[test]
fn dir_store_install_and_uninstall() {
    let dir = tempfile::tempdir().unwrap();
    let (env, _) = ManifestBuilder::new(tc_id(), tc())
        .sequence_number(1)
        .build(&signer(), &[1; 64])
        .unwrap();
    let p = Processor::new(anchors());
    let mut store = DirStore::open(dir.path()).unwrap();
    p.install(env, &mut store, &mut NoFetcher).result.unwrap();
    let path = store.component_path(&tc_id()).unwrap();
    assert!(path.ends_with("components/TEEP-Device/SecureFS/h-8d82573a926d4754935332dc29997f74/ta"));
    assert_eq!(std::fs::read(&path).unwrap(), b"Hello, Secure World!");
    let store2 = DirStore::open(dir.path()).unwrap();
    assert_eq!(
        store2
            .manifest(&tc_manifest_id())
            .unwrap()
            .unwrap()
            .sequence_number,
        1
    );
    let mut store = store2;
    p.uninstall(&tc_manifest_id(), &mut store, &mut NoFetcher)
        .result
        .unwrap();
    assert!(!path.exists());
    assert!(store.manifest(&tc_manifest_id()).unwrap().is_none());
}

/// The SUIT CDDL with the test-side preprocessing of CRATES.md §3 item 13: int constants
/// inlined into map keys, `* $$socket` / `* GroupRef` lines removed.
fn preprocessed_cddl() -> String {
    let mut text = String::new();
    for f in [
        "suit-manifest/draft-ietf-suit-manifest.cddl",
        "suit-trust-domains/draft-ietf-suit-trust-domains.cddl",
    ] {
        text.push_str(&String::from_utf8(read(f)).unwrap());
        text.push('\n');
    }
    // Collect `name = int` constants.
    let mut consts = std::collections::BTreeMap::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some((name, val)) = l.split_once('=') {
            let (name, val) = (name.trim(), val.trim());
            if !name.contains(' ') && val.parse::<i64>().is_ok() && !name.starts_with('$') {
                consts.insert(name.to_string(), val.to_string());
            }
        }
    }
    let mut out = String::new();
    for line in text.lines() {
        // Root: only the envelope (`/ start` names a rule defined nowhere, which the
        // validator treats as "anything").
        let line = if line.starts_with("SUIT_start =") {
            "SUIT_start = SUIT_Envelope_Tagged"
        } else {
            line
        };
        let t = line.trim_start();
        let bare_group_ref = t
            .strip_prefix("* ")
            .map(|r| {
                r.trim_end_matches(',')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-$".contains(c))
            })
            .unwrap_or(false);
        if t.starts_with("* $$") || bare_group_ref {
            continue;
        }
        let mut l = line.to_string();
        if let Some(idx) = l.find("=>") {
            let (k, rest) = l.split_at(idx);
            let key = k.trim().trim_start_matches('?').trim();
            if let Some(v) = consts.get(key) {
                l = format!("{}{v} {rest}", k.replace(key, ""));
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn builder_output_structure_matches_the_cddl() {
    let (env, _) = ManifestBuilder::new(tc_id(), tc())
        .vendor_id(VENDOR)
        .class_id(CLASS)
        .sequence_number(3)
        .tagged(true)
        .build(&signer(), &[1; 64])
        .unwrap();
    let cddl = preprocessed_cddl();
    let result = cddl::validate_cbor_from_slice(&cddl, &env, None);
    match result {
        Ok(()) => {
            eprintln!("cddl: builder output validates against the SUIT CDDL");
            // And the validator is not vacuous: manifest-version 2 must be rejected.
            let mut bad = env.clone();
            let pos = bad
                .windows(3)
                .position(|w| w == [0x01, 0x01, 0x02])
                .expect("manifest-version 1");
            bad[pos + 1] = 0x02;
            assert!(cddl::validate_cbor_from_slice(&cddl, &bad, None).is_err());
        }
        Err(e) => {
            eprintln!("cddl: falsely rejected ({e}); structural check only");
            // Known cddl 0.10.7 false negative: multi-parameter SUIT_Parameters maps
            // ({+ $$SUIT_Parameters}) are rejected even for the draft's own examples. Check
            // that the published TEEP example fails the same way, then rely on the
            // structural check below.
            let published = read("suit-manifest/examples/derived/example0.signed.cbor");
            assert!(
                cddl::validate_cbor_from_slice(&cddl, &published, None).is_err(),
                "cddl accepts the example but not ours: {e}"
            );
        }
    }
    // Structural check: re-decoding yields the same model and the envelope re-encodes identically.
    let v = verify_envelope(env.clone(), &anchors()).unwrap();
    let enc = teep_suit::codec::encode_manifest(&v.manifest);
    assert_eq!(teep_suit::codec::bstr_wrap(&enc), v.manifest_bstr.to_vec());
}

#[test]
fn ed25519_signed_manifest_verifies() {
    let key = teep_cose::PrivateKey::generate(teep_cose::KeyType::Ed25519);
    let signer = teep_cose::SoftwareSigner::new(key.clone());
    let (env, _) = ManifestBuilder::new(tc_id(), tc())
        .build(&signer, &[1; 64])
        .unwrap();
    let anchors = TrustAnchors::new(vec![example_key(), key.public_key()]);
    let v = verify_envelope(env.clone(), &anchors).unwrap();
    assert!(matches!(
        v.authenticator,
        Authenticator::Signer {
            index: 1,
            algorithm: -19,
            ..
        }
    ));
    // The P-256 anchor alone does not accept it.
    assert!(verify_envelope(env, &TrustAnchors::new(vec![example_key()])).is_err());
}

#[test]
fn inspect_names_fields_and_checks_digests() {
    let env = read("teep-protocol/common/derived/suit_integrated.cbor");
    let (e, digest_ok) = decode_envelope_lenient(env.clone(), &Limits::default()).unwrap();
    let v = teep_suit::inspect::envelope_json(
        &e,
        digest_ok.map_err(|e| e.to_string()),
        serde_json::Value::Null,
    );
    assert_eq!(v["authentication-wrapper"]["digest-check"], "ok");
    assert_eq!(v["manifest"]["manifest-sequence-number"], 3);
    assert_eq!(v["manifest"]["install"][1]["command"], "directive-fetch");
    assert_eq!(v["integrated"][0]["matches-an-image-digest"], true);
    assert_eq!(v["manifest"]["manifest-component-id"][3], "suit");
    let diag = teep_suit::inspect::diag(&env);
    assert!(diag.contains("'Hello, Secure World!'"), "{diag}");
}
