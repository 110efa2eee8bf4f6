//! Software TEE benchmarks: TA invoke latency cold and warm, sealed storage put/get.
//! Run: `cargo bench -p teep-tee --bench tee`.

use divan::Bencher;
use teep_tee::examples::{COUNTER_INCREMENT, COUNTER_WASM, HELLO_WASM};
use teep_tee::{component_id, ComponentBatch, ComponentId, SoftwareTee, SoftwareTeeOptions, Tee};

fn main() {
    divan::main();
}

fn hello_id() -> ComponentId {
    component_id(&["TEEP-Device", "SecureFS", "hello", "ta"])
}

fn tee_with_tas(cache_entries: usize) -> (tempfile::TempDir, SoftwareTee) {
    let dir = tempfile::tempdir().unwrap();
    let options = SoftwareTeeOptions {
        module_cache_entries: cache_entries,
        ..SoftwareTeeOptions::default()
    };
    let tee = SoftwareTee::open_with(dir.path(), options).unwrap();
    let mut batch = ComponentBatch::new();
    batch.put_component(hello_id(), HELLO_WASM.to_vec());
    batch.put_component(component_id(&["counter"]), COUNTER_WASM.to_vec());
    tee.commit_components(&batch).unwrap();
    (dir, tee)
}

/// Cold: read the TA from the component store (unseal, digest check), compile, instantiate,
/// open session, invoke, close. The module cache is off.
#[divan::bench]
fn ta_invoke_cold(bencher: Bencher) {
    let (_dir, tee) = tee_with_tas(0);
    bencher.bench_local(|| tee.invoke_once(&hello_id(), 0, b"").unwrap());
}

/// Warm: the compiled module is cached; instantiate, open session, invoke, close.
#[divan::bench]
fn ta_invoke_warm(bencher: Bencher) {
    let (_dir, tee) = tee_with_tas(32);
    tee.invoke_once(&hello_id(), 0, b"").unwrap();
    bencher.bench_local(|| tee.invoke_once(&hello_id(), 0, b"").unwrap());
}

/// Invoke inside an open session (no instantiation).
#[divan::bench]
fn ta_invoke_in_session(bencher: Bencher) {
    let (_dir, tee) = tee_with_tas(32);
    let session = tee.open_session(&hello_id()).unwrap();
    bencher.bench_local(|| tee.invoke(session, 0, b"").unwrap());
}

/// Counter increment in an open session: a sealed get and an atomic sealed put (fsync).
#[divan::bench]
fn ta_counter_increment(bencher: Bencher) {
    let (_dir, tee) = tee_with_tas(32);
    let session = tee.open_session(&component_id(&["counter"])).unwrap();
    bencher.bench_local(|| tee.invoke(session, COUNTER_INCREMENT, b"").unwrap());
}

/// Compile only (wasmi validation + translation of the hello TA).
#[divan::bench]
fn ta_compile(bencher: Bencher) {
    let (_dir, tee) = tee_with_tas(0);
    bencher.bench_local(|| tee.runtime().compile("hello", HELLO_WASM).unwrap());
}

const SIZES: [usize; 3] = [64, 4096, 65536];

/// Sealed put: AES-256-GCM seal, write temp, fsync, rename, fsync dir.
#[divan::bench(args = SIZES)]
fn sealed_put(bencher: Bencher, size: usize) {
    let (_dir, tee) = tee_with_tas(0);
    let value = vec![0x5a; size];
    bencher.bench_local(|| tee.agent_put("bench", &value).unwrap());
}

/// Sealed get: read, authenticate, decrypt.
#[divan::bench(args = SIZES)]
fn sealed_get(bencher: Bencher, size: usize) {
    let (_dir, tee) = tee_with_tas(0);
    tee.agent_put("bench", &vec![0x5a; size]).unwrap();
    bencher.bench_local(|| tee.agent_get("bench").unwrap().unwrap());
}

/// Atomic component-store batch: one 64 KiB component and a manifest record (journal).
#[divan::bench]
fn component_batch_commit(bencher: Bencher) {
    let (_dir, tee) = tee_with_tas(0);
    let id = component_id(&["bench", "component"]);
    let bytes = vec![0xa5; 65536];
    let mut seq = 0u64;
    bencher.bench_local(|| {
        seq += 1;
        let mut batch = ComponentBatch::new();
        batch.put_component(id.clone(), bytes.clone());
        batch.put_manifest(teep_tee::ManifestRecord {
            manifest_component_id: component_id(&["bench", "manifest"]),
            sequence_number: seq,
            envelope: vec![0; 512],
            reference_count: 1,
            components: vec![id.clone()],
        });
        tee.commit_components(&batch).unwrap();
    });
}
