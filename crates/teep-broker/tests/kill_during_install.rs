//! kill -9 of the agent process during an install: after a restart the TC is fully old or
//! fully new, never a mix.
//!
//! The test binary runs itself as the agent: with `TEEP_KILL_CHILD_DIR` set, the `child` test
//! applies an Update (256 KiB TA, sequence 2) to the TEE in that directory while the parent
//! kills it. The child's TEE announces, through marker files beside it, when the staged
//! manifest reaches the commit and when the commit returned, so the parent kills at a known
//! point and knows where the kill landed; nothing depends on how long anything takes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use teep_agent::agent::{Agent, AgentConfig};
use teep_agent::state::AgentState;
use teep_broker::device::TeeDevice;
use teep_cose::{PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{Numbering, TeepMessage, Update};
use teep_tee::{
    ComponentBatch, ComponentInfo, DeviceIdentity, ManifestRecord, SessionId, SoftwareTee, Tee,
    TeeError, TrustAnchorKind,
};

const CHILD_ENV: &str = "TEEP_KILL_CHILD_DIR";
/// `hold`: the child stops at the commit and waits to be killed; `go`: it commits at once.
const MODE_ENV: &str = "TEEP_KILL_MODE";
const SIZE: usize = 256 * 1024;

/// Written by the child when the staged batch reaches `commit_components`; holds the number
/// of staged operations.
const COMMIT_STARTED: &str = "commit-started";
/// Written by the child when `commit_components` returned.
const COMMIT_RETURNED: &str = "commit-returned";

/// Bound of every wait for the child (a hang fails the test instead of blocking it).
const PATIENCE: Duration = Duration::from_secs(120);
/// Most children killed in the commit race before the test gives up on hitting it.
const MAX_ATTEMPTS: usize = 25;

fn payload(fill: u8) -> Vec<u8> {
    vec![fill; SIZE]
}

/// Keys made from fixed seeds so parent and child agree without sharing files.
fn keys() -> (SoftwareSigner, SoftwareSigner) {
    let tam = PrivateKey::from_p256_scalar(&[0x11; 32]).unwrap();
    let tc = PrivateKey::from_p256_scalar(&[0x22; 32]).unwrap();
    (SoftwareSigner::new(tam), SoftwareSigner::new(tc))
}

fn tee_dir(dir: &Path) -> PathBuf {
    dir.join("tee")
}

/// Applies one Update installing the `big` TA (`fill` bytes, sequence `seq`) to `tee`.
fn install(tee: Arc<dyn Tee>, fill: u8, seq: u64) {
    let (tam, tc) = keys();
    let mut device = TeeDevice::new(tee);
    let config = AgentConfig {
        tam_trust_anchors: vec![tam.public_key()],
        tc_signer_trust_anchors: vec![tc.public_key()],
        require_tam_attestation: false,
        ..Default::default()
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

/// Creates marker `name` in `dir` with `content`, whole: the parent may kill as soon as it
/// sees the name.
fn announce(dir: &Path, name: &str, content: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// The software TEE, telling the parent through marker files where its commit is. (No payload
/// key: the TA here is not encrypted.)
struct Announcing {
    inner: SoftwareTee,
    markers: PathBuf,
    hold: bool,
}

impl Tee for Announcing {
    fn commit_components(&self, batch: &ComponentBatch) -> Result<(), TeeError> {
        announce(&self.markers, COMMIT_STARTED, &batch.len().to_string());
        if self.hold {
            // Staged and not committed: wait here for the kill (bounded, in case none comes).
            let start = Instant::now();
            while start.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_millis(10));
            }
            panic!("the parent never killed this child");
        }
        let result = self.inner.commit_components(batch);
        announce(&self.markers, COMMIT_RETURNED, "");
        result
    }

    fn identity(&self) -> DeviceIdentity {
        self.inner.identity()
    }
    fn teep_signer(&self) -> Arc<dyn Signer> {
        self.inner.teep_signer()
    }
    fn attestation_signer(&self) -> Arc<dyn Signer> {
        self.inner.attestation_signer()
    }
    fn trust_anchors(&self, kind: TrustAnchorKind) -> Result<Vec<PublicKey>, TeeError> {
        self.inner.trust_anchors(kind)
    }
    fn add_trust_anchor(&self, kind: TrustAnchorKind, key: &PublicKey) -> Result<bool, TeeError> {
        self.inner.add_trust_anchor(kind, key)
    }
    fn remove_trust_anchor(
        &self,
        kind: TrustAnchorKind,
        key: &PublicKey,
    ) -> Result<bool, TeeError> {
        self.inner.remove_trust_anchor(kind, key)
    }
    fn agent_get(&self, name: &str) -> Result<Option<Vec<u8>>, TeeError> {
        self.inner.agent_get(name)
    }
    fn agent_put(&self, name: &str, value: &[u8]) -> Result<(), TeeError> {
        self.inner.agent_put(name, value)
    }
    fn agent_delete(&self, name: &str) -> Result<(), TeeError> {
        self.inner.agent_delete(name)
    }
    fn component(&self, id: &[Vec<u8>]) -> Result<Option<Vec<u8>>, TeeError> {
        self.inner.component(id)
    }
    fn component_info(&self, id: &[Vec<u8>]) -> Result<Option<ComponentInfo>, TeeError> {
        self.inner.component_info(id)
    }
    fn list_components(&self) -> Result<Vec<ComponentInfo>, TeeError> {
        self.inner.list_components()
    }
    fn manifest(&self, id: &[Vec<u8>]) -> Result<Option<ManifestRecord>, TeeError> {
        self.inner.manifest(id)
    }
    fn list_manifests(&self) -> Result<Vec<ManifestRecord>, TeeError> {
        self.inner.list_manifests()
    }
    fn open_session(&self, ta: &[Vec<u8>]) -> Result<SessionId, TeeError> {
        self.inner.open_session(ta)
    }
    fn invoke(&self, session: SessionId, command: u32, args: &[u8]) -> Result<Vec<u8>, TeeError> {
        self.inner.invoke(session, command, args)
    }
    fn close_session(&self, session: SessionId) -> Result<(), TeeError> {
        self.inner.close_session(session)
    }
}

/// The child process's entry point, run by the tests below with `--ignored`.
#[test]
#[ignore = "entry point of the child process of the kill tests"]
fn child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let tee = Announcing {
        inner: SoftwareTee::open(tee_dir(&dir)).unwrap(),
        markers: dir.clone(),
        hold: std::env::var(MODE_ENV).as_deref() == Ok("hold"),
    };
    install(Arc::new(tee), 0xBB, 2);
}

/// A directory whose TEE holds the `big` TA at sequence 1 (0xAA bytes).
fn device_with_old_tc() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(tee_dir(dir.path())).unwrap();
    install(Arc::new(tee), 0xAA, 1);
    dir
}

