//! The checker judged against teep's own TAM: every MUST passes on the defaults, and faults
//! that a configuration can introduce are reported under the right case.

use teep_check::tam::{self, check_tam, TamTarget};
use teep_check::{Report, Verdict};
use teep_tam::Enroll;

async fn tam_with(
    f: impl FnOnce(teep_tam::Config) -> teep_tam::Config,
) -> (teep_tam::ServerHandle, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = f(teep_tam::Config {
        data: dir.path().into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll: Enroll::Tofu,
        ..Default::default()
    });
    let (addr, handle) = teep_tam::server::spawn(config).await.unwrap();
    (handle, format!("http://{addr}/tam"), dir)
}

/// A TA in the catalog, assigned to every device, so that a QueryResponse gets an Update.
async fn assign_a_ta(handle: &teep_tam::ServerHandle) {
    let st = &handle.state;
    let tc = teep_tam::ops::add_ta(
        &st.store,
        &st.tc_signer,
        "hello",
        b"hello",
        teep_tam::server::now_ms(),
    )
    .await
    .unwrap();
    st.store
        .assign(&tc.component_id, &teep_tam::model::Target::All, 0)
        .await
        .unwrap();
}

fn keys(handle: &teep_tam::ServerHandle) -> Vec<teep_cose::PublicKey> {
    handle
        .state
        .core
        .signers()
        .iter()
        .map(|s| s.public_key())
        .collect()
}

async fn check(target: TamTarget) -> Report {
    tokio::task::spawn_blocking(move || check_tam(&target))
        .await
        .unwrap()
}

fn verdict<'a>(r: &'a Report, id: &str) -> &'a Verdict {
    &r.get(id).unwrap_or_else(|| panic!("no case {id}")).verdict
}

#[tokio::test(flavor = "multi_thread")]
async fn teep_tam_passes_every_must_case() {
    let (handle, url, _dir) = tam_with(|c| c).await;
    assign_a_ta(&handle).await;
    let mut target = TamTarget::new(&url);
    target.tam_keys = keys(&handle);
    let report = check(target).await;
    let table = teep_check::report::table(&report, false);
    println!("{table}");
    assert!(!report.must_failed(), "{table}");
    for r in &report.results {
        match r.case.id {
            // teep keeps the token with the attestation bit set by default (docs/INTEROP.md).
            tam::QR_TOKEN_RULE => assert!(
                matches!(&r.verdict, Verdict::Deviation { code, .. } if code == "teep.token-with-attestation"),
                "{table}"
            ),
            // teep's TAM takes a QueryResponse as COSE_Sign although it offered COSE_Sign1
            // suites only, as its deviation `teep.agent-cose-sign` (refused with --strict).
            tam::QRESP_UNOFFERED_SUITE => assert!(
                matches!(&r.verdict, Verdict::Deviation { code, .. } if code == "tam.unoffered-suite-accepted"),
                "{table}"
            ),
            _ => assert_eq!(r.verdict, Verdict::Pass, "{}: {table}", r.case.id),
        }
    }
    // Every case of the catalog was judged, each with its evidence.
    assert_eq!(report.results.len(), tam::CATALOG.len());
    assert!(report.get(tam::QRESP_ANSWERED).unwrap().evidence.len() == 2);
    let json = teep_check::report::json(&report);
    assert_eq!(json["must_failed"], false);
    let junit = teep_check::report::junit(&report);
    assert!(
        junit.contains(&format!("tests=\"{}\" failures=\"0\"", tam::CATALOG.len())),
        "{junit}"
    );
    let html = teep_check::report::html(&report);
    assert!(html.contains("tam.update.manifest-list-envelopes") && !html.contains("<script"));
    assert!(html.contains(&url), "the page names the TAM it checked");
    handle.shutdown().await;
}

/// TEEP-26 §4.2: with the token dropped when the attestation bit is set, the token rule passes.
#[tokio::test(flavor = "multi_thread")]
async fn the_literal_token_rule_passes() {
    let (handle, url, _dir) = tam_with(|c| teep_tam::Config {
        token_with_attestation: false,
        ..c
    })
    .await;
    let report = check(TamTarget::new(&url)).await;
    assert_eq!(verdict(&report, tam::QR_TOKEN_RULE), &Verdict::Pass);
    assert!(matches!(
        verdict(&report, tam::QR_VERIFIES),
        Verdict::NotApplicable { .. }
    ));
    handle.shutdown().await;
}

