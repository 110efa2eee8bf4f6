//! Crash and outage behaviour: kill -9 in the middle of exchanges, storage unavailable, and
//! recovery without restart.

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use teep_bench::sim::{exchange, ExchangeResult, SimDevice, TeepClient};
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::Enroll;

const CHILD_ENV: &str = "TEEP_TAM_TEST_CHILD_DATA";

/// Not a test on its own: the body of the child process the crash test starts (this test
/// binary re-executed with `CHILD_ENV` set). Without the variable it returns at once.
#[test]
fn child_server() {
    let Ok(data) = std::env::var(CHILD_ENV) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let cfg = config(std::path::Path::new(&data), Enroll::Tofu);
        let (addr, handle) = teep_tam::server::spawn(cfg).await.unwrap();
        println!("LISTENING {addr}");
        handle.wait().await;
    });
}

struct Child {
    proc: std::process::Child,
    addr: String,
}

fn start_child(data: &std::path::Path) -> Child {
    let mut proc = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = proc.stdout.take().unwrap();
    // The harness prints "test child_server ... " without a newline before the test body
    // runs, so the address is found anywhere in the line, not only at its start. A reader
    // thread with a deadline keeps a child that never listens from hanging the test.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(i) = line.find("LISTENING ") {
                let _ = tx.send(line[i + "LISTENING ".len()..].trim().to_string());
                break;
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(a) => a,
        Err(_) => {
            let _ = proc.kill();
            panic!("the TAM child process did not start listening within 120 s");
        }
    };
    Child { proc, addr }
}

