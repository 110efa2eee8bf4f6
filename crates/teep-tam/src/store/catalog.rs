//! The catalog (trusted components, every sequence number of each) and the assignments that
//! say which devices get which component.

use sqlx::AssertSqlSafe;

use super::{Result, Store, StoreError};
use crate::model::{
    component_id_display, Assignment, DeviceRecord, NewTc, Target, TcDependency, TcRecord,
};

/// The columns of [`TcRow`], in the order every catalog query selects them.
const TC_COLUMNS: &str =
    "id, name, component_id, manifest_component_id, sequence, envelope, payload_digest, signer_kid, created_at, dependencies";

/// A `tcs` row as stored: the sequence number is kept as `i64` (what `Any` carries) and
/// converted back bit for bit.
#[derive(sqlx::FromRow)]
struct TcRow {
    id: i64,
    name: String,
    component_id: Vec<u8>,
    manifest_component_id: Option<Vec<u8>>,
    sequence: i64,
    envelope: Vec<u8>,
    payload_digest: Option<Vec<u8>>,
    signer_kid: Option<Vec<u8>>,
    created_at: i64,
    /// JSON array of [`TcDependency`]; NULL when there are none.
    dependencies: Option<String>,
}

impl TryFrom<TcRow> for TcRecord {
    type Error = StoreError;
    fn try_from(r: TcRow) -> Result<Self> {
        let dependencies = match r.dependencies.as_deref() {
            None | Some("") => Vec::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                StoreError::Query(format!(
                    "catalog entry {}: stored dependencies do not read: {e}",
                    r.id
                ))
            })?,
        };
        Ok(TcRecord {
            id: r.id,
            name: r.name,
            component_id: r.component_id,
            manifest_component_id: r.manifest_component_id,
            sequence: r.sequence as u64,
            envelope: r.envelope,
            manifest_digest: None,
            payload_digest: r.payload_digest,
            signer_kid: r.signer_kid,
            created_at: r.created_at,
            dependencies,
        })
    }
}

/// An `assignments` row; the target is stored as its kind and value (see [`Target::parts`]).
#[derive(sqlx::FromRow)]
struct AssignmentRow {
    id: i64,
    component_id: Vec<u8>,
    target_kind: String,
    target: String,
    created_at: i64,
}

impl From<AssignmentRow> for Assignment {
    fn from(r: AssignmentRow) -> Self {
        Assignment {
            id: r.id,
            component_id: r.component_id,
            target: Target::from_parts(&r.target_kind, r.target),
            created_at: r.created_at,
        }
    }
}

impl Store {
    pub async fn add_tc(&self, tc: &NewTc, now: i64) -> Result<i64> {
        let dependencies: Option<String> = if tc.dependencies.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string::<[TcDependency]>(&tc.dependencies)
                    .map_err(|e| StoreError::Query(format!("catalog dependencies: {e}")))?,
            )
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tcs (name, component_id, manifest_component_id, sequence, envelope, payload_digest, signer_kid, created_at, dependencies) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&tc.name)
        .bind(&tc.component_id)
        .bind(&tc.manifest_component_id)
        .bind(tc.sequence as i64)
        .bind(&tc.envelope)
        .bind(&tc.payload_digest)
        .bind(&tc.signer_kid)
        .bind(now)
        .bind(dependencies)
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
        Ok(id)
    }

    /// Every catalog entry, every sequence number.
    pub async fn list_tcs(&self) -> Result<Vec<TcRecord>> {
        let rows: Vec<TcRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TC_COLUMNS} FROM tcs ORDER BY name, sequence"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TcRecord::try_from).collect()
    }

    /// The newest entry (highest sequence number) of each component.
    pub async fn latest_tcs(&self) -> Result<Vec<TcRecord>> {
        let rows: Vec<TcRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TC_COLUMNS} FROM tcs t WHERE sequence = (SELECT MAX(sequence) FROM tcs u WHERE u.component_id = t.component_id) ORDER BY id"
        )))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(TcRecord::try_from).collect()
    }

    pub async fn tc_by_id(&self, id: i64) -> Result<TcRecord> {
        let row: TcRow = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {TC_COLUMNS} FROM tcs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("trusted component {id}")))?;
        row.try_into()
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
        let rows: Vec<AssignmentRow> = sqlx::query_as(
            "SELECT id, component_id, target_kind, target, created_at FROM assignments ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Assignment::from).collect())
    }

    /// What policy gives one device: component ids assigned to all, to one of its tags, or to it.
    pub async fn assigned_to(&self, device: &DeviceRecord) -> Result<Vec<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT component_id FROM assignments WHERE target_kind = 'all' \
             OR (target_kind = 'device' AND target = $1) \
             OR (target_kind = 'tag' AND target IN (SELECT tag FROM device_tags WHERE device_id = $2))",
        )
        .bind(device.id.to_string())
        .bind(device.id)
        .fetch_all(&self.read)
        .await?)
    }
}
