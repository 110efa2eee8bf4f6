//! Key auto-detection must never panic; accepted keys must round-trip through COSE_Key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_cose::PublicKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = PublicKey::from_bytes_any(data) {
        let back = PublicKey::from_cose_key(&k.to_cose_key()).expect("own COSE_Key parses");
        assert_eq!(back, k);
    }
});
