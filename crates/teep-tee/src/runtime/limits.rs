//! Resource limits of TAs: fuel, memory, module size and the sizes the TA API accepts.

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
