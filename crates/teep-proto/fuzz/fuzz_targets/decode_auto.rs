//! `decode_auto` never panics and agrees with `decode` in the numbering it reports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::{decode, decode_auto, diag};

fuzz_target!(|data: &[u8]| {
    match decode_auto(data) {
        Ok((msg, n)) => assert_eq!(decode(data, n).expect("same numbering decodes"), msg),
        Err(e) => {
            let _ = e.to_string();
            let _ = diag::to_diag(data);
        }
    }
});
