//! Whole sessions (DIGEST §4.3): the rules `crates/teep-tam/tests/flow.rs` checks through
//! HTTP and SQLite, checked here against the core alone.

use teep_proto::{Numbering, TeepMessage};

use super::harness::*;
use crate::model::{DeviceStatus, Target, TcOrigin};
use crate::{Enroll, ExchangeResult, RefusalKind};

const N: Numbering = Numbering::Draft26;

/// The Update a TAM's answer carries.
fn update_of(body: &[u8], n: Numbering) -> teep_proto::Update {
    match teep_proto::signed::open_message(body, n).unwrap().1 {
        TeepMessage::Update(u) => u,
        other => panic!("expected an Update, got {}", other.type_name()),
    }
}

/// DIGEST §4.3: a new device (open enrollment) gets what is assigned to it, and its next
/// session ends after the QueryResponse because it lacks nothing.
#[test]
fn open_enrollment_installs_the_assigned_tc_then_nothing_more() {
    let mut tam = Tam::new(Enroll::Tofu);
    let tc = tam.add_assigned("hello", 1);
    let mut dev = device(2);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert_eq!(dev.installed, vec![component("hello")]);
    assert_eq!(tam.exchange(&mut dev), Exchange::UpToDate);

    let d = tam.device(&dev);
    assert_eq!(d.status, DeviceStatus::Attested);
    assert_eq!(d.suite_alg, Some(-9));
    let held = tam.holdings(&dev);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].component_id, tc.component_id);
    assert_eq!(held[0].sequence, Some(1));
    assert_eq!(held[0].origin, "policy");
    let results: Vec<(&str, &str)> = tam
        .storage
        .audit
        .iter()
        .map(|a| (a.message_type.as_str(), a.result.as_str()))
        .collect();
    assert_eq!(
        results,
        [
            ("QueryResponse", "update"),
            ("Success", "success"),
            ("QueryResponse", "no-update")
        ]
    );
}

/// DIGEST §2.2: after the first message the suite the device signed with is used both ways.
#[test]
fn an_ed25519_device_gets_an_ed25519_signed_update() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let dev = device(3);
    let response = tam.query_response(&dev, N);
    let update = tam.post(&response, N).unwrap().response.unwrap();
    let opened = teep_cose::open(&update).unwrap();
    assert_eq!(opened.kind, teep_cose::CoseKind::Sign1);
    assert_eq!(opened.signatures[0].alg.to_cose(), -19);
    assert_eq!(tam.device(&dev).suite_alg, Some(-19));
}

/// DIGEST §2.2, §9.6: the first QueryRequest is a COSE_Sign with one signature per TAM
/// algorithm, carrying a token and a challenge (DIGEST §9.2).
#[test]
fn the_first_query_request_is_cose_sign_with_both_algorithms() {
    let mut tam = Tam::new(Enroll::Tofu);
    let request = tam.connect(N);
    let opened = teep_cose::open(&request).unwrap();
    assert_eq!(opened.kind, teep_cose::CoseKind::Sign);
    let algs: Vec<i64> = opened.signatures.iter().map(|s| s.alg.to_cose()).collect();
    assert_eq!(algs, [-9, -19]);
    let seen = device(2)
        .read_query_request(&request, N, &tam.tam_keys())
        .unwrap();
    assert!(seen.multi_signed);
    assert!(seen.token.is_some_and(|t| t.len() >= 8));
    assert!(seen.challenge.is_some_and(|c| c.len() >= 8));
}

/// Registered-only enrollment: an unknown device is refused and nothing is stored; once an
/// administrator adds it, it is served.
#[test]
fn registered_enrollment_refuses_unknown_devices_and_admits_added_ones() {
    let mut tam = Tam::new(Enroll::Registered);
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    let response = tam.query_response(&dev, N);
    let refused = tam.post(&response, N).unwrap_err();
    assert_eq!(refused.kind(), Some(RefusalKind::UnregisteredDevice));
    assert!(refused.to_string().contains("not a registered device"));
    assert!(tam.storage.devices.is_empty() && tam.storage.sessions.is_empty());

    tam.register(&dev, &["lab"]);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
}

