//! The TA runtime: example TAs, lifecycle, limits and isolation.

mod common;

use common::*;
use teep_tee::examples::{COUNTER_GET, COUNTER_INCREMENT, COUNTER_WASM, HELLO_ANSWER, HELLO_WASM};
use teep_tee::{component_id, SoftwareTee, SoftwareTeeOptions, TaLimits, Tee, TeeError};

fn small_limits() -> SoftwareTeeOptions {
    SoftwareTeeOptions {
        ta_limits: TaLimits {
            fuel: 2_000_000,
            memory_bytes: 2 * 65536,
            ..TaLimits::default()
        },
        ..SoftwareTeeOptions::default()
    }
}

#[test]
fn hello_answers() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    install(&tee, &hello_id(), HELLO_WASM);
    let out = tee.invoke_once(&hello_id(), 0, b"").unwrap();
    assert_eq!(out, HELLO_ANSWER.as_bytes());
    assert_eq!(tee.open_sessions(), 0);
}

#[test]
fn session_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    install(&tee, &hello_id(), HELLO_WASM);
    let s = tee.open_session(&hello_id()).unwrap();
    assert_eq!(tee.invoke(s, 1, b"").unwrap(), HELLO_ANSWER.as_bytes());
    assert_eq!(tee.invoke(s, 2, b"").unwrap(), HELLO_ANSWER.as_bytes());
    tee.close_session(s).unwrap();
    assert!(matches!(tee.invoke(s, 1, b""), Err(TeeError::NoSession(_))));
    assert!(matches!(tee.close_session(s), Err(TeeError::NoSession(_))));
}

#[test]
fn missing_ta_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let err = tee.open_session(&hello_id()).unwrap_err();
    assert!(matches!(err, TeeError::ComponentNotFound(_)), "{err}");
    assert!(err.to_string().contains("'hello'"), "{err}");
}

#[test]
fn counter_counts_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let tee = SoftwareTee::open(dir.path()).unwrap();
        install(&tee, &counter_id(), COUNTER_WASM);
        assert_eq!(
            count(&tee.invoke_once(&counter_id(), COUNTER_GET, b"").unwrap()),
            0
        );
        for expected in 1..=3 {
            let out = tee
                .invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
                .unwrap();
            assert_eq!(count(&out), expected);
        }
    }
    let tee = SoftwareTee::open(dir.path()).unwrap();
    assert_eq!(
        count(&tee.invoke_once(&counter_id(), COUNTER_GET, b"").unwrap()),
        3
    );
    assert_eq!(
        count(
            &tee.invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
                .unwrap()
        ),
        4
    );
}

#[test]
fn unknown_command_is_ta_failure_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    install(&tee, &counter_id(), COUNTER_WASM);
    tee.invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
        .unwrap();
    let err = tee.invoke_once(&counter_id(), 99, b"").unwrap_err();
    assert!(matches!(err, TeeError::TaFailed { code: 1, .. }), "{err}");
    assert_eq!(
        count(&tee.invoke_once(&counter_id(), COUNTER_GET, b"").unwrap()),
        1
    );
}

#[test]
fn two_counters_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let other = component_id(&["TEEP-Device", "SecureFS", "counter-2", "ta"]);
    install(&tee, &counter_id(), COUNTER_WASM);
    install(&tee, &other, COUNTER_WASM);
    for _ in 0..3 {
        tee.invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
            .unwrap();
    }
    tee.invoke_once(&other, COUNTER_INCREMENT, b"").unwrap();
    assert_eq!(
        count(&tee.invoke_once(&counter_id(), COUNTER_GET, b"").unwrap()),
        3
    );
    assert_eq!(
        count(&tee.invoke_once(&other, COUNTER_GET, b"").unwrap()),
        1
    );
}

