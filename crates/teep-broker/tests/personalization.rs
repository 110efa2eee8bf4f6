//! Personalization data encrypted to the device's payload key (SUIT ECDH-ES+A128KW, A128CTR),
//! delivered in an Update, decrypted inside the TEE and read by its TA through `component_read`.

use std::sync::Arc;

use teep_agent::agent::{Agent, AgentConfig, Outcome};
use teep_agent::state::AgentState;
use teep_broker::device::TeeDevice;
use teep_cose::{KeyType, PrivateKey, Signer, SoftwareSigner};
use teep_proto::{ErrorCode, Numbering, TeepMessage, Update};
use teep_suit::builder::{provider_random, ManifestBuilder};
use teep_tee::{ComponentId, SoftwareTee, Tee};

/// Returns the component beside it named by the invoke argument, or "none".
const READER_WAT: &str = r#"(module
  (import "teep" "arg_len" (func $len (result i32)))
  (import "teep" "arg_read" (func $read (param i32 i32) (result i32)))
  (import "teep" "component_read" (func $component (param i32 i32 i32 i32) (result i32)))
  (import "teep" "set_result" (func $set (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 200) "none")
  (func (export "invoke") (param i32) (result i32)
    (local $n i32)
    (local.set $n (call $read (i32.const 0) (call $len)))
    (local.set $n (call $component (i32.const 0) (local.get $n) (i32.const 1024) (i32.const 4096)))
    (if (i32.lt_s (local.get $n) (i32.const 0))
      (then (call $set (i32.const 200) (i32.const 4)))
      (else (call $set (i32.const 1024) (local.get $n))))
    (i32.const 0)))"#;

const CONFIG: &[u8] = b"api-endpoint=https://example.com/v1\napi-key=s3cr3t";

struct Fixture {
    _dir: tempfile::TempDir,
    tee: Arc<dyn Tee>,
    device: TeeDevice,
    state: AgentState,
    config: AgentConfig,
    tam: SoftwareSigner,
    tc_signer: SoftwareSigner,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir.path()).unwrap());
        let tam = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
        let tc_signer = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
        Fixture {
            config: AgentConfig {
                tam_trust_anchors: vec![tam.public_key()],
                tc_signer_trust_anchors: vec![tc_signer.public_key()],
                require_tam_attestation: false,
                ..Default::default()
            },
            device: TeeDevice::new(tee.clone()),
            tee,
            state: AgentState::default(),
            tam,
            tc_signer,
            _dir: dir,
        }
    }

    fn update(&mut self, manifest_list: Vec<Vec<u8>>) -> TeepMessage {
        let update = TeepMessage::Update(Update {
            token: Some(vec![2; 16]),
            manifest_list,
            ..Default::default()
        });
        let bytes = teep_cose::sign1(&update.encode(Numbering::Draft26), &self.tam).unwrap();
        let mut random = |b: &mut [u8]| b.fill(7);
        let out: Outcome = Agent::new(&self.config, &mut self.state, &mut self.device)
            .handle_message("http://tam", &bytes, &mut random);
        let reply = out.reply.expect("a reply");
        let opened = teep_cose::open(&reply).unwrap();
        opened.verify(&self.tee.teep_signer().public_key()).unwrap();
        teep_proto::decode_auto(opened.payload.as_deref().unwrap())
            .unwrap()
            .0
    }

    fn reader_ta(&self) -> (ComponentId, Vec<u8>) {
        let ids = teep_tam::suit_wrap::ta_ids("reader");
        let wasm = wat::parse_str(READER_WAT).unwrap();
        let env = teep_tam::suit_wrap::wrap_ta(&ids, &wasm, 1, &self.tc_signer).unwrap();
        (ids.component_id, env)
    }

    /// The personalization manifest for `[.., class, "config"]`, encrypted to the payload key of
    /// `device`.
    fn config_manifest(&self, ta: &ComponentId, device: &dyn Tee) -> (ComponentId, Vec<u8>) {
        let key = device.payload_encryption_key().expect("device payload key");
        let mut id = ta.clone();
        *id.last_mut().unwrap() = b"config".to_vec();
        let (env, carried) = ManifestBuilder::new(id.clone(), CONFIG.to_vec())
            .sequence_number(1)
            .encrypt_to(key)
            .build(&self.tc_signer, &provider_random().unwrap())
            .unwrap();
        assert!(
            !carried.windows(7).any(|w| w == b"api-key"),
            "the envelope carries ciphertext"
        );
        (id, env)
    }
}

#[test]
fn encrypted_personalization_data_is_decrypted_in_the_tee_and_read_by_its_ta() {
    let mut f = Fixture::new();
    let (ta, ta_env) = f.reader_ta();
    let (config, config_env) = f.config_manifest(&ta, f.tee.as_ref());
    let m = f.update(vec![ta_env, config_env]);
    assert!(matches!(m, TeepMessage::Success(_)), "{m:?}");
    assert_eq!(f.tee.component(&config).unwrap().as_deref(), Some(CONFIG));
    assert_eq!(f.tee.invoke_once(&ta, 0, b"config").unwrap(), CONFIG);
}

#[test]
fn personalization_data_encrypted_to_another_key_is_refused_with_a_report() {
    let mut f = Fixture::new();
    let (ta, ta_env) = f.reader_ta();
    assert!(matches!(f.update(vec![ta_env]), TeepMessage::Success(_)));
    let other_dir = tempfile::tempdir().unwrap();
    let other = SoftwareTee::open(other_dir.path()).unwrap();
    let (config, config_env) = f.config_manifest(&ta, &other);
    let before = f.tee.list_manifests().unwrap().len();

    let m = f.update(vec![config_env]);
    let TeepMessage::Error(e) = m else {
        panic!("{m:?}")
    };
    assert_eq!(e.err_code, ErrorCode::ManifestProcessingFailed);
    assert_eq!(e.suit_reports.len(), 1);
    let report = teep_suit::SuitReport::decode(&e.suit_reports[0]).unwrap();
    assert!(!report.is_success());
    assert_eq!(f.tee.component(&config).unwrap(), None);
    assert_eq!(f.tee.list_manifests().unwrap().len(), before);
    assert_eq!(f.tee.invoke_once(&ta, 0, b"config").unwrap(), b"none");
}
