//! Trust-anchor updates (RFC 9397 §5: trust anchors on the device may be updated): a TAM or
//! TC-signer anchor added, rotated or removed by a manifest signed by an anchor of the same
//! kind, applied whole or not at all; and delivered by a TAM like a TC, over HTTP.

use std::sync::Arc;

use teep_agent::agent::{AgentConfig, AgentDevice, AgentEvent};
use teep_agent::state::AgentState;
use teep_agent::TcId;
use teep_broker::broker::{Broker, HttpConfig, HttpTransport, RetryPolicy};
use teep_broker::device::TeeDevice;
use teep_broker::runner::AgentRunner;
use teep_cose::{PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::trust_anchor_update::{AnchorKind, AnchorOp};
use teep_tam::trust_anchor_update::build_manifest;
use teep_tee::examples::{HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

fn key(seed: u8) -> SoftwareSigner {
    SoftwareSigner::new(PrivateKey::from_p256_scalar(&[seed; 32]).unwrap())
}

/// A software TEE trusting `tam` as TAM anchors and `tc` as TC-signer anchors.
fn device(
    dir: &tempfile::TempDir,
    tam: &[&SoftwareSigner],
    tc: &[&SoftwareSigner],
) -> (Arc<dyn Tee>, TeeDevice) {
    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir.path()).unwrap());
    for k in tam {
        tee.add_trust_anchor(TrustAnchorKind::Tam, &k.public_key())
            .unwrap();
    }
    for k in tc {
        tee.add_trust_anchor(TrustAnchorKind::TcSigner, &k.public_key())
            .unwrap();
    }
    (tee.clone(), TeeDevice::new(tee))
}

fn anchors(tee: &Arc<dyn Tee>, kind: TrustAnchorKind) -> Vec<PublicKey> {
    tee.trust_anchors(kind).unwrap()
}

fn update(
    kind: AnchorKind,
    op: AnchorOp,
    key: &SoftwareSigner,
    seq: u64,
    by: &SoftwareSigner,
) -> Vec<u8> {
    build_manifest(kind, op, &key.public_key(), seq, by).unwrap()
}

/// The reserved component is recorded (the TC list shows it, so the TAM does not send it again).
fn recorded(dev: &TeeDevice, kind: AnchorKind) -> bool {
    dev.installed()
        .unwrap()
        .iter()
        .any(|t| t.component_id == kind.component_id())
}

/// A rotation: the manifest signed by anchor A puts B in A's place; the same manifest again
/// is accepted and changes nothing; A no longer signs updates.
#[test]
fn rfc9397_5_rotation_signed_by_the_anchor_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (key(1), key(2), key(3));
    let (tee, mut dev) = device(&dir, &[&a], &[&c]);
    let env = update(AnchorKind::Tam, AnchorOp::Replace, &b, 1, &a);
    let done = dev.apply_manifest(&env, &[], Some(b"token")).unwrap();
    assert_eq!(done.sequence_number, 1);
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![b.public_key()]);
    assert_eq!(
        anchors(&tee, TrustAnchorKind::TcSigner),
        vec![c.public_key()],
        "the other kind stays"
    );
    assert!(recorded(&dev, AnchorKind::Tam));
    let report = teep_suit::SuitReport::decode(&done.report).unwrap();
    assert!(report.is_success());
    assert_eq!(report.nonce.as_deref(), Some(&b"token"[..]));
    dev.apply_manifest(&env, &[], None).unwrap();
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![b.public_key()]);
    let by_old = update(AnchorKind::Tam, AnchorOp::Add, &c, 2, &a);
    assert!(
        dev.apply_manifest(&by_old, &[], None).is_err(),
        "A is no anchor any more"
    );
    assert_eq!(dev.trust_anchors().unwrap().0, vec![b.public_key()]);
}