/// DIGEST §4.1: a token expires after the first validly signed response carrying it; the
/// same QueryResponse again is a replay, found when its step commits.
#[test]
fn a_replayed_query_response_is_refused() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let dev = device(2);
    let response = tam.query_response(&dev, N);
    assert!(tam.post(&response, N).unwrap().response.is_some());
    let again = tam.post(&response, N).unwrap_err();
    assert_eq!(again.kind(), Some(RefusalKind::ReplayedToken));
    assert!(again.to_string().contains("already answered"), "{again}");
    assert_eq!(tam.storage.audit.len(), 1, "the replay changed nothing");
}

/// DIGEST §3.6, §4.1: an agent's Error ends the session (no answer); it is recorded on the
/// device, nothing the Update carried counts as installed, its token is spent, and the next
/// session offers the TC again.
#[test]
fn an_agent_error_ends_the_session_and_the_update_is_offered_again() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    let response = tam.query_response(&dev, N);
    let update = tam.post(&response, N).unwrap().response.unwrap();
    let token = dev.read_update(&update, N).unwrap();
    let error = dev
        .error(
            token,
            teep_proto::ErrorCode::ManifestProcessingFailed,
            "no space left",
            N,
        )
        .unwrap();
    let end = tam.post(&error, N).unwrap();
    assert_eq!(
        (end.response, end.result),
        (None, ExchangeResult::AgentError)
    );
    let d = tam.device(&dev);
    let detail = d.status_detail.clone().unwrap_or_default();
    assert!(detail.contains("no space left"), "{detail}");
    assert!(tam.holdings(&dev).is_empty());
    assert_eq!(tam.storage.audit.last().unwrap().result, "agent-error");
    let replay = tam.post(&error, N).unwrap_err();
    assert_eq!(replay.kind(), Some(RefusalKind::ReplayedToken));
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert_eq!(dev.installed.len(), 1);
}

/// Policy over sessions: a higher sequence number in the catalog upgrades the device, and
/// an assignment that goes takes its TC with it (unneeded-manifest-list, DIGEST §9.13).
#[test]
fn a_higher_sequence_upgrades_and_unassigning_deletes() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    tam.add("hello", 2);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert_eq!(tam.holdings(&dev)[0].sequence, Some(2));

    tam.storage.assignments.clear();
    let response = tam.query_response(&dev, N);
    let update = update_of(&tam.post(&response, N).unwrap().response.unwrap(), N);
    assert!(update.manifest_list.is_empty());
    assert_eq!(update.unneeded_manifest_list, [manifest_component("hello")]);
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert!(dev.installed.is_empty());
    assert!(tam.holdings(&dev).is_empty());
    assert_eq!(tam.exchange(&mut dev), Exchange::UpToDate);
}

/// DIGEST §3.3: a TC in requested-tc-list is delivered and stays without an assignment; one
/// in unneeded-manifest-list (by its manifest component id) is removed.
#[test]
fn a_requested_tc_is_delivered_and_an_unneeded_one_removed() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add("on-demand", 1);
    let mut dev = device(2);
    assert_eq!(tam.exchange(&mut dev), Exchange::UpToDate);
    dev.requested.push(component("on-demand"));
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert_eq!(dev.installed, [component("on-demand")]);
    assert_eq!(tam.holdings(&dev)[0].origin, TcOrigin::Request.as_str());
    assert_eq!(tam.exchange(&mut dev), Exchange::UpToDate);
    dev.unneeded.push(manifest_component("on-demand"));
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert!(dev.installed.is_empty());
    assert!(tam.holdings(&dev).is_empty());
}

