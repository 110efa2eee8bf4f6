//! The operator's commands on a running TAM's data: `device add` admits a device under
//! registered enrolment, and after its session `device list` (text and JSON), `device show`,
//! `tc list` and `log` show what it holds and what was exchanged.

mod common;

use std::path::Path;

use common::{count, scratch, serve, serve_args};
use teep_bench::sim::{numbered_key, DeviceAlg};

/// Runs `teep ARGS...`; returns success and stdout + stderr.
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

/// One second of load from simulated device 0 (the key written by the test).
fn session(url: &str) -> (bool, String) {
    let (ok, stdout, stderr) = teep(&[
        "bench",
        "tam",
        "--quiet",
        "--devices",
        "1",
        "--concurrency",
        "1",
        "--alg",
        "ed25519",
        "--duration",
        "1",
        "--url",
        url,
    ]);
    (ok, format!("{stdout}{stderr}"))
}

#[test]
fn device_add_list_show_tc_list_and_log_on_a_running_server() {
    let dir = scratch("tam_cli-ops");
    let data = dir.join("tam-data");
    let data = data.to_str().unwrap();
    let ta = dir.join("hello.wasm");
    std::fs::write(&ta, b"\0asm\x01\0\0\0").unwrap();
    let (server, url) = serve(Path::new(data), "registered");

    // The catalog, changed while the server runs.
    let out = ok(&[
        "tam",
        "tc",
        "add",
        "--data",
        data,
        "--ta",
        ta.to_str().unwrap(),
        "--name",
        "hello",
        "--assign",
        "tag:lab",
    ]);
    assert!(out.contains("sequence 1"), "{out}");
    let out = ok(&["tam", "tc", "list", "--data", data]);
    assert!(
        out.contains("hello") && out.contains("seq 1") && out.contains("assigned: tag:lab"),
        "{out}"
    );
    let catalog: serde_json::Value = serde_json::from_str(&ok(&[
        "tam", "tc", "list", "--data", data, "--format", "json",
    ]))
    .unwrap();
    let hello = &catalog["tcs"][0];
    assert_eq!(hello["name"], "hello", "{catalog}");
    let hello_id = hello["component_id"].as_str().unwrap().to_string();

    // Not registered yet: refused.
    let (passed, out) = session(&url);
    assert!(!passed, "{out}");

    let key = dir.join("device.pem");
    let public = numbered_key(0, DeviceAlg::Ed25519).public_key();
    std::fs::write(&key, public.to_spki_pem()).unwrap();
    let kid = hex::encode(public.thumbprint());
    let device_add = |more: &[&str]| {
        let key = key.to_str().unwrap();
        teep(
            &[
                &["tam", "device", "add", "--data", data, "--key", key],
                more,
            ]
            .concat(),
        )
    };
    let (added, out, err) = device_add(&["--name", "alpha", "--tag", "lab"]);
    assert!(added, "{out}{err}");
    assert!(out.contains(&kid), "{out}");
    let (ok_again, _, err) = device_add(&[]);
    assert!(!ok_again, "a second registration of one key must fail");
    assert!(!err.is_empty());

    // Registered and tagged: its sessions now get the TC assigned to the tag.
    let (passed, out) = session(&url);
    assert!(passed, "{out}");
    assert!(
        count(&out, "updated") > 0,
        "no session got the Update: {out}"
    );

    let list = ok(&["tam", "device", "list", "--data", data]);
    assert!(
        list.contains("alpha") && list.contains("tags [lab]") && list.contains(&hello_id),
        "{list}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "tam", "device", "list", "--data", data, "--format", "json",
    ]))
    .unwrap();
    let devices = json.as_array().unwrap();
    assert_eq!(devices.len(), 1, "{json}");
    let d = &devices[0];
    assert_eq!(d["name"], "alpha");
    assert_eq!(d["kid"], kid.as_str());
    assert_eq!(d["tags"], serde_json::json!(["lab"]));
    assert!(d["last_seen"].is_i64(), "{d}");
    // The device is forgetful (it reports an empty tc-list), so it holds the TC after each
    // Success and the list shows it by component id.
    let installed = d["installed"].as_array().unwrap();
    assert_eq!(installed.len(), 1, "{d}");
    assert_eq!(installed[0]["component_id"], hello_id.as_str(), "{d}");
    assert_eq!(installed[0]["sequence"], 1);
    assert_eq!(installed[0]["origin"], "policy");

    for id in [d["id"].to_string(), kid.clone()] {
        let shown: serde_json::Value =
            serde_json::from_str(&ok(&["tam", "device", "show", "--data", data, &id])).unwrap();
        assert_eq!(shown["name"], "alpha", "{shown}");
        assert_eq!(shown["installed"], d["installed"]);
    }
    let (found, _, err) = teep(&["tam", "device", "show", "--data", data, "999999"]);
    assert!(!found && !err.is_empty());

    // The audit log: one JSON object per line, newest last, each message decoded.
    let log = ok(&[
        "tam", "log", "--data", data, "--limit", "4", "--device", &kid,
    ]);
    let entries: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 4, "{log}");
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"QueryResponse"), "{kinds:?}");
    assert!(kinds.contains(&"Success"), "{kinds:?}");
    assert!(entries.iter().all(|e| e["device_kid"] == kid.as_str()));
    assert!(entries.iter().all(|e| e["decoded"].is_object()), "{log}");
    drop(server);
}

