//! TAs that exceed their fuel or memory limit, installed through an Update, are stopped by the
//! path `teep ta invoke` takes (TC-ID parse, then `Tee::invoke_once`) with a clear error and no
//! hang. Default limits except fuel, lowered so the unoptimised test build stays quick.

use std::sync::Arc;

use teep_agent::agent::{Agent, AgentConfig};
use teep_agent::state::AgentState;
use teep_agent::tc_id::TcId;
use teep_broker::device::TeeDevice;
use teep_cose::{KeyType, PrivateKey, Signer, SoftwareSigner};
use teep_proto::{Numbering, TeepMessage, Update};
use teep_tee::examples::{HELLO_ANSWER, HELLO_WASM};
use teep_tee::{SoftwareTee, SoftwareTeeOptions, TaLimits, Tee, TeeError};

const SPIN_WAT: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "invoke") (param i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))"#;

const HOG_WAT: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "invoke") (param i32) (result i32)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    (i32.const 0)))"#;

fn limits() -> TaLimits {
    TaLimits {
        fuel: 2_000_000,
        ..TaLimits::default()
    }
}

/// Installs `(name, wasm)` TAs through one Update.
fn install(tas: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, Arc<dyn Tee>) {
    let dir = tempfile::tempdir().unwrap();
    let options = SoftwareTeeOptions {
        ta_limits: limits(),
        ..SoftwareTeeOptions::default()
    };
    let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open_with(dir.path(), options).unwrap());
    let tam = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
    let tc_signer = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
    let config = AgentConfig {
        tam_trust_anchors: vec![tam.public_key()],
        tc_signer_trust_anchors: vec![tc_signer.public_key()],
        require_tam_attestation: false,
        ..Default::default()
    };
    let manifest_list = tas
        .iter()
        .map(|(name, wasm)| {
            let ids = teep_tam::suit_wrap::ta_ids(name);
            teep_tam::suit_wrap::wrap_ta(&ids, wasm, 1, &tc_signer).unwrap()
        })
        .collect();
    let update = TeepMessage::Update(Update {
        token: Some(vec![3; 16]),
        manifest_list,
        ..Default::default()
    });
    let bytes = teep_cose::sign1(&update.encode(Numbering::Draft26), &tam).unwrap();
    let mut state = AgentState::default();
    let mut device = TeeDevice::new(tee.clone());
    let mut random = |b: &mut [u8]| b.fill(9);
    let out = Agent::new(&config, &mut state, &mut device).handle_message(
        "http://tam",
        &bytes,
        &mut random,
    );
    let reply = teep_cose::open(out.reply.as_deref().expect("a reply")).unwrap();
    reply.verify(&tee.teep_signer().public_key()).unwrap();
    let (m, _) = teep_proto::decode_auto(reply.payload.as_deref().unwrap()).unwrap();
    assert!(matches!(m, TeepMessage::Success(_)), "{m:?}");
    (dir, tee)
}

/// What `teep ta invoke NAME` does once the TEE is open.
fn ta_invoke(tee: &dyn Tee, tc: &str) -> Result<Vec<u8>, TeeError> {
    let id = TcId::parse(tc).unwrap();
    tee.invoke_once(&id.0, 0, b"")
}

#[test]
fn runaway_tas_installed_by_an_update_are_stopped_with_a_clear_error() {
    let spin = wat::parse_str(SPIN_WAT).unwrap();
    let hog = wat::parse_str(HOG_WAT).unwrap();
    let (_dir, tee) = install(&[("spin", spin), ("hog", hog), ("hello", HELLO_WASM.to_vec())]);
    let limits = limits();

    let err = ta_invoke(tee.as_ref(), "spin").unwrap_err();
    assert!(
        matches!(err, TeeError::FuelExhausted { fuel, .. } if fuel == limits.fuel),
        "{err}"
    );
    assert!(err.to_string().contains("fuel"), "{err}");

    let err = ta_invoke(tee.as_ref(), "hog").unwrap_err();
    assert!(
        matches!(err, TeeError::MemoryLimit { limit, .. } if limit == limits.memory_bytes),
        "{err}"
    );
    assert!(err.to_string().contains("memory"), "{err}");

    // The TEE is still usable: the stopped TAs stay installed and stoppable, others answer.
    assert!(matches!(
        ta_invoke(tee.as_ref(), "spin"),
        Err(TeeError::FuelExhausted { .. })
    ));
    assert_eq!(
        ta_invoke(tee.as_ref(), "hello").unwrap(),
        HELLO_ANSWER.as_bytes()
    );
    let spin_id = TcId::parse("spin").unwrap();
    assert!(tee.component(&spin_id.0).unwrap().is_some());
}
