//! `open_encrypted` (encrypted EATs and SUIT reports, -26 §8.2) must never panic; whatever
//! parses must fail to decrypt cleanly with a key that did not receive it.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use teep_cose::encrypt::{is_encrypted, open_encrypted, Purpose};
use teep_cose::PrivateKey;

fn key() -> &'static PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    K.get_or_init(|| PrivateKey::from_p256_scalar(&[7; 32]).unwrap())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(mut e) = open_encrypted(data) {
        assert!(is_encrypted(data));
        let _ = e.recipient_kids().count();
        for purpose in [Purpose::Eat, Purpose::SuitReport] {
            // A fixed key cannot unwrap fuzzer input (AES-KW's integrity check), bar 2^-64.
            let _ = e.decrypt(key(), purpose);
        }
        let _ = e.select_recipient(1);
    }
});
