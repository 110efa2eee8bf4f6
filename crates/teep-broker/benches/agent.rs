//! Agent and TA timings: a TEEP QueryRequest answered with Evidence, and a warm TA invoke
//! (TEE open, module installed; each iteration opens a session, invokes and closes).

use std::sync::Arc;

use teep_agent::agent::{Agent, AgentConfig};
use teep_agent::state::AgentState;
use teep_broker::device::TeeDevice;
use teep_cose::{KeyType, PrivateKey, Signer, SoftwareSigner};
use teep_proto::{CipherSuite, DataItems, Numbering, QueryRequest, TeepMessage};
use teep_tee::{ComponentBatch, SoftwareTee, Tee};

fn main() {
    divan::main();
}

fn tee_with_hello(dir: &std::path::Path) -> (Arc<dyn Tee>, teep_tee::ComponentId) {
    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
    let id = teep_agent::TcId::parse("hello").unwrap().0;
    let mut batch = ComponentBatch::new();
    batch.put_component(id.clone(), teep_tee::examples::HELLO_WASM.to_vec());
    tee.commit_components(&batch).unwrap();
    (tee, id)
}

#[divan::bench]
fn ta_invoke_warm(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let (tee, id) = tee_with_hello(dir.path());
    bencher.bench(|| tee.invoke_once(&id, 0, b"").unwrap());
}

#[divan::bench]
fn query_request_with_evidence(bencher: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let (tee, _) = tee_with_hello(dir.path());
    let tam = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
    let config = AgentConfig {
        tam_trust_anchors: vec![tam.public_key()],
        ..Default::default()
    };
    let qr = TeepMessage::QueryRequest(QueryRequest {
        challenge: Some(vec![5; 32]),
        supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
        data_item_requested: DataItems(DataItems::ATTESTATION | DataItems::TRUSTED_COMPONENTS),
        ..Default::default()
    });
    let bytes = teep_cose::sign1(&qr.encode(Numbering::Draft26), &tam).unwrap();
    let mut device = TeeDevice::new(tee);
    let mut state = AgentState::default();
    bencher.bench_local(|| {
        let mut random = |b: &mut [u8]| b.fill(1);
        let out = Agent::new(&config, &mut state, &mut device).handle_message(
            "http://tam",
            &bytes,
            &mut random,
        );
        assert!(out.reply.is_some());
    });
}
