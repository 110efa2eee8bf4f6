//! Shared helpers of the end-to-end tests: an in-process TAM on a free port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use teep_bench::sim::TeepClient;
use teep_tam::{Config, Enroll, ServerHandle};

pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct Tam {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
    pub dir: tempfile::TempDir,
}

impl Tam {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn client(&self) -> TeepClient {
        TeepClient::new(&self.url("/tam")).unwrap()
    }
    pub fn tam_keys(&self) -> Vec<teep_cose::PublicKey> {
        self.handle
            .state
            .core
            .signers()
            .iter()
            .map(|s| s.public_key())
            .collect()
    }
    pub fn store(&self) -> &teep_tam::Store {
        &self.handle.state.store
    }
    /// One full draft-26 exchange of `dev` with this TAM, its signatures checked; panics on
    /// any error.
    pub async fn exchange(
        &self,
        dev: &mut teep_bench::sim::SimDevice,
    ) -> teep_bench::sim::ExchangeResult {
        teep_bench::sim::exchange(
            &self.client(),
            dev,
            teep_proto::Numbering::Draft26,
            &self.tam_keys(),
        )
        .await
        .unwrap()
    }
}

pub fn config(dir: &std::path::Path, enroll: Enroll) -> Config {
    Config {
        data: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll,
        admin_token: Some(ADMIN_TOKEN.into()),
        ..Default::default()
    }
}

pub async fn start(enroll: Enroll) -> Tam {
    let dir = tempfile::tempdir().unwrap();
    start_with(dir, |c| c, enroll).await
}

pub async fn start_with(
    dir: tempfile::TempDir,
    f: impl FnOnce(Config) -> Config,
    enroll: Enroll,
) -> Tam {
    let cfg = f(config(dir.path(), enroll));
    let (addr, handle) = teep_tam::server::spawn(cfg).await.unwrap();
    Tam { addr, handle, dir }
}

/// Adds a TA wrapped by the TAM and assigns it to every device; returns its component id.
pub async fn add_assigned_ta(tam: &Tam, name: &str, body: &[u8]) -> teep_tam::model::ComponentId {
    let st = &tam.handle.state;
    let tc = teep_tam::ops::add_ta(
        &st.store,
        &st.tc_signer,
        name,
        body,
        teep_tam::server::now_ms(),
    )
    .await
    .unwrap();
    st.store
        .assign(&tc.component_id, &teep_tam::model::Target::All, 0)
        .await
        .unwrap();
    teep_tam::model::ComponentId::decode(&tc.component_id).unwrap()
}

impl Tam {
    /// What the TAM stored about `dev`; panics if it does not know the device.
    pub async fn device(&self, dev: &teep_bench::sim::SimDevice) -> teep_tam::model::DeviceRecord {
        self.store()
            .device_by_kid(&dev.kid())
            .await
            .unwrap()
            .expect("device known to the TAM")
    }

    /// A new session up to the TAM's answer to `dev`'s QueryResponse; `challenge`, if given,
    /// replaces the one the QueryRequest carried.
    pub async fn answer_query(
        &self,
        dev: &teep_bench::sim::SimDevice,
        challenge: Option<Vec<u8>>,
    ) -> teep_bench::sim::Reply {
        let n = teep_proto::Numbering::Draft26;
        let client = self.client();
        let qreq = client.post(Vec::new()).await.unwrap();
        let mut seen = dev.read_query_request(&qreq.body, n, &[]).unwrap();
        if challenge.is_some() {
            seen.challenge = challenge;
        }
        client
            .post(dev.query_response(&seen, n).unwrap())
            .await
            .unwrap()
    }

    /// Status of GET /healthz.
    pub async fn health(&self) -> u16 {
        health_at(self.url("/healthz")).await
    }
}

