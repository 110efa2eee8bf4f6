//! Any bytes from a TAM: the Agent answers (or not) and never panics. The input is tried both
//! as it is and as the payload of a COSE_Sign1 signed by a trusted TAM key, so the fuzzer
//! reaches the TEEP decoder and the message handlers, not only the COSE layer.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use teep_agent::agent::{Agent, AgentConfig};
use teep_broker::device::TeeDevice;
use teep_agent::state::AgentState;
use teep_cose::{PrivateKey, Signer, SoftwareSigner};

struct Fixture {
    _dir: std::path::PathBuf,
    device: TeeDevice,
    config: AgentConfig,
    tam: SoftwareSigner,
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("teep-agent-fuzz-{}", std::process::id()));
        let tee: Arc<dyn teep_tee::Tee> = Arc::new(teep_tee::SoftwareTee::open(&dir).unwrap());
        let tam = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x42; 32]).unwrap());
        let config = AgentConfig {
            tam_trust_anchors: vec![tam.public_key()],
            ..Default::default()
        };
        Mutex::new(Fixture {
            _dir: dir,
            device: TeeDevice::new(tee),
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
