//! The TAM's message path: `inspect` then `handle_message` against a fixed TAM, a registered
//! device, a catalog of one TC and an outstanding QueryRequest (or Update). The first input
//! byte picks how the rest becomes a request body:
//!
//! * 0: the body itself;
//! * 1: the device's valid QueryResponse with a few bytes changed (the signature then fails);
//! * 2: a QueryResponse signed by the device whose attestation-payload is the input;
//! * 3: the same with the input as EAT claims in a COSE_Sign1 signed by the device (or by a
//!   trusted Verifier), so the claims reader runs behind a valid evidence signature;
//! * 4: the input as the TEEP payload of a COSE_Sign1 signed by the device (any message type,
//!   any options: reaches the policy with a valid signature);
//! * 5: the device's valid QueryResponse payload with a few bytes changed, signed again;
//! * 6: the device's valid evidence claims with a few bytes changed, signed again.
//!
//! The other bits of the first byte pick the numbering, the device's key type, open
//! enrollment, an unknown device and an Update session. Every answer must be an Outcome or a
//! refusal (never the TAM's own error), and every message the TAM sends must decode.
#![no_main]

mod common;

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use teep_cose::eat::{Confirmation, EatClaims, HwVersion, ManifestEntry, OemId, VersionString};
use teep_cose::{PrivateKey, Signer, SoftwareSigner};
use teep_proto::{Numbering, QueryResponse, SystemPropertyClaims, TeepMessage};
use teep_tam_core::model::{
    ComponentId, DeviceRecord, DeviceStatus, SessionKind, SessionRecord, TcOrigin, TcRecord,
};
use teep_tam_core::session::{CoreConfig, PendingUpdate, Random};
use teep_tam_core::token::TokenKey;
use teep_tam_core::wire::signed;
use teep_tam_core::{Context, TamCore};
use teep_tam_core::{Enroll, ExchangeResult};

const NOW: i64 = 1_800_000_000_000;

/// With `TEEP_TAM_FUZZ_TRACE` set, each input prints its result word or rejection code, so
/// a run over the corpus shows which outcomes it reaches.
fn trace(what: &str) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("TEEP_TAM_FUZZ_TRACE").is_some()) {
        eprintln!("teep-tam-fuzz: {what}");
    }
}

/// Deterministic randomness: a counter, so a crash replays the same way.
struct Counter(u8);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// What one device sends for one numbering.
struct Valid {
    /// Token of the QueryRequest the TAM sent.
    token: Vec<u8>,
    /// The device's signed QueryResponse, its TEEP payload, and its evidence's claims.
    signed: Vec<u8>,
    payload: Vec<u8>,
    claims: Vec<u8>,
}

struct Dev {
    signer: SoftwareSigner,
    record: DeviceRecord,
    /// Per numbering: Draft26, Legacy.
    valid: [Valid; 2],
}

struct Fixture {
    registered: TamCore,
    open: TamCore,
    verifier: SoftwareSigner,
    devices: [Dev; 2],
    /// Per numbering: the outstanding QueryRequest and an outstanding Update.
    query: [SessionRecord; 2],
    update: [SessionRecord; 2],
    catalog: Arc<Vec<TcRecord>>,
    assigned: Vec<Vec<u8>>,
}

/// A device's evidence for `nonce`: an EAT with the claims the TAM's EAT profile asks for,
/// `cnf` = the device key, signed by the device.
fn evidence(device: &SoftwareSigner, nonce: &[u8]) -> Vec<u8> {
    let public = device.public_key();
    let mut ueid = vec![0x01];
    ueid.extend_from_slice(&public.thumbprint()[..16]);
    EatClaims {
        cnf: Some(Confirmation::Key(public)),
        eat_nonce: Some(nonce.to_vec()),
        ueid: Some(ueid),
        oemid: Some(OemId::Bytes(vec![0x00, 0x1b, 0x63])),
        hwmodel: Some(b"fuzz-tee".to_vec()),
        hwversion: Some(HwVersion {
            version: VersionString::Text("1.0".into()),
            scheme: None,
        }),
        manifests: Some(vec![ManifestEntry {
            content_type: ciborium::Value::Text("application/suit-report+cose".into()),
            format: ciborium::Value::Bytes(vec![0xa0]),
        }]),
        ..Default::default()
    }
    .sign(device)
    .unwrap()
}

