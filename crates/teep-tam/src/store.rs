//! Storage adapter: one code path over sqlx `Any` for SQLite (default) and PostgreSQL.
//!
//! Queries are runtime `query()` calls with `$n` placeholders (both backends accept them) and
//! only the basic types `Any` supports: `i64`, `String`, `Vec<u8>`. Timestamps are milliseconds
//! since the Unix epoch; component identifiers are stored as their CBOR encoding, which is
//! unique and compares bytewise. The session core never touches this module: the server loads
//! a [`crate::session::Context`] from it, runs the core, then hands the core's
//! [`crate::session::Effects`] to [`Store::commit`], which commits them (grouped with the
//! steps of concurrent sessions, see `batch.rs`) before the response leaves.

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, ConnectOptions as _, Row};

use crate::model::*;

mod batch;
mod devices;

pub use batch::Committed;
pub use devices::DEFAULT_CAPACITY as DEFAULT_DEVICE_CACHE;

/// A storage failure. `Unavailable` maps to HTTP 503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage: {0}")]
    Query(String),
    #[error("storage migration: {0}")]
    Migrate(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(d.message().to_string())
            }
            sqlx::Error::Database(d) if d.code().as_deref().is_some_and(unavailable_sqlstate) => {
                StoreError::Unavailable(d.message().to_string())
            }
            sqlx::Error::Database(d) => {
                let m = d.message().to_string();
                // SQLite reports a locked/busy or unreadable file as a database error.
                if m.contains("locked")
                    || m.contains("busy")
                    || m.contains("unable to open")
                    || m.contains("disk I/O")
                    || m.contains("readonly")
                {
                    StoreError::Unavailable(m)
                } else {
                    StoreError::Query(m)
                }
            }
            _ => StoreError::Query(e.to_string()),
        }
    }
}

/// PostgreSQL SQLSTATEs that say the server, not the statement, is the problem: a server
/// shutting down or starting (57P01–57P03), a lost connection (class 08), no resources left
/// (class 53). Requests meanwhile get 503 and succeed again once it is back. SQLite's codes are
/// numbers of up to four digits (531 is a constraint error), so only five-character SQLSTATEs
/// are read by class.
fn unavailable_sqlstate(code: &str) -> bool {
    code.len() == 5
        && (matches!(code, "57P01" | "57P02" | "57P03")
            || code.starts_with("08")
            || code.starts_with("53"))
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Which database is behind the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Pool tuning.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite `synchronous=FULL` instead of NORMAL (WAL): survives power loss, not just crashes.
    pub sqlite_full_sync: bool,
    /// How long SQLite waits for another writer before reporting the database unavailable.
    pub sqlite_busy_timeout_ms: u64,
    /// Read-only SQLite connections for the TEEP hot path's lookups (beside the one writer).
    pub sqlite_read_connections: u32,
    /// SQLite: how many devices' QueryResponse context to keep in memory (0: none).
    pub device_cache: usize,
    /// SQLite: the owner calls [`Store::checkpoint`] often (a server does), so the writer
    /// checkpoints the WAL itself only as a backstop ([`BACKSTOP_CHECKPOINT_PAGES`]).
    pub sqlite_background_checkpoint: bool,
}

/// With background checkpoints, the WAL size (in pages) at which the writer checkpoints
/// during a commit anyway. Under steady writes a checkpoint beside the writer never catches
/// up with the last frame, so only the writer's own checkpoint lets the WAL start over; most
/// frames are already copied by then, so it is short.
pub const BACKSTOP_CHECKPOINT_PAGES: u32 = 8192;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            sqlite_full_sync: false,
            sqlite_busy_timeout_ms: 5000,
            sqlite_read_connections: 2,
            device_cache: devices::DEFAULT_CAPACITY,
            sqlite_background_checkpoint: false,
        }
    }
}

/// What the hot path reads from memory instead of storage: the catalog and the assignments,
/// valid for one `epoch`. The epoch moves when this process changes the catalog, the policy or
/// the device registry, and when [`Store::poll_changes`] sees another process do so.
pub struct PolicySnapshot {
    pub epoch: u64,
    /// Newest entry of each component.
    pub catalog: Arc<Vec<TcRecord>>,
    assignments: Vec<(Vec<u8>, Target)>,
    /// Whether any assignment targets a tag (only then are a device's tags read).
    pub tag_rules: bool,
}

impl PolicySnapshot {
    /// Component ids assigned to a device (`None`: a device not yet in storage, which only
    /// `all` assignments reach).
    pub fn assigned(&self, device: Option<(i64, &[String])>) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (cid, target) in &self.assignments {
            let hit = match (target, device) {
                (Target::All, _) => true,
                (Target::Device(id), Some((d, _))) => *id == d,
                (Target::Tag(t), Some((_, tags))) => tags.iter().any(|x| x == t),
                _ => false,
            };
            if hit && !out.contains(cid) {
                out.push(cid.clone());
            }
        }
        out
    }
}

