//! The agent checker judged against teep's own TEEP Agent: every MUST passes, and an agent
//! that is not there fails them. The agent runs in this process the way `teep agent run
//! --tam URL --state DIR --tam-key K --tc-signer-key S` runs it: the software TEE and
//! `agent.json` in the case's state directory, one session per run.

mod common;

use teep_check::agent::{self, check_agent, AgentRun, AgentTarget, Launch, RunFn};
use teep_check::{Report, Verdict};

/// One session of teep's agent with the checker, its state kept in `run.dir`.
fn session(run: &AgentRun) -> Result<(), String> {
    common::session_with(run, |inner, _| inner)
}

fn teep_agent() -> RunFn {
    Box::new(session)
}

fn verdict<'a>(r: &'a Report, id: &str) -> &'a Verdict {
    &r.get(id).unwrap_or_else(|| panic!("no case {id}")).verdict
}

/// Every case of the catalog runs against teep's agent, and every MUST passes.
#[test]
fn teep_agent_passes_every_must_case() {
    let report = check_agent(AgentTarget::new(Launch::Function(teep_agent()))).unwrap();
    let table = teep_check::report::table(&report, true);
    println!("{table}");
    assert!(!report.must_failed(), "{table}");
    assert_eq!(report.results.len(), agent::CATALOG.len());
    for r in &report.results {
        match r.case.id {
            // teep's agent holding nothing answers `tc-list: []` (docs/INTEROP.md).
            agent::QRESP_TC_LIST => assert!(
                matches!(&r.verdict, Verdict::Deviation { code, .. } if code == "teep.tc-list-empty"),
                "{table}"
            ),
            _ => assert_eq!(r.verdict, Verdict::Pass, "{}: {table}", r.case.id),
        }
    }
    // Evidence: the empty POST, the QueryRequest and the QueryResponse, decoded by name.
    let e = &report.get(agent::QRESP_ANSWERED).unwrap().evidence;
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[2]
        .summary
        .as_deref()
        .unwrap_or("")
        .contains("QueryResponse"));
    let json = teep_check::report::json(&report);
    assert_eq!(json["must_failed"], false);
    let junit = teep_check::report::junit(&report);
    assert!(
        junit.contains(&format!(
            "tests=\"{}\" failures=\"0\"",
            agent::CATALOG.len()
        )),
        "{junit}"
    );
    let html = teep_check::report::html(&report);
    assert!(html.contains(agent::UPDATE_ROLLBACK) && !html.contains("<script"));
}

/// `only` runs the cases it names and no other.
#[test]
fn only_runs_the_named_cases() {
    let mut target = AgentTarget::new(Launch::Function(teep_agent()));
    target.only = vec!["agent.update.rollback".into()];
    let report = check_agent(target).unwrap();
    assert_eq!(report.results.len(), 1);
    assert_eq!(verdict(&report, agent::UPDATE_ROLLBACK), &Verdict::Pass);
}

/// An agent that never connects: every MUST case fails or is not applicable, none passes.
#[test]
fn no_agent_fails_the_must_cases() {
    let mut target = AgentTarget::new(Launch::Function(Box::new(|_: &AgentRun| {
        Err("not started".to_string())
    })));
    target.timeout = std::time::Duration::from_secs(1);
    let report = check_agent(target).unwrap();
    assert!(report.must_failed());
    assert!(report.results.iter().all(|r| r.verdict != Verdict::Pass));
    assert!(matches!(
        verdict(&report, agent::EMPTY_POST),
        Verdict::Fail { .. }
    ));
}

/// An agent that trusts no TAM key answers no QueryRequest: the cases that need an answer fail,
/// and those that refuse a forged message cannot pass for lack of a valid session.
#[test]
fn an_agent_trusting_another_tam_fails() {
    let target = AgentTarget::new(Launch::Function(Box::new(|run: &AgentRun| {
        let other = teep_cose::PrivateKey::generate(teep_cose::KeyType::P256).public_key();
        session(&AgentRun {
            tam_public: &other,
            ..*run
        })
    })));
    let report = check_agent(target).unwrap();
    assert!(report.must_failed());
    assert!(matches!(
        verdict(&report, agent::QRESP_ANSWERED),
        Verdict::Fail { .. }
    ));
    assert!(matches!(
        verdict(&report, agent::UPDATE_INSTALL),
        Verdict::Fail { .. }
    ));
}

/// docs/CHECK.md carries the agent catalog as the code has it (regenerate the table with
/// `teep check catalog agent`).
#[test]
fn the_documented_agent_catalog_is_the_code_s() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CHECK.md"))
        .unwrap();
    let table = teep_check::report::agent_catalog_markdown();
    assert!(
        doc.contains(&table),
        "docs/CHECK.md: replace the agent catalog table with:\n{table}"
    );
}