/// The device's signed QueryResponse to `request`: evidence for its challenge and, if it
/// holds a TC, a tc-list entry with that TC's image digest.
fn answer(
    device: &SoftwareSigner,
    request: &[u8],
    n: Numbering,
    holds: Option<(&ComponentId, &[u8])>,
) -> (Vec<u8>, Vec<u8>) {
    let (_, msg) = signed::open_message(request, n).unwrap();
    let TeepMessage::QueryRequest(q) = msg else {
        panic!("the TAM's first message is not a QueryRequest: {msg:?}");
    };
    let ev = evidence(device, q.challenge.as_deref().unwrap_or_default());
    let tc_list = holds
        .map(|(cid, digest)| {
            let mut parameters = std::collections::BTreeMap::new();
            parameters.insert(3, teep_proto::Value::Bytes(digest.to_vec()));
            SystemPropertyClaims {
                component_id: cid.clone(),
                parameters,
            }
        })
        .into_iter()
        .collect();
    let qr = TeepMessage::QueryResponse(QueryResponse {
        // Present even empty: the TAM asked for trusted-components.
        token: q.token,
        attestation_payload: Some(ev.clone()),
        tc_list: Some(tc_list),
        ..Default::default()
    });
    (signed::sign_message(&qr, n, device).unwrap(), ev)
}

fn core(enroll: Enroll, verifier: &SoftwareSigner) -> TamCore {
    let p256: Arc<dyn Signer> = Arc::new(SoftwareSigner::new(
        PrivateKey::from_p256_scalar(&[0x42; 32]).unwrap(),
    ));
    let ed: Arc<dyn Signer> = Arc::new(SoftwareSigner::new(
        PrivateKey::from_ed25519_seed(&[0x43; 32]).unwrap(),
    ));
    let config = CoreConfig {
        enroll,
        ..CoreConfig::default()
    };
    TamCore::new(
        vec![p256, ed],
        vec![verifier.public_key()],
        config,
        TokenKey::new(&[0x44; 32]),
    )
}

fn numbering_index(n: Numbering) -> usize {
    match n {
        Numbering::Draft26 => 0,
        Numbering::Legacy => 1,
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let verifier = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x45; 32]).unwrap());
        let registered = core(Enroll::Registered, &verifier);
        let open = core(Enroll::Tofu, &verifier);
        let mut rng = Counter(0);

        // One QueryRequest per numbering, as the TAM sends it on first contact.
        let requests: Vec<(Vec<u8>, Vec<u8>, SessionRecord)> =
            [Numbering::Draft26, Numbering::Legacy]
                .into_iter()
                .map(|n| {
                    let o = registered.handle_connect(n, NOW, &mut rng).unwrap();
                    let token = o.token.unwrap();
                    let session = registered.query_session(&token).unwrap();
                    (o.response.unwrap(), token, session)
                })
                .collect();

        // The catalog: one TC, signed by a TC signer, assigned to every device.
        let tc_signer = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x51; 32]).unwrap());
        let (env, _) = common::ta_manifest().build(&tc_signer, &[0; 64]).unwrap();
        let manifest = teep_suit::decode_envelope_unverified(env.clone(), &Default::default())
            .unwrap()
            .manifest;
        let cid = manifest.common.components[0].clone();
        let payload_digest = match manifest.shared_parameter(3) {
            Some(teep_suit::Parameter::ImageDigest(d)) => teep_suit::codec::encode_digest(d),
            p => panic!("the catalog TC has no image digest: {p:?}"),
        };
        let record = TcRecord {
            id: 1,
            name: "ta".into(),
            component_id: cid.encode(),
            manifest_component_id: manifest
                .manifest_component_id
                .as_ref()
                .map(ComponentId::encode),
            sequence: manifest.sequence_number,
            envelope: env,
            manifest_digest: None,
            payload_digest: Some(payload_digest.clone()),
            signer_kid: Some(tc_signer.kid()),
            created_at: NOW - 1000,
            dependencies: Vec::new(),
        };

        // The first device holds nothing (its QueryResponse gets an Update); the second
        // reports the TC at the catalog's digest (no update).
        let make_device = |id: i64, key: PrivateKey, holds: bool| {
            let signer = SoftwareSigner::new(key);
            let holds = holds.then_some((&cid, payload_digest.as_slice()));
            let valid = [Numbering::Draft26, Numbering::Legacy].map(|n| {
                let (request, token, _) = &requests[numbering_index(n)];
                let (signed, evidence) = answer(&signer, request, n, holds);
                let payload = teep_cose::open(&signed).unwrap().payload.unwrap();
                let claims = teep_cose::open(&evidence).unwrap().payload.unwrap();
                Valid {
                    token: token.clone(),
                    signed,
                    payload,
                    claims,
                }
            });
            let device = DeviceRecord {
                id,
                name: Some(format!("device-{id}")),
                kid: signer.kid(),
                teep_key: signer.public_key().to_cose_key(),
                attest_key: None,
                suite_alg: None,
                status: DeviceStatus::Registered,
                status_detail: None,
                ueid: None,
                claims: None,
                created_at: NOW - 1000,
                last_seen: None,
                tags: vec!["fuzz".into()],
            };
            Dev {
                signer,
                record: device,
                valid,
            }
        };
        let devices = [
            make_device(1, PrivateKey::from_p256_scalar(&[0x11; 32]).unwrap(), false),
            make_device(2, PrivateKey::from_ed25519_seed(&[0x12; 32]).unwrap(), true),
        ];

        let query = [0, 1].map(|i| requests[i].2.clone());
        let update = [Numbering::Draft26, Numbering::Legacy].map(|n| SessionRecord {
            token: vec![0x77; 16],
            kind: SessionKind::Update,
            device_kid: None,
            challenge: None,
            numbering: n.name().into(),
            pending: pending_json(&record.component_id),
            created_at: NOW - 1000,
            expires_at: NOW + 60_000,
            answered: false,
        });
        Fixture {
            registered,
            open,
            verifier,
            devices,
            query,
            update,
            assigned: vec![record.component_id.clone()],
            catalog: Arc::new(vec![record]),
        }
    })
}

