//! `open` must never panic; whatever parses must also survive verification attempts and the
//! accessors used by callers.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use teep_cose::{KeyType, PrivateKey, PublicKey};

fn keys() -> &'static [PublicKey; 2] {
    static K: OnceLock<[PublicKey; 2]> = OnceLock::new();
    K.get_or_init(|| {
        [
            PrivateKey::generate(KeyType::P256).public_key(),
            PrivateKey::generate(KeyType::Ed25519).public_key(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    // Strict accepts a subset of what the tolerant reading accepts, and notes nothing.
    let mut dev = teep_cose::deviation::Deviations::new(teep_cose::deviation::Tolerance::Strict);
    if teep_cose::open_with(data, &teep_cose::Limits::default(), &mut dev).is_ok() {
        assert!(dev.is_empty());
        assert!(teep_cose::open(data).is_ok());
    }
    if let Ok(o) = teep_cose::open(data) {
        let _ = o.header_parameters().iter().map(|h| h.to_string()).count();
        for k in keys() {
            // A random key cannot have signed fuzzer input.
            assert!(o.verify(k).is_err());
            assert!(o.verify_detached(data, k).is_err());
        }
        let _ = o.verify_any(keys());
        for i in 0..o.signatures.len() {
            let _ = o.tbs(i, data);
            let _ = o.signature_bytes(i);
        }
    }
});
