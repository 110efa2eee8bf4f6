//! Errors of the TEE layer. Each names the object (path, namespace/name, component, TA) and the
//! rule that was broken, so a caller can show it as one line.

use std::path::PathBuf;

/// Everything that can go wrong in a [`crate::Tee`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TeeError {
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A sealed blob failed authentication: flipped bits, truncated, or copied from another
    /// namespace or name. Nothing is returned from it.
    #[error("sealed blob {namespace}/{name}: integrity check failed (tampered, corrupted, or moved from another namespace or name)")]
    Integrity { namespace: String, name: String },
    /// Input broke a limit or a format rule; `what` names the field, `rule` says what was expected.
    #[error("{what}: {rule}")]
    Invalid { what: String, rule: String },
    /// Stored state decodes but is not what this version wrote (or the root secret is missing).
    #[error("{what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// The crypto provider refused or failed; `what` names the step (e.g. `sealing`).
    #[error("{what}: {source}")]
    Crypto {
        what: &'static str,
        #[source]
        source: teep_cose::CryptoError,
    },
    /// No component with this id is installed.
    #[error("component {0}: not installed")]
    ComponentNotFound(String),
    /// The bytes of a TA are not an acceptable WebAssembly module.
    #[error("TA {ta}: invalid WebAssembly module: {reason}")]
    BadModule { ta: String, reason: String },
    /// The TA ran out of its fuel budget (a runaway loop or a too expensive command).
    #[error("TA {ta}: stopped: fuel budget of {fuel} units exhausted")]
    FuelExhausted { ta: String, fuel: u64 },
    /// The TA tried to grow its linear memory beyond the limit.
    #[error("TA {ta}: stopped: memory limit of {limit} bytes exceeded")]
    MemoryLimit { ta: String, limit: usize },
    /// The TA trapped (unreachable, out-of-bounds access, host API misuse, ...).
    #[error("TA {ta}: stopped: {reason}")]
    Trap { ta: String, reason: String },
    /// The TA ran to completion but reported failure with a non-zero code.
    #[error("TA {ta}: {entry} returned error code {code}")]
    TaFailed {
        ta: String,
        entry: &'static str,
        code: i32,
    },
    /// The session id is unknown, already closed, or was closed because its TA was stopped.
    #[error("TA session {0}: not open")]
    NoSession(u64),
    /// Too many sessions are open at once.
    #[error("TA sessions: limit of {0} open sessions reached")]
    TooManySessions(usize),
}

impl TeeError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TeeError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, rule: impl Into<String>) -> Self {
        TeeError::Invalid {
            what: what.into(),
            rule: rule.into(),
        }
    }

    pub(crate) fn crypto(what: &'static str, source: teep_cose::CryptoError) -> Self {
        TeeError::Crypto { what, source }
    }

    pub(crate) fn corrupt(what: impl Into<String>, reason: impl Into<String>) -> Self {
        TeeError::Corrupt {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
