//! A database made by an earlier release migrates forward on start without losing what it held.

mod common;

use common::{check_migrated, old_database};
use teep_tam::store::{Store, StoreOptions};

#[tokio::test]
async fn last_seen_and_holdings_survive_the_narrow_rows_migration() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("tam.db").display());
    old_database(dir.path(), "sqlite", &url, "0004").await;

    let store = Store::open(&url, &StoreOptions::default()).await.unwrap();
    check_migrated(&store).await;

    // The layout 0004 promises: last_seen only in its narrow table, holdings keyed without
    // a rowid.
    let n = |sql: &'static str| common::scalar(&store, sql);
    assert_eq!(
        n("SELECT COUNT(*) FROM pragma_table_info('devices') WHERE name = 'last_seen'").await,
        0
    );
    assert_eq!(
        n("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'device_tcs' AND sql LIKE '%WITHOUT ROWID%'")
            .await,
        1
    );
    // Foreign keys still hold: a holding of a device that does not exist is refused.
    let orphan = sqlx::query(
        "INSERT INTO device_tcs (device_id, component_id, origin, updated_at) VALUES (99, x'01', 'device', 1)",
    )
    .execute(store.pool())
    .await;
    assert!(orphan.is_err(), "orphan holding accepted");
}
