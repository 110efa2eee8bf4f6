//! Error types. Every error names where in the structure it happened and which rule failed.

use alloc::string::String;

/// A SUIT structure could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct DecodeError {
    /// Where, e.g. `SUIT_Envelope.manifest.common.components[0]`.
    pub path: String,
    /// Which rule failed, e.g. `expected bstr, got map`.
    pub rule: String,
}

impl DecodeError {
    pub fn new(path: impl Into<String>, rule: impl Into<String>) -> Self {
        DecodeError {
            path: path.into(),
            rule: rule.into(),
        }
    }
}

/// Authentication of an envelope failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("SUIT_Envelope.authentication-wrapper: no authentication block (unsigned manifest)")]
    NoAuthenticationBlock,
    #[error("SUIT_Envelope.authentication-wrapper.digest: unsupported digest algorithm {0}")]
    UnsupportedDigest(i64),
    #[error("SUIT_Envelope.authentication-wrapper.digest: manifest digest mismatch (expected {expected}, computed {computed})")]
    DigestMismatch { expected: String, computed: String },
    #[error(
        "SUIT_Envelope.authentication-wrapper: no signature verifies with a trusted key ({0})"
    )]
    Untrusted(String),
    #[error("SUIT_Envelope.authentication-wrapper: unsupported COSE structure: {0}")]
    UnsupportedCose(String),
    #[error("SUIT_Envelope.authentication-wrapper: unsupported algorithm {0}")]
    UnsupportedAlgorithm(i64),
}

/// The component store failed (I/O, corruption). Carries a human readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("component store: {0}")]
pub struct StoreError(pub String);

/// A payload could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fetch {uri}: {reason}")]
pub struct FetchError {
    pub uri: String,
    pub reason: String,
}

/// Payload decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption-info: {0}")]
    Malformed(String),
    #[error("encryption-info: unsupported algorithm {0}")]
    UnsupportedAlgorithm(i64),
    #[error("encryption-info: no key for any recipient")]
    NoKey,
    #[error("encryption-info: {0}")]
    Failed(String),
}

/// Why processing a manifest stopped. The report carries the same information as data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("manifest-version {0} is not supported (expected 1)")]
    UnsupportedVersion(u64),
    #[error("rollback: sequence number {offered} is lower than the installed {installed} for {component}")]
    Rollback {
        component: String,
        offered: u64,
        installed: u64,
    },
    #[error("{section} (byte {offset}): {command}: {reason}")]
    CommandFailed {
        section: String,
        offset: usize,
        command: String,
        reason: String,
    },
    #[error("{section} (byte {offset}): condition {command} failed: {reason}")]
    ConditionFailed {
        section: String,
        offset: usize,
        command: String,
        reason: String,
    },
    #[error("{section} (byte {offset}): command {code} is not supported")]
    UnsupportedCommand {
        section: String,
        offset: usize,
        code: i64,
    },
    #[error("limit exceeded: {0}")]
    Limit(String),
    #[error("manifest {0} is not installed")]
    NotInstalled(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
