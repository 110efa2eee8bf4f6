//! Sealed storage: AEAD-protected blobs in per-owner namespaces under a device-unique key.
//!
//! * Cipher: AES-256-GCM with a fresh random 96-bit nonce per write.
//! * Key: HKDF-SHA-256 over the device root secret with the namespace as `info`, so each TA (and
//!   the TEE's own records) has its own key.
//! * AAD: the namespace and the name, length-prefixed, so a blob copied to another TA's
//!   namespace or renamed to another name fails authentication.
//! * Files: `sealed/<hex(namespace)>/<hex(name)>`, each replaced atomically (see `fsutil`).
//! * Batches: several writes become one atomic unit through a sealed journal: the journal is
//!   written atomically (the commit point), applied, then removed; a journal found on the next
//!   access is re-applied (every operation is idempotent).
//!
//! **Where the root secret lives.** A hardware TEE derives it from a fused key that software
//! cannot read. This software TEE has no such place: the secret is a 32-byte file
//! `device-root.key` (mode 0600) in the state directory. Anyone who can read that file as the
//! same user can unseal everything. That is the honest limit of a software TEE.
//!
//! What is not detected: replacing the whole state directory (or one blob) with an older copy
//! made by the same device (rollback); that needs a monotonic counter in hardware.

mod blob;
mod journal;
mod keys;
mod limits;
mod store;

use std::collections::BTreeMap;

pub(crate) use keys::random_bytes;
pub use keys::ROOT_SECRET_FILE;
pub use limits::SealedLimits;
pub use store::SealedStore;

/// One write in a batch: `value: None` deletes the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedOp {
    pub namespace: String,
    pub name: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// Groups staged writes by name, later writes winning (used by TA invocations).
pub(crate) type Staged = BTreeMap<Vec<u8>, Option<Vec<u8>>>;
