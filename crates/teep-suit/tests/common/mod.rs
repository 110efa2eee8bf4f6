#![allow(dead_code)]
//! Shared helpers for the integration tests.

use teep_suit::*;

pub const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/spec");

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{SPEC}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn example_key() -> teep_cose::PublicKey {
    teep_cose::PublicKey::load(std::path::Path::new(&format!(
        "{SPEC}/keys/suit-examples-p256-public.pem"
    )))
    .unwrap()
}

pub fn anchors() -> TrustAnchors {
    TrustAnchors::new(vec![example_key()])
}

/// Receiver key of suit_personalization and the SUIT-ENC ES-DH examples (keys/*.cose_key.diag).
pub fn kek_p256() -> teep_cose::PrivateKey {
    let d =
        hex::decode("60FE6DD6D85D5740A5349B6F91267EEAC5BA81B8CB53EE249E4B4EB102C476B3").unwrap();
    teep_cose::PrivateKey::from_p256_scalar(&d).unwrap()
}

pub fn tc_id() -> ComponentId {
    vec![
        b"TEEP-Device".to_vec(),
        b"SecureFS".to_vec(),
        hex::decode("8D82573A926D4754935332DC29997F74").unwrap(),
        b"ta".to_vec(),
    ]
    .into()
}

pub fn tc_manifest_id() -> ComponentId {
    let mut id = tc_id();
    *id.last_mut().unwrap() = b"suit".to_vec();
    id
}

pub const TC_URI: &str = "https://example.org/8d82573a-926d-4754-9353-32dc29997f74.ta";
pub const TC_SUIT_URI: &str = "https://example.org/8d82573a-926d-4754-9353-32dc29997f74.suit";