/// One HTTP/1.1 request over a fresh connection; returns the status line.
fn http(url: &str, head: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "{head}Host: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    // The server may close before reading an oversized body; what it sent first is kept.
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_string()
}

#[test]
fn dump_shows_teep_messages_refusals_and_admin_traffic_without_credentials() {
    let dir = scratch("tam_cli-dump");
    let token = "dump-test-admin-token";
    let (_server, url, stdout) = serve_args(
        &dir.join("tam-data"),
        &[
            "--enroll",
            "tofu",
            "--dump",
            "--admin-token",
            token,
            "--body-limit",
            "4096",
        ],
    );
    let ct = "Content-Type: application/teep+cbor\r\n";
    let cases = [
        (
            "POST /tam HTTP/1.1\r\nContent-Length: 0\r\n".to_string(),
            Vec::new(),
        ),
        (
            format!("POST /tam HTTP/1.1\r\n{ct}Content-Length: 9000\r\n"),
            Vec::new(),
        ),
        (
            format!("POST /tam HTTP/1.1\r\n{ct}Content-Length: 3\r\n"),
            b"abc".to_vec(),
        ),
        (
            format!("GET /admin/devices HTTP/1.1\r\nAuthorization: Bearer {token}\r\n"),
            Vec::new(),
        ),
    ];
    let statuses: Vec<String> = cases.iter().map(|(h, b)| http(&url, h, b)).collect();
    for (status, want) in statuses.iter().zip(["200", "413", "400", "200"]) {
        assert!(status.contains(want), "{statuses:?}");
    }
    // Every request and response is dumped before the response leaves, so all of it is
    // in the pipe by now.
    let mut dump = String::new();
    // A response's dump ends with an empty line.
    while dump.matches("<<< ").count() < cases.len() || !dump.ends_with("\n\n") {
        let line = stdout
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("dump so far:\n{dump}"));
        dump.push_str(&line);
        dump.push('\n');
    }
    for want in [
        "Broker→TAM  empty POST\n>>> POST /tam",
        "(empty body: new session)",
        "TAM→Broker  QueryRequest",
        "<<< 200 OK",
        "content-type: application/teep+cbor",
        "\"type\": \"query-request\"",
        "(body not read)",
        "<<< 413 Payload Too Large",
        "  | request body: larger than the limit of 4096 bytes",
        "Broker→TAM  3 bytes, not a TEEP message",
        "not a TEEP message",
        "TAM→Broker  400 Bad Request: ",
        "<<< 400 Bad Request",
        ">>> GET /admin/devices",
        "authorization: <not shown>",
        "  | [",
    ] {
        assert!(dump.contains(want), "no {want:?} in\n{dump}");
    }
    assert!(
        !dump.contains(token),
        "the admin token leaked into the dump:\n{dump}"
    );
}

/// Logs written to a file or a pipe are plain text: no terminal colour codes for grep and log
/// collectors to trip over.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let dir = scratch("log_output");
    // At debug level opening the database logs its statements, whatever the command.
    let out = common::teep()
        .env("TEEP_LOG", "debug")
        .args(["tam", "tc", "list", "--data"])
        .arg(dir.join("tam"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("DEBUG"), "no log line to check: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes in piped logs: {stderr:?}"
    );
}
