//! Storage adapter: one code path over sqlx `Any` for SQLite (default) and PostgreSQL.
//!
//! Queries are runtime `query()` calls with `$n` placeholders (both backends accept them) and
//! only the basic types `Any` supports: i64, String, Vec<u8>. Timestamps are milliseconds since
//! the Unix epoch; component identifiers are stored as their CBOR encoding, which is unique and
//! compares bytewise. The session core never touches this module: the server loads a
//! [`crate::session::Context`] from it, runs the core, then commits the core's
//! [`crate::session::Effects`] in one transaction before the response leaves.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::model::*;

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
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            sqlite_full_sync: false,
            sqlite_busy_timeout_ms: 5000,
            sqlite_read_connections: 2,
        }
    }
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
    backend: Backend,
}

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
        let busy = format!("PRAGMA busy_timeout={}", options.sqlite_busy_timeout_ms);
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                let busy = busy.clone();
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        use sqlx::Executor;
                        // WAL lets CLI commands read and write while a server runs; the busy
                        // timeout makes them wait for the writer instead of failing.
                        conn.execute("PRAGMA journal_mode=WAL").await?;
                        conn.execute(AssertSqlSafe(busy.clone())).await?;
                        conn.execute("PRAGMA foreign_keys=ON").await?;
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
        Ok(Store {
            pool,
            read,
            backend,
        })
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

    /// Changes whenever the catalog does (row count and newest id): the cache key of the
    /// in-memory catalog.
    pub async fn catalog_stamp(&self) -> Result<(i64, i64)> {
        let row = sqlx::query("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM tcs")
            .fetch_one(&self.read)
            .await?;
        Ok((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?))
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
        Ok(inserted)
    }

    const DEVICE_COLUMNS: &'static str =
        "id, name, kid, teep_key, attest_key, suite_alg, status, status_detail, ueid, claims, created_at, last_seen";

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
            "SELECT {} FROM devices WHERE kid = $1",
            Self::DEVICE_COLUMNS
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
            "SELECT {} FROM devices WHERE id = $1",
            Self::DEVICE_COLUMNS
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
            "SELECT {} FROM devices ORDER BY id LIMIT $1",
            Self::DEVICE_COLUMNS
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
            Ok(_) => Ok(()),
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

    /// Policy for a device not yet in storage (open enrollment): assignments to all.
    pub async fn assigned_to_all(&self) -> Result<Vec<Vec<u8>>> {
        let rows =
            sqlx::query("SELECT DISTINCT component_id FROM assignments WHERE target_kind = 'all'")
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<Vec<u8>, _>(0)?))
            .collect()
    }

    // ---- sessions ------------------------------------------------------------------------

    pub async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        Self::insert_session_on(&mut conn, s).await
    }

    async fn insert_session_on(conn: &mut sqlx::AnyConnection, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token, kind, device_kid, challenge, numbering, pending, created_at, expires_at, answered) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)",
        )
        .bind(&s.token)
        .bind(s.kind.as_str())
        .bind(&s.device_kid)
        .bind(&s.challenge)
        .bind(&s.numbering)
        .bind(&s.pending)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(conn)
        .await?;
        Ok(())
    }

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

    pub async fn session_by_challenge(&self, challenge: &[u8]) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM sessions WHERE challenge = $1",
            Self::SESSION_COLUMNS
        )))
        .bind(challenge)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::session_from_row).transpose()
    }

    /// Drops expired and answered sessions; returns how many went.
    pub async fn purge_sessions(&self, now: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR answered <> 0")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    // ---- audit ---------------------------------------------------------------------------

    pub async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        Self::audit_on(&mut conn, entry).await
    }

    async fn audit_on(conn: &mut sqlx::AnyConnection, e: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit (at, device_kid, token, message_type, summary, result) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.at)
        .bind(&e.device_kid)
        .bind(&e.token)
        .bind(&e.message_type)
        .bind(&e.summary)
        .bind(&e.result)
        .execute(conn)
        .await?;
        Ok(())
    }

    pub async fn recent_audit(
        &self,
        limit: i64,
        device_kid: Option<&[u8]>,
    ) -> Result<Vec<AuditRecord>> {
        let rows = match device_kid {
            Some(kid) => {
                sqlx::query(
                    "SELECT id, at, device_kid, token, message_type, summary, result FROM audit WHERE device_kid = $1 ORDER BY id DESC LIMIT $2",
                )
                .bind(kid)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, at, device_kid, token, message_type, summary, result FROM audit ORDER BY id DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    entry: AuditEntry {
                        at: r.try_get(1)?,
                        device_kid: r.try_get(2)?,
                        token: r.try_get(3)?,
                        message_type: r.try_get(4)?,
                        summary: r.try_get(5)?,
                        result: r.try_get(6)?,
                    },
                })
            })
            .collect()
    }

    /// Table sizes, for tests that check a hostile input changed nothing.
    pub async fn fingerprint(&self) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for t in [
            "tcs",
            "devices",
            "device_tags",
            "device_tcs",
            "assignments",
            "sessions",
        ] {
            let row = sqlx::query(AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
                .fetch_one(&self.pool)
                .await?;
            out.push((t.to_string(), row.try_get::<i64, _>(0)?));
        }
        Ok(out)
    }

    // ---- committing the session core's effects -------------------------------------------

    /// Applies what one TEEP exchange step decided, atomically. Consuming the token is the
    /// first statement: if another process already answered it, nothing else happens and
    /// `Ok(false)` comes back, so a replay racing the original cannot double-apply.
    pub async fn commit(&self, effects: &crate::session::Effects) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if let Some(token) = &effects.consume_token {
            let r =
                sqlx::query("UPDATE sessions SET answered = 1 WHERE token = $1 AND answered = 0")
                    .bind(token)
                    .execute(&mut *tx)
                    .await?;
            if r.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        let mut device_id = None;
        if let Some(d) = &effects.new_device {
            let row = sqlx::query(
                "INSERT INTO devices (name, kid, teep_key, attest_key, suite_alg, status, created_at) \
                 VALUES ($1, $2, $3, $4, NULL, $5, $6) RETURNING id",
            )
            .bind(&d.name)
            .bind(&d.kid)
            .bind(&d.teep_key)
            .bind(&d.attest_key)
            .bind(DeviceStatus::Registered.as_str())
            .bind(effects.now)
            .fetch_one(&mut *tx)
            .await?;
            device_id = Some(row.try_get::<i64, _>(0)?);
        }
        if let Some(u) = &effects.device {
            let id = match (u.device_id, device_id) {
                (Some(id), _) | (None, Some(id)) => id,
                (None, None) => {
                    return Err(StoreError::Query("device update without a device".into()));
                }
            };
            device_id = Some(id);
            sqlx::query(
                "UPDATE devices SET last_seen = $1, suite_alg = COALESCE($2, suite_alg), status = COALESCE($3, status), status_detail = COALESCE($4, status_detail), \
                 ueid = COALESCE($5, ueid), claims = COALESCE($6, claims) WHERE id = $7",
            )
            .bind(effects.now)
            .bind(u.suite_alg)
            .bind(u.status.as_ref().map(|s| s.as_str()))
            .bind(&u.status_detail)
            .bind(&u.ueid)
            .bind(&u.claims)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(list) = &u.replace_installed {
                sqlx::query("DELETE FROM device_tcs WHERE device_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                for tc in list {
                    Self::upsert_installed(&mut tx, id, tc, effects.now).await?;
                }
            }
            for tc in &u.add_installed {
                Self::upsert_installed(&mut tx, id, tc, effects.now).await?;
            }
            for cid in &u.remove_installed {
                sqlx::query("DELETE FROM device_tcs WHERE device_id = $1 AND component_id = $2")
                    .bind(id)
                    .bind(cid)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if let Some(s) = &effects.new_session {
            Self::insert_session_on(&mut tx, s).await?;
        }
        if let Some(a) = &effects.audit {
            Self::audit_on(&mut tx, a).await?;
        }
        let _ = device_id;
        tx.commit().await?;
        Ok(true)
    }

    async fn upsert_installed(
        conn: &mut sqlx::AnyConnection,
        device_id: i64,
        tc: &InstalledTc,
        now: i64,
    ) -> Result<()> {
        // Portable upsert: both SQLite (3.24+) and PostgreSQL accept ON CONFLICT DO UPDATE.
        sqlx::query(
            "INSERT INTO device_tcs (device_id, component_id, sequence, digest, origin, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (device_id, component_id) DO UPDATE SET sequence = COALESCE(excluded.sequence, device_tcs.sequence), \
             digest = COALESCE(excluded.digest, device_tcs.digest), origin = excluded.origin, updated_at = excluded.updated_at",
        )
        .bind(device_id)
        .bind(&tc.component_id)
        .bind(tc.sequence.map(|s| s as i64))
        .bind(&tc.digest)
        .bind(&tc.origin)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }
}
