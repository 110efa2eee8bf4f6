//! The TA runtime: Trusted Applications are WebAssembly modules run by the wasmi interpreter
//! with a fuel budget per call, a linear-memory cap and no host access except the TA API below.
//!
//! # TA API (import module `"teep"`)
//!
//! | import | signature | meaning |
//! |---|---|---|
//! | `log(ptr, len)` | `(i32, i32) -> ()` | log a UTF-8 line (truncated to `max_log_bytes`) |
//! | `arg_len()` | `() -> i32` | length of the invoke arguments |
//! | `arg_read(ptr, len)` | `(i32, i32) -> i32` | copy up to `len` argument bytes to `ptr`; returns bytes copied |
//! | `set_result(ptr, len)` | `(i32, i32) -> ()` | the bytes returned to the caller (last call wins) |
//! | `storage_get(kptr, klen, vptr, vcap)` | `(i32, i32, i32, i32) -> i32` | value length, or -1 if absent; copies up to `vcap` bytes |
//! | `storage_put(kptr, klen, vptr, vlen)` | `(i32, i32, i32, i32) -> i32` | 0, or -2 if a size limit is hit (value, staged bytes per call) |
//! | `storage_delete(kptr, klen)` | `(i32, i32) -> i32` | 0 |
//! | `component_read(nptr, nlen, vptr, vcap)` | `(i32, i32, i32, i32) -> i32` | length of the installed component beside the TA whose last id segment is the name (personalization data), or -1; copies up to `vcap` bytes |
//!
//! Storage is the TA's own sealed namespace (derived from its component id); nothing else is
//! reachable. `component_read` reaches only components whose id is the TA's id with the last
//! segment replaced (`[.., "app", "ta"]` reads `[.., "app", "config"]`); a TA whose id has a
//! single segment has no such siblings. Writes are staged during a call and committed atomically only when the entry
//! point returns 0, so a trap, a fuel or memory stop, or a non-zero return leaves storage as
//! it was. A call that would leave more than `max_keys` keys fails as a whole.
//!
//! # Entry points (exports)
//!
//! `memory` (required), `invoke(command: i32) -> i32` (required, 0 = success),
//! `open_session() -> i32` and `close_session()` (optional). GlobalPlatform-like: one instance
//! lives for the whole session, so globals and memory persist between invokes of a session.
//! A pointer outside memory, or any host API misuse, traps; a trapped, out-of-fuel or
//! out-of-memory TA is stopped and its session closed.

mod engine;
mod host_api;
mod limits;
mod session;
mod wasm_precheck;

pub use engine::{TaModule, TaRuntime};
pub use host_api::{STORAGE_NOT_FOUND, STORAGE_TOO_LARGE};
pub use limits::TaLimits;
pub(crate) use session::TaInstance;
