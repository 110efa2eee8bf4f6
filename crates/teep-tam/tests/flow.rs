//! End-to-end TEEP exchanges against an in-process TAM over HTTP.

mod common;

use common::*;
use teep_bench::sim::{exchange, ExchangeResult, SimDevice};
use teep_cose::KeyType;
use teep_proto::Numbering;
use teep_tam::model::{DeviceStatus, Target};
use teep_tam::Enroll;

const N: Numbering = Numbering::Draft26;

#[tokio::test]
async fn open_enrollment_installs_assigned_ta_then_nothing_more() {
    let tam = start(Enroll::Tofu).await;
    let cid = add_assigned_ta(&tam, "hello", b"Hello, Secure World!").await;
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert_eq!(dev.installed, vec![cid.clone()]);
    // Everything the device needs, it has: the next session ends after the QueryResponse.
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);

    let d = tam.device(&dev).await;
    assert_eq!(d.status, DeviceStatus::Attested);
    assert_eq!(d.suite_alg, Some(-9));
    let installed = tam.store().installed(d.id).await.unwrap();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0].component_id, cid.encode());
    assert_eq!(installed[0].sequence, Some(1));
    let log = tam
        .store()
        .recent_audit(10, Some(&dev.kid()))
        .await
        .unwrap();
    assert_eq!(log.len(), 3, "QueryResponse, Success, QueryResponse");
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn ed25519_device_gets_an_ed25519_signed_update() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = SimDevice::new(KeyType::Ed25519);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    let d = tam.device(&dev).await;
    assert_eq!(d.suite_alg, Some(-19));
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn first_query_request_is_cose_sign_with_both_algorithms() {
    let tam = start(Enroll::Tofu).await;
    let client = tam.client();
    let r = client.post(Vec::new()).await.unwrap();
    assert_eq!(r.status, 200);
    let opened = teep_cose::open(&r.body).unwrap();
    assert_eq!(opened.kind, teep_cose::CoseKind::Sign);
    let algs: Vec<i64> = opened.signatures.iter().map(|s| s.alg.to_cose()).collect();
    assert_eq!(algs, vec![-9, -19]);
    let dev = SimDevice::new(KeyType::P256);
    let seen = dev.read_query_request(&r.body, N, &tam.tam_keys()).unwrap();
    assert!(seen.token.as_ref().is_some_and(|t| t.len() >= 8));
    assert!(seen.challenge.as_ref().is_some_and(|c| c.len() >= 8));
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn registered_enrollment_refuses_unknown_devices_and_admits_added_ones() {
    let tam = start(Enroll::Registered).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let mut dev = SimDevice::new(KeyType::P256);
    let err = exchange(&client, &mut dev, N, &tam.tam_keys())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("400") && err.contains("not a registered device"),
        "{err}"
    );
    assert!(tam
        .store()
        .device_by_kid(&dev.kid())
        .await
        .unwrap()
        .is_none());

    let pem = dev.public_key().to_spki_pem();
    teep_tam::ops::add_device(
        tam.store(),
        pem.as_bytes(),
        None,
        Some("dev1"),
        &["lab".into()],
        0,
    )
    .await
    .unwrap();
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn replayed_query_response_is_refused() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let dev = SimDevice::new(KeyType::P256);
    let qreq = client.post(Vec::new()).await.unwrap();
    let seen = dev.read_query_request(&qreq.body, N, &[]).unwrap();
    let qresp = dev.query_response(&seen, N).unwrap();
    assert_eq!(client.post(qresp.clone()).await.unwrap().status, 200);
    let again = client.post(qresp).await.unwrap();
    assert_eq!(again.status, 400);
    assert!(String::from_utf8_lossy(&again.body).contains("already answered"));
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn evidence_with_a_stale_nonce_gets_attestation_required_and_marks_the_device() {
    // A registered device, and a new one under open enrollment: both get the error Update
    // (not a bare 400) and are recorded as failed, and the next session with fresh evidence
    // attests and installs.
    for enroll in [Enroll::Registered, Enroll::Tofu] {
        let tam = start(enroll).await;
        add_assigned_ta(&tam, "hello", b"hi").await;
        let mut dev = SimDevice::new(KeyType::P256);
        if enroll == Enroll::Registered {
            teep_tam::ops::add_device(
                tam.store(),
                dev.public_key().to_spki_pem().as_bytes(),
                None,
                None,
                &[],
                0,
            )
            .await
            .unwrap();
        }
        let r = tam.answer_query(&dev, Some(vec![7u8; 32])).await;
        let (code, why) = error_update(&r);
        assert_eq!(
            code,
            teep_proto::ErrorCode::AttestationRequired,
            "{enroll:?}"
        );
        assert!(why.contains("eat_nonce"), "{why}");
        let d = tam.device(&dev).await;
        assert_eq!(d.status, DeviceStatus::AttestationFailed, "{enroll:?}");
        let detail = d.status_detail.unwrap_or_default();
        assert!(detail.contains("eat_nonce"), "{detail}");

        assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
        assert_eq!(dev.installed.len(), 1, "{enroll:?}");
        assert_eq!(tam.device(&dev).await.status, DeviceStatus::Attested);
        tam.handle.shutdown().await;
    }
}

#[tokio::test]
async fn passport_result_from_a_configured_verifier_attests_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let verifier = teep_cose::PrivateKey::generate(KeyType::P256);
    let vfile = dir.path().join("verifier.pub.pem");
    std::fs::write(&vfile, verifier.public_key().to_spki_pem()).unwrap();
    let tam = start_with(
        dir,
        |c| teep_tam::Config {
            verifier_keys: vec![vfile],
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    add_assigned_ta(&tam, "hello", b"hi").await;

    let mut dev = SimDevice::new(KeyType::Ed25519);
    dev.verifier = Some(teep_cose::SoftwareSigner::new(verifier));
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    let d = tam.device(&dev).await;
    assert_eq!(d.status, DeviceStatus::Attested);
    let claims: serde_json::Value = serde_json::from_str(d.claims.as_deref().unwrap()).unwrap();
    assert_eq!(claims["passport"], true, "{claims}");

    // A result signed by a Verifier the TAM does not trust gets the error Update.
    let mut other = SimDevice::new(KeyType::P256);
    other.verifier = Some(teep_cose::SoftwareSigner::new(
        teep_cose::PrivateKey::generate(KeyType::P256),
    ));
    let (code, why) = error_update(&tam.answer_query(&other, None).await);
    assert_eq!(code, teep_proto::ErrorCode::AttestationRequired);
    assert!(why.contains("erifier"), "{why}");
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn an_agent_error_ends_the_session_with_204_and_the_update_is_offered_again() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let client = tam.client();
    let mut dev = SimDevice::new(KeyType::P256);
    let upd = tam.answer_query(&dev, None).await;
    assert_eq!(upd.status, 200);
    let token = dev.read_update(&upd.body, N).unwrap();
    let err = dev
        .error(
            token,
            teep_proto::ErrorCode::ManifestProcessingFailed,
            "no space left",
            N,
        )
        .unwrap();
    let r = client.post(err.clone()).await.unwrap();
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let d = tam.device(&dev).await;
    let detail = d.status_detail.unwrap_or_default();
    assert!(detail.contains("no space left"), "{detail}");
    assert!(tam.store().installed(d.id).await.unwrap().is_empty());
    let log = tam.store().recent_audit(1, Some(&dev.kid())).await.unwrap();
    assert_eq!(log[0].entry.result, "agent-error");
    // The Error answered the Update's token: sent again, it is a replay.
    assert_eq!(client.post(err).await.unwrap().status, 400);
    // Nothing was installed, so the next session offers the TC again.
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert_eq!(dev.installed.len(), 1);
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn higher_sequence_upgrades_and_unassign_deletes() {
    let tam = start(Enroll::Tofu).await;
    let cid = add_assigned_ta(&tam, "hello", b"v1").await;
    let client = tam.client();
    let keys = tam.tam_keys();
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::Updated
    );
    let st = &tam.handle.state;
    let v2 = teep_tam::ops::add_ta(&st.store, &st.tc_signer, "hello", b"v2", 0)
        .await
        .unwrap();
    assert_eq!(v2.sequence, 2);
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::Updated
    );
    let d = st.store.device_by_kid(&dev.kid()).await.unwrap().unwrap();
    assert_eq!(st.store.installed(d.id).await.unwrap()[0].sequence, Some(2));

    st.store
        .unassign(&v2.component_id, &Target::All)
        .await
        .unwrap();
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::Updated
    );
    assert!(dev.installed.is_empty(), "device removed {cid:?}");
    assert!(st.store.installed(d.id).await.unwrap().is_empty());
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::UpToDate
    );
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn requested_tc_is_delivered_and_unneeded_one_removed() {
    let tam = start(Enroll::Tofu).await;
    let st = &tam.handle.state;
    let tc = teep_tam::ops::add_ta(&st.store, &st.tc_signer, "on-demand", b"x", 0)
        .await
        .unwrap();
    let cid = teep_tam::model::ComponentId::decode(&tc.component_id).unwrap();
    let mid =
        teep_tam::model::ComponentId::decode(tc.manifest_component_id.as_ref().unwrap()).unwrap();
    let client = tam.client();
    let keys = tam.tam_keys();
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::UpToDate
    );
    dev.requested.push(cid.clone());
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::Updated
    );
    assert_eq!(dev.installed, vec![cid]);
    // Not assigned, but requested: it stays.
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::UpToDate
    );
    dev.unneeded.push(mid);
    assert_eq!(
        exchange(&client, &mut dev, N, &keys).await.unwrap(),
        ExchangeResult::Updated
    );
    assert!(dev.installed.is_empty());
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn with_requests_off_only_assigned_tcs_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let tam = start_with(
        dir,
        |c| teep_tam::Config {
            allow_requests: false,
            ..c
        },
        Enroll::Tofu,
    )
    .await;
    let st = &tam.handle.state;
    let tc = teep_tam::ops::add_ta(&st.store, &st.tc_signer, "on-demand", b"x", 0)
        .await
        .unwrap();
    let cid = teep_tam::model::ComponentId::decode(&tc.component_id).unwrap();
    let mut dev = SimDevice::new(KeyType::P256);
    dev.requested.push(cid.clone());
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    assert!(dev.installed.is_empty());
    // Assigned to the device, the same TC is delivered.
    let d = tam.device(&dev).await;
    tam.store()
        .assign(&tc.component_id, &Target::Device(d.id), 0)
        .await
        .unwrap();
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert_eq!(dev.installed, vec![cid]);
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn legacy_path_speaks_legacy_and_explains_the_wrong_numbering() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let keys = tam.tam_keys();
    let legacy = teep_bench::sim::TeepClient::new(&tam.url("/tam/legacy")).unwrap();
    let mut dev = SimDevice::new(KeyType::P256);
    assert_eq!(
        exchange(&legacy, &mut dev, Numbering::Legacy, &keys)
            .await
            .unwrap(),
        ExchangeResult::Updated
    );

    // A legacy-numbered Success sent to the draft-26 path is explained, not misread.
    let client = tam.client();
    let qreq = client.post(Vec::new()).await.unwrap();
    let seen = dev.read_query_request(&qreq.body, N, &keys).unwrap();
    let wrong = dev.query_response(&seen, Numbering::Legacy).unwrap();
    let r = client.post(wrong).await.unwrap();
    assert_eq!(r.status, 400);
    let text = String::from_utf8_lossy(&r.body);
    assert!(text.contains("legacy"), "{text}");
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_from_200_distinct_devices_complete() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let keys = tam.tam_keys();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = tam.client();
        let keys = keys.clone();
        tasks.push(tokio::spawn(async move {
            let kt = if i % 2 == 0 {
                KeyType::P256
            } else {
                KeyType::Ed25519
            };
            let mut dev = SimDevice::new(kt);
            let r = exchange(&client, &mut dev, N, &keys).await;
            (r, dev)
        }));
    }
    for t in tasks {
        let (r, dev) = t.await.unwrap();
        assert_eq!(r.unwrap(), ExchangeResult::Updated);
        // Each device's Success was recorded against that device, not a neighbour.
        let d = tam.device(&dev).await;
        assert_eq!(d.status, DeviceStatus::Attested);
        assert_eq!(tam.store().installed(d.id).await.unwrap().len(), 1);
    }
    assert_eq!(tam.store().device_count().await.unwrap(), 200);
    tam.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_first_contacts_of_one_new_device_both_complete() {
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let key = teep_cose::PrivateKey::generate(KeyType::P256);
    let keys = tam.tam_keys();
    // Sixteen sessions of one device that the TAM has never seen, all at once: whichever
    // commits first enrolls it, the others find it enrolled.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let client = tam.client();
        let keys = keys.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut dev = SimDevice::from_key(key);
            exchange(&client, &mut dev, N, &keys).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), ExchangeResult::Updated);
    }
    assert_eq!(tam.store().device_count().await.unwrap(), 1);
    let dev = SimDevice::from_key(key);
    let d = tam.device(&dev).await;
    assert_eq!(tam.store().installed(d.id).await.unwrap().len(), 1);
    tam.handle.shutdown().await;
}

