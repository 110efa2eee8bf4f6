//! PostgreSQL: the same code path as SQLite, and several TAM processes sharing one database
//! (a session may hop between instances behind a load balancer). Needs a real server:
//! `.ci/run` starts one and sets TEEP_TEST_POSTGRES_URL. In CI (CI=true) a missing URL fails
//! the tests; elsewhere they are skipped with a message. The outage test runs its own
//! cluster (TEEP_TEST_PGBIN names the server binaries) so that it can stop it.

mod common;

use common::*;
use teep_bench::sim::{exchange, ExchangeResult, SimDevice, TeepClient};
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::Enroll;

fn admin_url() -> Option<String> {
    match std::env::var("TEEP_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("TEEP_TEST_POSTGRES_URL is not set in CI: PostgreSQL tests cannot run");
            }
            eprintln!(
                "skipping: TEEP_TEST_POSTGRES_URL is not set (run .ci/run or start PostgreSQL)"
            );
            None
        }
    }
}

/// A fresh database on the test server; returns its URL.
async fn fresh_db() -> Option<String> {
    use sqlx::Connection;
    let admin = admin_url()?;
    sqlx::any::install_default_drivers();
    let mut name_bytes = [0u8; 6];
    teep_cose::default_provider()
        .fill_random(&mut name_bytes)
        .unwrap();
    let name = format!("teep_tam_test_{}", hex::encode(name_bytes));
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(admin);
    Some(format!("{base}/{name}"))
}

async fn pg_tam(db: &str) -> Tam {
    let dir = tempfile::tempdir().unwrap();
    let db = db.to_string();
    start_with(
        dir,
        move |mut c| {
            c.db = Some(db);
            c
        },
        Enroll::Tofu,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn full_exchange_and_policy_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let tam = pg_tam(&db).await;
    let cid = add_assigned_ta(&tam, "hello", b"Hello").await;
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    let d = tam.device(&dev).await;
    let installed = tam.store().installed(d.id).await.unwrap();
    assert_eq!(installed[0].component_id, cid.encode());
    let audit = tam.store().recent_audit(10, None).await.unwrap();
    assert_eq!(audit.len(), 3);
    // The Update sent is kept with the QueryResponse it answered (the web UI's sessions).
    let sent = audit
        .iter()
        .filter_map(|r| r.entry.response.as_deref())
        .collect::<Vec<_>>();
    assert_eq!(sent.len(), 1);
    assert!(teep_proto::view::view_message(sent[0], None, Default::default()).is_ok());
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kidless_lookups_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let tam = pg_tam(&db).await;
    check_kidless_lookups(tam.store()).await;
    tam.handle.shutdown().await;
}

/// Payloads of by-URI manifests (migration 0007): stored once under their SHA-256, storing
/// them again changes nothing, unknown digests read as absent.
#[tokio::test(flavor = "multi_thread")]
async fn payloads_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let tam = pg_tam(&db).await;
    let store = tam.store();
    let sha: [u8; 32] = teep_suit::Digest::sha256(b"ta").bytes.try_into().unwrap();
    store.put_payload(&sha, b"ta", 1).await.unwrap();
    store.put_payload(&sha, b"ta", 2).await.unwrap();
    assert_eq!(store.payload(&sha).await.unwrap(), Some(b"ta".to_vec()));
    assert_eq!(store.payload(&[0; 32]).await.unwrap(), None);
    tam.handle.shutdown().await;
}

