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

use std::sync::Arc;

use wasmi::TrapCode;
use wasmi::{
    Caller, Config, EnforcedLimits, Engine, Extern, ExternType, Instance, Linker, Memory, Module,
    Store, StoreLimits, StoreLimitsBuilder, TypedFunc,
};

use crate::components::{ComponentId, ComponentLimits, ComponentStore};
use crate::sealed::{SealedOp, SealedStore, Staged};
use crate::TeeError;

/// Resource limits of TAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaLimits {
    /// Fuel (roughly: Wasm instructions) for one call of an entry point.
    pub fuel: u64,
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Largest module accepted for compilation.
    pub max_module_bytes: usize,
    /// Largest invoke argument.
    pub max_arg_bytes: usize,
    /// Largest result a TA can return.
    pub max_result_bytes: usize,
    /// Longest storage key.
    pub max_key_bytes: usize,
    /// Largest storage value.
    pub max_value_bytes: usize,
    /// Most bytes of values staged by one call.
    pub max_staged_bytes: usize,
    /// Most keys a TA may keep in its storage (bounds the disk a TA can fill).
    pub max_keys: usize,
    /// Longest log line kept.
    pub max_log_bytes: usize,
    /// Most sessions open at once (per TEE).
    pub max_sessions: usize,
}

impl Default for TaLimits {
    fn default() -> Self {
        TaLimits {
            fuel: 100_000_000,
            memory_bytes: 16 * 1024 * 1024,
            max_module_bytes: 8 * 1024 * 1024,
            max_arg_bytes: 64 * 1024,
            max_result_bytes: 64 * 1024,
            max_key_bytes: 64,
            max_value_bytes: 64 * 1024,
            max_staged_bytes: 1024 * 1024,
            max_keys: 1024,
            max_log_bytes: 1024,
            max_sessions: 64,
        }
    }
}

/// Return code of `storage_get` for a missing key.
pub const STORAGE_NOT_FOUND: i32 = -1;
/// Return code of `storage_put` when a size limit is hit.
pub const STORAGE_TOO_LARGE: i32 = -2;

/// Per-store state the host functions see.
pub(crate) struct HostState {
    ta: String,
    /// The TA's component id (for `component_read`).
    ta_id: ComponentId,
    components: ComponentLimits,
    namespace: String,
    sealed: Arc<SealedStore>,
    args: Vec<u8>,
    result: Option<Vec<u8>>,
    staged: Staged,
    staged_bytes: usize,
    store_limits: StoreLimits,
    limits: TaLimits,
    /// A host-side failure (I/O, integrity) to report instead of the generic trap.
    fault: Option<TeeError>,
}

/// A compiled TA, cheap to clone and instantiate many times.
#[derive(Clone)]
pub struct TaModule {
    module: Module,
    has_open: bool,
    has_close: bool,
}

impl std::fmt::Debug for TaModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaModule")
            .field("has_open", &self.has_open)
            .field("has_close", &self.has_close)
            .finish_non_exhaustive()
    }
}

/// Engine and linker shared by all TAs of a TEE.
pub struct TaRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: TaLimits,
}

impl std::fmt::Debug for TaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaRuntime")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A live TA instance: one per session.
pub(crate) struct TaInstance {
    store: Store<HostState>,
    invoke: TypedFunc<i32, i32>,
    open: Option<TypedFunc<(), i32>>,
    close: Option<TypedFunc<(), ()>>,
}

fn trap(msg: impl Into<String>) -> wasmi::Error {
    wasmi::Error::new(msg.into())
}

fn memory(caller: &Caller<'_, HostState>) -> Result<Memory, wasmi::Error> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(trap("TA API: the module exports no memory")),
    }
}

fn range(ptr: i32, len: i32, max: usize, what: &str) -> Result<(usize, usize), wasmi::Error> {
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    if len > max {
        return Err(trap(format!(
            "TA API: {what} of {len} bytes exceeds the limit of {max}"
        )));
    }
    Ok((ptr, len))
}

