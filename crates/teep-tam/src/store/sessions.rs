//! Outstanding and answered tokens (`sessions`) as storage holds them: an Update another
//! process sent, or one this process no longer has in memory, is found here.

use sqlx::AssertSqlSafe;

use super::{Result, Store};
use crate::model::{SessionKind, SessionRecord};

/// The columns of [`SessionRow`].
const SESSION_COLUMNS: &str =
    "token, kind, device_kid, challenge, numbering, pending, created_at, expires_at, answered";

/// A `sessions` row. `kind` is text read by [`SessionKind::parse`]; `answered` is a 0/1
/// integer on both backends.
#[derive(sqlx::FromRow)]
struct SessionRow {
    token: Vec<u8>,
    kind: String,
    device_kid: Option<Vec<u8>>,
    challenge: Option<Vec<u8>>,
    numbering: String,
    pending: Option<String>,
    created_at: i64,
    expires_at: i64,
    answered: i64,
}

impl From<SessionRow> for SessionRecord {
    fn from(r: SessionRow) -> Self {
        SessionRecord {
            token: r.token,
            kind: SessionKind::parse(&r.kind),
            device_kid: r.device_kid,
            challenge: r.challenge,
            numbering: r.numbering,
            pending: r.pending,
            created_at: r.created_at,
            expires_at: r.expires_at,
            answered: r.answered != 0,
        }
    }
}

impl Store {
    pub async fn session_by_token(&self, token: &[u8]) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE token = $1"
        )))
        .bind(token)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(SessionRecord::from))
    }
}
