//! Storage adapter: one code path over sqlx `Any` for SQLite (default) and PostgreSQL.
//!
//! Queries are runtime `query()`/`query_as()` calls with `$n` placeholders (both backends
//! accept them) and only the basic types `Any` supports: `i64`, `String`, `Vec<u8>`. Rows are
//! read into `#[derive(sqlx::FromRow)]` structs of those types, one per table, next to the
//! queries of their aggregate, and converted into the core's model types there (enums stored
//! as text go through the model's own `parse`). Timestamps are milliseconds since the Unix
//! epoch; component identifiers are stored as their CBOR encoding, which is unique and
//! compares bytewise. The session core never touches this module: the server loads
//! a [`crate::session::Context`] from it, runs the core, then hands the core's
//! [`crate::session::Effects`] to [`Store::commit`], which commits them (grouped with the
//! steps of concurrent sessions, see `batch.rs`) before the response leaves.

use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, ConnectOptions as _};

mod audit;
mod batch;
mod catalog;
mod device_context;
mod devices;
mod endorsers;
mod error;
mod fingerprint;
mod kidless;
mod meta;
mod payloads;
mod policy;
mod registry;
mod sessions;
mod statement_shapes;

pub use audit::AUDIT_DEVICE_WINDOW;
pub use batch::Committed;
pub use devices::DEFAULT_CAPACITY as DEFAULT_DEVICE_CACHE;
pub use endorsers::{EndorsementRoot, RemoveOutcome};
pub use error::{Result, StoreError};
pub use policy::PolicySnapshot;

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
        let g = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT number FROM meta WHERE name = 'generation'",
        )
        .fetch_optional(&self.read)
        .await?
        .flatten()
        .unwrap_or(0);
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
        // Columns: busy, WAL frames, frames checkpointed.
        let (_busy, frames, copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(c)
                .await?;
        Ok(Some((frames, copied)))
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

    // ---- housekeeping --------------------------------------------------------------------

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
}
