//! A summary of every table's contents, for tests that check that a hostile input changed
//! nothing.

use super::{Result, Store};

impl Store {
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
            let value: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
            out.push((name.to_string(), value));
        }
        Ok(out)
    }
}
