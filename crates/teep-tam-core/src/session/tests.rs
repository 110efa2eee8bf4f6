use std::sync::Arc;

use teep_bench::sim::SimDevice;
use teep_cose::{PrivateKey, Signer, SoftwareSigner};
use teep_proto::Numbering;

use super::*;
use crate::model::*;

const NOW: i64 = 1_800_000_000_000;

struct Counter(u8);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

fn core() -> TamCore {
    let ed: Arc<dyn Signer> = Arc::new(SoftwareSigner::new(
        PrivateKey::from_ed25519_seed(&[0x43; 32]).unwrap(),
    ));
    TamCore::new(
        vec![ed],
        Vec::new(),
        CoreConfig::default(),
        TokenKey::new(&[0x51; 32]),
    )
}

fn registered(dev: &SimDevice) -> DeviceRecord {
    DeviceRecord {
        id: 9,
        name: None,
        kid: dev.kid(),
        teep_key: dev.public_key().to_cose_key(),
        attest_key: None,
        suite_alg: None,
        status: DeviceStatus::Registered,
        status_detail: None,
        ueid: None,
        claims: None,
        created_at: NOW - 3_600_000,
        last_seen: None,
        tags: Vec::new(),
    }
}

/// A QueryRequest made at `now` and `dev`'s QueryResponse to it, with the context the
/// adapter would load for it when storage holds `stored` for the device.
fn query_response(
    core: &TamCore,
    dev: &SimDevice,
    stored: &DeviceRecord,
    now: i64,
) -> (Vec<u8>, Context) {
    let request = core
        .handle_connect(Numbering::Draft26, now, &mut Counter(0))
        .unwrap();
    let token = request.token.unwrap();
    let seen = dev
        .read_query_request(&request.response.unwrap(), Numbering::Draft26, &[])
        .unwrap();
    let body = dev.query_response(&seen, Numbering::Draft26).unwrap();
    let ctx = Context {
        session: core.query_session(&token),
        device: Some(stored.clone()),
        ..Default::default()
    };
    (body, ctx)
}

/// One full QueryRequest/QueryResponse at `now` against what storage holds for the
/// device; returns the device-row changes the TAM would commit.
fn device_changes(
    core: &TamCore,
    dev: &SimDevice,
    stored: &DeviceRecord,
    now: i64,
) -> DeviceUpdate {
    let (body, ctx) = query_response(core, dev, stored, now);
    let msg = core.inspect(&body, Numbering::Draft26).unwrap();
    let outcome = core
        .handle_message(msg, &ctx, now, &mut Counter(0))
        .unwrap();
    assert_eq!(outcome.result, ExchangeResult::NoUpdate);
    outcome.effects.device.unwrap()
}

/// What storage holds after `u` was committed at `now` over `stored`.
fn committed(stored: &DeviceRecord, u: &DeviceUpdate, now: i64) -> DeviceRecord {
    let mut d = stored.clone();
    if u.writes_row() {
        u.apply_row(&mut d, now);
    }
    d
}

#[test]
fn a_token_is_answered_until_its_lifetime_ends_and_refused_after() {
    let core = core();
    let ttl = core.config.session_ttl_ms;
    let dev = SimDevice::from_key(PrivateKey::from_ed25519_seed(&[0x12; 32]).unwrap());
    let n = Numbering::Draft26;
    let (body, ctx) = query_response(&core, &dev, &registered(&dev), NOW);
    let answer =
        |now| core.handle_message(core.inspect(&body, n).unwrap(), &ctx, now, &mut Counter(9));
    answer(NOW + ttl).unwrap();
    let e = answer(NOW + ttl + 1_500).err().unwrap();
    assert_eq!(
        (e.kind(), e.code()),
        (Some(RefusalKind::ExpiredToken), "expired")
    );
    assert_eq!(
        e.to_string(),
        "QueryResponse.token: expired 2 s ago (tokens are valid for 21600 s); start a new session"
    );
}

#[test]
fn a_device_row_is_rewritten_only_for_news_or_a_stale_last_seen() {
    let core = core();
    let dev = SimDevice::from_key(PrivateKey::from_ed25519_seed(&[0x12; 32]).unwrap());
    let fresh = registered(&dev);

    // First attested contact: everything is new.
    let u = device_changes(&core, &dev, &fresh, NOW);
    assert!(u.touch && u.suite_alg.is_some() && u.claims.is_some() && u.ueid.is_some());
    assert_eq!(u.status, Some(DeviceStatus::Attested));
    let stored = committed(&fresh, &u, NOW);

    // The same report 59 s later changes nothing: the row is left alone.
    let u = device_changes(&core, &dev, &stored, NOW + 59_000);
    assert!(!u.writes_row(), "{u:?}");

    // A minute after the last write, the row is written for last_seen alone.
    let u = device_changes(&core, &dev, &stored, NOW + LAST_SEEN_RESOLUTION_MS);
    assert!(u.writes_row() && u.touch);
    assert!(u.suite_alg.is_none() && u.status.is_none() && u.claims.is_none() && u.ueid.is_none());

    // A clock that went back also writes.
    assert!(device_changes(&core, &dev, &stored, NOW - 1).touch);

    // Anything that differs from storage is written, even within the minute: a status
    // an operator changed, claims from another appraisal, an unknown suite.
    let mut other = stored.clone();
    other.status = DeviceStatus::AttestationFailed;
    other.claims = Some("{}".into());
    other.suite_alg = None;
    let u = device_changes(&core, &dev, &other, NOW + 1_000);
    assert!(!u.touch);
    assert_eq!(u.status, Some(DeviceStatus::Attested));
    assert_eq!(u.claims, stored.claims);
    assert_eq!(u.suite_alg, stored.suite_alg);
    assert!(u.ueid.is_none() && u.status_detail.is_none());
}
