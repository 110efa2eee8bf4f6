//! Every published SUIT / TEEP example: parses, verifies with the published key and processes
//! with the expected outcome.

mod common;
use bytes::Bytes;
use common::*;
use teep_suit::*;

fn install(p: &Processor, env: &[u8], store: &mut MemoryStore, f: &mut MapFetcher) -> Outcome {
    p.install(Bytes::copy_from_slice(env), store, f)
}

#[test]
fn teep_integrated_installs_hello_secure_world() {
    let env = read("teep-protocol/common/derived/suit_integrated.cbor");
    let v = verify_envelope(env.clone(), &anchors()).unwrap();
    assert!(!v.tagged, "TEEP envelopes are untagged");
    assert_eq!(v.sequence_number(), 3);
    assert_eq!(v.manifest_component_id(), Some(&tc_manifest_id()));
    assert_eq!(v.component_ids(), &[tc_id()]);
    let mut store = MemoryStore::new();
    let out = install(
        &Processor::new(anchors()),
        &env,
        &mut store,
        &mut MapFetcher::new(),
    );
    let summary = out.result.unwrap();
    assert!(out.report.is_success());
    assert_eq!(summary.written, vec![tc_id()]);
    let tc = store.components.get(&tc_id()).unwrap();
    assert_eq!(&tc[..], b"Hello, Secure World!");
    assert_eq!(tc.len(), 20);
    let rec = store.manifests.get(&tc_manifest_id()).unwrap();
    assert_eq!((rec.sequence_number, rec.refcount), (3, 1));
    assert_eq!(store.commits, 1);
}

#[test]
fn teep_integrated_then_uninstall_removes_tc() {
    let env = read("teep-protocol/common/derived/suit_integrated.cbor");
    let p = Processor::new(anchors());
    let mut store = MemoryStore::new();
    install(&p, &env, &mut store, &mut MapFetcher::new())
        .result
        .unwrap();
    let out = p.uninstall(&tc_manifest_id(), &mut store, &mut NoFetcher);
    let s = out.result.unwrap();
    assert_eq!(s.deleted, vec![tc_id()]);
    assert!(store.components.is_empty());
    assert!(store.manifests.is_empty());
}

#[test]
fn teep_uri_fetches_the_tc() {
    let env = read("teep-protocol/common/derived/suit_uri.cbor");
    let mut f = MapFetcher::new();
    f.insert(
        TC_URI,
        read("teep-protocol/common/8d82573a-926d-4754-9353-32dc29997f74.ta"),
    );
    let mut store = MemoryStore::new();
    let out = install(&Processor::new(anchors()), &env, &mut store, &mut f);
    out.result.unwrap();
    assert_eq!(&store.components[&tc_id()][..], b"Hello, Secure World!");
}

#[test]
fn teep_uri_without_payload_fails_cleanly() {
    let env = read("teep-protocol/common/derived/suit_uri.cbor");
    let mut store = MemoryStore::new();
    let out = install(
        &Processor::new(anchors()),
        &env,
        &mut store,
        &mut MapFetcher::new(),
    );
    let err = out.result.unwrap_err().to_string();
    assert!(
        err.contains("install") && err.contains("directive-fetch"),
        "{err}"
    );
    match out.report.result {
        ReportResult::Failure {
            code,
            reason,
            ref record,
            ..
        } => {
            assert_eq!(code, 21);
            assert_eq!(reason, ReportReason::OperationFailed);
            assert_eq!(record.section, 20);
        }
        _ => panic!("expected failure"),
    }
    assert_eq!(store.commits, 0);
}

fn personalization_fetcher() -> MapFetcher {
    let mut f = MapFetcher::new();
    f.insert(
        TC_URI,
        read("teep-protocol/common/8d82573a-926d-4754-9353-32dc29997f74.ta"),
    );
    f.insert(
        TC_SUIT_URI,
        read("teep-protocol/common/derived/suit_uri.cbor"),
    );
    f
}

#[test]
fn teep_personalization_is_rejected_without_dependency_integrity() {
    // Known defect: the example calls process-dependency without dependency-integrity.
    let env = read("teep-protocol/common/derived/suit_personalization.cbor");
    let p = Processor::new(anchors()).with_keys(DecryptionKeys {
        ecdh: vec![kek_p256()],
        aes_kw: vec![],
    });
    let mut store = MemoryStore::new();
    let out = install(&p, &env, &mut store, &mut personalization_fetcher());
    let err = out.result.unwrap_err().to_string();
    assert!(err.contains("dependency-integrity"), "{err}");
    assert_eq!(store.commits, 0);
}

