//! The web UI end to end in headless Chromium (playwright-core, tests/ui/ui.mjs): log in,
//! upload a TA, assign it, see the device, and after the device's session read its page (claims
//! as text, times as dates, the session's Update opened down to the manifest's component name),
//! the TC's catalog page, and a captured peer message pasted into the inspector.
//! Needs `node`, `tests/ui/node_modules` (npm install) and Chromium (TEEP_TEST_CHROMIUM or
//! /usr/bin/chromium); `.ci/run` provides all three. In CI a missing piece fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use teep_bench::sim::{exchange, ExchangeResult, SimDevice};
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::Enroll;

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// A peer's message as captured (a QueryRequest in a COSE_Sign), for the inspector.
fn captured() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/interop/captured/teep_01_query_request_cose_sign.cbor")
}

fn prerequisites() -> Option<String> {
    let chromium =
        std::env::var("TEEP_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = if !Path::new(&chromium).exists() {
        Some(format!("Chromium not found at {chromium}"))
    } else if !ui_dir().join("node_modules/playwright-core").exists() {
        Some("tests/ui/node_modules missing (npm install in crates/teep-tam/tests/ui)".into())
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node not found".into())
    } else {
        None
    };
    match missing {
        None => Some(chromium),
        Some(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("browser test cannot run in CI: {why}");
            }
            eprintln!("skipping browser test: {why}");
            None
        }
    }
}

fn run_script(chromium: &str, base: &str, phase: &str, ta: &Path, kid: &str) {
    let out = Command::new("node")
        .arg(ui_dir().join("ui.mjs"))
        .args([base, ADMIN_TOKEN, phase])
        .arg(ta)
        .arg(kid)
        .arg(captured())
        .env("TEEP_TEST_CHROMIUM", chromium)
        .current_dir(ui_dir())
        .output()
        .expect("running node");
    assert!(
        out.status.success(),
        "ui.mjs {phase} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn log_in_upload_assign_and_see_the_device_in_chromium() {
    let Some(chromium) = prerequisites() else {
        return;
    };
    let tam = start(Enroll::Registered).await;
    let mut dev = SimDevice::new(KeyType::P256);
    let d = teep_tam::ops::add_device(
        tam.store(),
        dev.public_key().to_spki_pem().as_bytes(),
        None,
        Some("browser-device"),
        &[],
        0,
    )
    .await
    .unwrap();
    let kid_prefix = hex::encode(&d.kid[..8]);
    let ta = tam.dir.path().join("hello.ta");
    std::fs::write(&ta, b"Hello, Secure World!").unwrap();
    let base = tam.url("");

    let (c, b, t, k) = (
        chromium.clone(),
        base.clone(),
        ta.clone(),
        kid_prefix.clone(),
    );
    tokio::task::spawn_blocking(move || run_script(&c, &b, "setup", &t, &k))
        .await
        .unwrap();
    assert_eq!(
        exchange(&tam.client(), &mut dev, Numbering::Draft26, &tam.tam_keys())
            .await
            .unwrap(),
        ExchangeResult::Updated
    );
    tokio::task::spawn_blocking(move || run_script(&chromium, &base, "check", &ta, &kid_prefix))
        .await
        .unwrap();
    tam.handle.shutdown().await;
}