/// Signed by a key that is no anchor of that kind (a stranger, or an anchor of the other
/// kind): refused with a failing SUIT report, nothing changed, nothing recorded.
#[test]
fn rfc9397_5_update_signed_by_a_non_anchor_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, tc, stranger, new) = (key(1), key(2), key(3), key(4));
    let (tee, mut dev) = device(&dir, &[&a], &[&tc]);
    for (kind, by) in [
        (AnchorKind::Tam, &stranger),
        (AnchorKind::Tam, &tc),
        (AnchorKind::TcSigner, &a),
    ] {
        let env = update(kind, AnchorOp::Add, &new, 1, by);
        let failure = dev
            .apply_manifest(&env, &[tc.public_key()], None)
            .unwrap_err();
        let report = teep_suit::SuitReport::decode(&failure.report).unwrap();
        assert!(!report.is_success(), "{kind:?}");
        assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![a.public_key()]);
        assert_eq!(
            anchors(&tee, TrustAnchorKind::TcSigner),
            vec![tc.public_key()]
        );
        assert!(!recorded(&dev, kind));
    }
}

/// Removal: an anchor goes when another remains; the last one of its kind never does.
#[test]
fn rfc9397_5_removal_of_the_last_anchor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (key(1), key(2));
    let (tee, mut dev) = device(&dir, &[&a], &[]);
    let add = update(AnchorKind::Tam, AnchorOp::Add, &b, 1, &a);
    dev.apply_manifest(&add, &[], None).unwrap();
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam).len(), 2);
    let remove_a = update(AnchorKind::Tam, AnchorOp::Remove, &a, 2, &b);
    dev.apply_manifest(&remove_a, &[], None).unwrap();
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![b.public_key()]);
    let remove_last = update(AnchorKind::Tam, AnchorOp::Remove, &b, 3, &b);
    let failure = dev.apply_manifest(&remove_last, &[], None).unwrap_err();
    assert!(
        failure
            .error
            .to_string()
            .contains("refusing to remove the last tam trust anchor"),
        "{}",
        failure.error
    );
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![b.public_key()]);
    let remove_absent = update(AnchorKind::Tam, AnchorOp::Remove, &a, 3, &b);
    let failure = dev.apply_manifest(&remove_absent, &[], None).unwrap_err();
    assert!(
        failure.error.to_string().contains("not a tam trust anchor"),
        "{}",
        failure.error
    );
}

/// The sequence number orders the updates of a kind: an older one, valid when it was made,
/// is refused once a newer one is installed (no replay re-adding a removed key).
#[test]
fn rfc9397_5_an_older_update_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (key(1), key(2), key(3));
    let (tee, mut dev) = device(&dir, &[], &[&a]);
    let add_b = update(AnchorKind::TcSigner, AnchorOp::Add, &b, 1, &a);
    let remove_b = update(AnchorKind::TcSigner, AnchorOp::Remove, &b, 2, &a);
    dev.apply_manifest(&add_b, &[], None).unwrap();
    dev.apply_manifest(&remove_b, &[], None).unwrap();
    let failure = dev.apply_manifest(&add_b, &[], None).unwrap_err();
    // The SUIT processor's anti-rollback refuses a lower number; an equal one (another
    // manifest under the same number) is refused here.
    assert!(
        failure.error.to_string().contains("rollback"),
        "{}",
        failure.error
    );
    let same_seq = update(AnchorKind::TcSigner, AnchorOp::Add, &c, 2, &a);
    let failure = dev.apply_manifest(&same_seq, &[], None).unwrap_err();
    assert!(
        failure
            .error
            .to_string()
            .contains("sequence 2 is not above the installed 2"),
        "{}",
        failure.error
    );
    assert_eq!(
        anchors(&tee, TrustAnchorKind::TcSigner),
        vec![a.public_key()]
    );
}

