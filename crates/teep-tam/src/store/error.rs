//! Storage errors, classified so that the HTTP layer can tell a database that is away (503,
//! retry later) from a statement that failed.

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