/// Faults are caught under their case: a first QueryRequest signed COSE_Sign1 although two
/// suites are offered (§8.1), a key that did not sign it, a TAM that refuses new devices.
#[tokio::test(flavor = "multi_thread")]
async fn faults_are_reported_under_their_case() {
    let (handle, url, _dir) = tam_with(|c| teep_tam::Config {
        first_query_draft26: teep_tam::session::FirstQuery::Sign1(teep_cose::Algorithm::Esp256),
        enroll: Enroll::Registered,
        ..c
    })
    .await;
    let mut target = TamTarget::new(&url);
    target.tam_keys = vec![teep_cose::PrivateKey::generate(teep_cose::KeyType::P256).public_key()];
    let report = check(target).await;
    assert!(report.must_failed());
    assert!(matches!(
        verdict(&report, tam::QR_SIGNATURE_PER_SUITE),
        Verdict::Fail { .. }
    ));
    assert!(matches!(
        verdict(&report, tam::QR_VERIFIES),
        Verdict::Fail { .. }
    ));
    assert!(matches!(
        verdict(&report, tam::QRESP_ANSWERED),
        Verdict::NotApplicable { .. }
    ));
    assert_eq!(verdict(&report, tam::EMPTY_POST), &Verdict::Pass);
    handle.shutdown().await;
}

/// A TAM under open enrollment admits only endorsed devices (RFC 9360 chains to its roots):
/// the checker's simulated device gets an error Update (ERR_ATTESTATION_REQUIRED, -26 §4.4),
/// a right answer that admits nobody, so QueryResponse handling is reported not applicable
/// with the reason, and the checks that need an admitted device are not run.
#[tokio::test(flavor = "multi_thread")]
async fn an_error_update_is_not_an_admission() {
    let dir = tempfile::tempdir().unwrap();
    let now = teep_tam::server::now_ms() / 1000;
    let root = teep_tee::endorsement::CertificateAuthority::create_root(
        teep_cose::KeyType::P256,
        &teep_tee::endorsement::CertOptions::valid_for("Check Root", now, 30),
    )
    .unwrap();
    let config = teep_tam::Config {
        data: dir.path().into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll: Enroll::Open,
        ..Default::default()
    };
    let store = teep_tam::Store::open(&config.database_url(), &Default::default())
        .await
        .unwrap();
    let pem = teep_tee::endorsement::cert_to_pem(root.cert_der());
    teep_tam::endorsers::add(&store, pem.as_bytes(), 0)
        .await
        .unwrap();
    drop(store);
    let (addr, handle) = teep_tam::server::spawn(config).await.unwrap();
    let mut target = TamTarget::new(format!("http://{addr}/tam"));
    target.tam_keys = keys(&handle);
    let report = check(target).await;
    let Verdict::NotApplicable { why: reason } = verdict(&report, tam::QRESP_ANSWERED) else {
        panic!("{:?}", verdict(&report, tam::QRESP_ANSWERED));
    };
    assert!(reason.contains("error Update"), "{reason}");
    assert!(reason.contains("--enroll tofu"), "{reason}");
    assert!(matches!(
        verdict(&report, tam::QRESP_REPLAY),
        Verdict::NotApplicable { .. }
    ));
    handle.shutdown().await;
}

/// A URL where no TAM answers: every case fails or is not applicable, none passes.
#[tokio::test(flavor = "multi_thread")]
async fn no_tam_fails_the_must_cases() {
    let mut target = TamTarget::new("http://127.0.0.1:9/tam");
    target.timeout = std::time::Duration::from_secs(2);
    let report = check(target).await;
    assert!(report.must_failed());
    assert!(report.results.iter().all(|r| r.verdict != Verdict::Pass));
}

/// docs/CHECK.md carries the catalog as the code has it (regenerate the table with
/// `teep check catalog`).
#[test]
fn the_documented_catalog_is_the_code_s() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CHECK.md"))
        .unwrap();
    let table = teep_check::report::catalog_markdown();
    assert!(
        doc.contains(&table),
        "docs/CHECK.md: replace the catalog table with:\n{table}"
    );
}
