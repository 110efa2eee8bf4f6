//! The catalog's trust check: spec SUIT examples against their signer key, tampered and
//! untrusted envelopes, `--ta` wrapping, and the admin API and web UI upload paths.

mod common;

use common::*;
use teep_cose::{KeyType, PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_tam::catalog::{verify, EnvelopeError, TcSignerAnchors};
use teep_tam::Enroll;

fn spec(path: &str) -> Vec<u8> {
    let p = format!("{}/../../../shared/spec/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn spec_key(path: &str) -> PublicKey {
    PublicKey::from_bytes_any(&spec(path)).unwrap()
}

fn examples_key() -> PublicKey {
    spec_key("keys/suit-examples-p256-public.pem")
}

fn anchors(keys: &[PublicKey]) -> TcSignerAnchors {
    TcSignerAnchors::new(keys.to_vec())
}

fn stranger() -> SoftwareSigner {
    SoftwareSigner::new(PrivateKey::generate(KeyType::P256))
}

/// Every signed example of the TEEP, SUIT manifest, trust-domains and firmware-encryption
/// drafts, with the key that signed it.
fn signed_examples() -> Vec<(&'static str, PublicKey)> {
    let common = examples_key();
    let mut v: Vec<(&'static str, PublicKey)> = [
        "teep-protocol/common/derived/suit_uri.cbor",
        "teep-protocol/common/derived/suit_integrated.cbor",
        "teep-protocol/common/derived/suit_personalization.cbor",
        "teep-protocol/teep-26-renumbered/derived/update.manifest0.suit_envelope.cbor",
        "suit-manifest/examples/derived/example0.signed.cbor",
        "suit-manifest/examples/derived/example1.signed.cbor",
        "suit-manifest/examples/derived/example2.signed.cbor",
        "suit-manifest/examples/derived/example3.signed.cbor",
        "suit-manifest/examples/derived/example4.signed.cbor",
        "suit-manifest/examples/derived/example5.signed.cbor",
        "suit-trust-domains/examples/derived/example0_dependent.cbor",
        "suit-trust-domains/examples/derived/example1_process.cbor",
        "suit-trust-domains/examples/derived/example2_integrated.cbor",
        "suit-firmware-encryption/examples/derived/suit-manifest-es-ecdh-content.signed.cbor",
    ]
    .into_iter()
    .map(|p| (p, common.clone()))
    .collect();
    v.push((
        "suit-firmware-encryption/examples/derived/suit-manifest-es-ecdh-dependency.signed.cbor",
        spec_key("keys/fwenc-dependency-signer-p256-private.pem"),
    ));
    v
}

#[test]
fn spec_examples_are_accepted_with_their_signer_as_anchor_and_refused_without() {
    let other = stranger().public_key();
    for (path, key) in signed_examples() {
        let bytes = spec(path);
        let info = verify(&bytes, &anchors(&[other.clone(), key.clone()]))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        // The examples carry no kid: the anchor's thumbprint is recorded instead.
        assert_eq!(info.signer_kid, Some(key.thumbprint().to_vec()), "{path}");
        let untagged: &[u8] = if bytes[0] == 0xd8 {
            &bytes[2..]
        } else {
            &bytes
        };
        assert_eq!(info.untagged, untagged, "{path}: stored bytes differ");

        for refused in [anchors(std::slice::from_ref(&other)), anchors(&[])] {
            let e = verify(&bytes, &refused).unwrap_err();
            assert!(
                matches!(e, EnvelopeError::UntrustedSigner { .. }),
                "{path}: {e}"
            );
            let msg = e.to_string();
            assert!(
                msg.contains("names no kid") && msg.contains("--tc-signer-anchor"),
                "{path}: {msg}"
            );
        }
    }
}

#[test]
fn teep_examples_give_the_ids_the_tam_delivers_by() {
    let a = anchors(&[examples_key()]);
    let info = verify(
        &spec("teep-protocol/common/derived/suit_integrated.cbor"),
        &a,
    )
    .unwrap();
    let uuid = hex::decode("8d82573a926d4754935332dc29997f74").unwrap();
    assert_eq!(
        info.component_id,
        vec![
            b"TEEP-Device".to_vec(),
            b"SecureFS".to_vec(),
            uuid.clone(),
            b"ta".to_vec()
        ]
        .into()
    );
    assert_eq!(
        info.manifest_component_id,
        Some(
            vec![
                b"TEEP-Device".to_vec(),
                b"SecureFS".to_vec(),
                uuid,
                b"suit".to_vec()
            ]
            .into()
        )
    );
    assert_eq!(info.sequence, 3);
    // The personalization manifest's TC is config.json, not its dependency on the TA.
    let info = verify(
        &spec("teep-protocol/common/derived/suit_personalization.cbor"),
        &a,
    )
    .unwrap();
    assert_eq!(info.component_id.last().unwrap(), b"config.json");
}

#[test]
fn mac_only_envelope_is_refused_as_unsigned_by_a_tc_signer() {
    let bytes = spec("suit-firmware-encryption/examples/derived/suit-manifest-aes-kw.signed.cbor");
    let e = verify(&bytes, &anchors(&[examples_key()]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("COSE_Mac0 only"), "{e}");
}

/// Index of `needle` in `hay`, which must occur exactly once.
fn find_once(hay: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "{}", hex::encode(needle));
    hits[0]
}

#[test]
fn tampered_manifest_is_refused_by_the_integrity_check_even_when_trusted() {
    let mut bytes = spec("teep-protocol/common/derived/suit_integrated.cbor");
    // One byte of the manifest: the sequence number 3 becomes 4 (still valid CBOR).
    let i = find_once(&bytes, &[0x01, 0x01, 0x02, 0x03]);
    bytes[i + 3] = 0x04;
    let e = verify(&bytes, &anchors(&[examples_key()])).unwrap_err();
    assert!(matches!(e, EnvelopeError::Tampered { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("integrity check failed") && msg.contains("digest"),
        "{msg}"
    );
    // Integrity comes first: the message is the same without any anchor.
    assert!(matches!(
        verify(&bytes, &anchors(&[])),
        Err(EnvelopeError::Tampered { .. })
    ));
}

#[test]
fn flipped_signature_byte_is_refused() {
    // Signature of the spec example (no kid): neither an unknown signer nor a bad signature
    // can be told apart, and the message says both.
    let mut bytes = spec("teep-protocol/common/derived/suit_integrated.cbor");
    let sig = hex::decode("6a9f4d3de3b8bc49a47f12e13a3ef76c").unwrap();
    let i = find_once(&bytes, &sig);
    bytes[i] ^= 0x01;
    let msg = verify(&bytes, &anchors(&[examples_key()]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("altered after signing"), "{msg}");

    // With a kid naming a trusted signer the failing check is the signature itself.
    let tc = stranger();
    let ids = teep_tam::suit_wrap::ta_ids("flip");
    let mut env = teep_tam::suit_wrap::wrap_ta(&ids, b"payload", 1, &tc).unwrap();
    let decoded =
        teep_suit::decode_envelope_unverified(env.clone(), &teep_suit::Limits::default()).unwrap();
    let block = teep_suit::auth::parse_cose_block(&decoded.authentication.blocks[0], 0).unwrap();
    let i = find_once(&env, &block.signatures[0].signature);
    env[i + 10] ^= 0x01;
    let e = verify(&env, &anchors(&[tc.public_key()])).unwrap_err();
    assert_eq!(e, EnvelopeError::BadSignature { kid: tc.kid() });
    assert!(e.to_string().contains(&hex::encode(tc.kid())), "{e}");
}

#[test]
fn unknown_signer_is_named_by_its_kid() {
    let tc = stranger();
    let env =
        teep_tam::suit_wrap::wrap_ta(&teep_tam::suit_wrap::ta_ids("x"), b"x", 1, &tc).unwrap();
    let e = verify(&env, &anchors(&[examples_key()])).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "signer kid {} is not a trusted TC signer",
            hex::encode(tc.kid())
        )) && msg.contains("--tc-signer-anchor FILE"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrapped_ta_round_trips_through_teep_suit_and_installs() {
    let tam = start(Enroll::Tofu).await;
    let st = &tam.handle.state;
    let tc = teep_tam::ops::add_ta(&st.store, &st.tc_signer, "hello", b"Hello, TA!", 0)
        .await
        .unwrap();
    assert_eq!(tc.signer_kid, Some(st.tc_signer.kid()));
    // What the TAM delivers verifies with its TC-signer key alone...
    let trust = teep_suit::TrustAnchors::new(vec![st.tc_signer.public_key()]);
    let v = teep_suit::verify_envelope(tc.envelope.clone(), &trust).unwrap();
    assert!(!v.tagged);
    assert_eq!(v.sequence_number(), 1);
    assert_eq!(v.component_ids()[0].encode(), tc.component_id);
    // ...and installs on a device that trusts it.
    let mut store = teep_suit::MemoryStore::new();
    let out = teep_suit::Processor::new(trust).install(
        tc.envelope.clone(),
        &mut store,
        &mut teep_suit::NoFetcher,
    );
    out.result.unwrap();
    assert_eq!(
        store
            .components
            .get(&v.component_ids()[0])
            .map(|b| b.as_ref()),
        Some(&b"Hello, TA!"[..])
    );
    // The next wrap of the same name gets the next sequence number.
    let tc2 = teep_tam::ops::add_ta(&st.store, &st.tc_signer, "hello", b"v2", 0)
        .await
        .unwrap();
    assert_eq!(tc2.sequence, 2);
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_signed_by_the_tams_own_tc_signer_is_trusted_without_configuration() {
    let tam = start(Enroll::Tofu).await;
    let st = &tam.handle.state;
    let env = teep_tam::suit_wrap::wrap_ta(
        &teep_tam::suit_wrap::ta_ids("own"),
        b"own",
        7,
        &st.tc_signer,
    )
    .unwrap();
    let a = teep_tam::ops::tc_signer_anchors(&st.config, &st.tc_signer).unwrap();
    let tc = teep_tam::ops::add_envelope(&st.store, &a, None, &env, 0)
        .await
        .unwrap();
    assert_eq!(tc.sequence, 7);
    assert_eq!(tc.envelope, env);
    tam.handle.shutdown().await;
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn post_envelope(base: &str, body: &[u8]) -> (u16, String) {
    let mut r = agent()
        .post(format!("{base}/admin/tcs"))
        .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .header("Content-Type", "application/octet-stream")
        .send(body)
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_refuses_untrusted_and_tampered_envelopes_and_takes_anchored_ones() {
    let dir = tempfile::tempdir().unwrap();
    let anchor = dir.path().join("examples-signer.pem");
    std::fs::write(&anchor, spec("keys/suit-examples-p256-public.pem")).unwrap();
    let cfg_anchor = anchor.clone();
    let tam = start_with(
        dir,
        move |c| teep_tam::Config {
            tc_signer_anchors: vec![cfg_anchor],
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let base = tam.url("");
    let rogue = stranger();
    let untrusted =
        teep_tam::suit_wrap::wrap_ta(&teep_tam::suit_wrap::ta_ids("rogue"), b"r", 1, &rogue)
            .unwrap();
    let spec_env = spec("suit-manifest/examples/derived/example1.signed.cbor");
    let mut tampered = spec("teep-protocol/common/derived/suit_integrated.cbor");
    let i = find_once(&tampered, &[0x01, 0x01, 0x02, 0x03]);
    tampered[i + 3] = 0x04;
    let kid = hex::encode(rogue.kid());
    let (untrusted_r, tampered_r, spec_r) = tokio::task::spawn_blocking(move || {
        (
            post_envelope(&base, &untrusted),
            post_envelope(&base, &tampered),
            post_envelope(&base, &spec_env),
        )
    })
    .await
    .unwrap();
    assert_eq!(untrusted_r.0, 400, "{}", untrusted_r.1);
    assert!(
        untrusted_r.1.contains(&kid) && untrusted_r.1.contains("--tc-signer-anchor"),
        "{}",
        untrusted_r.1
    );
    assert_eq!(tampered_r.0, 400, "{}", tampered_r.1);
    assert!(
        tampered_r.1.contains("integrity check failed"),
        "{}",
        tampered_r.1
    );
    // Signed by the configured anchor, tagged: stored untagged, byte for byte, and the
    // answer says the tag was removed (issue 17: the TAM never sends a tagged envelope).
    assert_eq!(spec_r.0, 201, "{}", spec_r.1);
    let added: serde_json::Value = serde_json::from_str(&spec_r.1).unwrap();
    assert_eq!(added["tag_removed"], true, "{added}");
    assert_eq!(
        added["notes"],
        serde_json::json!([teep_tam::ops::TAG_REMOVED_NOTE]),
        "{added}"
    );
    assert_eq!(
        added["sequence"], 1,
        "the record itself is there too: {added}"
    );
    let tcs = tam.store().list_tcs().await.unwrap();
    assert_eq!(tcs.len(), 1, "refused uploads left nothing behind");
    assert_eq!(
        tcs[0].envelope,
        spec("suit-manifest/examples/derived/example1.signed.cbor")[2..]
    );
    assert_eq!(
        tcs[0].signer_kid,
        Some(examples_key().thumbprint().to_vec())
    );
    tam.handle.shutdown().await;
}

/// A multipart/form-data body with the given fields.
fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----teep-catalog-test-boundary";
    let mut body = Vec::new();
    for (name, filename, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread")]
async fn web_ui_upload_refuses_an_untrusted_envelope_naming_its_kid() {
    let tam = start(Enroll::Tofu).await;
    let base = tam.url("");
    let rogue = stranger();
    let env = teep_tam::suit_wrap::wrap_ta(&teep_tam::suit_wrap::ta_ids("rogue"), b"r", 1, &rogue)
        .unwrap();
    let kid = hex::encode(rogue.kid());
    let page = tokio::task::spawn_blocking(move || {
        let a = agent();
        let r = a
            .post(format!("{base}/ui/login"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(format!("token={ADMIN_TOKEN}"))
            .unwrap();
        let cookie = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap()
            .to_string();
        let (ct, body) = multipart(&[
            ("kind", None, b"envelope"),
            ("name", None, b""),
            ("file", Some("rogue.suit"), &env),
        ]);
        let mut r = a
            .post(format!("{base}/ui/upload"))
            .header("Cookie", &cookie)
            .header("Content-Type", &ct)
            .send(&body[..])
            .unwrap();
        r.body_mut().read_to_string().unwrap()
    })
    .await
    .unwrap();
    assert!(
        page.contains("Upload failed") && page.contains(&kid),
        "{page}"
    );
    assert!(tam.store().list_tcs().await.unwrap().is_empty());
    tam.handle.shutdown().await;
}

/// Catalog dependencies (migration 0008) stored with their entry and read back (SQLite; the
/// same check runs on PostgreSQL in tests/postgres.rs).
#[tokio::test(flavor = "multi_thread")]
async fn catalog_dependencies_are_stored_with_the_entry() {
    let tam = start(Enroll::Tofu).await;
    check_dependencies_stored(tam.store()).await;
    tam.handle.shutdown().await;
}

/// TEEP-26 §5: the policy snapshot carries each current catalog TC's manifest digest, the
/// SUIT_Digest its authentication wrapper signs, which attested `manifests` references are
/// matched against. It is computed when the snapshot is built and shared by every exchange
/// until the catalog changes, when the next snapshot has the new TC's.
#[tokio::test(flavor = "multi_thread")]
async fn teep_26_5_policy_snapshot_carries_manifest_digests_built_once() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let a = tam.store().policy().await.unwrap();
    let b = tam.store().policy().await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&a.catalog, &b.catalog));
    let signed = |tc: &teep_tam::model::TcRecord| {
        let env = teep_suit::decode_envelope_unverified(
            tc.envelope.clone(),
            &teep_suit::Limits::default(),
        )
        .unwrap();
        teep_cbor::SuitDigest {
            algorithm: env.digest().algorithm.to_cose(),
            bytes: env.digest().bytes.clone(),
        }
    };
    assert_eq!(a.catalog[0].manifest_digest, Some(signed(&a.catalog[0])));

    add_assigned_ta(&tam, "counter", b"count").await;
    let c = tam.store().policy().await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a.catalog, &c.catalog));
    assert_eq!(c.catalog.len(), 2);
    for tc in c.catalog.iter() {
        assert_eq!(tc.manifest_digest, Some(signed(tc)), "{}", tc.name);
    }
}