/// The child agent process; killed when dropped, so a failed assertion leaves none behind.
struct ChildAgent(Child);

impl Drop for ChildAgent {
    fn drop(&mut self) {
        // Usually dead already; then both calls fail harmlessly.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl ChildAgent {
    fn spawn(dir: &Path, mode: &str) -> ChildAgent {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir)
            .env(MODE_ENV, mode)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        ChildAgent(child)
    }

    /// Polls until `marker` exists in `dir`; fails if the child ends first or `PATIENCE`
    /// runs out.
    fn wait_for_marker(&mut self, dir: &Path, marker: &str) {
        let path = dir.join(marker);
        let start = Instant::now();
        while !path.exists() {
            if let Some(status) = self.0.try_wait().unwrap() {
                // It may have written the marker just before ending.
                assert!(path.exists(), "child ended ({status}) before {marker}");
                return;
            }
            assert!(start.elapsed() < PATIENCE, "no {marker} from the child");
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// SIGKILL, and wait until it is gone.
    fn kill(mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

/// The sequence number of the `big` TA after a restart, checked to match its content.
fn installed_after_restart(dir: &Path) -> u64 {
    let ids = teep_tam::suit_wrap::ta_ids("big");
    let tee = SoftwareTee::open(tee_dir(dir)).unwrap();
    let content = tee
        .component(&ids.component_id)
        .unwrap()
        .expect("a TC is installed");
    let seq = tee
        .manifest(&ids.manifest_component_id)
        .unwrap()
        .expect("a manifest record")
        .sequence_number;
    let fill = match seq {
        1 => 0xAA,
        2 => 0xBB,
        other => panic!("unexpected sequence {other}"),
    };
    assert!(
        content == payload(fill),
        "sequence {seq} with other content: a mix of old and new"
    );
    seq
}

#[test]
fn kill_9_between_staging_and_commit_keeps_the_old_tc() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = device_with_old_tc();
    let mut child = ChildAgent::spawn(dir.path(), "hold");
    child.wait_for_marker(dir.path(), COMMIT_STARTED);
    child.kill();

    // The kill landed with the whole install staged (the component and its manifest record)
    // and nothing committed.
    let staged: usize = std::fs::read_to_string(dir.path().join(COMMIT_STARTED))
        .unwrap()
        .parse()
        .unwrap();
    assert!(staged >= 2, "staged operations: {staged}");
    assert!(!dir.path().join(COMMIT_RETURNED).exists());
    assert_eq!(installed_after_restart(dir.path()), 1);
}

#[test]
fn kill_9_during_the_commit_leaves_old_or_new_tc() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    // Each child is killed as soon as its commit starts. A kill that lands before the commit
    // returned is one inside the atomic step; the test repeats until it saw one.
    let landed_inside = (0..MAX_ATTEMPTS).any(|_| {
        let dir = device_with_old_tc();
        let mut child = ChildAgent::spawn(dir.path(), "go");
        child.wait_for_marker(dir.path(), COMMIT_STARTED);
        child.kill();
        let seq = installed_after_restart(dir.path());
        let returned = dir.path().join(COMMIT_RETURNED).exists();
        if returned {
            // The commit returned before the kill: the new TC is complete.
            assert_eq!(seq, 2);
        }
        !returned
    });
    assert!(
        landed_inside,
        "no kill landed inside the commit in {MAX_ATTEMPTS} attempts"
    );
}