/// What an Update session stores for "installs this TC, removes nothing".
fn pending_json(component_id: &[u8]) -> Option<String> {
    let p = PendingUpdate {
        install: vec![(component_id.to_vec(), 3, TcOrigin::Policy)],
        remove: vec![],
    };
    Some(serde_json::to_string(&p).unwrap())
}

fn query_response(v: &Valid, attestation_payload: Vec<u8>, format: Option<&str>) -> TeepMessage {
    TeepMessage::QueryResponse(QueryResponse {
        token: Some(v.token.clone()),
        attestation_payload_format: format.map(str::to_string),
        attestation_payload: Some(attestation_payload),
        ..Default::default()
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let n = if flags & 0x08 == 0 {
        Numbering::Draft26
    } else {
        Numbering::Legacy
    };
    let ni = numbering_index(n);
    let dev = &f.devices[usize::from(flags & 0x10 != 0)];
    let v = &dev.valid[ni];
    let signer: &dyn Signer = &dev.signer;
    let format = (rest.first().is_some_and(|b| b & 1 == 1)).then_some("application/eat+cwt");
    let body = match flags & 0x07 {
        0 => rest.to_vec(),
        1 => common::mutate(&v.signed, rest),
        2 => signed::sign_message(&query_response(v, rest.to_vec(), format), n, signer).unwrap(),
        3 => {
            let ev_signer: &dyn Signer = if flags & 0x20 != 0 && flags & 0x40 == 0 {
                &f.verifier
            } else {
                signer
            };
            let ev = teep_cose::sign1(rest, ev_signer).unwrap();
            signed::sign_message(&query_response(v, ev, format), n, signer).unwrap()
        }
        4 => teep_cose::sign1(rest, signer).unwrap(),
        5 => teep_cose::sign1(&common::mutate(&v.payload, rest), signer).unwrap(),
        _ => {
            let ev = teep_cose::sign1(&common::mutate(&v.claims, rest), signer).unwrap();
            signed::sign_message(&query_response(v, ev, format), n, signer).unwrap()
        }
    };

    let core = if flags & 0x20 != 0 {
        &f.open
    } else {
        &f.registered
    };
    let msg = match core.inspect(&body, n) {
        Ok(m) => m,
        Err(r) => {
            assert!(r.refusal().is_some(), "{r:?}");
            trace(&format!("inspect {}", r.code()));
            return;
        }
    };
    let _ = (msg.token(), msg.kids());
    let session = if flags & 0x80 != 0 {
        f.update[ni].clone()
    } else {
        msg.token()
            .and_then(|t| core.query_session(t))
            .unwrap_or_else(|| f.query[ni].clone())
    };
    let ctx = Context {
        session: Some(session),
        device: (flags & 0x40 == 0).then(|| dev.record.clone()),
        installed: Vec::new(),
        catalog: f.catalog.clone(),
        assigned: f.assigned.clone(),
        signer_search: None,
        verifier: None,
        endorsement_roots: Default::default(),
    };
    let mut rng = Counter(0x80);
    match core.handle_message(msg, &ctx, NOW, &mut rng) {
        Ok(o) => {
            trace(&format!("outcome {}", o.result));
            // An unsolicited QueryResponse to a TAM that requires attestation is answered with
            // a fresh QueryRequest and uses no session; every other outcome consumes one.
            let fresh_query = o.result == ExchangeResult::QueryRequest;
            assert!(o.effects.consume.is_some() || fresh_query, "{o:?}");
            if let Some(reply) = &o.response {
                let (_, m) = signed::open_message(reply, n)
                    .unwrap_or_else(|e| panic!("the TAM's own reply does not decode: {e}"));
                let expected = if fresh_query {
                    matches!(m, TeepMessage::QueryRequest(_))
                } else {
                    matches!(m, TeepMessage::Update(_))
                };
                assert!(expected, "{m:?}");
            }
            if let Some(json) = &o.response_json {
                assert!(json.is_object());
            }
        }
        Err(r) => {
            trace(&format!("rejection {}", r.code()));
            assert!(r.refusal().is_some(), "{r:?}");
        }
    }
});