/// Collects what the log subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The steps of one session are tied together in the logs: each answer's span names the
/// device and the token the next step answers.
#[tokio::test]
async fn log_spans_chain_the_steps_of_a_session_by_token_and_device() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("teep_tam=debug")
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    // Process-wide: a thread-local subscriber misses events whose call sites other tests'
    // threads registered first. Lines of other tests are told apart by kid and token.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let tam = start(Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = SimDevice::new(KeyType::Ed25519);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    tam.handle.shutdown().await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let field = |line: &str, name: &str| -> String {
        let at = line
            .find(&format!(" {name}="))
            .or_else(|| line.find(&format!("{{{name}=")))
            .unwrap_or_else(|| panic!("{name} in {line}"));
        line[at + name.len() + 2..]
            .split([' ', '}'])
            .next()
            .unwrap()
            .trim_matches('"')
            .to_string()
    };
    let step = |msg: &str, with: &str, value: &str| -> String {
        logs.lines()
            .find(|l| l.contains(&format!("msg=\"{msg}\"")) && field_is(l, with, value))
            .unwrap_or_else(|| panic!("no {msg} step with {with}={value} in\n{logs}"))
            .to_string()
    };
    fn field_is(line: &str, name: &str, value: &str) -> bool {
        line.contains(&format!(" {name}=\"{value}\""))
            || line.contains(&format!("{{{name}=\"{value}\""))
    }
    let kid = hex::encode(dev.kid());
    let response = step("QueryResponse", "kid", &kid);
    assert_eq!(field(&response, "result"), "update");
    // The QueryRequest it answered, and the Success that answered its Update.
    step("connect", "next", &field(&response, "token"));
    let success = step("Success", "token", &field(&response, "next"));
    assert_eq!(field(&success, "kid"), kid);
}
