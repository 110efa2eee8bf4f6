//! `teep check agent` from the command line against `teep agent run`: the agent run per
//! session through `--agent-cmd`, or connecting to `--listen`; the exit status follows the MUST
//! cases; `teep check catalog agent` prints the agent catalog.

// Not every helper of the shared module is used here.
#[allow(dead_code)]
mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{scratch, teep};

fn agent_cmd() -> String {
    format!(
        "{} agent run --tam {{url}} --state {{dir}} --tam-key {{tam_key}} --tc-signer-key {{signer_key}} --attempts 1",
        env!("CARGO_BIN_EXE_teep")
    )
}

/// TEEP-26 §4.4-§4.6 over TEEP-HTTP: teep's agent, run once per session, passes the transport
/// and Update cases; the JSON report and the JUnit file say so.
#[test]
fn agent_cmd_runs_teep_agent_per_session() {
    let dir = scratch("check_agent-cmd");
    let junit = dir.join("report.xml");
    let out = teep()
        .args(["check", "agent", "--agent-cmd", &agent_cmd()])
        .args(["--only", "agent.http", "--only", "agent.update"])
        .args(["--format", "json", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["must_failed"], false, "{stdout}");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 12, "{stdout}");
    for r in results {
        let id = r["id"].as_str().unwrap();
        assert!(id.starts_with("agent.http") || id.starts_with("agent.update"));
        assert_eq!(r["verdict"], "pass", "{id}: {stdout}");
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"12\" failures=\"0\""), "{xml}");
}

/// An agent command that never opens a session fails the MUST cases: exit status 1, and the
/// case says the agent did not connect.
#[test]
fn an_agent_that_never_connects_exits_1() {
    let out = teep()
        .args(["check", "agent", "--agent-cmd", "true"])
        .args(["--only", "agent.http.empty-post", "--timeout", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("no empty POST"), "{stdout}");
}

/// `--listen`: the checker waits for the agent, which is given the URI printed on stderr and
/// the keys written to `--key-dir`.
#[test]
fn listen_waits_for_the_agent() {
    let dir = scratch("check_agent-listen");
    let keys = dir.join("keys");
    let mut check = teep()
        .args(["check", "agent", "--listen", "127.0.0.1:0", "--key-dir"])
        .arg(&keys)
        .args(["--only", "agent.update.install", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(check.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let url = line
        .split("TAM at ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap_or_else(|| panic!("no TAM URI in {line:?}"))
        .to_string();
    let state = dir.join("state");
    let agent = teep()
        .args(["agent", "run", "--tam", &url, "--state"])
        .arg(&state)
        .arg("--tam-key")
        .arg(keys.join("tam.pub.pem"))
        .arg("--tc-signer-key")
        .arg(keys.join("tc-signer.pub.pem"))
        .output()
        .unwrap();
    assert!(
        agent.status.success(),
        "{}",
        String::from_utf8_lossy(&agent.stderr)
    );
    let out = check.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["results"][0]["id"], "agent.update.install");
    assert_eq!(report["results"][0]["verdict"], "pass", "{stdout}");
}

#[test]
fn catalog_agent_prints_the_agent_catalog() {
    let out = teep().args(["check", "catalog", "agent"]).output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("| id | level |"), "{table}");
    assert!(table.contains("`agent.update.rollback-refused`"), "{table}");
    assert!(!table.contains("`tam."), "{table}");
}
