//! The operator's side of `teep agent`: a request recorded on a new state directory, the TAM
//! list, the device's TEEP public key for a TAM to register it, and runs aimed at one TAM while
//! another remembered one fails, with `--dump` and `--strict` against teep's own TAM.

// Not every helper of the shared module is used here.
#[allow(dead_code)]
mod common;

use common::{scratch, serve};

/// Runs `teep ARGS...`; returns success, stdout and stderr.
fn teep(args: &[&str]) -> (bool, String, String) {
    let out = common::teep().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(args: &[&str]) -> String {
    let (ok, stdout, stderr) = teep(args);
    assert!(ok, "teep {args:?}: {stdout}{stderr}");
    stdout
}

/// A loopback URI where nothing listens.
fn dead_uri() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}/tam")
}

#[test]
fn request_without_session_on_a_new_state_dir_then_tam_list_and_status_key() {
    let dir = scratch("agent_cli-new");
    let state = dir.join("never-created");
    let state = state.to_str().unwrap();
    let out = ok(&[
        "agent",
        "request",
        "hello",
        "--no-session",
        "--state",
        state,
    ]);
    assert!(out.starts_with("requested "), "{out}");

    let tam = "http://127.0.0.1:1/tam";
    assert_eq!(
        ok(&["agent", "tam", "add", tam, "--state", state]),
        format!("added TAM {tam}\n")
    );
    let list = ok(&["agent", "tam", "list", "--state", state]);
    assert_eq!(list, format!("{tam}\n  not contacted yet\n"));
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["agent", "tam", "list", "--json", "--state", state])).unwrap();
    assert_eq!(json[0]["uri"], tam);
    assert_eq!(
        ok(&["agent", "tam", "remove", tam, "--state", state]),
        format!("removed TAM {tam}\n")
    );
    assert_eq!(
        ok(&["agent", "tam", "list", "--state", state]),
        "(no TAM known)\n"
    );

    // The TEEP public key, as PEM and JWK, is the key whose thumbprint is the kid.
    let status: serde_json::Value =
        serde_json::from_str(&ok(&["agent", "status", "--json", "--state", state])).unwrap();
    let key = &status["teep_key"];
    let kid = key["kid"].as_str().unwrap();
    let pem_file = dir.join("teep.pub.pem");
    std::fs::write(&pem_file, key["pem"].as_str().unwrap()).unwrap();
    let jwk_file = dir.join("teep.jwk");
    std::fs::write(&jwk_file, key["jwk"].to_string()).unwrap();
    for f in [&pem_file, &jwk_file] {
        let k = teep_cose::PublicKey::load(f).unwrap();
        assert_eq!(hex::encode(k.thumbprint()), kid);
    }
    let text = ok(&["agent", "status", "--state", state]);
    assert!(
        text.contains(key["pem"].as_str().unwrap().trim_end()),
        "{text}"
    );
    assert!(text.contains("TEEP key (JWK): {"), "{text}");
}

#[test]
fn a_failing_remembered_tam_does_not_fail_a_run_aimed_at_another() {
    let dir = scratch("agent_cli-aimed");
    let data = dir.join("tam-data");
    let (_server, url) = serve(&data, "tofu");
    let state = dir.join("agent");
    let state = state.to_str().unwrap();
    let dead = dead_uri();
    ok(&["agent", "tam", "add", &dead, "--state", state]);

    // Aimed at the live TAM: the dead one is not contacted, the run succeeds. --strict: teep's
    // own TAM needs no deviation.
    // The P-256 key the TAM generated (its public half is taken).
    let tam_key = data.join("tam-p256.pem");
    let out = ok(&[
        "agent",
        "run",
        "--state",
        state,
        "--tam",
        &url,
        "--tam-key",
        tam_key.to_str().unwrap(),
        "--attempts",
        "1",
        "--strict",
        "--dump",
    ]);
    assert!(out.contains(&format!("{url}: session done (")), "{out}");
    assert!(!out.contains(&dead), "{out}");
    assert!(!out.contains("tolerated"), "{out}");
    // The dump: the empty POST named, headers, and where each COSE header parameter was.
    assert!(
        out.contains(&format!("Broker→TAM  empty POST\n>>> POST {url}\n")),
        "{out}"
    );
    assert!(out.contains("TAM→Broker  QueryRequest"), "{out}");
    assert!(
        out.contains("  Accept: application/teep+cbor\n  Content-Length: 0\n"),
        "{out}"
    );
    assert!(out.contains("(empty body: new session)"), "{out}");
    assert!(out.contains("<<< 200 OK"), "{out}");
    assert!(
        out.contains("  header: COSE_Sign.signatures[0] protected alg (1): -9\n"),
        "{out}"
    );
    assert!(
        out.contains("  header: COSE_Sign1 protected kid (4): h'"),
        "{out}"
    );

    // -26 §8.2: the EAT went encrypted to the TAM by default; `--no-encrypt-to-tam` sends it
    // in the clear (readable in the dump).
    assert!(out.contains("evidence=EAT(encrypted to the TAM)"), "{out}");
    let clear = ok(&[
        "agent",
        "run",
        "--state",
        state,
        "--tam",
        &url,
        "--attempts",
        "1",
        "--no-encrypt-to-tam",
        "--dump",
    ]);
    assert!(clear.contains("evidence=EAT(ESP256 kid "), "{clear}");
    assert!(!clear.contains("encrypted to the TAM"), "{clear}");

    // Every remembered TAM: the live one is still served, the dead one fails the run.
    let (ok_all, stdout, stderr) = teep(&["agent", "run", "--state", state, "--attempts", "1"]);
    assert!(!ok_all);
    assert!(
        stdout.contains(&format!("{url}: session done (")),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("{dead}: session failed")),
        "{stderr}"
    );
    assert!(stderr.contains("1 TAM session(s) failed"), "{stderr}");

    let list = ok(&["agent", "tam", "list", "--state", state]);
    assert!(
        list.contains(&format!("{url}\n  numbering:  draft26 (learnt)")),
        "{list}"
    );
}

