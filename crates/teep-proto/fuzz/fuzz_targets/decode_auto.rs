//! `decode_auto` never panics and agrees with `decode` in the numbering it reports. In a known
//! numbering, what `Tolerance::Strict` accepts the tolerant decoder reads the same with no
//! deviation, and what the tolerant decoder reads without deviations strict accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::deviation::Tolerance;
use teep_proto::{decode, decode_auto, decode_message, diag, Numbering};

fuzz_target!(|data: &[u8]| {
    match decode_auto(data) {
        Ok((msg, n)) => assert_eq!(decode(data, n).expect("same numbering decodes"), msg),
        Err(e) => {
            let _ = e.to_string();
            let _ = diag::to_diag(data);
        }
    }
    for n in [Numbering::Draft26, Numbering::Legacy] {
        let strict = decode_message(data, Some(n), Tolerance::Strict);
        let tolerant = decode_message(data, Some(n), Tolerance::Tolerant);
        match (strict, tolerant) {
            (Ok(s), Ok(t)) => {
                assert_eq!(s.message, t.message);
                assert!(s.deviations.is_empty() && t.deviations.is_empty());
            }
            (Ok(_), Err(e)) => panic!("strict accepts what tolerant refuses: {e}"),
            (Err(e), Ok(t)) => assert!(!t.deviations.is_empty(), "{e}"),
            (Err(_), Err(_)) => {}
        }
    }
});
