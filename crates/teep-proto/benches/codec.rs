//! Decode, encode, sign and verify per TEEP message type, with the signature primitive's own
//! cost beside them. Inputs are the draft -26 examples.
//!
//! Run: `cargo bench -p teep-proto --bench codec`

use divan::{black_box, Bencher};
use teep_cose::{Algorithm, KeyType, PrivateKey, Signer, SoftwareSigner};
use teep_proto::{decode, decode_auto, signed, Numbering, TeepMessage};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec");
const MESSAGES: [&str; 5] = [
    "query_request",
    "query_response",
    "update",
    "teep_success",
    "teep_error",
];

fn main() {
    divan::main();
}

fn example(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{SPEC}/teep-protocol/teep-26-renumbered/derived/{name}.cbor"
    ))
    .unwrap()
}

fn message(name: &str) -> TeepMessage {
    decode(&example(name), Numbering::Draft26).unwrap()
}

fn signer(kt: KeyType) -> SoftwareSigner {
    SoftwareSigner::new(PrivateKey::generate(kt))
}

#[divan::bench(args = MESSAGES)]
fn decode_draft26(bencher: Bencher, name: &str) {
    let bytes = example(name);
    bencher.bench(|| decode(black_box(&bytes), Numbering::Draft26).unwrap());
}

#[divan::bench(args = MESSAGES)]
fn decode_auto_legacy_input(bencher: Bencher, name: &str) {
    let bytes = message(name).encode(Numbering::Legacy);
    bencher.bench(|| decode_auto(black_box(&bytes)).unwrap());
}

#[divan::bench(args = MESSAGES)]
fn encode(bencher: Bencher, name: &str) {
    let msg = message(name);
    bencher.bench(|| black_box(&msg).encode(Numbering::Draft26));
}

#[divan::bench(args = MESSAGES)]
fn to_json(bencher: Bencher, name: &str) {
    let msg = message(name);
    bencher.bench(|| black_box(&msg).to_json());
}

#[divan::bench(args = MESSAGES, consts = [0, 1])]
fn sign<const ED25519: usize>(bencher: Bencher, name: &str) {
    let s = signer(if ED25519 == 1 {
        KeyType::Ed25519
    } else {
        KeyType::P256
    });
    let msg = message(name);
    bencher.bench(|| signed::sign_message(black_box(&msg), Numbering::Draft26, &s).unwrap());
}

#[divan::bench(args = MESSAGES, consts = [0, 1])]
fn open_and_verify<const ED25519: usize>(bencher: Bencher, name: &str) {
    let s = signer(if ED25519 == 1 {
        KeyType::Ed25519
    } else {
        KeyType::P256
    });
    let public = s.public_key();
    let bytes = signed::sign_message(&message(name), Numbering::Draft26, &s).unwrap();
    bencher.bench(|| {
        let (opened, msg) = signed::open_message(black_box(&bytes), Numbering::Draft26).unwrap();
        opened.verify(&public).unwrap();
        msg
    });
}

/// The raw signature primitive over a 64-byte input (about a Sig_structure of a small message).
#[divan::bench(consts = [0, 1])]
fn primitive_sign<const ED25519: usize>(bencher: Bencher) {
    let s = signer(if ED25519 == 1 {
        KeyType::Ed25519
    } else {
        KeyType::P256
    });
    let tbs = [0x5a; 64];
    bencher.bench(|| s.sign(black_box(&tbs)).unwrap());
}

#[divan::bench(consts = [0, 1])]
fn primitive_verify<const ED25519: usize>(bencher: Bencher) {
    let s = signer(if ED25519 == 1 {
        KeyType::Ed25519
    } else {
        KeyType::P256
    });
    let alg = if ED25519 == 1 {
        Algorithm::Ed25519
    } else {
        Algorithm::Esp256
    };
    let public = s.public_key();
    let tbs = [0x5a; 64];
    let sig = s.sign(&tbs).unwrap();
    bencher.bench(|| public.verify(alg, black_box(&tbs), &sig).unwrap());
}
