//! attestation-payload-format: `attest::classify` and `MediaType::parse` on any text are
//! refused or read without panicking, and whatever parses has a lower-case `type/subtype`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_tam_core::attest::{classify, MediaType};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = MediaType::parse(s) {
        assert!(m.essence.contains('/'));
        assert_eq!(m.essence, m.essence.to_ascii_lowercase());
    }
    let _ = std::hint::black_box(classify(Some(s)));
});