/// Endorsement roots (migration 0009) on PostgreSQL: added once, listed, removed by prefix,
/// and an endorsed device (RFC 9360 x5chain) enrolls under open enrollment.
#[tokio::test(flavor = "multi_thread")]
async fn endorsement_roots_on_postgres() {
    use teep_tee::endorsement::{cert_to_pem, CertOptions, CertificateAuthority};
    let Some(db) = fresh_db().await else { return };
    let now = teep_tam::server::now_ms() / 1000;
    let root = CertificateAuthority::create_root(
        KeyType::P256,
        &CertOptions::valid_for("PG Root", now, 30),
    )
    .unwrap();
    let pem = cert_to_pem(root.cert_der());
    {
        let store = teep_tam::Store::open(&db, &Default::default())
            .await
            .unwrap();
        let added = teep_tam::endorsers::add(&store, pem.as_bytes(), 1)
            .await
            .unwrap();
        assert!(added[0].1);
        let again = teep_tam::endorsers::add(&store, pem.as_bytes(), 2)
            .await
            .unwrap();
        assert!(!again[0].1, "the same root once");
        store.close().await;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = db.clone();
    let tam = start_with(
        dir,
        move |mut c| {
            c.db = Some(url);
            c
        },
        Enroll::Open,
    )
    .await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = SimDevice::new(KeyType::P256);
    let key = teep_cose::PrivateKey::generate(KeyType::P256);
    let x5chain = root
        .issue_device(&key.public_key(), &CertOptions::valid_for("dev", now, 1))
        .unwrap();
    dev.endorsement = Some(teep_bench::sim::SimEndorsement {
        signer: teep_cose::SoftwareSigner::new(key),
        x5chain,
        cnf: None,
    });
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    let roots = tam.store().list_endorsement_roots().await.unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].subject, "PG Root");
    let removed = teep_tam::endorsers::remove(tam.store(), &roots[0].sha256[..8])
        .await
        .unwrap();
    assert_eq!(removed.sha256, roots[0].sha256);
    assert!(tam
        .store()
        .list_endorsement_roots()
        .await
        .unwrap()
        .is_empty());
    tam.handle.shutdown().await;
}

/// Catalog dependencies (migration 0008) stored with their entry and read back.
#[tokio::test(flavor = "multi_thread")]
async fn catalog_dependencies_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let tam = pg_tam(&db).await;
    check_dependencies_stored(tam.store()).await;
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn purges_run_in_chunks_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let tam = pg_tam(&db).await;
    check_purges(tam.store()).await;
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_database_migrates_forward_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let dir = tempfile::tempdir().unwrap();
    old_database(dir.path(), "postgres", &db, "0004").await;
    let store = teep_tam::Store::open(&db, &Default::default())
        .await
        .unwrap();
    check_migrated(&store).await;
    let columns = scalar(
        &store,
        "SELECT COUNT(*) FROM information_schema.columns \
         WHERE table_name = 'devices' AND column_name = 'last_seen'",
    )
    .await;
    assert_eq!(columns, 0);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_hops_between_two_tam_processes_and_replays_are_refused_across_them() {
    let Some(db) = fresh_db().await else { return };
    let a = pg_tam(&db).await;
    add_assigned_ta(&a, "hello", b"Hello").await;
    let b = pg_tam(&db).await;
    let (ca, cb) = (a.client(), b.client());
    let n = Numbering::Draft26;
    let mut dev = SimDevice::new(KeyType::Ed25519);
    // The two instances have their own TEEP keys; the device trusts both.
    let mut keys = a.tam_keys();
    keys.extend(b.tam_keys());

    let qreq = ca.post(Vec::new()).await.unwrap();
    let seen = dev.read_query_request(&qreq.body, n, &keys).unwrap();
    let qresp = dev.query_response(&seen, n).unwrap();
    let upd = cb.post(qresp.clone()).await.unwrap();
    assert_eq!(upd.status, 200);
    assert_eq!(
        ca.post(qresp).await.unwrap().status,
        400,
        "replay through the other instance"
    );
    let token = dev.read_update(&upd.body, n).unwrap();
    let success = dev.success(token, n).unwrap();
    assert_eq!(ca.post(success).await.unwrap().status, 204);
    assert_eq!(
        exchange(&cb, &mut dev, n, &keys).await.unwrap(),
        ExchangeResult::UpToDate
    );
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_devices_through_two_instances_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let a = pg_tam(&db).await;
    add_assigned_ta(&a, "hello", b"Hello").await;
    let b = pg_tam(&db).await;
    let urls = [a.url("/tam"), b.url("/tam")];
    let mut tasks = Vec::new();
    for i in 0..100 {
        let url = urls[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let client = TeepClient::new(&url).unwrap();
            let mut dev = SimDevice::new(if i % 3 == 0 {
                KeyType::Ed25519
            } else {
                KeyType::P256
            });
            exchange(&client, &mut dev, Numbering::Draft26, &[]).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), ExchangeResult::Updated);
    }
    assert_eq!(a.store().device_count().await.unwrap(), 100);
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