#[test]
fn teep_personalization_decrypts_config_json() {
    let env = read("teep-protocol/common/derived/suit_personalization.cbor");
    let p = Processor::new(anchors())
        .with_keys(DecryptionKeys {
            ecdh: vec![kek_p256()],
            aes_kw: vec![],
        })
        .with_options(Options {
            implicit_dependency_integrity: true,
            ..Options::default()
        });
    let mut store = MemoryStore::new();
    let out = install(&p, &env, &mut store, &mut personalization_fetcher());
    out.result.unwrap();
    let cfg: ComponentId = vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        b"config.json".to_vec(),
    ]
    .into();
    let plain = &store.components[&cfg];
    assert_eq!(plain.len(), 61);
    assert_eq!(
        &plain[..],
        br#"{"name":"FOO Bar","secret":"0123456789abfcdef0123456789abcd"}"#
    );
    // The dependency (the TC manifest) was installed too and is referenced by the config.
    assert_eq!(&store.components[&tc_id()][..], b"Hello, Secure World!");
    let dep = &store.manifests[&tc_manifest_id()];
    assert_eq!(dep.refcount, 1);
}

#[test]
fn teep_personalization_without_key_fails() {
    let env = read("teep-protocol/common/derived/suit_personalization.cbor");
    let p = Processor::new(anchors()).with_options(Options {
        implicit_dependency_integrity: true,
        ..Options::default()
    });
    let mut store = MemoryStore::new();
    let out = install(&p, &env, &mut store, &mut personalization_fetcher());
    assert!(out
        .result
        .unwrap_err()
        .to_string()
        .contains("encryption-info"));
    assert_eq!(store.commits, 0);
}

#[test]
fn teep_update_example_manifest_verifies_and_its_key_9_is_invoke() {
    // Known defect: key 9 is labelled suit-install in the draft but is suit-invoke.
    let env = read("teep-protocol/teep-26-renumbered/derived/update.manifest0.suit_envelope.cbor");
    let v = verify_envelope(env, &anchors()).unwrap();
    assert!(v.manifest.invoke.is_some());
    assert!(v.manifest.install.is_none());
    assert_eq!(
        v.authenticator,
        Authenticator::Signer {
            index: 0,
            algorithm: -7,
            kid: None
        }
    );
}

#[test]
fn suit_manifest_examples_verify() {
    for n in 0..=5 {
        let env = read(&format!(
            "suit-manifest/examples/derived/example{n}.signed.cbor"
        ));
        let v = verify_envelope(env, &anchors()).unwrap_or_else(|e| panic!("example{n}: {e}"));
        assert!(v.tagged, "example{n} is tagged 107");
        assert_eq!(v.manifest.version, 1);
    }
}

#[test]
fn suit_example2_severed_restores_members() {
    let env = read("suit-manifest/examples/derived/example2.signed.cbor");
    let v = verify_envelope(env, &anchors()).unwrap();
    assert!(matches!(
        v.manifest.install,
        Some(Severable::Severed {
            restored: Some(_),
            ..
        })
    ));
    assert!(matches!(
        v.manifest.text,
        Some(Severable::Severed {
            restored: Some(_),
            ..
        })
    ));
    let severed = read("suit-manifest/examples/derived/example2.signed.severed.cbor");
    let v = verify_envelope(severed, &anchors()).unwrap();
    assert!(matches!(
        v.manifest.install,
        Some(Severable::Severed { restored: None, .. })
    ));
}

#[test]
fn suit_example0_secure_boot_fails_image_match_on_empty_store() {
    let env = read("suit-manifest/examples/derived/example0.signed.cbor");
    let p = Processor::new(anchors());
    let mut store = MemoryStore::new();
    let out = install(&p, &env, &mut store, &mut MapFetcher::new());
    let err = out.result.unwrap_err().to_string();
    assert!(err.contains("condition-image-match"), "{err}");
    assert_eq!(store.commits, 0);
}

#[test]
fn suit_example1_installs_fetched_image() {
    let env = read("suit-manifest/examples/derived/example1.signed.cbor");
    let v = verify_envelope(env.clone(), &anchors()).unwrap();
    // The example's payload is not published: serve bytes and expect the digest check to fail.
    let uri = v
        .manifest
        .install
        .as_ref()
        .and_then(|s| s.get())
        .and_then(|s| {
            s.commands.iter().find_map(|c| match &c.arg {
                CommandArg::Parameters(ps) => ps.iter().find_map(|p| match p {
                    Parameter::Uri(u) => Some(u.clone()),
                    _ => None,
                }),
                _ => None,
            })
        });
    let uri = uri.expect("example1 has a uri");
    let mut f = MapFetcher::new();
    f.insert(uri, vec![0u8; 16]);
    let mut store = MemoryStore::new();
    let out = install(&Processor::new(anchors()), &env, &mut store, &mut f);
    let err = out.result.unwrap_err().to_string();
    assert!(err.contains("image-match"), "{err}");
    assert_eq!(store.commits, 0);
}

