//! PostgreSQL: the same code path as SQLite, and several TAM processes sharing one database
//! (a session may hop between instances behind a load balancer). Needs a real server:
//! `.ci/run` starts one and sets TEEP_TEST_POSTGRES_URL. In CI (CI=true) a missing URL fails
//! the tests; elsewhere they are skipped with a message.

mod common;

use common::*;
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::sim::{exchange, ExchangeResult, SimDevice, TeepClient};
use teep_tam::Enroll;

fn admin_url() -> Option<String> {
    match std::env::var("TEEP_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("TEEP_TEST_POSTGRES_URL is not set in CI: PostgreSQL tests cannot run");
            }
            eprintln!(
                "skipping: TEEP_TEST_POSTGRES_URL is not set (run .ci/run or start PostgreSQL)"
            );
            None
        }
    }
}

/// A fresh database on the test server; returns its URL.
async fn fresh_db() -> Option<String> {
    use sqlx::Connection;
    let admin = admin_url()?;
    sqlx::any::install_default_drivers();
    let mut name_bytes = [0u8; 6];
    getrandom::fill(&mut name_bytes).unwrap();
    let name = format!("teep_tam_test_{}", hex::encode(name_bytes));
    let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(admin);
    Some(format!("{base}/{name}"))
}

async fn pg_tam(db: &str) -> Tam {
    let dir = tempfile::tempdir().unwrap();
    let db = db.to_string();
    start_with(
        dir,
        move |mut c| {
            c.db = Some(db);
            c
        },
        Enroll::Open,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn full_exchange_and_policy_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let tam = pg_tam(&db).await;
    let cid = add_assigned_ta(&tam, "hello", b"Hello").await;
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    let d = tam
        .store()
        .device_by_kid(&dev.kid())
        .await
        .unwrap()
        .unwrap();
    let installed = tam.store().installed(d.id).await.unwrap();
    assert_eq!(
        installed[0].component_id,
        teep_tam::model::encode_component_id(&cid)
    );
    assert_eq!(tam.store().recent_audit(10, None).await.unwrap().len(), 3);
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_hops_between_two_tam_processes_and_replays_are_refused_across_them() {
    let Some(db) = fresh_db().await else { return };
    let a = pg_tam(&db).await;
    add_assigned_ta(&a, "hello", b"Hello").await;
    let b = pg_tam(&db).await;
    let (ca, cb) = (a.client(), b.client());
    let n = Numbering::Draft26;
    let mut dev = SimDevice::new(KeyType::Ed25519);
    // The two instances have their own TEEP keys; the device trusts both.
    let mut keys = a.tam_keys();
    keys.extend(b.tam_keys());

    let qreq = ca.post(Vec::new()).await.unwrap();
    let seen = dev.read_query_request(&qreq.body, n, &keys).unwrap();
    let qresp = dev.query_response(&seen, n).unwrap();
    let upd = cb.post(qresp.clone()).await.unwrap();
    assert_eq!(upd.status, 200);
    assert_eq!(
        ca.post(qresp).await.unwrap().status,
        400,
        "replay through the other instance"
    );
    let token = dev.read_update(&upd.body, n).unwrap();
    let success = dev.success(token, n).unwrap();
    assert_eq!(ca.post(success).await.unwrap().status, 204);
    assert_eq!(
        exchange(&cb, &mut dev, n, &keys).await.unwrap(),
        ExchangeResult::UpToDate
    );
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn many_devices_through_two_instances_on_postgres() {
    let Some(db) = fresh_db().await else { return };
    let a = pg_tam(&db).await;
    add_assigned_ta(&a, "hello", b"Hello").await;
    let b = pg_tam(&db).await;
    let urls = [a.url("/tam"), b.url("/tam")];
    let mut tasks = Vec::new();
    for i in 0..100 {
        let url = urls[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let client = TeepClient::new(&url).unwrap();
            let mut dev = SimDevice::new(if i % 3 == 0 {
                KeyType::Ed25519
            } else {
                KeyType::P256
            });
            exchange(&client, &mut dev, Numbering::Draft26, &[]).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), ExchangeResult::Updated);
    }
    assert_eq!(a.store().device_count().await.unwrap(), 100);
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}
