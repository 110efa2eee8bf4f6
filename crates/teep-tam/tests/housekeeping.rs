//! Housekeeping: expired sessions and audit entries past their retention are deleted in
//! chunks, so a large purge does not hold the only SQLite writer connection for seconds.

mod common;

use common::*;
use teep_bench::sim::{ExchangeResult, SimDevice};
use teep_cose::KeyType;
use teep_tam::Enroll;

#[tokio::test(flavor = "multi_thread")]
async fn purges_run_in_chunks_on_sqlite() {
    let tam = start(Enroll::Tofu).await;
    check_purges(tam.store()).await;
}

async fn rows(tam: &Tam, table: &str) -> i64 {
    scalar(tam.store(), &format!("SELECT COUNT(*) FROM {table}")).await
}

const DAY_MS: i64 = 86_400_000;

/// The minute's housekeeping of a running TAM, as its timer calls it: an exchange's audit
/// entries go once they are older than `audit_retention_days`, and with retention 0 they stay.
#[tokio::test(flavor = "multi_thread")]
async fn housekeeping_deletes_expired_sessions_and_audit_past_retention() {
    for (retention, kept) in [(90u64, false), (0, true)] {
        let dir = tempfile::tempdir().unwrap();
        let tam = start_with(
            dir,
            |mut c| {
                c.audit_retention_days = retention;
                c
            },
            Enroll::Tofu,
        )
        .await;
        add_assigned_ta(&tam, "hello", b"hi").await;
        let mut dev = SimDevice::new(KeyType::Ed25519);
        assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
        let audit = rows(&tam, "audit").await;
        assert!(audit >= 2, "QueryResponse and Success audited: {audit}");
        assert!(rows(&tam, "sessions").await >= 2);
        let state = &tam.handle.state;
        let now = teep_tam::server::now_ms();

        // A day later: within retention, and the 6-hour session tokens have expired.
        assert!(state.housekeeping(now + DAY_MS).await);
        assert_eq!(rows(&tam, "sessions").await, 0);
        assert_eq!(rows(&tam, "audit").await, audit);

        // 91 days later the entries are past a 90-day retention.
        assert!(state.housekeeping(now + 91 * DAY_MS).await);
        let left = rows(&tam, "audit").await;
        assert_eq!(left, if kept { audit } else { 0 }, "retention {retention}");

        // The device's next session is unaffected.
        assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    }
}

/// A purge of many rows (after downtime, or a day of sessions under load) is many short
/// statements: a session's commits get the writer between them instead of waiting for the
/// whole purge (which used to run past the pool's 5 s wait and answer 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_go_on_while_a_large_purge_runs() {
    const EXPIRED: i64 = 200_000;
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
         INSERT INTO sessions (token, kind, numbering, created_at, expires_at, answered) \
         SELECT randomblob(16), 'update', 'draft26', 0, i, 0 FROM n",
    )
    .execute(tam.store().pool())
    .await
    .unwrap();
    assert_eq!(rows(&tam, "sessions").await, EXPIRED);

    let store = tam.store().clone();
    let purge = tokio::spawn(async move {
        store
            .purge_sessions(teep_tam::server::now_ms() - 60_000)
            .await
    });
    // Once the first chunk is gone, a whole exchange commits before the purge is through.
    while rows(&tam, "sessions").await == EXPIRED {
        tokio::task::yield_now().await;
    }
    let mut dev = SimDevice::new(KeyType::Ed25519);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert!(
        !purge.is_finished(),
        "the exchange waited for the whole purge"
    );
    assert_eq!(purge.await.unwrap().unwrap(), EXPIRED as u64);
    // The exchange's own sessions are not expired and stay.
    assert_eq!(rows(&tam, "sessions").await, 2);
}
