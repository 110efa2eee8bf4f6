//! Parse+verify and process of an envelope with a 1 MiB integrated payload.

use bytes::Bytes;
use teep_suit::*;

fn main() {
    divan::main();
}

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec");

fn setup() -> (Bytes, TrustAnchors) {
    let pem = std::fs::read(format!("{SPEC}/keys/suit-examples-p256-private.pem")).unwrap();
    let key = teep_cose::PrivateKey::from_bytes_any(&pem).unwrap();
    let anchors = TrustAnchors::new(vec![key.public_key()]);
    let signer = teep_cose::SoftwareSigner::new(key);
    let payload: Vec<u8> = (0..1u32 << 20).map(|i| i as u8).collect();
    let id = vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        vec![0x8d; 16],
        b"ta".to_vec(),
    ];
    let (env, _) = ManifestBuilder::new(id.into(), payload)
        .build(&signer, &[1; 64])
        .unwrap();
    (Bytes::from(env), anchors)
}

#[divan::bench]
fn parse_verify_1mib(b: divan::Bencher) {
    let (env, anchors) = setup();
    b.counter(divan::counter::BytesCount::new(env.len()))
        .bench(|| verify_envelope(divan::black_box(env.clone()), &anchors).unwrap());
}

#[divan::bench]
fn process_1mib(b: divan::Bencher) {
    let (env, anchors) = setup();
    let p = Processor::new(anchors);
    b.counter(divan::counter::BytesCount::new(env.len()))
        .with_inputs(MemoryStore::new)
        .bench_local_values(|mut store| {
            let out = p.install(env.clone(), &mut store, &mut NoFetcher);
            assert!(out.result.is_ok());
            store
        });
}

#[divan::bench]
fn decode_teep_integrated_example(b: divan::Bencher) {
    let env = std::fs::read(format!(
        "{SPEC}/teep-protocol/common/derived/suit_integrated.cbor"
    ))
    .unwrap();
    let env = Bytes::from(env);
    b.bench(|| {
        decode_envelope_unverified(divan::black_box(env.clone()), &Limits::default())
            .unwrap()
            .sequence_number()
    });
}

#[divan::bench]
fn verify_and_install_teep_integrated_example(b: divan::Bencher) {
    let env = std::fs::read(format!(
        "{SPEC}/teep-protocol/common/derived/suit_integrated.cbor"
    ))
    .unwrap();
    let env = Bytes::from(env);
    let pem = std::fs::read(format!("{SPEC}/keys/suit-examples-p256-public.pem")).unwrap();
    let p = Processor::new(TrustAnchors::new(vec![
        teep_cose::PublicKey::from_bytes_any(&pem).unwrap(),
    ]));
    b.with_inputs(MemoryStore::new)
        .bench_local_values(|mut store| {
            assert!(p
                .install(env.clone(), &mut store, &mut NoFetcher)
                .result
                .is_ok());
            store
        });
}