/// A poisoned lock still guards consistent data here: the queue and the device cache are only
/// changed by calls that cannot panic half-way.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// State shared by the clones of one [`Store`].
struct Shared {
    epoch: AtomicU64,
    /// Last change counter read from the `meta` table.
    generation: AtomicI64,
    policy: RwLock<Option<Arc<PolicySnapshot>>>,
    batcher: batch::Batcher,
    /// SQLite only (see `devices`).
    devices: Option<Mutex<devices::DeviceCache>>,
    /// Writer connections opened so far; a new one starts a new `data_version` sequence.
    connects: Arc<AtomicU64>,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// Connections for the lookups of the TEEP hot path. For a SQLite file this is a separate
    /// read-only pool: under WAL readers never block the single writer nor each other, so
    /// loading a session's context no longer queues behind other sessions' commits. Every
    /// response is sent only after its transaction committed, so any later request reads a
    /// snapshot that already contains what that response depends on. For PostgreSQL and
    /// in-memory SQLite it is the same pool.
    read: AnyPool,
    /// SQLite file with background checkpoints: the connection [`Store::checkpoint`] uses.
    checkpointer: Option<AnyPool>,
    backend: Backend,
    shared: Arc<Shared>,
}

/// How many of the newest audit entries a per-device audit query looks through (about 30 ms
/// of scanning on SQLite).
pub const AUDIT_DEVICE_WINDOW: i64 = 100_000;

