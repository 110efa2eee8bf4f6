//! The TC-ID parser: no panic, and whatever parses prints back to the same id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_agent::TcId;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = TcId::parse(text) {
            let again = TcId::parse(&id.to_string()).expect("printed id parses");
            assert_eq!(again, id);
        }
    }
});