fn read_mem(
    caller: &Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    max: usize,
    what: &str,
) -> Result<Vec<u8>, wasmi::Error> {
    let (ptr, len) = range(ptr, len, max, what)?;
    let mem = memory(caller)?;
    let mut buf = vec![0u8; len];
    mem.read(caller, ptr, &mut buf).map_err(|_| {
        trap(format!(
            "TA API: {what} at {ptr}+{len} is outside linear memory"
        ))
    })?;
    Ok(buf)
}

fn write_mem(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    data: &[u8],
    what: &str,
) -> Result<(), wasmi::Error> {
    let mem = memory(caller)?;
    let ptr = ptr as u32 as usize;
    mem.write(caller, ptr, data).map_err(|_| {
        trap(format!(
            "TA API: {what} at {ptr}+{} is outside linear memory",
            data.len()
        ))
    })
}

fn define_api(linker: &mut Linker<HostState>) -> Result<(), wasmi::Error> {
    linker.func_wrap(
        "teep",
        "log",
        |caller: Caller<'_, HostState>, ptr: i32, len: i32| {
            let max = caller.data().limits.max_log_bytes;
            let len = (len as u32 as usize).min(max) as i32;
            let bytes = read_mem(&caller, ptr, len, max, "log message")?;
            tracing::info!(ta = %caller.data().ta, "{}", String::from_utf8_lossy(&bytes));
            Ok(())
        },
    )?;
    linker.func_wrap("teep", "arg_len", |caller: Caller<'_, HostState>| -> i32 {
        caller.data().args.len() as i32
    })?;
    linker.func_wrap(
        "teep",
        "arg_read",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> Result<i32, wasmi::Error> {
            let want = len as u32 as usize;
            let args = &caller.data().args;
            let n = want.min(args.len());
            let chunk = args[..n].to_vec();
            write_mem(&mut caller, ptr, &chunk, "arg_read buffer")?;
            Ok(n as i32)
        },
    )?;
    linker.func_wrap(
        "teep",
        "set_result",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> Result<(), wasmi::Error> {
            let max = caller.data().limits.max_result_bytes;
            let bytes = read_mem(&caller, ptr, len, max, "result")?;
            caller.data_mut().result = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "teep",
        "storage_get",
        |mut caller: Caller<'_, HostState>,
         kptr: i32,
         klen: i32,
         vptr: i32,
         vcap: i32|
         -> Result<i32, wasmi::Error> {
            let max_key = caller.data().limits.max_key_bytes;
            let key = read_mem(&caller, kptr, klen, max_key, "storage key")?;
            if key.is_empty() {
                return Err(trap("TA API: storage key must not be empty"));
            }
            let state = caller.data_mut();
            let value = match state.staged.get(&key) {
                Some(staged) => staged.clone(),
                None => match state.sealed.get(&state.namespace, &key) {
                    Ok(v) => v,
                    Err(e) => {
                        state.fault = Some(e);
                        return Err(trap("TA API: storage_get failed"));
                    }
                },
            };
            let Some(value) = value else {
                return Ok(STORAGE_NOT_FOUND);
            };
            let n = (vcap as u32 as usize).min(value.len());
            write_mem(&mut caller, vptr, &value[..n], "storage_get buffer")?;
            Ok(value.len() as i32)
        },
    )?;
    linker.func_wrap(
        "teep",
        "storage_put",
        |mut caller: Caller<'_, HostState>,
         kptr: i32,
         klen: i32,
         vptr: i32,
         vlen: i32|
         -> Result<i32, wasmi::Error> {
            let limits = caller.data().limits;
            let key = read_mem(&caller, kptr, klen, limits.max_key_bytes, "storage key")?;
            if key.is_empty() {
                return Err(trap("TA API: storage key must not be empty"));
            }
            if vlen as u32 as usize > limits.max_value_bytes {
                return Ok(STORAGE_TOO_LARGE);
            }
            let value = read_mem(&caller, vptr, vlen, limits.max_value_bytes, "storage value")?;
            let state = caller.data_mut();
            if state.staged_bytes + value.len() > limits.max_staged_bytes {
                return Ok(STORAGE_TOO_LARGE);
            }
            state.staged_bytes += value.len();
            state.staged.insert(key, Some(value));
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "teep",
        "storage_delete",
        |mut caller: Caller<'_, HostState>, kptr: i32, klen: i32| -> Result<i32, wasmi::Error> {
            let max_key = caller.data().limits.max_key_bytes;
            let key = read_mem(&caller, kptr, klen, max_key, "storage key")?;
            if key.is_empty() {
                return Err(trap("TA API: storage key must not be empty"));
            }
            caller.data_mut().staged.insert(key, None);
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "teep",
        "component_read",
        |mut caller: Caller<'_, HostState>,
         nptr: i32,
         nlen: i32,
         vptr: i32,
         vcap: i32|
         -> Result<i32, wasmi::Error> {
            let max_name = caller.data().components.max_id_segment_bytes;
            let name = read_mem(&caller, nptr, nlen, max_name, "component name")?;
            let state = caller.data_mut();
            if state.ta_id.len() < 2 {
                return Ok(STORAGE_NOT_FOUND);
            }
            let mut sibling = state.ta_id.clone();
            if let Some(last) = sibling.last_mut() {
                *last = name;
            }
            let store = ComponentStore {
                limits: state.components,
            };
            let bytes = match store.read(&state.sealed, &sibling) {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return Ok(STORAGE_NOT_FOUND),
                Err(e) => {
                    state.fault = Some(e);
                    return Err(trap("TA API: component_read failed"));
                }
            };
            let n = (vcap as u32 as usize).min(bytes.len());
            write_mem(&mut caller, vptr, &bytes[..n], "component_read buffer")?;
            Ok(i32::try_from(bytes.len()).unwrap_or(i32::MAX))
        },
    )?;
    Ok(())
}

impl TaRuntime {
    /// Makes an engine with fuel metering and strict limits for untrusted modules.
    pub fn new(limits: TaLimits) -> Self {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            .enforced_limits(EnforcedLimits::strict());
        let engine = Engine::new(&config);
        let mut linker = Linker::new(&engine);
        // Defining fixed, distinct names on a fresh linker cannot fail.
        define_api(&mut linker).expect("TA API definitions are distinct");
        TaRuntime {
            engine,
            linker,
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &TaLimits {
        &self.limits
    }

    /// Validates and compiles a TA; `ta` names it in errors.
    pub fn compile(&self, ta: &str, wasm: &[u8]) -> Result<TaModule, TeeError> {
        let bad = |reason: String| TeeError::BadModule {
            ta: ta.to_owned(),
            reason,
        };
        if wasm.len() > self.limits.max_module_bytes {
            return Err(bad(format!(
                "expected at most {} bytes, got {}",
                self.limits.max_module_bytes,
                wasm.len()
            )));
        }
        if !wasm.starts_with(b"\0asm") {
            return Err(bad("not a WebAssembly binary (missing \\0asm magic)".into()));
        }
        check_code_section(wasm).map_err(bad)?;
        // wasmi's parser is meant not to panic, but a panic in it must not take the TEE down
        // with it: treat one as a rejected module.
        let module = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Module::new(&self.engine, wasm)
        }))
        .map_err(|_| bad("the module crashed the WebAssembly parser".into()))?
        .map_err(|e| bad(e.to_string()))?;
        for import in module.imports() {
            if import.module() != "teep" || !matches!(import.ty(), ExternType::Func(_)) {
                return Err(bad(format!(
                    "import {}.{} is not part of the TA API",
                    import.module(),
                    import.name()
                )));
            }
        }
        if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
            return Err(bad("missing export `memory`".into()));
        }
        let func_export = |name: &str, params: usize, results: usize| -> Result<bool, TeeError> {
            match module.get_export(name) {
                None => Ok(false),
                Some(ExternType::Func(f))
                    if f.params().len() == params && f.results().len() == results =>
                {
                    Ok(true)
                }
                Some(_) => Err(bad(format!("export `{name}` has the wrong type"))),
            }
        };
        if !func_export("invoke", 1, 1)? {
            return Err(bad("missing export `invoke(command: i32) -> i32`".into()));
        }
        let has_open = func_export("open_session", 0, 1)?;
        let has_close = func_export("close_session", 0, 0)?;
        Ok(TaModule {
            module,
            has_open,
            has_close,
        })
    }

    /// Instantiates a compiled TA whose storage is `namespace` in `sealed`.
    pub(crate) fn instantiate(
        &self,
        ta: &str,
        ta_id: &[Vec<u8>],
        components: ComponentLimits,
        module: &TaModule,
        sealed: Arc<SealedStore>,
        namespace: String,
    ) -> Result<TaInstance, TeeError> {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .memories(1)
            .tables(4)
            .table_elements(10_000)
            .instances(1)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            ta: ta.to_owned(),
            ta_id: ta_id.to_vec(),
            components,
            namespace,
            sealed,
            args: Vec::new(),
            result: None,
            staged: Staged::new(),
            staged_bytes: 0,
            store_limits,
            limits: self.limits,
            fault: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.store_limits);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| TeeError::Trap {
                ta: ta.to_owned(),
                reason: e.to_string(),
            })?;
        let instance: Instance = self
            .linker
            .instantiate_and_start(&mut store, &module.module)
            .map_err(|e| classify(ta, &self.limits, &mut store, e, "instantiate"))?;
        let missing = |what: &str| TeeError::BadModule {
            ta: ta.to_owned(),
            reason: format!("export `{what}` has the wrong type"),
        };
        let invoke = instance
            .get_typed_func::<i32, i32>(&store, "invoke")
            .map_err(|_| missing("invoke"))?;
        let open = if module.has_open {
            Some(
                instance
                    .get_typed_func::<(), i32>(&store, "open_session")
                    .map_err(|_| missing("open_session"))?,
            )
        } else {
            None
        };
        let close = if module.has_close {
            Some(
                instance
                    .get_typed_func::<(), ()>(&store, "close_session")
                    .map_err(|_| missing("close_session"))?,
            )
        } else {
            None
        };
        Ok(TaInstance {
            store,
            invoke,
            open,
            close,
        })
    }
}