/// With requests off, only what policy assigns is delivered, requested or not.
#[test]
fn with_requests_off_only_assigned_tcs_are_delivered() {
    let mut tam = Tam::with(
        |c| crate::CoreConfig {
            enroll: Enroll::Tofu,
            allow_requests: false,
            ..c
        },
        Vec::new(),
    );
    let tc = tam.add("on-demand", 1);
    let mut dev = device(2);
    dev.requested.push(component("on-demand"));
    assert_eq!(tam.exchange(&mut dev), Exchange::UpToDate);
    assert!(dev.installed.is_empty());
    let id = tam.device(&dev).id;
    tam.storage
        .assignments
        .push((tc.component_id, Target::Device(id)));
    assert_eq!(tam.exchange(&mut dev), Exchange::Updated);
    assert_eq!(dev.installed, [component("on-demand")]);
}

/// DIGEST §0, §9.1: each path speaks one numbering, legacy included; a message in the
/// other numbering is explained, not misread.
#[test]
fn the_legacy_path_speaks_legacy_and_the_wrong_numbering_is_explained() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    assert_eq!(
        tam.exchange_in(&mut dev, Numbering::Legacy),
        Exchange::Updated
    );
    let request = tam.connect(N);
    let seen = dev
        .read_query_request(&request, N, &tam.tam_keys())
        .unwrap();
    let wrong = dev.query_response(&seen, Numbering::Legacy).unwrap();
    let refused = tam.post(&wrong, N).unwrap_err();
    assert_eq!(refused.kind(), Some(RefusalKind::WrongNumberingForPath));
    assert!(refused.to_string().contains("legacy"), "{refused}");
}

/// Interleaved sessions of many devices: each Success is recorded against the device whose
/// Update it answers, not a neighbour's.
#[test]
fn interleaved_sessions_of_distinct_devices_each_complete() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let mut devices: Vec<_> = (10..30).map(device).collect();
    let updates: Vec<Vec<u8>> = devices
        .iter()
        .map(|d| {
            let response = tam.query_response(d, N);
            tam.post(&response, N).unwrap().response.unwrap()
        })
        .collect();
    let successes: Vec<Vec<u8>> = devices
        .iter_mut()
        .zip(&updates)
        .map(|(d, u)| {
            let token = d.read_update(u, N).unwrap();
            d.success(token, N).unwrap()
        })
        .collect();
    for s in successes.iter().rev() {
        assert_eq!(tam.post(s, N).unwrap().result, ExchangeResult::Success);
    }
    for d in &devices {
        assert_eq!(tam.device(d).status, DeviceStatus::Attested);
        assert_eq!(tam.holdings(d).len(), 1);
    }
    assert_eq!(tam.storage.devices.len(), 20);
}

/// Two first contacts of one new device whose answers were computed before either
/// committed: whichever commits first enrolls it, the other finds it enrolled, and both
/// sessions complete.
#[test]
fn parallel_first_contacts_of_one_new_device_both_complete() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    let first = tam.query_response(&dev, N);
    let second = tam.query_response(&dev, N);
    let (m1, c1) = tam.load(&first, N).unwrap();
    let (m2, c2) = tam.load(&second, N).unwrap();
    let a1 = tam.answer(m1, &c1).unwrap();
    let a2 = tam.answer(m2, &c2).unwrap();
    assert!(a1.effects.new_device.is_some() && a2.effects.new_device.is_some());
    let u1 = tam.commit(a1).unwrap().response.unwrap();
    let u2 = tam.commit(a2).unwrap().response.unwrap();
    assert_eq!(tam.storage.devices.len(), 1);
    for update in [u1, u2] {
        let token = dev.read_update(&update, N).unwrap();
        let success = dev.success(token, N).unwrap();
        assert_eq!(
            tam.post(&success, N).unwrap().result,
            ExchangeResult::Success
        );
    }
    assert_eq!(
        tam.holdings(&dev)
            .iter()
            .map(|h| h.component_id.clone())
            .collect::<Vec<_>>(),
        [component("hello").encode()]
    );
}