/// A PostgreSQL cluster of this test's own, which it may stop and start while the shared
/// one serves the other tests. Made like `.ci/run` makes the shared one; stopped on drop.
struct Cluster {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// `None` (test skipped) without TEEP_TEST_PGBIN, except in CI.
    fn new() -> Option<Cluster> {
        let bin = match std::env::var("TEEP_TEST_PGBIN") {
            Ok(b) if !b.is_empty() => std::path::PathBuf::from(b),
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("TEEP_TEST_PGBIN is not set in CI: the outage test cannot run");
                }
                eprintln!("skipping: TEEP_TEST_PGBIN (PostgreSQL's bin directory) is not set");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("pg");
        std::fs::create_dir(&data).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Cluster {
            bin,
            data,
            port,
            _dir: dir,
        };
        if c.as_root() {
            // The server refuses to run as root: the cluster belongs to postgres.
            for p in [c._dir.path(), c.data.as_path()] {
                let ok = std::process::Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(p)
                    .status()
                    .unwrap();
                assert!(ok.success());
            }
        }
        let data = c.data.to_str().unwrap().to_string();
        c.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust"]);
        c.start();
        Some(c)
    }

    fn as_root(&self) -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.data.to_str().unwrap().to_string();
        let mut all = vec!["-D", &data, "-w"];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all);
    }

    fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("log");
        self.pg_ctl(&["-o", &opts, "-l", log.to_str().unwrap(), "start"]);
    }

    fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap_or_default().to_string();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        };
        let _ = cmd.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_gives_503_and_the_same_process_recovers_when_it_is_back() {
    let Some(pg) = Cluster::new() else { return };
    let tam = pg_tam(&pg.url()).await;
    add_assigned_ta(&tam, "hello", b"Hello").await;
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);

    pg.stop();
    let client = tam.client();
    // A QueryRequest needs no storage (its token is authenticated, not stored); the
    // QueryResponse does, and gets 503 rather than an error that blames the device.
    let opened = client.post(Vec::new()).await.unwrap();
    assert_eq!(opened.status, 200);
    let seen = dev
        .read_query_request(&opened.body, Numbering::Draft26, &tam.tam_keys())
        .unwrap();
    let answer = dev.query_response(&seen, Numbering::Draft26).unwrap();
    let r = client.post(answer).await.unwrap();
    let text = String::from_utf8_lossy(&r.body).to_string();
    assert_eq!(r.status, 503, "{text}");
    assert!(text.contains("storage unavailable"), "{text}");
    assert_eq!(tam.health().await, 503);

    pg.start();
    // The same process, not restarted: the next exchanges complete. A connection the pool held
    // across the outage is found broken on its first use (connections are not pinged before
    // each use: that would cost every exchange a round trip), which is a 503 a Broker retries;
    // so each exchange may meet a few such 503s, at most one per pooled connection, and never
    // another error.
    async fn after_outage(tam: &Tam, dev: &mut SimDevice) -> ExchangeResult {
        let mut stale = 0;
        loop {
            match exchange(&tam.client(), dev, Numbering::Draft26, &tam.tam_keys()).await {
                Ok(r) => return r,
                Err(teep_bench::sim::SimError::Status { status: 503, .. }) if stale < 16 => {
                    stale += 1
                }
                Err(e) => panic!("after the outage: {e}"),
            }
        }
    }
    assert_eq!(after_outage(&tam, &mut dev).await, ExchangeResult::UpToDate);
    let mut newcomer = SimDevice::new(KeyType::Ed25519);
    assert_eq!(
        after_outage(&tam, &mut newcomer).await,
        ExchangeResult::Updated
    );
    assert_eq!(tam.store().device_count().await.unwrap(), 2);
    tam.handle.shutdown().await;
}