/// Reads an unsigned LEB128 u32 at `*pos`.
fn read_leb_u32(data: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u32 = 0;
    for i in 0..5 {
        let byte = *data.get(*pos)?;
        *pos += 1;
        result |= u32::from(byte & 0x7f).checked_shl(7 * i)?;
        if byte & 0x80 == 0 {
            return Some(result);
        }
    }
    None
}

/// Rejects a code section that declares no function bodies but carries bytes. wasmi 2.0.0
/// divides by the body count in its strict-limits check before validating the section and
/// panics on such input (found by the `ta_module` fuzz target), so it is caught here first.
/// Only section headers are walked; full validation stays with wasmi.
fn check_code_section(wasm: &[u8]) -> Result<(), String> {
    const CODE_SECTION: u8 = 10;
    let mut pos = 8; // magic and version, checked by the caller and by wasmi
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let Some(size) = read_leb_u32(wasm, &mut pos) else {
            return Ok(()); // malformed: wasmi reports it
        };
        let end = pos.saturating_add(size as usize);
        if id == CODE_SECTION {
            let mut body = pos;
            if let Some(0) = read_leb_u32(wasm, &mut body) {
                if end > body {
                    return Err(format!(
                        "code section declares no function bodies but has {} more bytes",
                        end - body
                    ));
                }
            }
        }
        pos = end;
    }
    Ok(())
}

