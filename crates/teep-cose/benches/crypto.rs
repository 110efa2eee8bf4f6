//! Signing and verification per algorithm and provider over a 256-byte message, and the
//! overhead COSE adds (Sign1 encode, open, open + verify) over the bare primitive.
//!
//! Run: `cargo bench -p teep-cose --bench crypto`

use std::sync::OnceLock;

use divan::{black_box, Bencher};
use teep_cose::provider::{self, CryptoProvider};
use teep_cose::{open, sign1, Algorithm, KeyType, PrivateKey, Signer, SoftwareSigner};

fn main() {
    divan::main();
}

const MSG: [u8; 256] = [0x42; 256];

#[derive(Clone, Copy, Debug)]
enum Case {
    AwsEsp256,
    AwsEd25519,
    RcEsp256,
    RcEd25519,
}

const CASES: [Case; 4] = [
    Case::AwsEsp256,
    Case::AwsEd25519,
    Case::RcEsp256,
    Case::RcEd25519,
];

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p, a) = self.parts();
        write!(f, "{}/{}", p.name(), a.name())
    }
}

impl Case {
    fn parts(self) -> (&'static dyn CryptoProvider, Algorithm) {
        match self {
            Case::AwsEsp256 => (&provider::AWS_LC_RS, Algorithm::Esp256),
            Case::AwsEd25519 => (&provider::AWS_LC_RS, Algorithm::Ed25519),
            Case::RcEsp256 => (&provider::RUST_CRYPTO, Algorithm::Esp256),
            Case::RcEd25519 => (&provider::RUST_CRYPTO, Algorithm::Ed25519),
        }
    }

    fn key(self) -> &'static PrivateKey {
        static P: OnceLock<PrivateKey> = OnceLock::new();
        static E: OnceLock<PrivateKey> = OnceLock::new();
        match self.parts().1.key_type() {
            Some(KeyType::P256) => P.get_or_init(|| PrivateKey::generate(KeyType::P256)),
            _ => E.get_or_init(|| PrivateKey::generate(KeyType::Ed25519)),
        }
    }

    fn signer(self) -> SoftwareSigner {
        let (p, a) = self.parts();
        SoftwareSigner::with_provider(self.key().clone(), a, p).unwrap()
    }
}

/// Bare primitive: sign 256 bytes with a prepared key.
#[divan::bench(args = CASES)]
fn raw_sign(b: Bencher, case: Case) {
    let s = case.signer();
    b.bench(|| s.sign(black_box(&MSG)).unwrap());
}

/// Bare primitive: sign 4 KiB, about the size of an Update carrying a small TC. Ed25519 hashes
/// the whole message twice with SHA-512, so this shows the hash's share of signing.
#[divan::bench(args = CASES)]
fn raw_sign_4k(b: Bencher, case: Case) {
    let s = case.signer();
    let msg = [0x42u8; 4096];
    b.bench(|| s.sign(black_box(&msg)).unwrap());
}

/// Bare primitive: verify a signature over 256 bytes.
#[divan::bench(args = CASES)]
fn raw_verify(b: Bencher, case: Case) {
    let (p, a) = case.parts();
    let s = case.signer();
    let sig = s.sign(&MSG).unwrap();
    let pk = s.public_key();
    b.bench(|| p.verify(&pk, a, black_box(&MSG), &sig).unwrap());
}

/// COSE_Sign1 of a 256-byte payload: header, Sig_structure, sign, encode.
#[divan::bench(args = CASES)]
fn cose_sign1(b: Bencher, case: Case) {
    let s = case.signer();
    b.bench(|| sign1(black_box(&MSG), &s).unwrap());
}

/// Parsing a COSE_Sign1 (no crypto).
#[divan::bench(args = [Case::AwsEsp256, Case::AwsEd25519])]
fn cose_open(b: Bencher, case: Case) {
    let bytes = sign1(&MSG, &case.signer()).unwrap();
    b.bench(|| open(black_box(&bytes)).unwrap());
}

/// Parse + verify a COSE_Sign1 (what a receiver does).
#[divan::bench(args = CASES)]
fn cose_open_verify(b: Bencher, case: Case) {
    let (p, _) = case.parts();
    let s = case.signer();
    let bytes = sign1(&MSG, &s).unwrap();
    let pk = s.public_key();
    b.bench(|| {
        let o = open(black_box(&bytes)).unwrap();
        o.verify_with(&pk, p).map(|_| ()).unwrap();
    });
}

/// RFC 9679 thumbprint of a P-256 key (done once per key load).
#[divan::bench]
fn thumbprint_p256(b: Bencher) {
    let pk = Case::AwsEsp256.key().public_key();
    b.bench(|| teep_cose::sha256(black_box(&pk.to_cose_key())));
}
