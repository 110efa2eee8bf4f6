//! Error types. Messages name the structure or field and the rule that failed.

use alloc::string::String;

use crate::KeyType;
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
    /// A primitive of the crypto provider refused its input or failed (typed).
    #[error("crypto provider: {0}")]
    Primitive(#[from] CryptoError),
    /// A tolerated departure from the specification, refused because the receiver is strict
    /// ([`teep_cbor::deviation::Tolerance::Strict`]).
    #[error("{}: {}", .0.at, .0.refusal())]
    Refused(Deviation),
}

/// A symmetric primitive, key agreement or the random source refused its input or failed.
///
/// Every built-in provider checks the same rules before calling its library
/// (`provider/rules.rs`), so they return the same variant, and the same text, for the same
/// input; callers can tell a wrong key length from a failed authentication without parsing
/// text. `op` names the primitive (`AES-GCM`, `AES key unwrap`, `HKDF-SHA-256`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A key of a length the primitive does not take.
    #[error("{op}: key must be {expected} bytes, got {got}")]
    KeyLength {
        /// The primitive.
        op: &'static str,
        /// The lengths it takes, e.g. `16 or 32`.
        expected: &'static str,
        /// The length given.
        got: usize,
    },
    /// Data, a nonce or an output buffer of a length the primitive does not take.
    #[error("{op}: {rule}, got {got}")]
    InputLength {
        /// The primitive.
        op: &'static str,
        /// The rule, e.g. `PRK must be at least 32 bytes`.
        rule: &'static str,
        /// The length given.
        got: usize,
    },
    /// The input is not authentic: an AEAD tag, the key-wrap integrity check or a MAC did not
    /// match (wrong key, or changed data).
    #[error("{op}: {check} failed")]
    Authentication {
        /// The primitive.
        op: &'static str,
        /// What did not match, e.g. `integrity check`.
        check: &'static str,
    },
    /// A key of a type the primitive does not take (ECDH is P-256 only).
    #[error("{op}: needs {expected} keys, got a {got} key")]
    KeyType {
        /// The primitive.
        op: &'static str,
        /// The type it takes.
        expected: KeyType,
        /// The type given.
        got: KeyType,
    },
    /// The random source failed, or there is none (`no_std` without an installed source).
    #[error("random source: {0}")]
    Random(String),
    /// The library refused an input the rules let through, or failed inside.
    #[error("{op}: operation failed")]
    Failed {
        /// The primitive.
        op: &'static str,
    },
    /// No provider is compiled in and none was installed.
    #[error(
        "no crypto provider installed (build with `aws-lc-rs` or `rust-crypto`, or call \
         set_default_provider)"
    )]
    NotInstalled,
}

impl CoseError {
    pub(crate) fn malformed(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