/// One exchange with a deadline, so that a stuck connection fails the test instead of
/// hanging it.
async fn exchange_within(
    client: &TeepClient,
    dev: &mut SimDevice,
    n: Numbering,
) -> Result<ExchangeResult, String> {
    match tokio::time::timeout(Duration::from_secs(60), exchange(client, dev, n, &[])).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("exchange took longer than 60 s".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_exchange_then_every_device_recovers_consistently() {
    let dir = tempfile::tempdir().unwrap();
    // Seed the catalog through the library before the server process starts.
    {
        let tam = start_with(
            tempfile::tempdir_in(dir.path()).unwrap(),
            |mut c| {
                c.data = dir.path().to_path_buf();
                c
            },
            Enroll::Tofu,
        )
        .await;
        add_assigned_ta(&tam, "hello", b"Hello, Secure World!").await;
        tam.handle.shutdown().await;
    }
    let mut child = start_child(dir.path());
    let url = format!("http://{}/tam", child.addr);
    let n = Numbering::Draft26;
    let devices: Vec<_> = (0..40)
        .map(|i| {
            SimDevice::new(if i % 2 == 0 {
                KeyType::P256
            } else {
                KeyType::Ed25519
            })
        })
        .collect();
    let completed = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for mut dev in devices {
        let url = url.clone();
        let completed = completed.clone();
        tasks.push(tokio::spawn(async move {
            let client = TeepClient::new(&url).unwrap();
            // Keep exchanging until the server dies; some sessions die half-way.
            let mut done = 0u32;
            let mut cut = false;
            for _ in 0..100_000 {
                if exchange_within(&client, &mut dev, n).await.is_err() {
                    cut = true;
                    break;
                }
                done += 1;
                completed.fetch_add(1, Ordering::Relaxed);
                // Force a new Update each round by forgetting the TC.
                dev.installed.clear();
            }
            (dev, done, cut)
        }));
    }
    // Kill once exchanges are flowing: as many have completed as there are devices.
    wait_until("exchanges to complete before the kill", || {
        completed.load(Ordering::Relaxed) >= 40
    })
    .await;
    child.proc.kill().unwrap(); // SIGKILL
    child.proc.wait().unwrap();
    let mut devices = Vec::new();
    let (mut done, mut cut) = (0, 0);
    for t in tasks {
        let (dev, d, c) = t.await.unwrap();
        done += d;
        cut += c as u32;
        devices.push(dev);
    }
    // The kill landed while exchanges were running: every device was cut off mid-stream.
    assert!(done > 0, "no exchange completed before the kill");
    assert_eq!(cut, 40, "every device loop ends because the server died");

    let mut child = start_child(dir.path());
    let client = TeepClient::new(&format!("http://{}/tam", child.addr)).unwrap();
    for dev in devices.iter_mut() {
        // The next session completes, whatever state the crash left.
        let first = exchange_within(&client, dev, n).await.unwrap();
        assert!(matches!(
            first,
            ExchangeResult::Updated | ExchangeResult::UpToDate
        ));
        assert_eq!(dev.installed.len(), 1);
        assert_eq!(
            exchange_within(&client, dev, n).await.unwrap(),
            ExchangeResult::UpToDate
        );
    }
    child.proc.kill().unwrap();
    child.proc.wait().unwrap();

    // Storage agrees with every device.
    let store = teep_tam::Store::open(
        &format!("sqlite://{}", dir.path().join("tam.db").display()),
        &Default::default(),
    )
    .await
    .unwrap();
    for dev in &devices {
        let d = store.device_by_kid(&dev.kid()).await.unwrap();
        let Some(d) = d else {
            panic!(
                "device {} not recorded after completing a session",
                hex::encode(dev.kid())
            );
        };
        let installed = store.installed(d.id).await.unwrap();
        assert_eq!(installed.len(), 1);
        assert_eq!(installed[0].component_id, dev.installed[0].encode());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn locked_storage_gives_503_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |mut c| {
            c.sqlite_busy_timeout_ms = 100;
            c
        },
        Enroll::Tofu,
    )
    .await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let n = Numbering::Draft26;
    // Opening a session writes nothing (the QueryRequest token is stateless), so it works
    // whatever state storage is in; the answer is what needs storage.
    let mut dev = SimDevice::new(KeyType::P256);
    let qreq = client.post(Vec::new()).await.unwrap();
    assert_eq!(qreq.status, 200);
    let seen = dev
        .read_query_request(&qreq.body, n, &tam.tam_keys())
        .unwrap();
    let qresp = dev.query_response(&seen, n).unwrap();

    // Another process-like connection takes the write lock and holds it.
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", tam.dir.path().join("tam.db").display());
    let mut locker = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    sqlx::query("INSERT INTO audit (at, message_type, summary, result) VALUES (0, 'x', '{}', 'x')")
        .execute(&mut locker)
        .await
        .unwrap();

    let r = client.post(qresp.clone()).await.unwrap();
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    locker.close().await.unwrap();
    // The refused step changed nothing: the same QueryResponse now gets its Update.
    let r = client.post(qresp).await.unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let token = dev.read_update(&r.body, n).unwrap();
    let success = dev.success(token, n).unwrap();
    assert_eq!(client.post(success).await.unwrap().status, 204);
    // And a new session runs from the start.
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(
        exchange(&client, &mut dev, n, &tam.tam_keys())
            .await
            .unwrap(),
        ExchangeResult::Updated
    );
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_refuses_new_sessions_and_finishes_those_in_flight() {
    let n = Numbering::Draft26;
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let keys = tam.tam_keys();
    let mut dev = SimDevice::new(KeyType::P256);
    // A session in flight: the QueryRequest is out, the QueryResponse not yet sent.
    let qreq = client.post(Vec::new()).await.unwrap();
    let seen = dev.read_query_request(&qreq.body, n, &keys).unwrap();

    let state = tam.handle.state.clone();
    let Tam { addr, handle, dir } = tam;
    // A grace period no run reaches: the drain can end only by finishing its sessions.
    let grace = Duration::from_secs(3600);
    let drain = tokio::spawn(handle.drain_and_shutdown(grace));
    wait_until("the server to start draining", || state.is_draining()).await;
    // New sessions are refused with a hint to retry; health tells a load balancer.
    let refused = client.post(Vec::new()).await.unwrap();
    assert_eq!(refused.status, 503);
    assert!(String::from_utf8_lossy(&refused.body).contains("shutting down"));
    assert_eq!(health_at(format!("http://{addr}/healthz")).await, 503);
    assert!(
        !drain.is_finished(),
        "the drain waits for the session in flight"
    );

    // The session in flight completes: Update, then Success.
    let upd = client
        .post(dev.query_response(&seen, n).unwrap())
        .await
        .unwrap();
    assert_eq!(upd.status, 200);
    let token = dev.read_update(&upd.body, n).unwrap();
    let done = client.post(dev.success(token, n).unwrap()).await.unwrap();
    assert_eq!(done.status, 204);
    assert_eq!(dev.installed.len(), 1);
    // With nothing left in flight the drain ends.
    wait_until("the drain to end once its sessions are done", || {
        drain.is_finished()
    })
    .await;
    assert_eq!(drain.await.unwrap(), 0);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed"
    );

    // The Success was committed: a TAM on the same data knows the device holds the TC.
    let tam = start_with(dir, |c| c, Enroll::Tofu).await;
    let d = tam.device(&dev).await;
    assert_eq!(tam.store().installed(d.id).await.unwrap().len(), 1);

    // An abandoned session holds the drain only for the grace period, and is reported.
    let seen = tam.client().post(Vec::new()).await.unwrap();
    assert_eq!(seen.status, 200);
    let left = tam
        .handle
        .drain_and_shutdown(Duration::from_millis(300))
        .await;
    assert_eq!(left, 1);
}
