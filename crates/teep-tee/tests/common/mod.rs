//! Helpers shared by the integration tests.
#![allow(dead_code)]

use teep_tee::{component_id, ComponentBatch, ComponentId, SoftwareTee, Tee};

pub fn hello_id() -> ComponentId {
    component_id(&["TEEP-Device", "SecureFS", "hello", "ta"])
}

pub fn counter_id() -> ComponentId {
    component_id(&["TEEP-Device", "SecureFS", "counter", "ta"])
}

/// Installs `wasm` as component `id` in one batch.
pub fn install(tee: &SoftwareTee, id: &ComponentId, wasm: &[u8]) {
    let mut batch = ComponentBatch::new();
    batch.put_component(id.clone(), wasm.to_vec());
    tee.commit_components(&batch).unwrap();
}

/// Compiles WAT text to a Wasm binary.
pub fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap()
}

/// Reads the 8-byte little-endian counter value.
pub fn count(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8-byte counter"))
}