/// What ties the steps of a session together in the server's logs comes from the core: each
/// answer names the device and the token it answered, and an Update's token is the one the
/// Success answers.
#[test]
fn each_step_names_its_device_and_the_token_the_next_step_answers() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let mut dev = device(3);
    let connect = tam
        .core
        .handle_connect(N, tam.now, &mut Counter(7))
        .unwrap();
    let seen = dev
        .read_query_request(connect.response.as_ref().unwrap(), N, &[])
        .unwrap();
    assert_eq!(connect.token, seen.token);
    let response = dev.query_response(&seen, N).unwrap();
    let answer = tam.post(&response, N).unwrap();
    assert_eq!(answer.token, seen.token);
    assert_eq!(answer.device_kid, Some(dev.kid()));
    let next = answer.effects.new_session.as_ref().unwrap().token.clone();
    let token = dev
        .read_update(answer.response.as_ref().unwrap(), N)
        .unwrap();
    assert_eq!(token.as_ref(), Some(&next));
    let success = dev.success(token, N).unwrap();
    let end = tam.post(&success, N).unwrap();
    assert_eq!((end.token, end.device_kid), (Some(next), Some(dev.kid())));
}

/// The audit keeps the Update sent (the web UI's session view opens it) up to
/// `audit_response_max`; a larger one is kept abridged: unsigned, its token (so the Success
/// still joins the session), no manifest-list, and a note saying so.
#[test]
fn the_audit_keeps_the_update_whole_or_abridged_over_the_cap() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let dev = device(2);
    let response = tam.query_response(&dev, N);
    let sent = tam.post(&response, N).unwrap().response.unwrap();
    let audit = tam.storage.audit.last().unwrap();
    assert_eq!(audit.response.as_deref(), Some(&sent[..]));
    // Only the deviation of a device holding nothing (`tc-list: []`).
    assert_eq!(audit.notes.len(), 1, "{:?}", audit.notes);
    assert!(audit.notes[0].starts_with("teep.tc-list-empty"));

    let mut tam = Tam::with(
        |c| crate::CoreConfig {
            enroll: Enroll::Tofu,
            audit_response_max: 64,
            ..c
        },
        Vec::new(),
    );
    tam.add_assigned("hello", 1);
    let response = tam.query_response(&dev, N);
    let sent = update_of(&tam.post(&response, N).unwrap().response.unwrap(), N);
    let audit = tam.storage.audit.last().unwrap();
    let kept = match teep_proto::decode(audit.response.as_deref().unwrap(), N).unwrap() {
        TeepMessage::Update(u) => u,
        other => panic!("expected an Update, got {}", other.type_name()),
    };
    assert_eq!(kept.token, sent.token);
    assert!(kept.manifest_list.is_empty());
    assert_eq!(sent.manifest_list.len(), 1);
    assert!(
        audit.notes[0].contains("kept abridged: unsigned, without its manifest-list of 1 envelope(s) (audit_response_max 64)"),
        "{:?}",
        audit.notes
    );
}

/// -26 §4.6 (err-lang): the TAM keeps the language an agent named for its err-msg beside it
/// in the device's status and processes err-code regardless (the session ends as for any
/// Error).
#[test]
fn teep_4_6_agent_err_lang_is_kept_with_err_msg() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    let response = tam.query_response(&dev, N);
    let update = tam.post(&response, N).unwrap().response.unwrap();
    let token = dev.read_update(&update, N).unwrap();
    let mut e = teep_proto::ErrorMessage::new(teep_proto::ErrorCode::ManifestProcessingFailed);
    e.token = token;
    e.err_msg = Some("kein Speicherplatz".into());
    e.err_lang = Some("de".into());
    let error = dev.sign(&teep_proto::TeepMessage::Error(e), N).unwrap();
    let end = tam.post(&error, N).unwrap();
    assert_eq!(end.result, ExchangeResult::AgentError);
    let detail = tam.device(&dev).status_detail.clone().unwrap_or_default();
    assert!(detail.ends_with("kein Speicherplatz [de]"), "{detail}");
}
