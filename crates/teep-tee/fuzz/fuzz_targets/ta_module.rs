//! Untrusted TA bytes: compile, instantiate, open a session, invoke, close. Every outcome must
//! be a value (module error, trap, fuel or memory stop, TA error), never a panic or a hang.
//! Seeds: `seeds/ta_module` (the example TAs).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use teep_tee::{SoftwareTee, SoftwareTeeOptions, TaLimits, Tee};

fn tee() -> &'static SoftwareTee {
    static TEE: OnceLock<SoftwareTee> = OnceLock::new();
    TEE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("teep-tee-fuzz-ta-{}", std::process::id()));
        let options = SoftwareTeeOptions {
            ta_limits: TaLimits {
                fuel: 200_000,
                memory_bytes: 1024 * 1024,
                ..TaLimits::default()
            },
            module_cache_entries: 0,
            ..SoftwareTeeOptions::default()
        };
        SoftwareTee::open_with(dir, options).expect("open fuzz TEE")
    })
}

fuzz_target!(|data: &[u8]| {
    let tee = tee();
    let ta = vec![b"fuzz".to_vec(), b"ta".to_vec()];
    if let Ok(session) = tee.open_session_with_module(&ta, data) {
        let _ = tee.invoke(session, 1, b"fuzz argument");
        let _ = tee.invoke(session, 2, b"");
        let _ = tee.close_session(session);
    }
});
