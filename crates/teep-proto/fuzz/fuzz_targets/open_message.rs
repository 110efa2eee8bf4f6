//! Opening a COSE-wrapped TEEP message never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::signed;

fuzz_target!(|data: &[u8]| {
    if let Ok((opened, msg, _)) = signed::open_message_auto(data) {
        assert!(opened.payload.is_some());
        let _ = msg.type_name();
    }
});
