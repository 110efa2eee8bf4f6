//! One live TA instance per session and the lifecycle of a call into it: set up arguments and
//! fuel, run the entry point, then commit its staged storage or discard it and say why the TA
//! stopped.

use wasmi::{Store, TrapCode, TypedFunc};

use super::host_api::HostState;
use super::TaLimits;
use crate::sealed::SealedOp;
use crate::TeeError;

/// A live TA instance: one per session.
pub(crate) struct TaInstance {
    pub(super) store: Store<HostState>,
    pub(super) invoke: TypedFunc<i32, i32>,
    pub(super) open: Option<TypedFunc<(), i32>>,
    pub(super) close: Option<TypedFunc<(), ()>>,
}

/// Maps a wasmi error to the reason the TA was stopped.
pub(super) fn ta_stop_error(
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
    /// Resets the per-call state (arguments, result, staged writes, fuel) before an entry point.
    fn begin_call(&mut self, args: &[u8]) -> Result<(), TeeError> {
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
    fn commit_call(&mut self) -> Result<Vec<u8>, TeeError> {
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

    /// Turns a failed call into the reason the TA stopped and drops its staged writes.
    fn abort_call(&mut self, e: wasmi::Error, entry: &str) -> TeeError {
        let ta = self.store.data().ta.clone();
        let limits = self.store.data().limits;
        let err = ta_stop_error(&ta, &limits, &mut self.store, e, entry);
        let state = self.store.data_mut();
        state.staged.clear();
        state.staged_bytes = 0;
        err
    }

    /// A non-zero return from an entry point fails the call and drops its staged writes.
    fn check_return_code(&mut self, code: i32, entry: &'static str) -> Result<(), TeeError> {
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
        self.begin_call(&[])?;
        match open.call(&mut self.store, ()) {
            Ok(code) => {
                self.check_return_code(code, "open_session")?;
                self.commit_call().map(|_| ())
            }
            Err(e) => Err(self.abort_call(e, "open_session")),
        }
    }

    /// Calls `invoke(command)` with `args`. The bool says whether the instance is still
    /// usable (false after a trap, fuel or memory stop).
    pub(crate) fn invoke(
        &mut self,
        command: u32,
        args: &[u8],
    ) -> (Result<Vec<u8>, TeeError>, bool) {
        if let Err(e) = self.begin_call(args) {
            return (Err(e), true);
        }
        match self.invoke.call(&mut self.store, command as i32) {
            Ok(code) => match self.check_return_code(code, "invoke") {
                Ok(()) => (self.commit_call(), true),
                Err(e) => (Err(e), true),
            },
            Err(e) => (Err(self.abort_call(e, "invoke")), false),
        }
    }

    /// Calls `close_session` if the TA has one.
    pub(crate) fn close_session(&mut self) -> Result<(), TeeError> {
        let Some(close) = self.close else {
            return Ok(());
        };
        self.begin_call(&[])?;
        match close.call(&mut self.store, ()) {
            Ok(()) => self.commit_call().map(|_| ()),
            Err(e) => Err(self.abort_call(e, "close_session")),
        }
    }
}
