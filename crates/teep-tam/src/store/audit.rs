//! The audit log: every TEEP message the TAM accepted or refused, and admin actions.

use sqlx::AssertSqlSafe;

use super::statement_shapes::{chunks, values, Ph};
use super::{Result, Store};
use crate::model::{AuditEntry, AuditRecord};

/// How many of the newest audit entries a per-device audit query looks through (about 30 ms
/// of scanning on SQLite).
pub const AUDIT_DEVICE_WINDOW: i64 = 100_000;

/// The columns of [`AuditRow`].
const AUDIT_COLUMNS: &str =
    "id, at, device_kid, token, message_type, summary, result, message, numbering, notes, response";

/// Inserts the audit entries of one group commit, in multi-row statements. `notes` is one
/// line per note, NULL when there is none (a conforming exchange with a kid).
pub(super) async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ph: Ph,
    entries: &[&AuditEntry],
) -> Result<()> {
    for part in chunks(entries) {
        let sql = format!(
            "INSERT INTO audit (at, device_kid, token, message_type, summary, result, message, numbering, notes, response) VALUES {}",
            values(ph, part.len(), 10)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in part {
            let notes = (!a.notes.is_empty()).then(|| a.notes.join("\n"));
            q = q
                .bind(a.at)
                .bind(&a.device_kid)
                .bind(&a.token)
                .bind(&a.message_type)
                .bind(&a.summary)
                .bind(&a.result)
                .bind(&a.message)
                .bind(&a.numbering)
                .bind(notes)
                .bind(&a.response);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// An `audit` row. The TEEP path stores the message and leaves `summary` empty; reading fills
/// it in (see [`decoded_summary`]).
#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    device_kid: Option<Vec<u8>>,
    token: Option<Vec<u8>>,
    message_type: String,
    summary: String,
    result: String,
    message: Option<Vec<u8>>,
    numbering: Option<String>,
    notes: Option<String>,
    response: Option<Vec<u8>>,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        let mut summary = r.summary;
        if summary.is_empty() {
            if let Some(m) = &r.message {
                summary = decoded_summary(m, r.numbering.as_deref());
            }
        }
        AuditRecord {
            id: r.id,
            entry: AuditEntry {
                at: r.at,
                device_kid: r.device_kid,
                token: r.token,
                message_type: r.message_type,
                summary,
                result: r.result,
                message: r.message,
                numbering: r.numbering,
                response: r.response,
                notes: r
                    .notes
                    .map(|n| n.lines().map(str::to_string).collect())
                    .unwrap_or_default(),
            },
        }
    }
}

impl Store {
    /// The newest `limit` audit entries, newest first. With `device_kid`, only that device's,
    /// found among the newest [`AUDIT_DEVICE_WINDOW`] entries: the audit has no index by device,
    /// because keeping one cost every exchange two writes to a random page.
    pub async fn recent_audit(
        &self,
        limit: i64,
        device_kid: Option<&[u8]>,
    ) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = match device_kid {
            Some(kid) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit \
                     WHERE device_kid = $1 AND id > (SELECT COALESCE(MAX(id), 0) FROM audit) - $3 ORDER BY id DESC LIMIT $2"
                )))
                .bind(kid)
                .bind(limit)
                .bind(AUDIT_DEVICE_WINDOW)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.into_iter().map(AuditRecord::from).collect())
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