#[test]
fn trust_domain_examples_verify() {
    for name in [
        "example0_dependent",
        "example1_process",
        "example2_integrated",
    ] {
        let env = read(&format!("suit-trust-domains/examples/derived/{name}.cbor"));
        let v = verify_envelope(env, &anchors()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.manifest.version, 1);
    }
}

#[test]
fn trust_domain_integrated_dependency_processes() {
    let env = read("suit-trust-domains/examples/derived/example2_integrated.cbor");
    let mut store = MemoryStore::new();
    let out = install(
        &Processor::new(anchors()),
        &env,
        &mut store,
        &mut MapFetcher::new(),
    );
    let s = out.result.unwrap_or_else(|e| panic!("{e}"));
    assert!(!s.written.is_empty());
    assert!(store.manifests.len() >= 2, "root and dependency recorded");
}

fn fwenc_keys() -> DecryptionKeys {
    DecryptionKeys {
        ecdh: vec![kek_p256()],
        aes_kw: vec![(Some(b"kid-1".to_vec()), b"aaaaaaaaaaaaaaaa".to_vec())],
    }
}

#[test]
fn firmware_encryption_info_examples_decrypt() {
    for (info, ct) in [
        ("aes-kw-aes-ctr", "aes-kw-aes-ctr"),
        ("aes-kw-aes-gcm", "aes-kw-aes-gcm"),
        ("es-ecdh-aes-ctr", "es-ecdh-aes-ctr"),
        ("es-ecdh-aes-gcm", "es-ecdh-aes-gcm"),
    ] {
        let i = read(&format!(
            "suit-firmware-encryption/examples/derived/suit-encryption-info-{info}.cbor"
        ));
        let c = read(&format!(
            "suit-firmware-encryption/examples/derived/encrypted-payload-{ct}.bin"
        ));
        let plain =
            decrypt_payload(&i, &c, &fwenc_keys()).unwrap_or_else(|e| panic!("{info}: {e}"));
        assert_eq!(plain, b"This is a real firmware image.", "{info}");
    }
}

#[test]
fn firmware_encryption_wrong_key_fails() {
    let i =
        read("suit-firmware-encryption/examples/derived/suit-encryption-info-aes-kw-aes-gcm.cbor");
    let c = read("suit-firmware-encryption/examples/derived/encrypted-payload-aes-kw-aes-gcm.bin");
    let keys = DecryptionKeys {
        ecdh: vec![],
        aes_kw: vec![(None, b"bbbbbbbbbbbbbbbb".to_vec())],
    };
    assert!(decrypt_payload(&i, &c, &keys).is_err());
}

fn fwenc_anchors() -> TrustAnchors {
    let second = teep_cose::PublicKey::load(std::path::Path::new(&format!(
        "{SPEC}/keys/fwenc-dependency-signer-p256-private.pem"
    )))
    .unwrap();
    TrustAnchors {
        signers: vec![example_key(), second],
        mac_keys: vec![b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec()],
    }
}

