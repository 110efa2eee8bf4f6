//! EARs from a remote Verifier: `verifier::ear::verify` on any text (JWT-shaped or not, base64
//! of a CWT or not) is refused or read without panicking; under a key the fuzzer cannot sign
//! with, nothing verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use teep_cose::{PrivateKey, PublicKey};
use teep_tam::verifier::ear;

fn key() -> &'static PublicKey {
    static KEY: OnceLock<PublicKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::from_p256_scalar(&[0x21; 32]).unwrap().public_key())
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    assert!(ear::verify(s, key()).is_err());
});