/// Maps a wasmi error to the reason the TA was stopped.
fn classify(
    ta: &str,
    limits: &TaLimits,
    store: &mut Store<HostState>,
    e: wasmi::Error,
    entry: &str,
) -> TeeError {
    if let Some(fault) = store.data_mut().fault.take() {
        return fault;
    }
    let ta = ta.to_owned();
    match e.as_trap_code() {
        Some(TrapCode::OutOfFuel) => TeeError::FuelExhausted {
            ta,
            fuel: limits.fuel,
        },
        Some(TrapCode::GrowthOperationLimited) => TeeError::MemoryLimit {
            ta,
            limit: limits.memory_bytes,
        },
        _ => {
            let msg = e.to_string();
            // Limiter denials surface as memory errors (grow) or instantiation errors
            // (initial size); wasmi has no dedicated code for the latter.
            if matches!(e.kind(), wasmi::errors::ErrorKind::Memory(_))
                || msg.contains("resource limiter denied")
            {
                TeeError::MemoryLimit {
                    ta,
                    limit: limits.memory_bytes,
                }
            } else {
                TeeError::Trap {
                    ta,
                    reason: format!("{entry}: {msg}"),
                }
            }
        }
    }
}

impl TaInstance {
    fn begin(&mut self, args: &[u8]) -> Result<(), TeeError> {
        let ta = self.store.data().ta.clone();
        let limits = self.store.data().limits;
        if args.len() > limits.max_arg_bytes {
            return Err(TeeError::invalid(
                format!("TA {ta}: invoke arguments"),
                format!(
                    "expected at most {} bytes, got {}",
                    limits.max_arg_bytes,
                    args.len()
                ),
            ));
        }
        let state = self.store.data_mut();
        state.args = args.to_vec();
        state.result = None;
        state.staged.clear();
        state.staged_bytes = 0;
        state.fault = None;
        self.store
            .set_fuel(limits.fuel)
            .map_err(|e| TeeError::Trap {
                ta,
                reason: e.to_string(),
            })
    }

