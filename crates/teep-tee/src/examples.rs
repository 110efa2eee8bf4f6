//! Example TAs, compiled from the WAT sources in `tas/` by the build script.
//!
//! * `hello`: `invoke` (any command) sets the result `Hello IETF TEEP!`.
//! * `counter`: command 1 increments the sealed counter and returns it, command 2 returns it;
//!   both as 8-byte little-endian. Any other command returns error code 1.

/// The `hello` TA (WebAssembly binary).
pub const HELLO_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hello.wasm"));
/// The `counter` TA (WebAssembly binary).
pub const COUNTER_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/counter.wasm"));

/// `counter` command: increment, then return the new value.
pub const COUNTER_INCREMENT: u32 = 1;
/// `counter` command: return the current value.
pub const COUNTER_GET: u32 = 2;

/// The answer of the `hello` TA.
pub const HELLO_ANSWER: &str = "Hello IETF TEEP!";
