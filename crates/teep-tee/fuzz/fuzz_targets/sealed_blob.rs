//! Arbitrary bytes in place of a sealed blob on disk: reading it must fail with an integrity
//! error (nothing forged authenticates), never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use teep_tee::{SoftwareTee, Tee, TeeError};

fn tee() -> &'static SoftwareTee {
    static TEE: OnceLock<SoftwareTee> = OnceLock::new();
    TEE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("teep-tee-fuzz-sealed-{}", std::process::id()));
        let tee = SoftwareTee::open(dir).expect("open fuzz TEE");
        tee.agent_put("target", b"a sealed value").expect("seed blob");
        tee
    })
}

fuzz_target!(|data: &[u8]| {
    let tee = tee();
    let path = tee.sealed_store().blob_file("agent", b"target");
    std::fs::write(&path, data).expect("write blob");
    match tee.agent_get("target") {
        Err(TeeError::Integrity { .. }) | Err(TeeError::Invalid { .. }) => {}
        other => panic!("forged blob accepted or unexpected error: {other:?}"),
    }
});
