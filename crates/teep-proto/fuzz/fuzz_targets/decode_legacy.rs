//! Strict decoding in the legacy numbering never panics; whatever it accepts re-encodes to a
//! message that decodes to the same value, and the deterministic encoding is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::{decode, Numbering};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode(data, Numbering::Legacy) {
        let bytes = msg.encode(Numbering::Legacy);
        let again = decode(&bytes, Numbering::Legacy).expect("own encoding decodes");
        assert_eq!(again, msg);
        assert_eq!(again.encode(Numbering::Legacy), bytes);
        let _ = msg.to_json();
    }
});
