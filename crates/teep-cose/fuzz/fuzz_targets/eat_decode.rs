//! EAT decoding must never panic; decoded claims re-encode to a fixpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_cose::eat::EatClaims;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = EatClaims::decode(data) {
        let enc = c.encode();
        let again = EatClaims::decode(&enc).expect("own encoding decodes");
        assert_eq!(again.encode(), enc);
    }
});
