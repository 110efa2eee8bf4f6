//! Error types. Messages name the structure or field and the rule that failed.

use alloc::string::String;

use teep_cbor::deviation::Deviation;

/// Loading, parsing or converting a key failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The data is not a key in any supported format.
    #[error("{0}")]
    Format(String),
    /// The key is of a type or curve this crate does not handle.
    #[error("unsupported key: {0}")]
    Unsupported(String),
    /// A public key was found where a private key is needed.
    #[error("{0}: not a private key (no private part)")]
    NotPrivate(&'static str),
    /// Reading a key file failed.
    #[cfg(feature = "std")]
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Building, parsing or verifying a COSE object failed.
#[derive(Debug, thiserror::Error)]
pub enum CoseError {
    /// The input is not well-formed or breaks a structural rule; `path` names where
    /// (for example `COSE_Sign1.protected`).
    #[error("{path}: {reason}")]
    Malformed {
        /// Where in the structure.
        path: String,
        /// What rule was broken.
        reason: String,
    },
    /// The input is larger than the configured limit.
    #[error("input of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Input length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The algorithm is not supported (or not usable with the key).
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(i64),
    /// The algorithm does not fit the key type.
    #[error("algorithm {alg} cannot be used with a {key} key")]
    KeyMismatch {
        /// Algorithm name.
        alg: &'static str,
        /// Key type name.
        key: &'static str,
    },
    /// A signature did not verify.
    #[error("signature verification failed ({0})")]
    BadSignature(&'static str),
    /// No signature in the object could be checked with the given key(s).
    #[error("no signature matches: {0}")]
    NoMatchingSignature(String),
    /// The payload is detached but none was given, or attached but one was given.
    #[error("{0}")]
    Payload(&'static str),
    /// The crypto provider or signer failed.
    #[error("crypto provider: {0}")]
    Crypto(String),
    /// A tolerated departure from the specification, refused because the receiver is strict
    /// ([`teep_cbor::deviation::Tolerance::Strict`]).
    #[error("{}: {}", .0.at, .0.refusal())]
    Refused(Deviation),
}

impl CoseError {
    pub(crate) fn malformed(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