/// A TA that tries to read the key "count" (the counter's) and the Agent's records finds only
/// its own, empty namespace.
#[test]
fn ta_cannot_read_other_storage() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    install(&tee, &counter_id(), COUNTER_WASM);
    tee.invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
        .unwrap();
    tee.agent_put("secret", b"agent only").unwrap();
    let spy = wasm(
        r#"(module
          (import "teep" "storage_get" (func $get (param i32 i32 i32 i32) (result i32)))
          (import "teep" "set_result" (func $set (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "count")
          (data (i32.const 8) "secret")
          (func (export "invoke") (param i32) (result i32)
            (i32.store (i32.const 32) (call $get (i32.const 0) (i32.const 5) (i32.const 64) (i32.const 64)))
            (i32.store (i32.const 36) (call $get (i32.const 8) (i32.const 6) (i32.const 64) (i32.const 64)))
            (call $set (i32.const 32) (i32.const 8))
            (i32.const 0)))"#,
    );
    let spy_id = component_id(&["spy"]);
    install(&tee, &spy_id, &spy);
    let out = tee.invoke_once(&spy_id, 0, b"").unwrap();
    assert_eq!(out, [(-1i32).to_le_bytes(), (-1i32).to_le_bytes()].concat());
}

#[test]
fn echo_reads_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let echo = wasm(
        r#"(module
          (import "teep" "arg_len" (func $len (result i32)))
          (import "teep" "arg_read" (func $read (param i32 i32) (result i32)))
          (import "teep" "set_result" (func $set (param i32 i32)))
          (memory (export "memory") 1)
          (func (export "invoke") (param i32) (result i32)
            (local $n i32)
            (local.set $n (call $read (i32.const 0) (call $len)))
            (call $set (i32.const 0) (local.get $n))
            (i32.const 0)))"#,
    );
    let id = component_id(&["echo"]);
    install(&tee, &id, &echo);
    assert_eq!(tee.invoke_once(&id, 0, b"ping 123").unwrap(), b"ping 123");
    assert_eq!(tee.invoke_once(&id, 0, b"").unwrap(), b"");
}

#[test]
fn infinite_loop_is_stopped_by_fuel() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open_with(dir.path(), small_limits()).unwrap();
    let looper = wasm(
        r#"(module
          (memory (export "memory") 1)
          (func (export "invoke") (param i32) (result i32)
            (loop $forever (br $forever))
            (i32.const 0)))"#,
    );
    let id = component_id(&["looper"]);
    install(&tee, &id, &looper);
    let s = tee.open_session(&id).unwrap();
    let err = tee.invoke(s, 0, b"").unwrap_err();
    assert!(
        matches!(
            err,
            TeeError::FuelExhausted {
                fuel: 2_000_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("fuel"), "{err}");
    // The stopped TA's session is gone.
    assert!(matches!(tee.invoke(s, 0, b""), Err(TeeError::NoSession(_))));
    assert_eq!(tee.open_sessions(), 0);
}

#[test]
fn memory_growth_past_the_limit_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open_with(dir.path(), small_limits()).unwrap();
    let grower = wasm(
        r#"(module
          (memory (export "memory") 1)
          (func (export "invoke") (param i32) (result i32)
            (loop $more
              (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
            (i32.const 0)))"#,
    );
    let id = component_id(&["grower"]);
    install(&tee, &id, &grower);
    let err = tee.invoke_once(&id, 0, b"").unwrap_err();
    assert!(
        matches!(err, TeeError::MemoryLimit { limit: 131072, .. }),
        "{err}"
    );
}

#[test]
fn initial_memory_above_the_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open_with(dir.path(), small_limits()).unwrap();
    let big = wasm(
        r#"(module (memory (export "memory") 64)
          (func (export "invoke") (param i32) (result i32) (i32.const 0)))"#,
    );
    let id = component_id(&["big"]);
    install(&tee, &id, &big);
    let err = tee.open_session(&id).unwrap_err();
    assert!(matches!(err, TeeError::MemoryLimit { .. }), "{err}");
}

