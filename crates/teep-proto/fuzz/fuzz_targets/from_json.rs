//! JSON → message never panics; accepted documents round-trip through their JSON view.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::TeepMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(msg) = TeepMessage::from_json(&json) {
        let back = TeepMessage::from_json(&msg.to_json()).expect("own JSON view is accepted");
        assert_eq!(back, msg);
    }
});
