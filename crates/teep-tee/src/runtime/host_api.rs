//! The host side of the TA API: the `"teep"` imports a TA may call, and the per-instance state
//! they work on. Every pointer and length from the guest is checked here; misuse traps.

use std::sync::Arc;

use wasmi::{Caller, Extern, Linker, Memory, StoreLimits};

use super::TaLimits;
use crate::components::{ComponentId, ComponentLimits, ComponentStore};
use crate::sealed::{SealedStore, Staged};
use crate::TeeError;

/// Return code of `storage_get` for a missing key.
pub const STORAGE_NOT_FOUND: i32 = -1;
/// Return code of `storage_put` when a size limit is hit.
pub const STORAGE_TOO_LARGE: i32 = -2;

/// Per-store state the host functions see.
pub(super) struct HostState {
    pub(super) ta: String,
    /// The TA's component id (for `component_read`).
    pub(super) ta_id: ComponentId,
    pub(super) components: ComponentLimits,
    pub(super) namespace: String,
    pub(super) sealed: Arc<SealedStore>,
    pub(super) args: Vec<u8>,
    pub(super) result: Option<Vec<u8>>,
    pub(super) staged: Staged,
    pub(super) staged_bytes: usize,
    pub(super) store_limits: StoreLimits,
    pub(super) limits: TaLimits,
    /// A host-side failure (I/O, integrity) to report instead of the generic trap.
    pub(super) fault: Option<TeeError>,
}

/// A trap raised by the host, with a message that says which TA API rule was broken.
fn host_trap(msg: impl Into<String>) -> wasmi::Error {
    wasmi::Error::new(msg.into())
}

/// The TA's exported linear memory (required by the TA API).
fn exported_memory(caller: &Caller<'_, HostState>) -> Result<Memory, wasmi::Error> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(host_trap("TA API: the module exports no memory")),
    }
}

/// Converts a guest pointer and length, refusing lengths above `max`.
fn checked_guest_range(
    ptr: i32,
    len: i32,
    max: usize,
    what: &str,
) -> Result<(usize, usize), wasmi::Error> {
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    if len > max {
        return Err(host_trap(format!(
            "TA API: {what} of {len} bytes exceeds the limit of {max}"
        )));
    }
    Ok((ptr, len))
}

/// Copies `len` bytes out of guest memory at `ptr`, trapping if out of bounds or above `max`.
fn read_guest(
    caller: &Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    max: usize,
    what: &str,
) -> Result<Vec<u8>, wasmi::Error> {
    let (ptr, len) = checked_guest_range(ptr, len, max, what)?;
    let mem = exported_memory(caller)?;
    let mut buf = vec![0u8; len];
    mem.read(caller, ptr, &mut buf).map_err(|_| {
        host_trap(format!(
            "TA API: {what} at {ptr}+{len} is outside linear memory"
        ))
    })?;
    Ok(buf)
}

/// Copies `data` into guest memory at `ptr`, trapping if out of bounds.
fn write_guest(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    data: &[u8],
    what: &str,
) -> Result<(), wasmi::Error> {
    let mem = exported_memory(caller)?;
    let ptr = ptr as u32 as usize;
    mem.write(caller, ptr, data).map_err(|_| {
        host_trap(format!(
            "TA API: {what} at {ptr}+{} is outside linear memory",
            data.len()
        ))
    })
}

/// Registers every import of the TA API (module `"teep"`) on the linker.
pub(super) fn define_ta_api(linker: &mut Linker<HostState>) -> Result<(), wasmi::Error> {
    linker.func_wrap(
        "teep",
        "log",
        |caller: Caller<'_, HostState>, ptr: i32, len: i32| {
            let max = caller.data().limits.max_log_bytes;
            let len = (len as u32 as usize).min(max) as i32;
            let bytes = read_guest(&caller, ptr, len, max, "log message")?;
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
            write_guest(&mut caller, ptr, &chunk, "arg_read buffer")?;
            Ok(n as i32)
        },
    )?;
    linker.func_wrap(
        "teep",
        "set_result",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> Result<(), wasmi::Error> {
            let max = caller.data().limits.max_result_bytes;
            let bytes = read_guest(&caller, ptr, len, max, "result")?;
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
            let key = read_guest(&caller, kptr, klen, max_key, "storage key")?;
            if key.is_empty() {
                return Err(host_trap("TA API: storage key must not be empty"));
            }
            let state = caller.data_mut();
            let value = match state.staged.get(&key) {
                Some(staged) => staged.clone(),
                None => match state.sealed.get(&state.namespace, &key) {
                    Ok(v) => v,
                    Err(e) => {
                        state.fault = Some(e);
                        return Err(host_trap("TA API: storage_get failed"));
                    }
                },
            };
            let Some(value) = value else {
                return Ok(STORAGE_NOT_FOUND);
            };
            let n = (vcap as u32 as usize).min(value.len());
            write_guest(&mut caller, vptr, &value[..n], "storage_get buffer")?;
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
            let key = read_guest(&caller, kptr, klen, limits.max_key_bytes, "storage key")?;
            if key.is_empty() {
                return Err(host_trap("TA API: storage key must not be empty"));
            }
            if vlen as u32 as usize > limits.max_value_bytes {
                return Ok(STORAGE_TOO_LARGE);
            }
            let value = read_guest(&caller, vptr, vlen, limits.max_value_bytes, "storage value")?;
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
            let key = read_guest(&caller, kptr, klen, max_key, "storage key")?;
            if key.is_empty() {
                return Err(host_trap("TA API: storage key must not be empty"));
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
            let name = read_guest(&caller, nptr, nlen, max_name, "component name")?;
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
                    return Err(host_trap("TA API: component_read failed"));
                }
            };
            let n = (vcap as u32 as usize).min(bytes.len());
            write_guest(&mut caller, vptr, &bytes[..n], "component_read buffer")?;
            Ok(i32::try_from(bytes.len()).unwrap_or(i32::MAX))
        },
    )?;
    Ok(())
}
