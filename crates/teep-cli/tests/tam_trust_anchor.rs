//! `teep tam trust-anchor` (RFC 9397 §5; docs/attestation/tamatt.md): builds the next
//! trust-anchor update of a kind, signed by the given anchor key, adds it to the catalog and
//! assigns it; bad input is an error naming it, and adds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use teep_cose::PrivateKey;

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tam_trust_anchor-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn teep(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_teep"))
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
fn rfc9397_5_trust_anchor_update_is_added_in_sequence_and_assigned() {
    let dir = scratch("add");
    let data = dir.join("tam-data");
    let signer = dir.join("signer.pem");
    std::fs::write(
        &signer,
        PrivateKey::from_p256_scalar(&[3; 32])
            .unwrap()
            .to_pkcs8_pem(),
    )
    .unwrap();
    let new_key = PrivateKey::from_p256_scalar(&[4; 32]).unwrap().public_key();
    let key = dir.join("new.pem");
    std::fs::write(&key, new_key.to_spki_pem()).unwrap();
    let args = |op: &str, kind: &str| -> Vec<String> {
        [
            "tam",
            "trust-anchor",
            "--data",
            data.to_str().unwrap(),
            "--kind",
            kind,
            "--op",
            op,
            "--key",
            key.to_str().unwrap(),
            "--sign-with",
            signer.to_str().unwrap(),
            "--assign",
            "all",
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |a: Vec<String>| teep(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (ok, out) = run(args("add", "tc-signer"));
    assert!(ok, "{out}");
    let kid = hex::encode(new_key.thumbprint());
    assert!(out.contains("trust-anchors-tc-signer"), "{out}");
    assert!(out.contains(&format!("sequence 1: add {kid}")), "{out}");
    assert!(out.contains("assigned to all"), "{out}");
    let (ok, out) = run(args("remove", "tc-signer"));
    assert!(ok && out.contains("sequence 2: remove"), "{out}");

    let (ok, out) = run(args("rotate", "tc-signer"));
    assert!(
        !ok && out.contains("expected add, replace or remove"),
        "{out}"
    );
    let (ok, out) = run(args("add", "device"));
    assert!(!ok && out.contains("expected tam or tc-signer"), "{out}");
    let (ok, out) = teep(&["tam", "tc", "list", "--data", data.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert_eq!(out.matches("trust-anchors-tc-signer").count(), 2, "{out}");
}
