//! Any bytes from a TAM: the Agent answers (or not) and never panics. The input is tried both
//! as it is and as the payload of a COSE_Sign1 signed by a trusted TAM key, so the fuzzer
//! reaches the TEEP decoder and the message handlers, not only the COSE layer. The device is
//! teep-agent's test device (it installs nothing: an Update's manifests fail), so the Agent's
//! own paths are fuzzed here and the SUIT processor by teep-suit's targets.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use teep_agent::agent::test_device::{signer, Broken};
use teep_agent::agent::{Agent, AgentConfig};
use teep_agent::state::AgentState;
use teep_cose::{Signer, SoftwareSigner};

struct Fixture {
    device: Broken,
    config: AgentConfig,
    tam: SoftwareSigner,
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let tam = signer(0x42);
        let config = AgentConfig {
            tam_trust_anchors: vec![tam.public_key()],
            ..Default::default()
        };
        Mutex::new(Fixture {
            device: Broken {
                signer: Box::new(signer(0x22)),
                store_readable: true,
            },
            config,
            tam,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let mut f = fixture().lock().unwrap();
    let f = &mut *f;
    let mut state = AgentState::default();
    let mut random = |b: &mut [u8]| b.fill(3);
    let _ = Agent::new(&f.config, &mut state, &mut f.device).handle_message(
        "http://tam",
        data,
        &mut random,
    );
    if let Ok(signed) = teep_cose::sign1(data, &f.tam) {
        let _ = Agent::new(&f.config, &mut state, &mut f.device).handle_message(
            "http://tam",
            &signed,
            &mut random,
        );
    }
});
