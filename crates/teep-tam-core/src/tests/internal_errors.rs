//! The TAM's own failures: a stored record it cannot read is its error, never read as
//! "nothing" (a corrupt outstanding Update read as "installed nothing" would lose what the
//! device holds), and nothing of the step is committed.

use teep_proto::Numbering;

use super::harness::*;
use crate::model::{CorruptRecord, InstalledTc, SessionKind, SessionRecord};
use crate::session::PendingUpdate;
use crate::{CoreConfig, Enroll, InternalError, Rejection, TamCore};

const N: Numbering = Numbering::Draft26;

/// Posts `body`; the TAM fails on its own account and storage is left as it was.
fn internal(tam: &mut Tam, body: &[u8]) -> InternalError {
    let audit = tam.storage.audit.len();
    match tam.post(body, N) {
        Err(Rejection::Internal(e)) => {
            assert_eq!(tam.storage.audit.len(), audit, "nothing committed");
            assert_eq!(
                Rejection::Internal(InternalError::NoSigningKey).code(),
                "internal"
            );
            e
        }
        other => panic!("expected an internal error, got {other:?}"),
    }
}

/// A registered device with an outstanding Update, and its Success.
fn success_for_outstanding_update(tam: &mut Tam) -> (Vec<u8>, Vec<u8>) {
    tam.add_assigned("hello", 1);
    let mut dev = device(2);
    tam.register(&dev, &[]);
    let response = tam.query_response(&dev, N);
    let update = tam.post(&response, N).unwrap().response.unwrap();
    let token = dev.read_update(&update, N).unwrap().unwrap();
    (token.clone(), dev.success(Some(token), N).unwrap())
}

#[test]
fn a_corrupt_pending_update_fails_the_success_instead_of_recording_nothing() {
    let mut tam = Tam::new(Enroll::Registered);
    let (token, success) = success_for_outstanding_update(&mut tam);
    tam.storage.sessions.get_mut(&token).unwrap().pending = Some("{\"install\":7}".into());
    let e = internal(&mut tam, &success);
    assert!(
        matches!(
            e,
            InternalError::CorruptRecord(CorruptRecord::PendingUpdate { .. })
        ),
        "{e:?}"
    );
    assert!(e.to_string().starts_with(&format!(
        "stored session {}: pending update: ",
        hex::encode(&token)
    )));
    assert!(
        !tam.storage.sessions[&token].answered,
        "the token is still outstanding"
    );
}

#[test]
fn an_update_session_without_a_pending_record_recorded_nothing() {
    let mut tam = Tam::new(Enroll::Registered);
    let (token, success) = success_for_outstanding_update(&mut tam);
    tam.storage.sessions.get_mut(&token).unwrap().pending = None;
    let outcome = tam.post(&success, N).unwrap();
    assert!(outcome.effects.device.unwrap().add_installed.is_empty());
}

#[test]
fn pending_updates_read_what_earlier_versions_stored() {
    let cid = vec![0x81, 0x41, 0x61];
    let session = SessionRecord {
        token: vec![1; 16],
        kind: SessionKind::Update,
        device_kid: None,
        challenge: None,
        numbering: "draft26".into(),
        pending: Some(r#"{"install":[[[129,65,97],3,"request"]],"remove":[[1]]}"#.into()),
        created_at: 0,
        expires_at: 1,
        answered: false,
    };
    let p = PendingUpdate::from_session(&session).unwrap();
    assert_eq!(
        p,
        PendingUpdate {
            install: vec![(cid, 3, crate::model::TcOrigin::Request)],
            remove: vec![vec![1]],
        }
    );
    assert_eq!(p.to_stored().unwrap(), session.pending.unwrap());
}

#[test]
fn a_stored_device_key_that_does_not_parse_is_an_internal_error() {
    let mut tam = Tam::new(Enroll::Registered);
    let dev = device(2);
    tam.register(&dev, &[]);
    tam.storage.devices[0].teep_key = b"not a key".to_vec();
    let body = tam.query_response(&dev, N);
    let e = internal(&mut tam, &body);
    assert!(
        matches!(e, InternalError::StoredDeviceKey { device_id: 1, .. }),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("stored key of device 1: "), "{e}");
}

#[test]
fn a_stored_attestation_key_that_does_not_parse_is_an_internal_error() {
    let mut tam = Tam::new(Enroll::Registered);
    let dev = device(2);
    tam.register(&dev, &[]);
    tam.storage.devices[0].attest_key = Some(b"not a key".to_vec());
    let body = tam.query_response(&dev, N);
    let e = internal(&mut tam, &body);
    assert!(e.to_string().starts_with("stored attestation key: "), "{e}");
}

#[test]
fn a_stored_session_in_an_unknown_numbering_is_an_internal_error() {
    let mut tam = Tam::new(Enroll::Registered);
    let (token, success) = success_for_outstanding_update(&mut tam);
    tam.storage.sessions.get_mut(&token).unwrap().numbering = "draft99".into();
    let e = internal(&mut tam, &success);
    assert_eq!(
        e.to_string(),
        format!(
            "stored session {}: numbering \"draft99\" is not draft26 or legacy",
            hex::encode(&token)
        )
    );
}

#[test]
fn a_stored_holding_of_unknown_origin_is_an_internal_error() {
    let mut tam = Tam::new(Enroll::Registered);
    let dev = device(2);
    let id = tam.register(&dev, &[]);
    tam.storage.holdings.insert(
        id,
        vec![InstalledTc {
            component_id: component("a").encode(),
            sequence: Some(1),
            digest: None,
            origin: "mystery".into(),
            updated_at: 0,
        }],
    );
    let mut dev = dev;
    dev.installed = vec![component("a")];
    let body = tam.query_response(&dev, N);
    let e = internal(&mut tam, &body);
    assert_eq!(
        e.to_string(),
        "stored holding: origin \"mystery\" is not policy, request, device or dependency"
    );
}

#[test]
fn a_catalog_manifest_component_id_that_does_not_decode_is_an_internal_error() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let mut dev = device(2);
    tam.exchange(&mut dev);
    tam.storage.catalog[0].manifest_component_id = Some(vec![0xff]);
    tam.storage.assignments.clear();
    let body = tam.query_response(&dev, N);
    let e = internal(&mut tam, &body);
    assert!(
        e.to_string().starts_with("manifest component id ff: "),
        "{e}"
    );
}

#[test]
fn a_tam_without_a_signing_key_fails_on_its_own_account() {
    let mut tam = Tam::new(Enroll::Tofu);
    tam.add_assigned("a", 1);
    let body = tam.query_response(&device(2), N);
    // Another process of the same database (same token key) that has no TEEP key.
    tam.core = TamCore::new(
        Vec::new(),
        Vec::new(),
        CoreConfig {
            enroll: Enroll::Tofu,
            ..CoreConfig::default()
        },
        token_key(),
    );
    let e = internal(&mut tam, &body);
    assert_eq!(e.to_string(), "the TAM has no signing key");
}