/// Longest a test waits for a state it polls for: far beyond what any wait takes, so that only
/// a state that never comes fails the test (instead of hanging it).
pub const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Polls `condition` every few milliseconds until it holds; panics naming `what` if it does
/// not within [`WAIT_LIMIT`]. Tests wait for a state this way rather than sleeping a guessed
/// time.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for {what} after {WAIT_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Status of a GET of `url` (a health check).
pub async fn health_at(url: String) -> u16 {
    tokio::task::spawn_blocking(move || {
        ureq::get(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap()
            .status()
            .as_u16()
    })
    .await
    .unwrap()
}

/// The Update in a 200 reply, which must carry an error: its code and message.
pub fn error_update(reply: &teep_bench::sim::Reply) -> (teep_proto::ErrorCode, String) {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let n = teep_proto::Numbering::Draft26;
    let (_, msg) = teep_tam::wire::signed::open_message(&reply.body, n).unwrap();
    let teep_proto::TeepMessage::Update(u) = msg else {
        panic!("expected Update, got {}", msg.type_name())
    };
    assert!(
        u.manifest_list.is_empty(),
        "an error Update installs nothing"
    );
    (u.err_code.expect("err-code"), u.err_msg.unwrap_or_default())
}

/// Expired sessions and audit entries past retention are purged in chunks, on any backend:
/// a purge larger than one chunk removes everything due and nothing else, and an audit entry
/// committed out of time order waits for the next purge instead of making a statement scan
/// the entries that stay.
pub async fn check_purges(store: &teep_tam::Store) {
    let pool = store.pool();
    let now = 1_900_000_000_000i64;
    // 250 expired sessions, 7 live ones.
    for i in 0..257i64 {
        let expires = if i < 250 {
            now - 1000 + i
        } else {
            now + 60_000
        };
        sqlx::query(
            "INSERT INTO sessions (token, kind, numbering, created_at, expires_at, answered) \
             VALUES ($1, 'update', 'draft26', $2, $3, 0)",
        )
        .bind(format!("purge-test-{i:04}").into_bytes())
        .bind(now - 5000)
        .bind(expires)
        .execute(pool)
        .await
        .unwrap();
    }
    let count = |sql: &'static str| scalar(store, sql);
    let before = count("SELECT COUNT(*) FROM sessions").await;
    assert_eq!(store.purge_sessions_by(now, 100).await.unwrap(), 250);
    assert_eq!(count("SELECT COUNT(*) FROM sessions").await, before - 250);
    assert_eq!(
        count("SELECT COUNT(*) FROM sessions WHERE expires_at < 1900000000000").await,
        0
    );
    assert_eq!(store.purge_sessions_by(now, 100).await.unwrap(), 0);
    // A chunk below one row still ends (one row per statement).
    assert_eq!(store.purge_sessions_by(now + 60_001, 0).await.unwrap(), 7);

    // Audit: 230 old entries, then a new one, an old one committed late, and 4 new ones.
    let cutoff = now - 86_400_000;
    let mut ats: Vec<i64> = (0..230).map(|i| cutoff - 10_000 + i).collect();
    ats.extend([
        cutoff + 1,
        cutoff - 1,
        cutoff + 2,
        cutoff + 3,
        cutoff + 4,
        cutoff + 5,
    ]);
    for at in &ats {
        sqlx::query(
            "INSERT INTO audit (at, message_type, summary, result) VALUES ($1, 'Success', '', 'ok')",
        )
        .bind(*at)
        .execute(pool)
        .await
        .unwrap();
    }
    let old = "SELECT COUNT(*) FROM audit WHERE at < 1899913600000";
    let total = count("SELECT COUNT(*) FROM audit").await;
    assert_eq!(count(old).await, 231);
    assert_eq!(store.purge_audit_by(cutoff, 100).await.unwrap(), 230);
    assert_eq!(count("SELECT COUNT(*) FROM audit").await, total - 230);
    // The late one stays until the entries before it are gone too.
    assert_eq!(count(old).await, 1);
    // Everything older than a later cutoff, including an empty log's edge case.
    assert_eq!(store.purge_audit_by(cutoff + 1000, 100).await.unwrap(), 6);
    assert_eq!(
        count("SELECT COUNT(*) FROM audit WHERE at >= 1899913600000").await,
        0
    );
    assert_eq!(store.purge_audit_by(cutoff + 1000, 100).await.unwrap(), 0);
}

/// The one integer a query such as `SELECT COUNT(*) ...` returns.
pub async fn scalar(store: &teep_tam::Store, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// The database at `url` with the migrations of `backend` (`sqlite` or `postgres`) numbered
/// below `upto` applied (and recorded, as sqlx records them), the way an older TAM left it,
/// holding two devices, one seen and holding two TCs, and one catalog entry.
pub async fn old_database(dir: &std::path::Path, backend: &str, url: &str, upto: &str) {
    let old = dir.join("old-migrations");
    std::fs::create_dir(&old).unwrap();
    let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        let name = f.file_name().into_string().unwrap();
        if name.as_str() < upto {
            std::fs::copy(f.path(), old.join(&name)).unwrap();
        }
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let devices = [
        (1i64, "seen", 1u8, "attested", Some(1234i64)),
        (2, "never", 3, "registered", None),
    ];
    for (id, name, kid, status, last_seen) in devices {
        sqlx::query(
            "INSERT INTO devices (id, name, kid, teep_key, status, created_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, 5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(vec![kid])
        .bind(vec![kid + 1])
        .bind(status)
        .bind(last_seen)
        .execute(&pool)
        .await
        .unwrap();
    }
    let holdings = [
        (
            vec![0xaa_u8],
            Some(3i64),
            Some(vec![0xbb_u8]),
            "policy",
            77i64,
        ),
        (vec![0xab], None, None, "device", 78),
    ];
    for (cid, seq, digest, origin, at) in holdings {
        sqlx::query(
            "INSERT INTO device_tcs (device_id, component_id, sequence, digest, origin, updated_at) \
             VALUES (1, $1, $2, $3, $4, $5)",
        )
        .bind(cid)
        .bind(seq)
        .bind(digest)
        .bind(origin)
        .bind(at)
        .execute(&pool)
        .await
        .unwrap();
    }
    // A catalog entry as the TAM stored it before migration 0008 (no dependencies column).
    sqlx::query(
        "INSERT INTO tcs (name, component_id, manifest_component_id, sequence, envelope, created_at) \
         VALUES ('old', $1, NULL, 4, $2, 6)",
    )
    .bind(vec![0xac_u8])
    .bind(vec![0xa0_u8])
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

/// What [`old_database`] stored, read through the migrated store.
pub async fn check_migrated(store: &teep_tam::Store) {
    let seen = store.device_by_id(1).await.unwrap();
    assert_eq!(
        (seen.name.as_deref(), seen.last_seen),
        (Some("seen"), Some(1234))
    );
    assert_eq!(store.device_by_id(2).await.unwrap().last_seen, None);
    let held: Vec<_> = store
        .installed(1)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.component_id, t.sequence, t.digest, t.origin, t.updated_at))
        .collect();
    assert_eq!(
        held,
        vec![
            (
                vec![0xaa],
                Some(3),
                Some(vec![0xbb]),
                "policy".to_string(),
                77
            ),
            (vec![0xab], None, None, "device".to_string(), 78),
        ]
    );
    assert!(store.installed(2).await.unwrap().is_empty());
    assert_eq!(scalar(store, "SELECT COUNT(*) FROM device_seen").await, 1);
    // Migration 0008: the old entry reads, without dependencies.
    let tcs = store.list_tcs().await.unwrap();
    assert_eq!(
        tcs.iter()
            .map(|t| (t.name.as_str(), t.sequence, t.dependencies.len()))
            .collect::<Vec<_>>(),
        [("old", 4, 0)]
    );
}

/// The kid-less signer search's two reads, on any backend: devices by their recorded UEID,
/// and the whole fleet only when it is small enough to try.
pub async fn check_kidless_lookups(store: &teep_tam::Store) {
    let mut ids = Vec::new();
    for seed in [0x21u8, 0x22] {
        let key = teep_cose::PrivateKey::from_p256_scalar(&[seed; 32]).unwrap();
        let pem = key.public_key().to_spki_pem();
        let d = teep_tam::ops::add_device(store, pem.as_bytes(), None, None, &[], 0)
            .await
            .unwrap();
        ids.push(d.id);
    }
    sqlx::query("UPDATE devices SET ueid = $1 WHERE id = $2")
        .bind(vec![0x01u8, 0xaa, 0xbb])
        .bind(ids[1])
        .execute(store.pool())
        .await
        .unwrap();
    let found = store.devices_by_ueid(&[0x01, 0xaa, 0xbb]).await.unwrap();
    assert_eq!(found.iter().map(|d| d.id).collect::<Vec<_>>(), [ids[1]]);
    assert!(store.devices_by_ueid(&[0x01]).await.unwrap().is_empty());
    assert!(store.devices_up_to(1).await.unwrap().is_none(), "2 > 1");
    let all = store.devices_up_to(2).await.unwrap().unwrap();
    assert_eq!(all.iter().map(|d| d.id).collect::<Vec<_>>(), ids);
}

/// Catalog dependencies (migration 0008), on any backend: stored with the entry and read back
/// by every catalog read; an entry without any (or added before 0008, NULL) reads as none.
/// Leaves the catalog as it found it.
pub async fn check_dependencies_stored(store: &teep_tam::Store) {
    use teep_tam::model::{ComponentId, NewTc, TcDependency};
    let cid = |n: &str| ComponentId::new(vec![b"TEEP-Device".to_vec(), n.as_bytes().to_vec()]);
    let entry = |n: &str, dependencies: Vec<TcDependency>| NewTc {
        name: n.into(),
        component_id: cid(n).encode(),
        manifest_component_id: Some(
            ComponentId::new(vec![
                b"TEEP-Device".to_vec(),
                n.as_bytes().to_vec(),
                b"suit".to_vec(),
            ])
            .encode(),
        ),
        sequence: 1,
        envelope: n.as_bytes().to_vec(),
        payload_digest: None,
        signer_kid: None,
        dependencies,
    };
    let dep = TcDependency {
        component_id: cid("ta").encode(),
        manifest_component_id: entry("ta", vec![]).manifest_component_id,
        digest: Some(vec![0x82, 0x2f, 0x41, 0xb3]),
        uri: Some("https://example.org/ta.suit".into()),
    };
    let ta = store.add_tc(&entry("ta", vec![]), 1).await.unwrap();
    let config = store
        .add_tc(&entry("config", vec![dep.clone()]), 2)
        .await
        .unwrap();
    assert!(store.tc_by_id(ta).await.unwrap().dependencies.is_empty());
    assert_eq!(
        store.tc_by_id(config).await.unwrap().dependencies,
        std::slice::from_ref(&dep)
    );
    for list in [
        store.list_tcs().await.unwrap(),
        store.latest_tcs().await.unwrap(),
    ] {
        let c = list.iter().find(|t| t.id == config).unwrap();
        assert_eq!(c.dependencies, std::slice::from_ref(&dep));
    }
    // NULL, as every entry added before migration 0008 holds.
    sqlx::query("UPDATE tcs SET dependencies = NULL WHERE id = $1")
        .bind(config)
        .execute(store.pool())
        .await
        .unwrap();
    assert!(store
        .tc_by_id(config)
        .await
        .unwrap()
        .dependencies
        .is_empty());
    // Unreadable text is an error naming the entry, not an empty list.
    sqlx::query("UPDATE tcs SET dependencies = 'not json' WHERE id = $1")
        .bind(config)
        .execute(store.pool())
        .await
        .unwrap();
    let e = store.tc_by_id(config).await.unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "catalog entry {config}: stored dependencies do not read"
        )),
        "{e}"
    );
    store.delete_tc(&cid("config").encode()).await.unwrap();
    store.delete_tc(&cid("ta").encode()).await.unwrap();
}