/// Delivered like a TC over HTTP: the TAM adds a TC-signer anchor with a manifest signed by
/// its TC-signer key; after that session the device installs a TA signed by the new key.
#[test]
fn rfc9397_5_a_tam_delivers_a_new_tc_signer_anchor_and_the_device_then_trusts_it() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = teep_tam::Config {
        data: dir.path().join("tam"),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll: teep_tam::Enroll::Registered,
        ..Default::default()
    };
    let state = rt
        .block_on(teep_tam::server::AppState::open(config))
        .unwrap();
    let (addr, handle) = rt
        .block_on(teep_tam::server::spawn_with_state(state.clone()))
        .unwrap();
    let uri = format!("http://{addr}/tam");

    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir.path().join("dev")).unwrap());
    for s in state.core.signers() {
        tee.add_trust_anchor(TrustAnchorKind::Tam, &s.public_key())
            .unwrap();
    }
    tee.add_trust_anchor(TrustAnchorKind::TcSigner, &state.tc_signer.public_key())
        .unwrap();
    let now = teep_tam::server::now_ms();
    rt.block_on(teep_tam::ops::add_device(
        &state.store,
        tee.teep_signer().public_key().to_spki_pem().as_bytes(),
        None,
        None,
        &[],
        now,
    ))
    .unwrap();
    let new_signer = key(9);
    let tc = rt
        .block_on(teep_tam::trust_anchor_update::add(
            &state.store,
            AnchorKind::TcSigner,
            AnchorOp::Add,
            &new_signer.public_key(),
            &state.tc_signer,
            now,
        ))
        .unwrap();
    rt.block_on(
        state
            .store
            .assign(&tc.component_id, &teep_tam::model::Target::All, now),
    )
    .unwrap();
    let config = AgentConfig {
        tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
        tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
        ..Default::default()
    };
    let mut runner = AgentRunner::new(config, AgentState::default(), TeeDevice::new(tee.clone()));
    let session = |runner: &mut AgentRunner<TeeDevice>| {
        let mut broker = Broker::new(HttpTransport::new(&HttpConfig::default()).unwrap())
            .with_retry(RetryPolicy::once());
        broker.session(runner, &uri, None).unwrap();
        std::mem::take(&mut runner.events)
    };
    let events = session(&mut runner);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Installed { .. })),
        "{events:?}"
    );
    assert!(tee
        .trust_anchors(TrustAnchorKind::TcSigner)
        .unwrap()
        .contains(&new_signer.public_key()));
    assert!(runner
        .config
        .tc_signer_trust_anchors
        .contains(&new_signer.public_key()));

    // A TA signed by the new key only: the catalog takes it with that key as the anchor.
    let ids = teep_tam::suit_wrap::ta_ids("hello");
    let envelope = teep_tam::suit_wrap::wrap_ta(&ids, HELLO_WASM, 1, &new_signer).unwrap();
    let anchors = teep_tam::catalog::TcSignerAnchors::new(vec![new_signer.public_key()]);
    let hello = rt
        .block_on(teep_tam::ops::add_envelope(
            &state.store,
            &anchors,
            Some("hello"),
            &envelope,
            now,
        ))
        .unwrap();
    rt.block_on(
        state
            .store
            .assign(&hello.component_id, &teep_tam::model::Target::All, now),
    )
    .unwrap();
    let events = session(&mut runner);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Installed { .. })),
        "{events:?}"
    );
    let id = TcId::parse("hello").unwrap();
    assert_eq!(
        tee.invoke_once(&id.0, 0, b"").unwrap(),
        HELLO_ANSWER.as_bytes()
    );
    // The update is in the TC list: a third session sends nothing again.
    let events = session(&mut runner);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::Installed { .. })),
        "{events:?}"
    );
    rt.block_on(handle.shutdown());
}

/// A TEE whose process dies while recording a manifest: the commit fails, and nothing written
/// after it (the undo of the anchor change, forgetting the write-ahead record) reaches the
/// store.
struct DiesAtCommit {
    inner: teep_tee::SoftwareTee,
    dead: std::sync::atomic::AtomicBool,
}

impl DiesAtCommit {
    fn alive(&self) -> Result<(), teep_tee::TeeError> {
        if self.dead.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(teep_tee::TeeError::Invalid {
                what: "process".into(),
                rule: "dead".into(),
            });
        }
        Ok(())
    }
}