/// Rows deleted per statement when expired sessions or old audit entries are purged. A
/// statement holds the writer (SQLite has one connection for it), so a purge of millions of
/// rows, after downtime or under load, runs as many short statements and the group commit
/// gets the connection between them (the pool serves waiters first come, first served) instead
/// of waiting seconds and answering 503.
pub const PURGE_CHUNK: i64 = 2000;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Connects, creating (SQLite) and migrating the database. `url` is `sqlite://PATH` or
    /// `postgres://...`.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Query(format!(
                "database URL {url:?}: expected sqlite://PATH or postgres://..."
            )));
        };
        let url = if backend == Backend::Sqlite && !url.contains('?') && !url.contains(":memory:") {
            format!("{url}?mode=rwc")
        } else {
            url.to_string()
        };
        let connect = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Query(format!("database URL: {e}")))?;
        let max = match (options.max_connections, backend) {
            (0, Backend::Sqlite) => 1,
            (0, Backend::Postgres) => 16,
            (n, _) => n,
        };
        let full_sync = options.sqlite_full_sync;
        let background_checkpoint = options.sqlite_background_checkpoint
            && backend == Backend::Sqlite
            && !url.contains(":memory:");
        let busy = format!("PRAGMA busy_timeout={}", options.sqlite_busy_timeout_ms);
        let connects = Arc::new(AtomicU64::new(0));
        let connects_hook = connects.clone();
        // No ping before each acquire: for SQLite it is one more hop to the connection's
        // thread per statement, and a dead connection surfaces as an error anyway.
        let pool = AnyPoolOptions::new()
            .test_before_acquire(false)
            .max_connections(max)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let busy = busy.clone();
                connects_hook.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        use sqlx::Executor;
                        // WAL lets CLI commands read and write while a server runs; the busy
                        // timeout makes them wait for the writer instead of failing.
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute(AssertSqlSafe(busy.clone())).await?;
                        conn.execute("PRAGMA foreign_keys=ON").await?;
                        // Statement journals of multi-row statements stay off disk. The
                        // writer keeps SQLite's default page cache and no mmap: a 64 MiB cache
                        // and a 256 MiB map measured 5-10 % slower (each commit walks the
                        // cache to drop pages past the end, and remaps). The WAL keeps the
                        // default checkpoint interval: a longer one measured the same
                        // throughput with twice the p99 (a bigger checkpoint stalls the commit).
                        conn.execute("PRAGMA temp_store=MEMORY").await?;
                        if background_checkpoint {
                            conn.execute(AssertSqlSafe(format!(
                                "PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}"
                            )))
                            .await?;
                        }
                        if full_sync {
                            conn.execute("PRAGMA synchronous=FULL").await?;
                        } else {
                            conn.execute("PRAGMA synchronous=NORMAL").await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?;
        let read = if backend == Backend::Sqlite && !url.contains(":memory:") {
            let connect = AnyConnectOptions::from_str(&url)
                .map_err(|e| StoreError::Query(format!("database URL: {e}")))?;
            let busy = format!("PRAGMA busy_timeout={}", options.sqlite_busy_timeout_ms);
            AnyPoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.sqlite_read_connections.max(1))
                .acquire_timeout(options.acquire_timeout)
                .after_connect(move |conn, _meta| {
                    let busy = busy.clone();
                    Box::pin(async move {
                        use sqlx::Executor;
                        conn.execute(AssertSqlSafe(busy.clone())).await?;
                        conn.execute("PRAGMA query_only=ON").await?;
                        // Another connection's commit empties this connection's page cache;
                        // mapped pages are re-read without a copy per page.
                        conn.execute("PRAGMA mmap_size=268435456").await?;
                        Ok(())
                    })
                })
                .connect_with(connect)
                .await?
        } else {
            pool.clone()
        };
        let checkpointer = if background_checkpoint {
            // With a large database a checkpoint's random writes and fsync often take over a
            // second; that is its job, beside the writer, not a slow query to warn about.
            let connect = AnyConnectOptions::from_str(&url)
                .map_err(|e| StoreError::Query(format!("database URL: {e}")))?
                .log_slow_statements(log::LevelFilter::Info, Duration::from_secs(1));
            Some(
                AnyPoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(1)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await?,
            )
        } else {
            None
        };
        let writers = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => (max as usize / 4).clamp(1, 4),
        };
        let store = Store {
            pool,
            read,
            checkpointer,
            backend,
            shared: Arc::new(Shared {
                epoch: AtomicU64::new(1),
                generation: AtomicI64::new(i64::MIN),
                policy: RwLock::new(None),
                batcher: batch::Batcher::new(writers),
                devices: (backend == Backend::Sqlite)
                    .then(|| Mutex::new(devices::DeviceCache::new(options.device_cache))),
                connects,
            }),
        };
        store.poll_changes().await?;
        Ok(store)
    }

    // ---- change tracking and caches --------------------------------------------------------

    /// The current cache epoch.
    pub fn epoch(&self) -> u64 {
        self.shared.epoch.load(Ordering::SeqCst)
    }

    fn invalidate(&self) {
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Records that the catalog, the policy or the device registry changed: caches of this
    /// process drop at once, those of other processes at their next [`Store::poll_changes`].
    async fn changed(&self) -> Result<()> {
        self.invalidate();
        sqlx::query("UPDATE meta SET number = number + 1 WHERE name = 'generation'")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Reads the change counter; if another process moved it, this process's caches drop.
    /// The server calls it a few times a second. Returns whether anything changed.
    pub async fn poll_changes(&self) -> Result<bool> {
        let row = sqlx::query("SELECT number FROM meta WHERE name = 'generation'")
            .fetch_optional(&self.read)
            .await?;
        let g = match row {
            Some(r) => r.try_get::<Option<i64>, _>(0)?.unwrap_or(0),
            None => 0,
        };
        // Also notice other processes' exchanges while this one commits nothing.
        self.observe_data_version(&self.pool).await?;
        let old = self.shared.generation.swap(g, Ordering::SeqCst);
        if old != g {
            self.invalidate();
            return Ok(true);
        }
        Ok(false)
    }

    /// Copies committed WAL frames into the database file beside the writer (SQLite
    /// `wal_checkpoint(PASSIVE)`: it waits for no one). A checkpoint in the writer's commit
    /// holds every exchange waiting for that commit through its two fsyncs. Returns the WAL's
    /// frames and how many of them are in the database file now; `None` without background
    /// checkpoints.
    pub async fn checkpoint(&self) -> Result<Option<(i64, i64)>> {
        let Some(c) = &self.checkpointer else {
            return Ok(None);
        };
        let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(c)
            .await?;
        Ok(Some((row.try_get(1)?, row.try_get(2)?)))
    }

    /// Catalog and assignments as of now, from memory unless something changed.
    pub async fn policy(&self) -> Result<Arc<PolicySnapshot>> {
        let epoch = self.epoch();
        if let Some(p) = self.shared.policy.read().ok().and_then(|g| g.clone()) {
            if p.epoch == epoch {
                return Ok(p);
            }
        }
        let catalog = Arc::new(self.latest_tcs().await?);
        let assignments: Vec<(Vec<u8>, Target)> = self
            .list_assignments()
            .await?
            .into_iter()
            .map(|a| (a.component_id, a.target))
            .collect();
        let tag_rules = assignments.iter().any(|(_, t)| matches!(t, Target::Tag(_)));
        let snap = Arc::new(PolicySnapshot {
            epoch,
            catalog,
            assignments,
            tag_rules,
        });
        if let Ok(mut g) = self.shared.policy.write() {
            *g = Some(snap.clone());
        }
        Ok(snap)
    }

    /// The MAC key of QueryRequest tokens, created by the first process that asks; every
    /// process on this database gets the same key.
    pub async fn token_secret(&self) -> Result<Vec<u8>> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh)
            .map_err(|e| StoreError::Query(format!("random source: {e}")))?;
        sqlx::query(
            "INSERT INTO meta (name, bytes) VALUES ('token_key', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&fresh[..])
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT bytes FROM meta WHERE name = 'token_key'")
            .fetch_one(&self.pool)
            .await?;
        let key: Option<Vec<u8>> = row.try_get(0)?;
        key.filter(|k| k.len() >= 32)
            .ok_or_else(|| StoreError::Query("meta.token_key: expected at least 32 bytes".into()))
    }

    /// A device and what storage says it holds, in one statement (the QueryResponse path).
    /// Tags are read only when `with_tags` (some assignment targets a tag).
    pub async fn device_context(
        &self,
        kid: &[u8],
        with_tags: bool,
    ) -> Result<Option<(DeviceRecord, Vec<InstalledTc>)>> {
        let Some(cache) = &self.shared.devices else {
            return self.read_device_context(kid, with_tags).await;
        };
        let seen = {
            let mut c = self.checked_devices(cache);
            if let Some(e) = c.get(kid, with_tags) {
                let found = (e.device.clone(), e.installed.clone());
                c.hits += 1;
                return Ok(Some(found));
            }
            c.misses += 1;
            c.mutations()
        };
        let found = self.read_device_context(kid, with_tags).await?;
        if let Some((device, installed)) = &found {
            // Kept unless a commit touched this device, or the cache was emptied, while this
            // read ran: its snapshot may predate that change.
            lock(cache).insert_if_unchanged(
                seen,
                devices::Entry {
                    device: device.clone(),
                    installed: installed.clone(),
                    with_tags,
                },
            );
        }
        Ok(found)
    }

    /// Device-context lookups answered from memory and from the database since the store
    /// opened (`None`: no device cache, as with PostgreSQL).
    pub fn device_cache_stats(&self) -> Option<(u64, u64)> {
        let cache = self.shared.devices.as_ref()?;
        let c = lock(cache);
        Some((c.hits, c.misses))
    }

    /// The device cache, emptied first if the store epoch or the writer connection moved.
    fn checked_devices<'c>(
        &self,
        cache: &'c Mutex<devices::DeviceCache>,
    ) -> std::sync::MutexGuard<'c, devices::DeviceCache> {
        let mut c = lock(cache);
        c.check(self.epoch(), self.shared.connects.load(Ordering::SeqCst));
        c
    }

    /// Reads the writer connection's `PRAGMA data_version` (through `conn`, the writer pool or
    /// a transaction on it) into the device cache, which empties if another connection
    /// committed since the last reading.
    async fn observe_data_version<'e, E>(&self, conn: E) -> Result<()>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        if let Some(cache) = &self.shared.devices {
            let version: i64 = sqlx::query("PRAGMA data_version")
                .fetch_one(conn)
                .await?
                .try_get(0)?;
            lock(cache).data_version(self.shared.connects.load(Ordering::SeqCst), version);
        }
        Ok(())
    }

    async fn read_device_context(
        &self,
        kid: &[u8],
        with_tags: bool,
    ) -> Result<Option<(DeviceRecord, Vec<InstalledTc>)>> {
        let rows = sqlx::query(
            "SELECT d.id, d.name, d.kid, d.teep_key, d.attest_key, d.suite_alg, d.status, d.status_detail, d.ueid, \
             d.created_at, s.last_seen, t.component_id, t.sequence, t.digest, t.updated_at, t.origin, d.claims \
             FROM devices d LEFT JOIN device_seen s ON s.device_id = d.id \
             LEFT JOIN device_tcs t ON t.device_id = d.id WHERE d.kid = $1",
        )
        .bind(kid)
        .fetch_all(&self.read)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut device = DeviceRecord {
            id: first.try_get(0)?,
            name: first.try_get(1)?,
            kid: first.try_get(2)?,
            teep_key: first.try_get(3)?,
            attest_key: first.try_get(4)?,
            suite_alg: first.try_get(5)?,
            status: DeviceStatus::parse(&first.try_get::<String, _>(6)?),
            status_detail: first.try_get(7)?,
            ueid: first.try_get(8)?,
            // The core compares a QueryResponse's claims with these to leave the row alone.
            claims: first.try_get(16)?,
            created_at: first.try_get(9)?,
            last_seen: first.try_get(10)?,
            tags: Vec::new(),
        };
        let mut installed = Vec::new();
        for r in &rows {
            let cid: Option<Vec<u8>> = r.try_get(11)?;
            if let Some(component_id) = cid {
                installed.push(InstalledTc {
                    component_id,
                    sequence: r.try_get::<Option<i64>, _>(12)?.map(|s| s as u64),
                    digest: r.try_get(13)?,
                    updated_at: r.try_get(14)?,
                    origin: r.try_get(15)?,
                });
            }
        }
        installed.sort_by(|a, b| a.component_id.cmp(&b.component_id));
        if with_tags {
            device.tags = self.device_tags(device.id).await?;
        }
        Ok(Some((device, installed)))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.pool.close().await;
    }

    /// Cheap liveness probe.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ---- catalog -------------------------------------------------------------------------

    pub async fn add_tc(&self, tc: &NewTc, now: i64) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO tcs (name, component_id, manifest_component_id, sequence, envelope, payload_digest, signer_kid, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&tc.name)
        .bind(&tc.component_id)
        .bind(&tc.manifest_component_id)
        .bind(tc.sequence as i64)
        .bind(&tc.envelope)
        .bind(&tc.payload_digest)
        .bind(&tc.signer_kid)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "catalog already holds {} with sequence number {}",
                component_id_display(&tc.component_id),
                tc.sequence
            )),
            other => other,
        })?;
        self.changed().await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    const TC_COLUMNS: &'static str =
        "id, name, component_id, manifest_component_id, sequence, envelope, payload_digest, signer_kid, created_at";

    fn tc_from_row(row: &sqlx::any::AnyRow) -> Result<TcRecord> {
        Ok(TcRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            component_id: row.try_get("component_id")?,
            manifest_component_id: row.try_get("manifest_component_id")?,
            sequence: row.try_get::<i64, _>("sequence")? as u64,
            envelope: row.try_get("envelope")?,
            payload_digest: row.try_get("payload_digest")?,
            signer_kid: row.try_get("signer_kid")?,
            created_at: row.try_get("created_at")?,
        })
    }

    /// Every catalog entry, every sequence number.
    pub async fn list_tcs(&self) -> Result<Vec<TcRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM tcs ORDER BY name, sequence",
            Self::TC_COLUMNS
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::tc_from_row).collect()
    }

    /// The newest entry (highest sequence number) of each component.
    pub async fn latest_tcs(&self) -> Result<Vec<TcRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM tcs t WHERE sequence = (SELECT MAX(sequence) FROM tcs u WHERE u.component_id = t.component_id) ORDER BY id",
            Self::TC_COLUMNS
        )))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(Self::tc_from_row).collect()
    }

    pub async fn tc_by_id(&self, id: i64) -> Result<TcRecord> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM tcs WHERE id = $1",
            Self::TC_COLUMNS
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("trusted component {id}")))?;
        Self::tc_from_row(&row)
    }

    /// Removes a component (all sequence numbers) and its assignments.
    pub async fn delete_tc(&self, component_id: &[u8]) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM assignments WHERE component_id = $1")
            .bind(component_id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM tcs WHERE component_id = $1")
            .bind(component_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.changed().await?;
        Ok(n.rows_affected())
    }

    // ---- devices -------------------------------------------------------------------------

    pub async fn add_device(&self, d: &NewDevice, now: i64) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO devices (name, kid, teep_key, attest_key, suite_alg, status, created_at) \
             VALUES ($1, $2, $3, $4, NULL, $5, $6) RETURNING id",
        )
        .bind(&d.name)
        .bind(&d.kid)
        .bind(&d.teep_key)
        .bind(&d.attest_key)
        .bind(DeviceStatus::Registered.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "a device with key id {} is already registered",
                hex::encode(&d.kid)
            )),
            other => other,
        })?;
        let id: i64 = row.try_get(0)?;
        for tag in &d.tags {
            sqlx::query("INSERT INTO device_tags (device_id, tag) VALUES ($1, $2)")
                .bind(id)
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.changed().await?;
        Ok(id)
    }

    /// Registers many devices at once (load-test setup); existing key ids are skipped.
    /// Returns how many rows were inserted.
    pub async fn bulk_add_devices(&self, devices: &[NewDevice], now: i64) -> Result<u64> {
        let mut inserted = 0;
        for chunk in devices.chunks(400) {
            let mut sql = String::from("INSERT INTO devices (name, kid, teep_key, attest_key, suite_alg, status, created_at) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                let b = i * 4;
                sql.push_str(&format!(
                    "(${}, ${}, ${}, NULL, NULL, 'registered', ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                ));
            }
            sql.push_str(" ON CONFLICT (kid) DO NOTHING");
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for d in chunk {
                q = q
                    .bind(d.name.clone())
                    .bind(d.kid.clone())
                    .bind(d.teep_key.clone())
                    .bind(now);
            }
            inserted += q.execute(&self.pool).await?.rows_affected();
        }
        self.changed().await?;
        Ok(inserted)
    }

    /// A device row with its last contact (kept apart, see migrations/sqlite/0004); callers
    /// add the condition on `d`.
    const DEVICE_SELECT: &'static str =
        "SELECT d.id AS id, d.name AS name, d.kid AS kid, d.teep_key AS teep_key, d.attest_key AS attest_key, \
         d.suite_alg AS suite_alg, d.status AS status, d.status_detail AS status_detail, d.ueid AS ueid, \
         d.claims AS claims, d.created_at AS created_at, s.last_seen AS last_seen \
         FROM devices d LEFT JOIN device_seen s ON s.device_id = d.id";

    fn device_from_row(row: &sqlx::any::AnyRow) -> Result<DeviceRecord> {
        Ok(DeviceRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            kid: row.try_get("kid")?,
            teep_key: row.try_get("teep_key")?,
            attest_key: row.try_get("attest_key")?,
            suite_alg: row.try_get("suite_alg")?,
            status: DeviceStatus::parse(&row.try_get::<String, _>("status")?),
            status_detail: row.try_get("status_detail")?,
            ueid: row.try_get("ueid")?,
            claims: row.try_get("claims")?,
            created_at: row.try_get("created_at")?,
            last_seen: row.try_get("last_seen")?,
            tags: Vec::new(),
        })
    }

    pub async fn device_by_kid(&self, kid: &[u8]) -> Result<Option<DeviceRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{} WHERE d.kid = $1",
            Self::DEVICE_SELECT
        )))
        .bind(kid)
        .fetch_optional(&self.read)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let mut d = Self::device_from_row(&row)?;
                d.tags = self.device_tags(d.id).await?;
                Ok(Some(d))
            }
        }
    }

    pub async fn device_by_id(&self, id: i64) -> Result<DeviceRecord> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{} WHERE d.id = $1",
            Self::DEVICE_SELECT
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("device {id}")))?;
        let mut d = Self::device_from_row(&row)?;
        d.tags = self.device_tags(d.id).await?;
        Ok(d)
    }

    async fn device_tags(&self, id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT tag FROM device_tags WHERE device_id = $1 ORDER BY tag")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Devices with their tags, newest contact first; `limit` bounds the answer.
    pub async fn list_devices(&self, limit: i64) -> Result<Vec<DeviceRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{} ORDER BY d.id LIMIT $1",
            Self::DEVICE_SELECT
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<DeviceRecord> = rows
            .iter()
            .map(Self::device_from_row)
            .collect::<Result<_>>()?;
        let tags = sqlx::query("SELECT device_id, tag FROM device_tags ORDER BY tag")
            .fetch_all(&self.pool)
            .await?;
        for t in tags {
            let id: i64 = t.try_get(0)?;
            let tag: String = t.try_get(1)?;
            if let Some(d) = out.iter_mut().find(|d| d.id == id) {
                d.tags.push(tag);
            }
        }
        Ok(out)
    }

    pub async fn device_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM devices")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    pub async fn installed(&self, device_id: i64) -> Result<Vec<InstalledTc>> {
        let rows = sqlx::query(
            "SELECT component_id, sequence, digest, updated_at, origin FROM device_tcs WHERE device_id = $1 ORDER BY component_id",
        )
        .bind(device_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InstalledTc {
                    component_id: r.try_get(0)?,
                    sequence: r.try_get::<Option<i64>, _>(1)?.map(|s| s as u64),
                    digest: r.try_get(2)?,
                    updated_at: r.try_get(3)?,
                    origin: r.try_get(4)?,
                })
            })
            .collect()
    }

    pub async fn set_device_tags(&self, device_id: i64, tags: &[String]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM device_tags WHERE device_id = $1")
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        for tag in tags {
            sqlx::query("INSERT INTO device_tags (device_id, tag) VALUES ($1, $2)")
                .bind(device_id)
                .bind(tag)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.changed().await?;
        Ok(())
    }

    // ---- policy --------------------------------------------------------------------------

    pub async fn assign(&self, component_id: &[u8], target: &Target, now: i64) -> Result<()> {
        let (kind, value) = target.parts();
        let exists = sqlx::query("SELECT 1 FROM tcs WHERE component_id = $1 LIMIT 1")
            .bind(component_id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "trusted component {} in the catalog",
                component_id_display(component_id)
            )));
        }
        let r = sqlx::query(
            "INSERT INTO assignments (component_id, target_kind, target, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(component_id)
        .bind(kind)
        .bind(&value)
        .bind(now)
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => self.changed().await,
            // Assigning twice is not an error: the policy already says so.
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    pub async fn unassign(&self, component_id: &[u8], target: &Target) -> Result<u64> {
        let (kind, value) = target.parts();
        let r = sqlx::query(
            "DELETE FROM assignments WHERE component_id = $1 AND target_kind = $2 AND target = $3",
        )
        .bind(component_id)
        .bind(kind)
        .bind(&value)
        .execute(&self.pool)
        .await?;
        self.changed().await?;
        Ok(r.rows_affected())
    }

    pub async fn list_assignments(&self) -> Result<Vec<Assignment>> {
        let rows = sqlx::query(
            "SELECT id, component_id, target_kind, target, created_at FROM assignments ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Assignment {
                    id: r.try_get(0)?,
                    component_id: r.try_get(1)?,
                    target: Target::from_parts(
                        &r.try_get::<String, _>(2)?,
                        r.try_get::<String, _>(3)?,
                    ),
                    created_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// What policy gives one device: component ids assigned to all, to one of its tags, or to it.
    pub async fn assigned_to(&self, device: &DeviceRecord) -> Result<Vec<Vec<u8>>> {
        let rows = sqlx::query(
            "SELECT DISTINCT component_id FROM assignments WHERE target_kind = 'all' \
             OR (target_kind = 'device' AND target = $1) \
             OR (target_kind = 'tag' AND target IN (SELECT tag FROM device_tags WHERE device_id = $2))",
        )
        .bind(device.id.to_string())
        .bind(device.id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<Vec<u8>, _>(0)?))
            .collect()
    }

    // ---- sessions ------------------------------------------------------------------------

    fn session_from_row(r: &sqlx::any::AnyRow) -> Result<SessionRecord> {
        Ok(SessionRecord {
            token: r.try_get("token")?,
            kind: SessionKind::parse(&r.try_get::<String, _>("kind")?),
            device_kid: r.try_get("device_kid")?,
            challenge: r.try_get("challenge")?,
            numbering: r.try_get("numbering")?,
            pending: r.try_get("pending")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            answered: r.try_get::<i64, _>("answered")? != 0,
        })
    }

    const SESSION_COLUMNS: &'static str =
        "token, kind, device_kid, challenge, numbering, pending, created_at, expires_at, answered";

    pub async fn session_by_token(&self, token: &[u8]) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM sessions WHERE token = $1",
            Self::SESSION_COLUMNS
        )))
        .bind(token)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(Self::session_from_row).transpose()
    }

    /// Drops expired sessions; returns how many went. Answered tokens stay until they expire:
    /// their rows are what refuses a replay.
    pub async fn purge_sessions(&self, now: i64) -> Result<u64> {
        self.purge_sessions_by(now, PURGE_CHUNK).await
    }

    /// [`Self::purge_sessions`], `chunk` rows per statement.
    pub async fn purge_sessions_by(&self, now: i64, chunk: i64) -> Result<u64> {
        self.delete_in_chunks(
            "DELETE FROM sessions WHERE token IN \
             (SELECT token FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)",
            now,
            chunk,
        )
        .await
    }

    /// Runs `sql` (a DELETE of at most `$2` rows, given `$1` = `bound`) until it deletes
    /// fewer than `chunk`; each run is its own statement, so the writer is free in between.
    async fn delete_in_chunks(&self, sql: &'static str, bound: i64, chunk: i64) -> Result<u64> {
        // LIMIT 0 would delete nothing, forever.
        let chunk = chunk.max(1);
        let mut total = 0;
        loop {
            let n = sqlx::query(sql)
                .bind(bound)
                .bind(chunk)
                .execute(&self.pool)
                .await?
                .rows_affected();
            total += n;
            if n < chunk as u64 {
                return Ok(total);
            }
        }
    }

    /// Deletes audit entries recorded before `before` (ms since the epoch), oldest first and
    /// in chunks, as [`Self::purge_sessions`] does. Entries are found by id from the oldest
    /// up to the first one recorded at or after `before`, so no statement scans the entries
    /// that stay; one that committed a few ms out of order goes in the next purge.
    pub async fn purge_audit(&self, before: i64) -> Result<u64> {
        self.purge_audit_by(before, PURGE_CHUNK).await
    }

    /// [`Self::purge_audit`], `chunk` rows per statement.
    pub async fn purge_audit_by(&self, before: i64, chunk: i64) -> Result<u64> {
        let first_kept: Option<i64> =
            sqlx::query_scalar("SELECT id FROM audit WHERE at >= $1 ORDER BY id LIMIT 1")
                .bind(before)
                .fetch_optional(&self.read)
                .await?;
        let bound = match first_kept {
            Some(id) => id,
            // Everything is older: up to the newest entry.
            None => match sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM audit")
                .fetch_one(&self.read)
                .await?
            {
                Some(max) => max + 1,
                None => return Ok(0),
            },
        };
        self.delete_in_chunks(
            "DELETE FROM audit WHERE id IN \
             (SELECT id FROM audit WHERE id < $1 ORDER BY id LIMIT $2)",
            bound,
            chunk,
        )
        .await
    }

    // ---- audit ---------------------------------------------------------------------------

    /// The newest `limit` audit entries, newest first. With `device_kid`, only that device's,
    /// found among the newest [`AUDIT_DEVICE_WINDOW`] entries: the audit has no index by device,
    /// because keeping one cost every exchange two writes to a random page.
    pub async fn recent_audit(
        &self,
        limit: i64,
        device_kid: Option<&[u8]>,
    ) -> Result<Vec<AuditRecord>> {
        let rows = match device_kid {
            Some(kid) => {
                sqlx::query(
                    "SELECT id, at, device_kid, token, message_type, summary, result, message, numbering FROM audit \
                     WHERE device_kid = $1 AND id > (SELECT COALESCE(MAX(id), 0) FROM audit) - $3 ORDER BY id DESC LIMIT $2",
                )
                .bind(kid)
                .bind(limit)
                .bind(AUDIT_DEVICE_WINDOW)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, at, device_kid, token, message_type, summary, result, message, numbering FROM audit ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                let message: Option<Vec<u8>> = r.try_get(7)?;
                let numbering: Option<String> = r.try_get(8)?;
                let mut summary: String = r.try_get(5)?;
                if summary.is_empty() {
                    if let Some(m) = &message {
                        summary = decoded_summary(m, numbering.as_deref());
                    }
                }
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    entry: AuditEntry {
                        at: r.try_get(1)?,
                        device_kid: r.try_get(2)?,
                        token: r.try_get(3)?,
                        message_type: r.try_get(4)?,
                        summary,
                        result: r.try_get(6)?,
                        message,
                        numbering,
                    },
                })
            })
            .collect()
    }

    /// Table sizes and sums over written columns, for tests that check that a hostile input
    /// changed nothing.
    pub async fn fingerprint(&self) -> Result<Vec<(String, i64)>> {
        // Row counts, and sums over the columns an exchange writes (times, statuses, answered
        // flags), so that an update in place shows as well as an insert or a delete.
        const PROBES: [(&str, &str); 13] = [
            ("tcs", "SELECT COUNT(*) FROM tcs"),
            ("devices", "SELECT COUNT(*) FROM devices"),
            (
                "devices.written",
                "SELECT CAST(COALESCE(SUM(COALESCE(suite_alg, 0) \
                 + LENGTH(status) + COALESCE(LENGTH(status_detail), 0) \
                 + COALESCE(LENGTH(claims), 0)), 0) AS BIGINT) FROM devices",
            ),
            (
                "device_seen.written",
                "SELECT CAST(COALESCE(SUM(last_seen), 0) AS BIGINT) FROM device_seen",
            ),
            ("device_tags", "SELECT COUNT(*) FROM device_tags"),
            ("device_tcs", "SELECT COUNT(*) FROM device_tcs"),
            (
                "device_tcs.written",
                "SELECT CAST(COALESCE(SUM(updated_at + COALESCE(sequence, 0)), 0) AS BIGINT) \
                 FROM device_tcs",
            ),
            ("assignments", "SELECT COUNT(*) FROM assignments"),
            ("sessions", "SELECT COUNT(*) FROM sessions"),
            (
                "sessions.answered",
                "SELECT CAST(COALESCE(SUM(answered), 0) AS BIGINT) FROM sessions",
            ),
            ("audit", "SELECT COUNT(*) FROM audit"),
            (
                "audit.last",
                "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM audit",
            ),
            (
                "generation",
                "SELECT CAST(COALESCE(MAX(number), 0) AS BIGINT) FROM meta WHERE name = 'generation'",
            ),
        ];
        let mut out = Vec::new();
        for (name, sql) in PROBES {
            let row = sqlx::query(sql).fetch_one(&self.pool).await?;
            out.push((name.to_string(), row.try_get::<i64, _>(0)?));
        }
        Ok(out)
    }
}

/// The audit summary of a stored message: the TEEP message decoded as JSON (signatures are
/// not checked again; the message was verified when it arrived).
fn decoded_summary(message: &[u8], numbering: Option<&str>) -> String {
    let n = match numbering {
        Some("legacy") => teep_proto::Numbering::Legacy,
        _ => teep_proto::Numbering::Draft26,
    };
    match crate::wire::signed::open_message(message, n) {
        Ok((_, m)) => m.to_json().to_string(),
        Err(e) => serde_json::json!({ "undecodable": e.to_string() }).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::unavailable_sqlstate;

    #[test]
    fn server_side_outages_are_unavailable_and_statement_errors_are_not() {
        for code in [
            "57P01", "57P02", "57P03", "08006", "08001", "53300", "53100",
        ] {
            assert!(unavailable_sqlstate(code), "{code}");
        }
        // unique violation, syntax error, undefined table, serialization failure
        // ... and SQLite's numeric codes (531: SQLITE_CONSTRAINT_COMMITHOOK, 5386: an I/O error
        // whose message the SQLite branch reads)
        for code in [
            "23505", "42601", "42P01", "40001", "57014", "531", "5386", "8",
        ] {
            assert!(!unavailable_sqlstate(code), "{code}");
        }
    }
}
