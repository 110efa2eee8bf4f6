//! The storage hot path: group commit keeps each step's own outcome, and caches follow changes
//! made by other processes.

mod common;

use common::*;
use teep_bench::sim::{exchange, ExchangeResult, SimDevice};
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::model::Target;
use teep_tam::Enroll;

const N: Numbering = Numbering::Draft26;

#[tokio::test(flavor = "multi_thread")]
async fn one_query_response_sent_many_times_at_once_is_answered_once() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let dev = SimDevice::new(KeyType::Ed25519);
    let qreq = client.post(Vec::new()).await.unwrap();
    let seen = dev.read_query_request(&qreq.body, N, &[]).unwrap();
    let qresp = dev.query_response(&seen, N).unwrap();
    // Twelve copies race into the same commit batches; other devices' sessions run beside
    // them and must not be affected by the refused copies.
    let mut copies = Vec::new();
    for _ in 0..12 {
        let client = tam.client();
        let body = qresp.clone();
        copies.push(tokio::spawn(
            async move { client.post(body).await.unwrap() },
        ));
    }
    let mut others = Vec::new();
    for _ in 0..8 {
        let client = tam.client();
        let keys = tam.tam_keys();
        others.push(tokio::spawn(async move {
            let mut d = SimDevice::new(KeyType::P256);
            exchange(&client, &mut d, N, &keys).await.unwrap()
        }));
    }
    let mut ok = 0;
    for c in copies {
        let r = c.await.unwrap();
        match r.status {
            200 => ok += 1,
            400 => assert!(
                String::from_utf8_lossy(&r.body).contains("already answered"),
                "{}",
                String::from_utf8_lossy(&r.body)
            ),
            s => panic!("status {s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert_eq!(ok, 1, "exactly one copy gets the Update");
    for o in others {
        assert_eq!(o.await.unwrap(), ExchangeResult::Updated);
    }
    // One device row for the racing device, one Update outstanding for it.
    assert_eq!(tam.store().device_count().await.unwrap(), 9);
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_change_by_another_process_reaches_the_server_without_restart() {
    let tam = start(Enroll::Tofu).await;
    let mut dev = SimDevice::new(KeyType::P256);
    // Nothing assigned yet: the device is up to date.
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    // A second handle on the same database, as `teep tam tc add` from a shell would open.
    let url = format!("sqlite://{}", tam.dir.path().join("tam.db").display());
    let other = teep_tam::Store::open(&url, &Default::default())
        .await
        .unwrap();
    let signer = teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(KeyType::P256));
    let tc = teep_tam::ops::add_ta(&other, &signer, "later", b"late TA", 1)
        .await
        .unwrap();
    other
        .assign(&tc.component_id, &Target::All, 1)
        .await
        .unwrap();
    other.close().await;
    // The server notices at its next poll (every 100 ms): wait for its epoch to move.
    let before = tam.store().epoch();
    wait_until("the server to notice the other process's change", || {
        tam.store().epoch() != before
    })
    .await;
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    tam.handle.shutdown().await;
}

/// Two handles on one new SQLite file, as two processes would open it.
async fn two_stores() -> (tempfile::TempDir, String, teep_tam::Store, teep_tam::Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tam.db").display());
    let a = teep_tam::Store::open(&url, &Default::default())
        .await
        .unwrap();
    let b = teep_tam::Store::open(&url, &Default::default())
        .await
        .unwrap();
    (dir, url, a, b)
}

#[tokio::test]
async fn poll_changes_reports_another_handles_writes_once() {
    let (_dir, _url, a, b) = two_stores().await;
    assert!(!a.poll_changes().await.unwrap());
    let e = a.epoch();
    let signer = teep_cose::SoftwareSigner::new(teep_cose::PrivateKey::generate(KeyType::P256));
    teep_tam::ops::add_ta(&b, &signer, "x", b"x", 1)
        .await
        .unwrap();
    assert!(a.poll_changes().await.unwrap());
    assert!(a.epoch() > e);
    assert!(!a.poll_changes().await.unwrap());
    assert_eq!(a.policy().await.unwrap().catalog.len(), 1);
}

/// Registers a fresh Ed25519 device; returns its id and kid.
async fn new_device(store: &teep_tam::Store) -> (i64, Vec<u8>) {
    let key = teep_cose::PrivateKey::generate(KeyType::Ed25519).public_key();
    let kid = key.thumbprint().to_vec();
    let id = store
        .add_device(
            &teep_tam::model::NewDevice {
                name: None,
                kid: kid.clone(),
                teep_key: key.to_cose_key(),
                attest_key: None,
                tags: vec![],
            },
            1,
        )
        .await
        .unwrap();
    (id, kid)
}

/// A step adding `cid` to the holdings of device `id`, as a Success commits it.
fn success_effects(id: i64, cid: u8, now: i64) -> teep_tam::Effects {
    teep_tam::Effects {
        now,
        consume: None,
        new_device: None,
        device: Some(teep_tam::session::DeviceUpdate {
            device_id: Some(id),
            add_installed: vec![teep_tam::model::InstalledTc {
                component_id: vec![cid],
                sequence: Some(1),
                digest: None,
                origin: "policy".into(),
                updated_at: now,
            }],
            ..Default::default()
        }),
        new_session: None,
        audit: None,
    }
}

fn holdings(
    ctx: &Option<(
        teep_tam::model::DeviceRecord,
        Vec<teep_tam::model::InstalledTc>,
    )>,
) -> Vec<u8> {
    ctx.as_ref()
        .unwrap()
        .1
        .iter()
        .map(|t| t.component_id[0])
        .collect()
}

#[tokio::test]
async fn the_device_cache_follows_own_commits_and_other_processes() {
    let (_dir, url, a, b) = two_stores().await;
    let uncached = teep_tam::Store::open(
        &url,
        &teep_tam::store::StoreOptions {
            device_cache: 0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (id, kid) = new_device(&a).await;
    assert!(holdings(&a.device_context(&kid, false).await.unwrap()).is_empty());

    // This process's own commit updates the cached holdings, as the database has them.
    a.commit(success_effects(id, 1, 2)).await.unwrap();
    let cached = a.device_context(&kid, false).await.unwrap();
    assert_eq!(holdings(&cached), vec![1]);
    assert_eq!(cached, uncached.device_context(&kid, false).await.unwrap());

    // Another process's commit is noticed at the next change poll (or the next commit).
    b.commit(success_effects(id, 2, 3)).await.unwrap();
    a.poll_changes().await.unwrap();
    assert_eq!(
        holdings(&a.device_context(&kid, false).await.unwrap()),
        vec![1, 2]
    );
    b.commit(success_effects(id, 3, 4)).await.unwrap();
    a.commit(success_effects(id, 4, 5)).await.unwrap();
    let cached = a.device_context(&kid, false).await.unwrap();
    assert_eq!(holdings(&cached), vec![1, 2, 3, 4]);
    assert_eq!(cached, uncached.device_context(&kid, false).await.unwrap());
}

/// A server copies the WAL into the database file beside its writer. A checkpoint is not a
/// commit: the device cache, which empties when another connection commits, stays filled.
#[tokio::test]
async fn background_checkpoints_copy_the_wal_and_keep_the_device_cache() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tam.db").display());
    let s = teep_tam::Store::open(
        &url,
        &teep_tam::store::StoreOptions {
            sqlite_background_checkpoint: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (id, kid) = new_device(&s).await;
    s.commit(success_effects(id, 1, 2)).await.unwrap();
    // (The registration moved the change counter: the first poll empties the caches once.)
    s.poll_changes().await.unwrap();
    assert_eq!(
        holdings(&s.device_context(&kid, false).await.unwrap()),
        vec![1]
    );
    assert_eq!(s.device_cache_stats(), Some((0, 1)));

    let (frames, copied) = s
        .checkpoint()
        .await
        .unwrap()
        .expect("background checkpoints");
    assert!(
        frames > 0 && copied == frames,
        "{frames} frames, {copied} copied"
    );
    // The next commit and change poll read the writer's data_version: unchanged.
    s.commit(success_effects(id, 2, 3)).await.unwrap();
    s.poll_changes().await.unwrap();
    assert_eq!(
        holdings(&s.device_context(&kid, false).await.unwrap()),
        vec![1, 2]
    );
    assert_eq!(s.device_cache_stats(), Some((1, 1)));

    // Without the option nothing runs beside the writer.
    let plain = teep_tam::Store::open(&url, &Default::default())
        .await
        .unwrap();
    assert_eq!(plain.checkpoint().await.unwrap(), None);

    // The context carries the stored claims (the core leaves the row alone when a
    // QueryResponse reports the same), from memory and from the database alike.
    let mut claims = success_effects(id, 3, 4);
    if let Some(u) = claims.device.as_mut() {
        u.claims = Some("{\"manifests\":1}".into());
    }
    s.commit(claims).await.unwrap();
    plain.poll_changes().await.unwrap();
    for store in [&s, &plain] {
        let (device, _) = store.device_context(&kid, false).await.unwrap().unwrap();
        assert_eq!(device.claims.as_deref(), Some("{\"manifests\":1}"));
    }
}
