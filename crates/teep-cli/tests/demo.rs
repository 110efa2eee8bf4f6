//! `teep demo` reads like a session log: by default a line per step and one per TEEP message,
//! on one screen, ending with the TA's answer and its deletion; `--verbose` shows each message
//! in full, every field named.

use std::process::Command;

fn demo(args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_teep"))
        .arg("demo")
        .args(args)
        .env_remove("TEEP_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    (stdout, stderr)
}

/// The lines of the session view: direction, then the message's summary.
fn sequence(out: &str) -> Vec<&str> {
    out.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("Broker→TAM  ") || l.starts_with("TAM→Broker  "))
        .collect()
}

#[test]
fn demo_is_a_short_narrated_session_log() {
    let (out, err) = demo(&[]);
    let lines = out.lines().count();
    assert!(lines < 60, "{lines} lines:\n{out}");
    assert!(out.contains(">>> Hello IETF TEEP!"), "{out}");
    assert!(
        out.contains("`hello` deleted: 0 components installed, invoking it fails"),
        "{out}"
    );
    // The TAM's and the Broker's warnings do not reach a person watching the demo.
    assert!(err.is_empty(), "{err}");

    // Two sessions (install, delete), each: the empty POST, QueryRequest, QueryResponse,
    // Update, Success, and the end of the session.
    let seq = sequence(&out);
    let mut types = Vec::new();
    for l in &seq {
        let (direction, summary) = l.split_once("  ").unwrap();
        let first = summary.split_whitespace().next().unwrap_or_default();
        types.push(format!("{direction} {first}"));
    }
    let session = [
        "Broker→TAM empty",
        "TAM→Broker QueryRequest",
        "Broker→TAM QueryResponse",
        "TAM→Broker Update",
        "Broker→TAM Success",
        "TAM→Broker 204",
    ];
    assert_eq!(types, [session, session].concat(), "{out}");
    assert!(seq.contains(&"Broker→TAM  empty POST"), "{out}");
    // Each message's summary: its token, contents and signer.
    let update = seq.iter().find(|l| l.contains("Update")).unwrap();
    assert!(update.contains("token="), "{update}");
    assert!(
        seq.iter().all(|l| l.contains("empty POST")
            || l.contains("(session over)")
            || l.contains(" signed ")),
        "{out}"
    );
    assert!(seq.iter().any(|l| l.contains("evidence=EAT")), "{out}");
    assert!(
        seq.contains(&"TAM→Broker  204 No Content (session over)"),
        "{out}"
    );
    // The Agent's outcomes are narrated, between the messages.
    assert!(
        out.contains("Agent: manifest `hello-manifest` (sequence 1) verified and installed"),
        "{out}"
    );
    assert!(
        out.contains("Agent: manifest `hello-manifest` unlinked and its component removed"),
        "{out}"
    );
    // The TA's component ids are named as the narration introduced them.
    assert!(
        seq.iter()
            .any(|l| l.starts_with("TAM→Broker  Update")
                && l.contains("manifest-list=[hello seq 1]")),
        "{out}"
    );
    // The message views are summaries, not CBOR trees.
    assert!(
        !out.lines().any(|l| l.trim_start().starts_with(['{', '"'])),
        "{out}"
    );
}

#[test]
fn verbose_demo_shows_each_message_named() {
    let (out, _) = demo(&["--verbose"]);
    assert!(out.contains(">>> Hello IETF TEEP!"), "{out}");
    assert_eq!(sequence(&out).len(), 12, "{out}");
    for want in [
        "\"type\": \"query-request\"",
        "\"type\": \"query-response\"",
        "\"type\": \"update\"",
        "\"type\": \"success\"",
        "\"manifest-list\"",
        "\"unneeded-manifest-list\"",
        "\"numbering\": \"draft26\"",
        // Named all the way down: the SUIT envelope in the Update, the EAT in the
        // QueryResponse (encrypted to the TAM, -26 §8.2), the COSE headers.
        "\"manifest-sequence-number\": 1",
        "\"shared-sequence\"",
        "\"content-algorithm\": \"A128GCM\"",
        "\"kid (4)\"",
        // The Evidence carries the device's endorsement (RFC 9360); encrypted on the wire,
        // the demo names the chain it sends.
        "x5chain: device certificate <- Demo Maker Line CA",
        "Agent: sending QueryResponse",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
    assert!(out.lines().count() > 100, "{out}");
}

#[test]
fn quiet_demo_narrates_only() {
    let (out, _) = demo(&["--quiet", "--legacy"]);
    assert!(out.contains(">>> Hello IETF TEEP!"), "{out}");
    assert!(sequence(&out).is_empty(), "{out}");
    assert!(out.lines().count() < 20, "{out}");
}