#[test]
fn failed_invocation_leaves_storage_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    // Writes "k" = arg, then traps if command is 1, returns 7 if command is 2, else succeeds.
    let writer = wasm(
        r#"(module
          (import "teep" "arg_read" (func $read (param i32 i32) (result i32)))
          (import "teep" "storage_put" (func $put (param i32 i32 i32 i32) (result i32)))
          (import "teep" "storage_get" (func $get (param i32 i32 i32 i32) (result i32)))
          (import "teep" "set_result" (func $set (param i32 i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "k")
          (func (export "invoke") (param $cmd i32) (result i32)
            (local $n i32)
            (if (i32.eq (local.get $cmd) (i32.const 3))
              (then
                (local.set $n (call $get (i32.const 0) (i32.const 1) (i32.const 100) (i32.const 100)))
                (call $set (i32.const 100) (local.get $n))
                (return (i32.const 0))))
            (local.set $n (call $read (i32.const 100) (i32.const 100)))
            (drop (call $put (i32.const 0) (i32.const 1) (i32.const 100) (local.get $n)))
            (if (i32.eq (local.get $cmd) (i32.const 1)) (then unreachable))
            (if (i32.eq (local.get $cmd) (i32.const 2)) (then (return (i32.const 7))))
            (i32.const 0)))"#,
    );
    let id = component_id(&["writer"]);
    install(&tee, &id, &writer);
    tee.invoke_once(&id, 0, b"first").unwrap();
    assert!(matches!(
        tee.invoke_once(&id, 1, b"trapped"),
        Err(TeeError::Trap { .. })
    ));
    assert!(matches!(
        tee.invoke_once(&id, 2, b"refused"),
        Err(TeeError::TaFailed { code: 7, .. })
    ));
    assert_eq!(tee.invoke_once(&id, 3, b"").unwrap(), b"first");
}

#[test]
fn malformed_modules_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"this is not wasm".to_vec(), "magic"),
        (
            "truncated",
            HELLO_WASM[..HELLO_WASM.len() / 2].to_vec(),
            "invalid WebAssembly module",
        ),
        (
            "wasi",
            wasm(
                r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                 (memory (export "memory") 1) (func (export "invoke") (param i32) (result i32) (i32.const 0)))"#,
            ),
            "not part of the TA API",
        ),
        (
            "no-invoke",
            wasm(r#"(module (memory (export "memory") 1))"#),
            "missing export `invoke",
        ),
        (
            "no-memory",
            wasm(r#"(module (func (export "invoke") (param i32) (result i32) (i32.const 0)))"#),
            "missing export `memory`",
        ),
        (
            "unknown-teep-import",
            wasm(
                r#"(module (import "teep" "read_agent_key" (func (result i32)))
                 (memory (export "memory") 1) (func (export "invoke") (param i32) (result i32) (i32.const 0)))"#,
            ),
            "read_agent_key",
        ),
    ];
    for (name, bytes, expect) in cases {
        let id = component_id(&[name]);
        install(&tee, &id, &bytes);
        let err = tee.open_session(&id).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, TeeError::BadModule { .. } | TeeError::Trap { .. }),
            "{name}: {text}"
        );
        assert!(text.contains(expect), "{name}: {text}");
    }
}

#[test]
fn out_of_bounds_pointer_traps_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    let bad = wasm(
        r#"(module
          (import "teep" "set_result" (func $set (param i32 i32)))
          (memory (export "memory") 1)
          (func (export "invoke") (param i32) (result i32)
            (call $set (i32.const 65530) (i32.const 100))
            (i32.const 0)))"#,
    );
    let id = component_id(&["oob"]);
    install(&tee, &id, &bad);
    let err = tee.invoke_once(&id, 0, b"").unwrap_err();
    assert!(matches!(err, TeeError::Trap { .. }), "{err}");
    assert!(err.to_string().contains("outside linear memory"), "{err}");
}

#[test]
fn upgraded_ta_keeps_its_storage() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    install(&tee, &counter_id(), COUNTER_WASM);
    tee.invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
        .unwrap();
    // Replace the binary with an equivalent one that differs (an extra custom section).
    let mut upgraded = COUNTER_WASM.to_vec();
    upgraded.extend_from_slice(&[0, 4, 3, b'v', b'2', b'!']);
    install(&tee, &counter_id(), &upgraded);
    assert_eq!(
        count(
            &tee.invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
                .unwrap()
        ),
        2
    );
}