impl Tee for DiesAtCommit {
    fn identity(&self) -> teep_tee::DeviceIdentity {
        self.inner.identity()
    }
    fn teep_signer(&self) -> Arc<dyn Signer> {
        self.inner.teep_signer()
    }
    fn trust_anchors(&self, k: TrustAnchorKind) -> Result<Vec<PublicKey>, teep_tee::TeeError> {
        self.inner.trust_anchors(k)
    }
    fn add_trust_anchor(
        &self,
        k: TrustAnchorKind,
        key: &PublicKey,
    ) -> Result<bool, teep_tee::TeeError> {
        self.alive()?;
        self.inner.add_trust_anchor(k, key)
    }
    fn remove_trust_anchor(
        &self,
        k: TrustAnchorKind,
        key: &PublicKey,
    ) -> Result<bool, teep_tee::TeeError> {
        self.alive()?;
        self.inner.remove_trust_anchor(k, key)
    }
    fn agent_get(&self, name: &str) -> Result<Option<Vec<u8>>, teep_tee::TeeError> {
        self.inner.agent_get(name)
    }
    fn agent_put(&self, name: &str, value: &[u8]) -> Result<(), teep_tee::TeeError> {
        self.alive()?;
        self.inner.agent_put(name, value)
    }
    fn agent_delete(&self, name: &str) -> Result<(), teep_tee::TeeError> {
        self.alive()?;
        self.inner.agent_delete(name)
    }
    fn component(&self, id: &[Vec<u8>]) -> Result<Option<Vec<u8>>, teep_tee::TeeError> {
        self.inner.component(id)
    }
    fn component_info(
        &self,
        id: &[Vec<u8>],
    ) -> Result<Option<teep_tee::ComponentInfo>, teep_tee::TeeError> {
        self.inner.component_info(id)
    }
    fn list_components(&self) -> Result<Vec<teep_tee::ComponentInfo>, teep_tee::TeeError> {
        self.inner.list_components()
    }
    fn manifest(
        &self,
        id: &[Vec<u8>],
    ) -> Result<Option<teep_tee::ManifestRecord>, teep_tee::TeeError> {
        self.inner.manifest(id)
    }
    fn list_manifests(&self) -> Result<Vec<teep_tee::ManifestRecord>, teep_tee::TeeError> {
        self.inner.list_manifests()
    }
    fn commit_components(&self, _: &teep_tee::ComponentBatch) -> Result<(), teep_tee::TeeError> {
        self.dead.store(true, std::sync::atomic::Ordering::SeqCst);
        Err(teep_tee::TeeError::Invalid {
            what: "process".into(),
            rule: "killed while recording".into(),
        })
    }
    fn open_session(&self, ta: &[Vec<u8>]) -> Result<teep_tee::SessionId, teep_tee::TeeError> {
        self.inner.open_session(ta)
    }
    fn invoke(
        &self,
        s: teep_tee::SessionId,
        command: u32,
        args: &[u8],
    ) -> Result<Vec<u8>, teep_tee::TeeError> {
        self.inner.invoke(s, command, args)
    }
    fn close_session(&self, s: teep_tee::SessionId) -> Result<(), teep_tee::TeeError> {
        self.inner.close_session(s)
    }
}

/// RFC 9397 §5, applied whole: a rotation interrupted after the anchors changed and before
/// its manifest was recorded (A already out, B in) completes when the TAM sends the same
/// update again, although its signer A is no anchor any more; another manifest signed by A
/// is still refused.
#[test]
fn rfc9397_5_a_rotation_interrupted_before_its_record_completes_when_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (key(1), key(2), key(3));
    let (tee, _) = device(&dir, &[&a], &[&c]);
    drop(tee);
    let env = update(AnchorKind::Tam, AnchorOp::Replace, &b, 1, &a);

    let dying: Arc<dyn Tee> = Arc::new(DiesAtCommit {
        inner: SoftwareTee::open(dir.path()).unwrap(),
        dead: false.into(),
    });
    let mut dev = TeeDevice::new(dying);
    assert!(dev.apply_manifest(&env, &[], Some(b"t1")).is_err());
    drop(dev);

    // After the restart: the anchors changed, the manifest is not recorded.
    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir.path()).unwrap());
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![b.public_key()]);
    let mut dev = TeeDevice::new(tee.clone());
    assert!(!recorded(&dev, AnchorKind::Tam));

    let done = dev.apply_manifest(&env, &[], Some(b"t2")).unwrap();
    assert_eq!(done.sequence_number, 1);
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![b.public_key()]);
    assert!(recorded(&dev, AnchorKind::Tam));

    let other = update(AnchorKind::Tam, AnchorOp::Add, &c, 2, &a);
    assert!(dev.apply_manifest(&other, &[], None).is_err());
    assert_eq!(anchors(&tee, TrustAnchorKind::Tam), vec![b.public_key()]);
}
