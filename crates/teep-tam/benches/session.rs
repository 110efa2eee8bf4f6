//! The sans-IO TAM core per step, without HTTP or storage, next to the bare signature
//! operations it performs: the difference is the TAM's own (non-crypto) cost.

use std::sync::Arc;

use teep_bench::sim::SimDevice;
use teep_cose::{KeyType, PrivateKey, Signer, SoftwareSigner};
use teep_proto::Numbering;
use teep_tam::model::*;
use teep_tam::random::OsRandom;
use teep_tam::session::{Context, CoreConfig, TamCore};
use teep_tam::token::TokenKey;

fn main() {
    divan::main();
}

const N: Numbering = Numbering::Draft26;

struct Setup {
    core: TamCore,
    device: SimDevice,
    query_response: Vec<u8>,
    ctx: Context,
    success: Vec<u8>,
    success_ctx: Context,
}

fn setup() -> Setup {
    let signers: Vec<Arc<dyn Signer>> = vec![
        Arc::new(SoftwareSigner::new(PrivateKey::generate(KeyType::P256))),
        Arc::new(SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519))),
    ];
    let tc_signer = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
    let core = TamCore::new(
        signers,
        Vec::new(),
        CoreConfig::default(),
        TokenKey::new(&[0x51; 32]),
    );
    let mut device = SimDevice::new(KeyType::P256);
    let mut rng = OsRandom;
    let connect = core.handle_connect(N, 0, &mut rng).unwrap();
    let seen = device
        .read_query_request(connect.response.as_deref().unwrap(), N, &[])
        .unwrap();
    let query_response = device.query_response(&seen, N).unwrap();
    let ids = teep_tam::suit_wrap::ta_ids("bench");
    let envelope = teep_tam::suit_wrap::wrap_ta(&ids, &[0u8; 4096], 1, &tc_signer).unwrap();
    let tc = teep_tam::catalog::new_tc(Some("bench"), &envelope).unwrap();
    let record = TcRecord {
        id: 1,
        name: tc.name.clone(),
        component_id: tc.component_id.clone(),
        manifest_component_id: tc.manifest_component_id.clone(),
        sequence: 1,
        envelope: tc.envelope.clone(),
        manifest_digest: None,
        payload_digest: tc.payload_digest.clone(),
        signer_kid: None,
        created_at: 0,
        dependencies: tc.dependencies.clone(),
    };
    let pk = device.public_key();
    let dev_record = DeviceRecord {
        id: 1,
        name: None,
        kid: pk.thumbprint().to_vec(),
        teep_key: pk.to_cose_key(),
        attest_key: None,
        suite_alg: Some(-9),
        status: DeviceStatus::Attested,
        status_detail: None,
        ueid: None,
        claims: None,
        created_at: 0,
        last_seen: None,
        tags: Vec::new(),
    };
    let ctx = Context {
        session: seen.token.as_deref().and_then(|t| core.query_session(t)),
        device: Some(dev_record.clone()),
        installed: Vec::new(),
        catalog: Arc::new(vec![record]),
        assigned: vec![tc.component_id.clone()],
        ..Default::default()
    };
    let inspected = core.inspect(&query_response, N).unwrap();
    let update = core.handle_message(inspected, &ctx, 1, &mut rng).unwrap();
    let token = device
        .read_update(update.response.as_deref().unwrap(), N)
        .unwrap();
    let success = device.success(token, N).unwrap();
    let success_ctx = Context {
        session: update.effects.new_session.clone(),
        device: Some(dev_record),
        catalog: ctx.catalog.clone(),
        ..Default::default()
    };
    Setup {
        core,
        device,
        query_response,
        ctx,
        success,
        success_ctx,
    }
}

#[divan::bench]
fn connect_query_request_cose_sign(b: divan::Bencher) {
    let s = setup();
    let mut rng = OsRandom;
    b.bench_local(|| s.core.handle_connect(N, 0, &mut rng).unwrap());
}

#[divan::bench]
fn query_response_to_update(b: divan::Bencher) {
    let s = setup();
    let mut rng = OsRandom;
    b.bench_local(|| {
        let i = s.core.inspect(&s.query_response, N).unwrap();
        s.core.handle_message(i, &s.ctx, 1, &mut rng).unwrap()
    });
}

#[divan::bench]
fn success_to_204(b: divan::Bencher) {
    let s = setup();
    let mut rng = OsRandom;
    b.bench_local(|| {
        let i = s.core.inspect(&s.success, N).unwrap();
        s.core
            .handle_message(i, &s.success_ctx, 1, &mut rng)
            .unwrap()
    });
}

/// The signature work of one exchange on the TAM side, alone: ESP256 + Ed25519 sign
/// (QueryRequest), ESP256 sign (Update), three ESP256 verifies (QueryResponse, evidence,
/// Success).
#[divan::bench]
fn crypto_only_per_exchange(b: divan::Bencher) {
    let s = setup();
    let p256 = s.core.signers()[0].clone();
    let ed = s.core.signers()[1].clone();
    let dev_pk = s.device.public_key();
    let msg = [7u8; 200];
    let dev_sig = s.device.signer.sign(&msg).unwrap();
    b.bench_local(|| {
        p256.sign(&msg).unwrap();
        ed.sign(&msg).unwrap();
        p256.sign(&msg).unwrap();
        for _ in 0..3 {
            dev_pk
                .verify(teep_cose::Algorithm::Esp256, &msg, &dev_sig)
                .unwrap();
        }
    });
}