#[test]
fn firmware_encryption_manifests_verify() {
    for name in [
        "aes-kw",
        "aes-kw-content",
        "aes-kw-slot",
        "es-ecdh-content",
        "es-ecdh-dependency",
    ] {
        let env = read(&format!(
            "suit-firmware-encryption/examples/derived/suit-manifest-{name}.signed.cbor"
        ));
        verify_envelope(env, &fwenc_anchors()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn firmware_encryption_aes_kw_manifest_processes() {
    let env = read("suit-firmware-encryption/examples/derived/suit-manifest-aes-kw.signed.cbor");
    let mut f = MapFetcher::new();
    f.insert(
        "coaps://example.com/encrypted-firmware",
        read("suit-firmware-encryption/examples/derived/encrypted-payload-aes-kw-aes-gcm.bin"),
    );
    let p = Processor::new(fwenc_anchors()).with_keys(fwenc_keys());
    let mut store = MemoryStore::new();
    let out = install(&p, &env, &mut store, &mut f);
    out.result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        &store.components[&vec![b"plaintext-firmware".to_vec()].into()][..],
        b"This is a real firmware image."
    );
}

#[test]
fn firmware_encryption_content_manifests_process() {
    for name in ["aes-kw-content", "es-ecdh-content"] {
        let env = read(&format!(
            "suit-firmware-encryption/examples/derived/suit-manifest-{name}.signed.cbor"
        ));
        let p = Processor::new(fwenc_anchors()).with_keys(fwenc_keys());
        let mut store = MemoryStore::new();
        let out = install(&p, &env, &mut store, &mut MapFetcher::new());
        out.result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            store
                .components
                .values()
                .any(|v| &v[..] == b"This is a real firmware image."),
            "{name}"
        );
    }
}

#[test]
fn trust_domain_integrated_invoke_after_install() {
    let env = read("suit-trust-domains/examples/derived/example2_integrated.cbor");
    let p = Processor::new(anchors());
    let mut store = MemoryStore::new();
    install(&p, &env, &mut store, &mut MapFetcher::new())
        .result
        .unwrap();
    let out = p.invoke(
        &vec![b"depending.suit".to_vec()].into(),
        &store,
        &mut NoFetcher,
    );
    let s = out.result.unwrap();
    assert_eq!(s.invocations.len(), 1);
    assert_eq!(s.invocations[0].component, vec![b"10".to_vec()].into());
    assert_eq!(s.invocations[0].args.as_deref(), Some(&b"cat 00 10"[..]));
}

#[test]
fn success_report_lists_what_ran_and_round_trips() {
    let env = read("teep-protocol/common/derived/suit_integrated.cbor");
    let mut store = MemoryStore::new();
    let out = install(
        &Processor::new(anchors()),
        &env,
        &mut store,
        &mut MapFetcher::new(),
    );
    out.result.unwrap();
    let r = &out.report;
    // vendor, class (shared sequence, policy 15), fetch and image-match (install, policy 15).
    let ran: Vec<(i64, Option<i64>)> = r.records.iter().map(|x| (x.section, x.command)).collect();
    assert_eq!(
        ran,
        vec![(3, Some(1)), (3, Some(2)), (20, Some(21)), (20, Some(3))]
    );
    assert_eq!(
        r.digest.as_ref().unwrap().bytes,
        hex::decode("CEDB0457952F7DD0A33FA4692F73BC833A6A6E2300B16F6605993F0192E3F219").unwrap()
    );
    let back = SuitReport::decode(&r.encode()).unwrap();
    assert_eq!(back.encode(), r.encode());
    assert!(back.is_success());
}

#[test]
fn uninstalling_personalization_drops_its_tc_dependency() {
    let env = read("teep-protocol/common/derived/suit_personalization.cbor");
    let p = Processor::new(anchors())
        .with_keys(DecryptionKeys {
            ecdh: vec![kek_p256()],
            aes_kw: vec![],
        })
        .with_options(Options {
            implicit_dependency_integrity: true,
            ..Options::default()
        });
    let mut store = MemoryStore::new();
    install(&p, &env, &mut store, &mut personalization_fetcher())
        .result
        .unwrap();
    let cfg_manifest: ComponentId = vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        b"config.suit".to_vec(),
    ]
    .into();
    let s = p
        .uninstall(&cfg_manifest, &mut store, &mut NoFetcher)
        .result
        .unwrap();
    assert_eq!(s.removed_manifests.len(), 2);
    assert!(store.components.is_empty() && store.manifests.is_empty());
}

#[test]
fn uninstall_of_unknown_manifest_is_a_clear_error() {
    let mut store = MemoryStore::new();
    let out = Processor::new(anchors()).uninstall(&tc_manifest_id(), &mut store, &mut NoFetcher);
    assert!(out
        .result
        .unwrap_err()
        .to_string()
        .contains("is not installed"));
    assert_eq!(store.commits, 0);
}

#[test]
fn signed_report_verifies_with_the_device_key() {
    let key = teep_cose::PrivateKey::generate(teep_cose::KeyType::P256);
    let signer = teep_cose::SoftwareSigner::new(key.clone());
    let mut store = MemoryStore::new();
    let out = install(
        &Processor::new(anchors()),
        &read("teep-protocol/common/derived/suit_uri.cbor"),
        &mut store,
        &mut MapFetcher::new(),
    );
    let signed = out.report.sign(&signer).unwrap();
    let opened = teep_cose::open(&signed).unwrap();
    opened.verify(&key.public_key()).unwrap();
    let report = SuitReport::decode(opened.payload.as_deref().unwrap()).unwrap();
    assert!(!report.is_success());
}
