//! The trust-anchor update payload decoder: never panics, and what it accepts re-encodes to
//! the same bytes (the encoding is deterministic and the decoder strict).
#![no_main]

use libfuzzer_sys::fuzz_target;
use teep_proto::trust_anchor_update::TrustAnchorUpdate;

fuzz_target!(|data: &[u8]| {
    if let Ok(u) = TrustAnchorUpdate::decode(data) {
        assert_eq!(u.encode(), data);
    }
});