    /// Commits staged storage after a successful call.
    fn finish(&mut self) -> Result<Vec<u8>, TeeError> {
        let state = self.store.data_mut();
        let staged = std::mem::take(&mut state.staged);
        state.staged_bytes = 0;
        let ops: Vec<SealedOp> = staged
            .into_iter()
            .map(|(name, value)| SealedOp {
                namespace: state.namespace.clone(),
                name,
                value,
            })
            .collect();
        if ops.iter().any(|op| op.value.is_some()) {
            let ta = state.ta.clone();
            let mut names: std::collections::BTreeSet<Vec<u8>> =
                state.sealed.list(&state.namespace)?.into_iter().collect();
            for op in &ops {
                match op.value {
                    Some(_) => names.insert(op.name.clone()),
                    None => names.remove(&op.name),
                };
            }
            if names.len() > state.limits.max_keys {
                return Err(TeeError::invalid(
                    format!("TA {ta}: storage"),
                    format!(
                        "expected at most {} keys, the call would leave {}",
                        state.limits.max_keys,
                        names.len()
                    ),
                ));
            }
        }
        if !ops.is_empty() {
            state.sealed.commit(&ops)?;
        }
        Ok(state.result.take().unwrap_or_default())
    }

    fn fail(&mut self, e: wasmi::Error, entry: &str) -> TeeError {
        let ta = self.store.data().ta.clone();
        let limits = self.store.data().limits;
        let err = classify(&ta, &limits, &mut self.store, e, entry);
        let state = self.store.data_mut();
        state.staged.clear();
        state.staged_bytes = 0;
        err
    }

    fn check_code(&mut self, code: i32, entry: &'static str) -> Result<(), TeeError> {
        if code == 0 {
            return Ok(());
        }
        let state = self.store.data_mut();
        state.staged.clear();
        state.staged_bytes = 0;
        Err(TeeError::TaFailed {
            ta: state.ta.clone(),
            entry,
            code,
        })
    }

