//! kill -9 of the agent process during an install: after a restart the TC is fully old or
//! fully new, never a mix.
//!
//! The test binary runs itself as the agent: with `TEEP_KILL_CHILD_DIR` set, the `child` test
//! applies an Update (256 KiB TA, sequence 2) to the TEE in that directory while the parent kills
//! it at varying moments.

use std::sync::Arc;

use teep_agent::agent::{Agent, AgentConfig};
use teep_agent::state::AgentState;
use teep_broker::device::TeeDevice;
use teep_cose::{PrivateKey, Signer, SoftwareSigner};
use teep_proto::{Numbering, TeepMessage, Update};
use teep_tee::{SoftwareTee, Tee};

const CHILD_ENV: &str = "TEEP_KILL_CHILD_DIR";
const SIZE: usize = 256 * 1024;

fn payload(fill: u8) -> Vec<u8> {
    vec![fill; SIZE]
}

/// Keys made from fixed seeds so parent and child agree without sharing files.
fn keys() -> (SoftwareSigner, SoftwareSigner) {
    let tam = PrivateKey::from_p256_scalar(&[0x11; 32]).unwrap();
    let tc = PrivateKey::from_p256_scalar(&[0x22; 32]).unwrap();
    (SoftwareSigner::new(tam), SoftwareSigner::new(tc))
}

fn install(dir: &std::path::Path, fill: u8, seq: u64) {
    let (tam, tc) = keys();
    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
    let mut device = TeeDevice::new(tee);
    let config = AgentConfig {
        tam_trust_anchors: vec![tam.public_key()],
        tc_signer_trust_anchors: vec![tc.public_key()],
        require_tam_attestation: false,
    };
    let mut state = AgentState::default();
    let ids = teep_tam::suit_wrap::ta_ids("big");
    let envelope = teep_tam::suit_wrap::wrap_ta(&ids, &payload(fill), seq, &tc).unwrap();
    let update = TeepMessage::Update(Update {
        token: Some(vec![3; 16]),
        manifest_list: vec![envelope],
        ..Default::default()
    });
    let bytes = teep_cose::sign1(&update.encode(Numbering::Draft26), &tam).unwrap();
    let mut random = |b: &mut [u8]| b.fill(1);
    let out = Agent::new(&config, &mut state, &mut device).handle_message(
        "http://tam",
        &bytes,
        &mut random,
    );
    let opened = teep_cose::open(out.reply.as_deref().unwrap()).unwrap();
    let (m, _) = teep_proto::decode_auto(opened.payload.as_deref().unwrap()).unwrap();
    assert!(matches!(m, TeepMessage::Success(_)), "{m:?}");
}

/// The child process's entry point, run by the test below with `--ignored`.
#[test]
#[ignore = "entry point of the child process of kill_9_during_install_leaves_old_or_new_tc"]
fn child() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        install(std::path::Path::new(&dir), 0xBB, 2);
    }
}

#[test]
fn kill_9_during_install_leaves_old_or_new_tc() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let ids = teep_tam::suit_wrap::ta_ids("big");
    let spawn_child = |dir: &std::path::Path| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long an undisturbed child takes; kills are spread over that span. Only the moment of
    // the kill depends on timing, never an assertion.
    let full = {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), 0xAA, 1);
        let start = std::time::Instant::now();
        assert!(spawn_child(dir.path()).wait().unwrap().success());
        start.elapsed()
    };
    let mut outcomes = (0, 0);
    for percent in [5u32, 25, 50, 70, 85, 95, 110] {
        let dir = tempfile::tempdir().unwrap();
        install(dir.path(), 0xAA, 1);
        let mut child = spawn_child(dir.path());
        std::thread::sleep(full * percent / 100);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let tee = SoftwareTee::open(dir.path()).unwrap();
        let content = tee
            .component(&ids.component_id)
            .unwrap()
            .expect("a TC is installed");
        let seq = tee
            .manifest(&ids.manifest_component_id)
            .unwrap()
            .expect("a manifest record")
            .sequence_number;
        match seq {
            1 => {
                assert!(
                    content == payload(0xAA),
                    "kill at {percent}%: sequence 1 with other content"
                );
                outcomes.0 += 1;
            }
            2 => {
                assert!(
                    content == payload(0xBB),
                    "kill at {percent}%: sequence 2 with other content"
                );
                outcomes.1 += 1;
            }
            other => panic!("kill at {percent}%: unexpected sequence {other}"),
        }
    }
    eprintln!(
        "child run {full:?}; old state kept: {}, new state complete: {}",
        outcomes.0, outcomes.1
    );
}
