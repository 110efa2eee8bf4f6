//! The device registry: devices, their tags and what each holds, as the admin API, the UI and
//! the CLI read and change them. The QueryResponse's own read is in `device_context.rs`.

use sqlx::AssertSqlSafe;

use super::{Result, Store, StoreError};
use crate::model::{DeviceRecord, DeviceStatus, InstalledTc, NewDevice};

/// A device row with its last contact (kept apart, see migrations/sqlite/0004); callers add
/// the condition on `d`.
pub(super) const DEVICE_SELECT: &str =
    "SELECT d.id AS id, d.name AS name, d.kid AS kid, d.teep_key AS teep_key, d.attest_key AS attest_key, \
     d.suite_alg AS suite_alg, d.status AS status, d.status_detail AS status_detail, d.ueid AS ueid, \
     d.claims AS claims, d.created_at AS created_at, s.last_seen AS last_seen \
     FROM devices d LEFT JOIN device_seen s ON s.device_id = d.id";

/// What [`DEVICE_SELECT`] returns. The status is text: [`DeviceStatus::parse`] reads it as
/// it always has (unknown text is `registered`).
#[derive(sqlx::FromRow)]
pub(super) struct DeviceRow {
    id: i64,
    name: Option<String>,
    kid: Vec<u8>,
    teep_key: Vec<u8>,
    attest_key: Option<Vec<u8>>,
    suite_alg: Option<i64>,
    status: String,
    status_detail: Option<String>,
    ueid: Option<Vec<u8>>,
    claims: Option<String>,
    created_at: i64,
    last_seen: Option<i64>,
}

impl From<DeviceRow> for DeviceRecord {
    /// Without tags: they are another table's rows.
    fn from(r: DeviceRow) -> Self {
        DeviceRecord {
            id: r.id,
            name: r.name,
            kid: r.kid,
            teep_key: r.teep_key,
            attest_key: r.attest_key,
            suite_alg: r.suite_alg,
            status: DeviceStatus::parse(&r.status),
            status_detail: r.status_detail,
            ueid: r.ueid,
            claims: r.claims,
            created_at: r.created_at,
            last_seen: r.last_seen,
            tags: Vec::new(),
        }
    }
}

/// A `device_tcs` row: one component a device holds.
#[derive(sqlx::FromRow)]
struct InstalledRow {
    component_id: Vec<u8>,
    sequence: Option<i64>,
    digest: Option<Vec<u8>>,
    updated_at: i64,
    origin: String,
}

impl From<InstalledRow> for InstalledTc {
    fn from(r: InstalledRow) -> Self {
        InstalledTc {
            component_id: r.component_id,
            sequence: r.sequence.map(|s| s as u64),
            digest: r.digest,
            updated_at: r.updated_at,
            origin: r.origin,
        }
    }
}

impl Store {
    pub async fn add_device(&self, d: &NewDevice, now: i64) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
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

    pub async fn device_by_kid(&self, kid: &[u8]) -> Result<Option<DeviceRecord>> {
        let row: Option<DeviceRow> =
            sqlx::query_as(AssertSqlSafe(format!("{DEVICE_SELECT} WHERE d.kid = $1")))
                .bind(kid)
                .fetch_optional(&self.read)
                .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let mut d = DeviceRecord::from(row);
                d.tags = self.device_tags(d.id).await?;
                Ok(Some(d))
            }
        }
    }

    pub async fn device_by_id(&self, id: i64) -> Result<DeviceRecord> {
        let row: DeviceRow =
            sqlx::query_as(AssertSqlSafe(format!("{DEVICE_SELECT} WHERE d.id = $1")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("device {id}")))?;
        let mut d = DeviceRecord::from(row);
        d.tags = self.device_tags(d.id).await?;
        Ok(d)
    }

    /// A device's tags in order.
    pub(super) async fn device_tags(&self, id: i64) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT tag FROM device_tags WHERE device_id = $1 ORDER BY tag")
                .bind(id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Devices with their tags in id order; `limit` bounds the answer.
    pub async fn list_devices(&self, limit: i64) -> Result<Vec<DeviceRecord>> {
        let rows: Vec<DeviceRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{DEVICE_SELECT} ORDER BY d.id LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<DeviceRecord> = rows.into_iter().map(DeviceRecord::from).collect();
        let tags: Vec<(i64, String)> =
            sqlx::query_as("SELECT device_id, tag FROM device_tags ORDER BY tag")
                .fetch_all(&self.pool)
                .await?;
        for (id, tag) in tags {
            if let Some(d) = out.iter_mut().find(|d| d.id == id) {
                d.tags.push(tag);
            }
        }
        Ok(out)
    }

    pub async fn device_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM devices")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn installed(&self, device_id: i64) -> Result<Vec<InstalledTc>> {
        let rows: Vec<InstalledRow> = sqlx::query_as(
            "SELECT component_id, sequence, digest, updated_at, origin FROM device_tcs WHERE device_id = $1 ORDER BY component_id",
        )
        .bind(device_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(InstalledTc::from).collect())
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
}