    /// Calls `open_session` if the TA has one. `Err` means the session must be dropped.
    pub(crate) fn open_session(&mut self) -> Result<(), TeeError> {
        let Some(open) = self.open else { return Ok(()) };
        self.begin(&[])?;
        match open.call(&mut self.store, ()) {
            Ok(code) => {
                self.check_code(code, "open_session")?;
                self.finish().map(|_| ())
            }
            Err(e) => Err(self.fail(e, "open_session")),
        }
    }

    /// Calls `invoke(command)` with `args`. The bool says whether the instance is still
    /// usable (false after a trap, fuel or memory stop).
    pub(crate) fn invoke(
        &mut self,
        command: u32,
        args: &[u8],
    ) -> (Result<Vec<u8>, TeeError>, bool) {
        if let Err(e) = self.begin(args) {
            return (Err(e), true);
        }
        match self.invoke.call(&mut self.store, command as i32) {
            Ok(code) => match self.check_code(code, "invoke") {
                Ok(()) => (self.finish(), true),
                Err(e) => (Err(e), true),
            },
            Err(e) => (Err(self.fail(e, "invoke")), false),
        }
    }

    /// Calls `close_session` if the TA has one.
    pub(crate) fn close_session(&mut self) -> Result<(), TeeError> {
        let Some(close) = self.close else {
            return Ok(());
        };
        self.begin(&[])?;
        match close.call(&mut self.store, ()) {
            Ok(()) => self.finish().map(|_| ()),
            Err(e) => Err(self.fail(e, "close_session")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(wat: &str) -> Result<TaModule, TeeError> {
        TaRuntime::new(TaLimits::default()).compile("t", &wat::parse_str(wat).unwrap())
    }

    #[test]
    fn detects_optional_entry_points() {
        let m = compile(
            r#"(module (memory (export "memory") 1)
                 (func (export "invoke") (param i32) (result i32) (i32.const 0))
                 (func (export "open_session") (result i32) (i32.const 0)))"#,
        )
        .unwrap();
        assert!(m.has_open && !m.has_close);
    }

    #[test]
    fn rejects_wrongly_typed_entry_points() {
        let err = compile(
            r#"(module (memory (export "memory") 1)
                 (func (export "invoke") (result i32) (i32.const 0)))"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("export `invoke` has the wrong type"),
            "{err}"
        );
        let err = compile(
            r#"(module (memory (export "memory") 1)
                 (func (export "invoke") (param i32) (result i32) (i32.const 0))
                 (func (export "close_session") (result i32) (i32.const 0)))"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("close_session"), "{err}");
    }

    #[test]
    fn rejects_imported_memory() {
        let err = compile(
            r#"(module (import "teep" "memory" (memory 1))
                 (func (export "invoke") (param i32) (result i32) (i32.const 0)))"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not part of the TA API"), "{err}");
    }

    #[test]
    fn rejects_empty_code_section_with_trailing_bytes() {
        // The fuzz finding, reduced: a code section with count 0 and 1000 bytes of padding.
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(10);
        wasm.extend_from_slice(&[0xe9, 0x07]); // section size 1001 (LEB128)
        wasm.push(0); // no function bodies
        wasm.extend_from_slice(&[0u8; 1000]);
        let err = TaRuntime::new(TaLimits::default())
            .compile("t", &wasm)
            .unwrap_err();
        assert!(
            err.to_string().contains("declares no function bodies"),
            "{err}"
        );
    }

    #[test]
    fn fuzz_crash_input_is_a_clear_error() {
        let wasm = include_bytes!("../fuzz/seeds/ta_module/crash-empty-code-section.wasm");
        let err = TaRuntime::new(TaLimits::default())
            .compile("t", wasm)
            .unwrap_err();
        assert!(matches!(err, TeeError::BadModule { .. }), "{err}");
    }

    #[test]
    fn rejects_oversized_module_before_parsing() {
        let rt = TaRuntime::new(TaLimits {
            max_module_bytes: 16,
            ..TaLimits::default()
        });
        let err = rt.compile("t", &[0u8; 17]).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected at most 16 bytes, got 17"),
            "{err}"
        );
    }
}