#[test]
fn storage_key_quota_is_enforced_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let options = SoftwareTeeOptions {
        ta_limits: TaLimits {
            max_keys: 3,
            ..TaLimits::default()
        },
        ..SoftwareTeeOptions::default()
    };
    let tee = SoftwareTee::open_with(dir.path(), options).unwrap();
    // Stores the argument as a key (value "1").
    let keeper = wasm(
        r#"(module
          (import "teep" "arg_len" (func $len (result i32)))
          (import "teep" "arg_read" (func $read (param i32 i32) (result i32)))
          (import "teep" "storage_put" (func $put (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 200) "1")
          (func (export "invoke") (param i32) (result i32)
            (local $n i32)
            (local.set $n (call $read (i32.const 0) (call $len)))
            (call $put (i32.const 0) (local.get $n) (i32.const 200) (i32.const 1))))"#,
    );
    let id = component_id(&["keeper"]);
    install(&tee, &id, &keeper);
    for key in ["a", "b", "c", "a"] {
        tee.invoke_once(&id, 0, key.as_bytes()).unwrap();
    }
    let err = tee.invoke_once(&id, 0, b"d").unwrap_err().to_string();
    assert!(err.contains("expected at most 3 keys"), "{err}");
    let names = tee
        .sealed_store()
        .list(&teep_tee::ta_namespace(&id))
        .unwrap();
    assert_eq!(names, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
}

/// A TA reads personalization data installed beside it, and nothing else.
#[test]
fn ta_reads_its_sibling_components_only() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    // Returns the component named by the argument, or "none".
    let reader = wasm(
        r#"(module
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
            (i32.const 0)))"#,
    );
    let ta = component_id(&["TEEP-Device", "SecureFS", "app", "ta"]);
    let config = component_id(&["TEEP-Device", "SecureFS", "app", "config"]);
    let other = component_id(&["TEEP-Device", "SecureFS", "other", "config"]);
    let mut batch = teep_tee::ComponentBatch::new();
    batch
        .put_component(ta.clone(), reader.clone())
        .put_component(config, b"greeting=hi".to_vec())
        .put_component(other, b"not yours".to_vec());
    tee.commit_components(&batch).unwrap();
    assert_eq!(tee.invoke_once(&ta, 0, b"config").unwrap(), b"greeting=hi");
    assert_eq!(tee.invoke_once(&ta, 0, b"missing").unwrap(), b"none");
    // A single-segment TA has no siblings, so it cannot reach top-level components.
    let lone = component_id(&["lone"]);
    install(&tee, &lone, &reader);
    install(&tee, &component_id(&["secret"]), b"top level");
    assert_eq!(tee.invoke_once(&lone, 0, b"secret").unwrap(), b"none");
}

#[test]
fn module_bytes_run_as_a_named_ta_without_install() {
    let dir = tempfile::tempdir().unwrap();
    let tee = SoftwareTee::open(dir.path()).unwrap();
    install(&tee, &counter_id(), COUNTER_WASM);
    tee.invoke_once(&counter_id(), COUNTER_INCREMENT, b"")
        .unwrap();
    // The same code run as the counter TA sees the counter's storage.
    let s = tee
        .open_session_with_module(&counter_id(), COUNTER_WASM)
        .unwrap();
    assert_eq!(count(&tee.invoke(s, COUNTER_GET, b"").unwrap()), 1);
    tee.close_session(s).unwrap();
    let err = tee
        .open_session_with_module(&counter_id(), b"\0asm junk")
        .unwrap_err();
    assert!(matches!(err, TeeError::BadModule { .. }), "{err}");
}

#[test]
fn session_limit_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let options = SoftwareTeeOptions {
        ta_limits: TaLimits {
            max_sessions: 2,
            ..TaLimits::default()
        },
        ..SoftwareTeeOptions::default()
    };
    let tee = SoftwareTee::open_with(dir.path(), options).unwrap();
    install(&tee, &hello_id(), HELLO_WASM);
    let a = tee.open_session(&hello_id()).unwrap();
    let _b = tee.open_session(&hello_id()).unwrap();
    assert!(matches!(
        tee.open_session(&hello_id()),
        Err(TeeError::TooManySessions(2))
    ));
    tee.close_session(a).unwrap();
    tee.open_session(&hello_id()).unwrap();
}
