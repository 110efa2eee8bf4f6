//! Bounds on everything read from outside. Defaults are generous for TEEP Trusted Components
//! and small enough that hostile input cannot exhaust memory or stack.

/// Maximum CBOR nesting accepted anywhere (skip of unknown members included).
pub const MAX_CBOR_DEPTH: usize = 32;

/// Limits applied by the decoder and the processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest envelope accepted (bytes).
    pub max_envelope_len: usize,
    /// Most segments in one component identifier.
    pub max_component_id_segments: usize,
    /// Most components in `suit-components`.
    pub max_components: usize,
    /// Deepest nesting of try-each / run-sequence (each nests a command sequence).
    pub max_sequence_depth: usize,
    /// Most commands executed in one run (bounds try-each fan-out as well as depth).
    pub max_commands: usize,
    /// Deepest dependency chain followed by process-dependency.
    pub max_dependency_depth: usize,
    /// Largest payload fetched or written to one component (bytes).
    pub max_payload_len: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_envelope_len: 64 * 1024 * 1024,
            max_component_id_segments: 32,
            max_components: 256,
            max_sequence_depth: 8,
            max_commands: 10_000,
            max_dependency_depth: 4,
            max_payload_len: 64 * 1024 * 1024,
        }
    }
}
