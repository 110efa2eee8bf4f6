//! Opening a COSE-wrapped TEEP message never panics, tolerant or strict, and strict accepts
//! only what the tolerant reading takes without deviations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::deviation::Tolerance;
use teep_proto::signed;

fuzz_target!(|data: &[u8]| {
    if let Ok((opened, msg, _)) = signed::open_message_auto(data) {
        assert!(opened.payload.is_some());
        let _ = msg.type_name();
    }
    if let Ok((_, strict)) = signed::open_message_with(data, None, Tolerance::Strict) {
        assert!(strict.deviations.is_empty());
        if let Ok((_, tolerant)) = signed::open_message_with(data, None, Tolerance::Tolerant) {
            if tolerant.numbering == strict.numbering {
                assert_eq!(tolerant.message, strict.message);
            }
        }
    }
});