/// RFC 9397 §4.3 leaves to the device whether a TAM may remove what another TAM installed and
/// which TAMs a TC Signer signs for: `teep agent policy` sets both in the agent's state, by
/// kid, and refuses a key that is not one of the device's trust anchors, changing nothing.
#[test]
fn rfc9397_4_3_agent_policy_cross_tam_unlink_and_signer_scopes() {
    let dir = scratch("agent_cli-policy");
    let state = dir.join("state");
    let state = state.to_str().unwrap();
    let key = |name: &str| {
        let prefix = dir.join(name);
        ok(&["key", "gen", "--out", prefix.to_str().unwrap(), "--force"]);
        dir.join(format!("{name}.pub.pem"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let (tam_a, tam_b, signer, stranger) = (key("tam-a"), key("tam-b"), key("signer"), key("x"));
    // Trust anchors are added before the sessions; the one session then fails (nothing listens).
    let dead = dead_uri();
    let (_, _, stderr) = teep(&[
        "agent",
        "run",
        "--state",
        state,
        "--tam",
        &dead,
        "--attempts",
        "1",
        "--tam-key",
        &tam_a,
        "--tam-key",
        &tam_b,
        "--tc-signer-key",
        &signer,
    ]);
    assert!(stderr.contains("session failed"), "{stderr}");
    let kid = |path: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&["key", "show", path, "--json"])).unwrap();
        v["kid"].as_str().unwrap().to_string()
    };

    let shown = ok(&["agent", "policy", "show", "--state", state]);
    assert!(shown.starts_with("cross-TAM unlink: deny\n"), "{shown}");
    assert_eq!(
        ok(&[
            "agent",
            "policy",
            "cross-tam-unlink",
            "allow",
            "--state",
            state
        ]),
        "cross-TAM unlink: allow\n"
    );
    ok(&[
        "agent",
        "policy",
        "scope-signer",
        &signer,
        "--tam-key",
        &tam_a,
        "--state",
        state,
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "agent", "policy", "show", "--json", "--state", state,
    ]))
    .unwrap();
    assert_eq!(v["cross_tam_unlink"], "allow");
    assert_eq!(
        v["tc_signer_scopes"][kid(&signer)],
        serde_json::json!([kid(&tam_a)])
    );

    // Not a TAM trust anchor of this device: refused, the scope stays as it was.
    let (success, _, stderr) = teep(&[
        "agent",
        "policy",
        "scope-signer",
        &signer,
        "--tam-key",
        &stranger,
        "--state",
        state,
    ]);
    assert!(!success);
    assert!(
        stderr.contains("not a tam trust anchor of this device"),
        "{stderr}"
    );
    let after: serde_json::Value = serde_json::from_str(&ok(&[
        "agent", "policy", "show", "--json", "--state", state,
    ]))
    .unwrap();
    assert_eq!(after, v);

    ok(&[
        "agent",
        "policy",
        "unscope-signer",
        &signer,
        "--state",
        state,
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "agent", "policy", "show", "--json", "--state", state,
    ]))
    .unwrap();
    assert_eq!(v["tc_signer_scopes"], serde_json::json!({}));
}
