//! `teep tam tc add`: the catalog takes envelopes only from trusted TC signers (the TAM's own
//! TC-signer key and --tc-signer-anchor keys), refuses tampered ones, and wraps --ta binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

use teep_cose::{KeyType, PrivateKey, Signer, SoftwareSigner};

fn spec(path: &str) -> PathBuf {
    PathBuf::from(format!(
        "{}/../../../shared/spec/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// A fresh directory for one test under Cargo's per-target temporary directory.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tam_tc_add-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `teep tam tc add --data DATA ARGS...`; returns success and the output lines.
fn tc_add(data: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_teep"))
        .args(["tam", "tc", "add", "--data"])
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn tc_add_checks_the_signer_and_wraps_tas() {
    let dir = scratch("signer");
    let data = dir.join("tam-data");
    let example = spec("teep-protocol/common/derived/suit_integrated.cbor");
    let example = example.to_str().unwrap();
    let anchor = spec("keys/suit-examples-p256-public.pem");
    let anchor = anchor.to_str().unwrap();

    // Spec example, signer not trusted: refused, and told how to trust it.
    let (ok, out) = tc_add(&data, &[example]);
    assert!(!ok, "{out}");
    assert!(out.contains("--tc-signer-anchor"), "{out}");
    // Trusted with --tc-signer-anchor.
    let (ok, out) = tc_add(&data, &["--tc-signer-anchor", anchor, example]);
    assert!(ok, "{out}");
    assert!(out.contains("sequence 3"), "{out}");

    // --ta creates the TAM's TC-signer key; envelopes signed by it need no anchor.
    let ta = dir.join("hello.wasm");
    std::fs::write(&ta, b"\0asm\x01\0\0\0").unwrap();
    let (ok, out) = tc_add(&data, &["--ta", ta.to_str().unwrap(), "--name", "hello"]);
    assert!(ok, "{out}");
    let own = SoftwareSigner::new(PrivateKey::load(&data.join("tc-signer.pem")).unwrap());
    let ids = teep_tam::suit_wrap::ta_ids("own");
    let env = dir.join("own.suit");
    std::fs::write(
        &env,
        teep_tam::suit_wrap::wrap_ta(&ids, b"own", 1, &own).unwrap(),
    )
    .unwrap();
    let (ok, out) = tc_add(&data, &[env.to_str().unwrap()]);
    assert!(ok, "{out}");

    // Another signer is named by its kid.
    let rogue = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
    let env = dir.join("rogue.suit");
    std::fs::write(
        &env,
        teep_tam::suit_wrap::wrap_ta(&ids, b"rogue", 2, &rogue).unwrap(),
    )
    .unwrap();
    let (ok, out) = tc_add(&data, &[env.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(out.contains(&hex::encode(rogue.kid())), "{out}");
    // ...and accepted once its public key is an anchor.
    let rogue_pub = dir.join("rogue.pem");
    std::fs::write(&rogue_pub, rogue.public_key().to_spki_pem()).unwrap();
    let (ok, out) = tc_add(
        &data,
        &[
            "--tc-signer-anchor",
            rogue_pub.to_str().unwrap(),
            env.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");

    // A flipped manifest byte fails the integrity check whoever is trusted.
    let mut bytes =
        std::fs::read(spec("teep-protocol/common/derived/suit_integrated.cbor")).unwrap();
    let i = bytes
        .windows(4)
        .position(|w| w == [0x01, 0x01, 0x02, 0x03])
        .unwrap();
    bytes[i + 3] = 0x04;
    let tampered = dir.join("tampered.suit");
    std::fs::write(&tampered, &bytes).unwrap();
    let (ok, out) = tc_add(
        &data,
        &["--tc-signer-anchor", anchor, tampered.to_str().unwrap()],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("integrity check failed"), "{out}");

    // A missing anchor file is named.
    let (ok, out) = tc_add(&data, &["--tc-signer-anchor", "/nonexistent.pem", example]);
    assert!(!ok, "{out}");
    assert!(out.contains("/nonexistent.pem"), "{out}");

    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 17: an uploaded tagged envelope (tag 107, as AttesTAM stores its preloaded TC) is
/// stored untagged, since manifest-list takes `bstr .cbor SUIT_Envelope`, and the upload says
/// so; an untagged upload says nothing of the kind.
#[test]
fn tc_add_of_a_tagged_envelope_says_the_tag_was_removed() {
    let dir = scratch("tagged");
    let data = dir.join("tam-data");
    let anchor = spec("keys/suit-examples-p256-public.pem");
    let anchor = anchor.to_str().unwrap();
    let untagged =
        std::fs::read(spec("teep-protocol/common/derived/suit_integrated.cbor")).unwrap();
    let tagged = dir.join("tagged.suit");
    std::fs::write(&tagged, [&[0xd8, 0x6b][..], &untagged].concat()).unwrap();

    let (ok, out) = tc_add(
        &data,
        &["--tc-signer-anchor", anchor, tagged.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("\nnote: the envelope carried tag 107 (SUIT_Envelope_Tagged); it is stored and delivered untagged"),
        "{out}"
    );
    let stored = stored_envelopes(&data);
    assert_eq!(stored, vec![untagged.clone()]);

    let plain = dir.join("plain.suit");
    std::fs::write(&plain, &untagged).unwrap();
    let data2 = dir.join("tam-data-2");
    let (ok, out) = tc_add(
        &data2,
        &["--tc-signer-anchor", anchor, plain.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    assert!(!out.contains("note:"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The envelopes the catalog of `data` holds, as it will deliver them.
fn stored_envelopes(data: &Path) -> Vec<Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}", data.join("tam.db").display());
        let store = teep_tam::Store::open(&url, &Default::default())
            .await
            .unwrap();
        store
            .latest_tcs()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.envelope)
            .collect()
    })
}

/// `--ta --by-uri` (draft-ietf-teep-protocol-26 Appendix E Example 1): refused without the
/// TAM's public URL, which the error names; with it, the manifest carries no payload and the
/// payload is kept for the TAM to serve.
#[test]
fn tc_add_by_uri_needs_the_public_url_and_keeps_the_payload() {
    let dir = scratch("by-uri");
    let data = dir.join("tam-data");
    let ta = dir.join("hello.wasm");
    let bytes = b"\0asm\x01\0\0\0 by uri".to_vec();
    std::fs::write(&ta, &bytes).unwrap();
    let ta = ta.to_str().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_teep"))
        .args(["tam", "tc", "add", "--data"])
        .arg(&data)
        .args(["--ta", ta, "--name", "hello", "--by-uri"])
        .env_remove("TEEP_TAM_PUBLIC_URL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("public_url") && text.contains("--public-url"),
        "{text}"
    );
    assert!(stored_envelopes(&data).is_empty());

    let (ok, out) = tc_add(
        &data,
        &[
            "--ta",
            ta,
            "--name",
            "hello",
            "--by-uri",
            "--public-url",
            "https://tam.example.org",
        ],
    );
    assert!(ok, "{out}");
    let stored = stored_envelopes(&data);
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].windows(bytes.len()).any(|w| w == bytes));
    let sha = hex::encode(teep_suit::Digest::sha256(&bytes).bytes);
    let uri = format!("https://tam.example.org/tam/payloads/{sha}");
    assert!(
        stored[0].windows(uri.len()).any(|w| w == uri.as_bytes()),
        "the manifest names {uri}"
    );
    let digest: [u8; 32] = teep_suit::Digest::sha256(&bytes).bytes.try_into().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let kept = rt.block_on(async {
        let url = format!("sqlite://{}", data.join("tam.db").display());
        let store = teep_tam::Store::open(&url, &Default::default())
            .await
            .unwrap();
        store.payload(&digest).await.unwrap()
    });
    assert_eq!(kept, Some(bytes));

    // A signed envelope that fetches by URI, uploaded with --payload: the payload must be the
    // one its image digest and size name.
    let own = SoftwareSigner::new(PrivateKey::load(&data.join("tc-signer.pem")).unwrap());
    let other = b"another TA".to_vec();
    let digest: [u8; 32] = teep_suit::Digest::sha256(&other).bytes.try_into().unwrap();
    let uri = teep_tam::payloads::payload_uri("https://tam.example.org", &digest);
    let ids = teep_tam::suit_wrap::ta_ids("other");
    let env = dir.join("other.suit");
    std::fs::write(
        &env,
        teep_tam::suit_wrap::wrap_ta_by_uri(&ids, &other, 1, &uri, &own).unwrap(),
    )
    .unwrap();
    let wrong = dir.join("wrong.bin");
    std::fs::write(&wrong, b"another tA").unwrap();
    let right = dir.join("right.bin");
    std::fs::write(&right, &other).unwrap();
    let env = env.to_str().unwrap();
    let (ok, out) = tc_add(&data, &[env, "--payload", wrong.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("does not match the manifest's image digest"),
        "{out}"
    );
    let (ok, out) = tc_add(
        &data,
        &[
            env,
            "--payload",
            right.to_str().unwrap(),
            "--public-url",
            "https://tam.example.org",
        ],
    );
    assert!(ok, "{out}");
    assert!(!out.contains("note:"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
