//! Error types. Every error names where in the structure it happened and which rule failed.

use alloc::{format, string::String};

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

/// Why a digest algorithm id of 1..=4 is refused rather than read: early SUIT manifest drafts
/// numbered digests themselves (suit-digest-algorithm-ids: 1 SHA-224, 2 SHA-256, 3 SHA-384,
/// 4 SHA-512), current ones use COSE algorithm ids (SHA-256 = -16), where 1..=4 are not
/// digests (A128GCM, A192GCM, A256GCM, HMAC 256/64). Such an envelope (tamproto's
/// `suit_manifest_expX.cbor`) follows an obsolete format whose other structures differ too, so
/// it is not read under either numbering.
fn obsolete_digest_note(id: i64) -> String {
    let (old, cose) = match id {
        1 => ("SHA-224", "A128GCM"),
        2 => ("SHA-256", "A192GCM"),
        3 => ("SHA-384", "A256GCM"),
        4 => ("SHA-512", "HMAC 256/64"),
        _ => return String::new(),
    };
    format!(
        " (ambiguous, refused: in early SUIT manifest drafts' own numbering \
         (suit-digest-algorithm-ids) {id} was {old}; in the current SUIT manifest, which uses \
         COSE algorithm ids (SHA-256 = -16), {id} is {cose}, not a digest; an envelope of that \
         obsolete format differs in other structures as well, so it is not read)"
    )
}

/// Authentication of an envelope failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("SUIT_Envelope.authentication-wrapper: no authentication block (unsigned manifest)")]
    NoAuthenticationBlock,
    #[error(
        "SUIT_Envelope.authentication-wrapper.digest: unsupported digest algorithm {0}{note}",
        note = obsolete_digest_note(*.0)
    )]
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

/// Payload encryption or decryption failed.
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
    /// A primitive of the crypto provider refused or failed: `step` says which step of
    /// SUIT encryption, `source` what went wrong (e.g. a tag or key-wrap integrity check).
    #[error("encryption-info: {step}: {source}")]
    Primitive {
        step: &'static str,
        source: teep_cose::CryptoError,
    },
}

impl CryptoError {
    pub(crate) fn primitive(step: &'static str, source: teep_cose::CryptoError) -> Self {
        CryptoError::Primitive { step, source }
    }
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
