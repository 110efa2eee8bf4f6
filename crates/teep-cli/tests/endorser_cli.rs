//! The manufacturing and trust commands end to end (RFC 9360 x5chain, RFC 9334 Endorser):
//! `teep tee provision ca|device` makes a maker's CA and endorses a device's attestation key,
//! `teep tam endorser add|list|remove` manages the roots a TAM under open enrollment
//! trusts, and endorsed simulated devices (`teep bench tam --endorsed-by`) enroll.

mod common;

use common::{count, scratch, serve, teep};

fn run(args: &[&str]) -> (bool, String) {
    let out = teep().args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn provision_a_fleet_trust_its_root_and_enroll_it_under_open_enrollment() {
    let dir = scratch("endorser_cli");
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (root, line, tam, dev) = (p("root"), p("line"), p("tam"), p("dev"));

    let (ok, out) = run(&[
        "tee",
        "provision",
        "ca",
        "--out",
        &root,
        "--name",
        "Acme Root",
    ]);
    assert!(ok && out.contains("root CA"), "{out}");
    let (ok, out) = run(&[
        "tee",
        "provision",
        "ca",
        "--out",
        &line,
        "--issuer",
        &root,
        "--name",
        "Acme Line",
        "--alg",
        "ed25519",
    ]);
    assert!(ok && out.contains("intermediate CA"), "{out}");
    let (ok, out) = run(&["tee", "provision", "device", "--state", &dev, "--ca", &line]);
    assert!(ok && out.contains("x5chain of 2 certificate(s)"), "{out}");

    // Open enrollment without a root does not start, and says both ways out.
    let (ok, out) = run(&[
        "tam",
        "serve",
        "--data",
        &tam,
        "--enroll",
        "open",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("teep tam endorser add") && out.contains("tofu"),
        "{out}"
    );

    let (ok, out) = run(&["tam", "endorser", "list", "--data", &tam]);
    assert!(ok && out.contains("no endorsement roots"), "{out}");
    let root_pem = format!("{line}/root.pem");
    let (ok, out) = run(&["tam", "endorser", "add", "--data", &tam, &root_pem]);
    assert!(
        ok && out.contains("added: ") && out.contains("Acme Root"),
        "{out}"
    );
    let sha = out.split_whitespace().nth(1).unwrap().to_string();
    let (ok, out) = run(&["tam", "endorser", "add", "--data", &tam, &root_pem]);
    assert!(ok && out.contains("already trusted"), "{out}");
    // An intermediate is refused as a root.
    let (ok, out) = run(&[
        "tam",
        "endorser",
        "add",
        "--data",
        &tam,
        &format!("{line}/ca.pem"),
    ]);
    assert!(!ok && out.contains("self-issued"), "{out}");
    let (ok, out) = run(&[
        "tam", "endorser", "list", "--data", &tam, "--format", "json",
    ]);
    assert!(ok && out.contains(&sha), "{out}");

    // Endorsed simulated devices of the same line enroll and get their TC.
    let ta = dir.join("hello.ta");
    std::fs::write(&ta, b"hello").unwrap();
    let (ok, out) = run(&[
        "tam",
        "tc",
        "add",
        "--name",
        "hello",
        "--assign",
        "all",
        "--data",
        &tam,
        "--ta",
        ta.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let (server, url) = serve(std::path::Path::new(&tam), "open");
    let (ok, out) = run(&[
        "bench",
        "tam",
        "--quiet",
        "--devices",
        "3",
        "--concurrency",
        "1",
        "--duration",
        "1",
        "--url",
        &url,
        "--endorsed-by",
        &line,
    ]);
    assert!(ok, "{out}");
    assert!(count(&out, "exchanges") > 0, "{out}");
    assert_eq!(count(&out, "errors"), 0, "{out}");
    assert_eq!(count(&out, "updated"), count(&out, "exchanges"), "{out}");
    // Enrolled through their endorsement, the same devices can no longer attest without it.
    let (_, out) = run(&[
        "bench",
        "tam",
        "--quiet",
        "--devices",
        "3",
        "--concurrency",
        "1",
        "--duration",
        "1",
        "--url",
        &url,
    ]);
    assert!(
        out.contains("AttestationRequired") || out.contains("attestation"),
        "{out}"
    );
    drop(server);

    let (ok, out) = run(&["tam", "endorser", "remove", "--data", &tam, &sha[..10]]);
    assert!(ok && out.contains("removed"), "{out}");
    let (ok, out) = run(&["tam", "endorser", "remove", "--data", &tam, &sha[..10]]);
    assert!(!ok && out.contains("not found"), "{out}");
}
