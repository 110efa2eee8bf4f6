//! Size and length limits of sealed storage, and the checks every caller's input and every
//! batch pass before anything is written.

use super::blob::display_name;
use super::{SealedOp, SealedStore};
use crate::TeeError;

/// Size and length limits of sealed storage; everything read from disk or from a caller is
/// checked against them before use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedLimits {
    /// Largest plaintext of one blob.
    pub max_value_bytes: usize,
    /// Longest namespace (ASCII, `[A-Za-z0-9._:/-]`).
    pub max_namespace_bytes: usize,
    /// Longest name (any bytes).
    pub max_name_bytes: usize,
    /// Most operations in one atomic batch.
    pub max_batch_ops: usize,
    /// Largest sum of value sizes in one atomic batch.
    pub max_batch_bytes: usize,
}

impl Default for SealedLimits {
    fn default() -> Self {
        SealedLimits {
            max_value_bytes: 16 * 1024 * 1024,
            max_namespace_bytes: 100,
            max_name_bytes: 100,
            max_batch_ops: 4096,
            max_batch_bytes: 64 * 1024 * 1024,
        }
    }
}

impl SealedStore {
    /// Validates a batch against the limits without touching the disk.
    pub(crate) fn check_batch(&self, ops: &[SealedOp]) -> Result<(), TeeError> {
        if ops.len() > self.limits.max_batch_ops {
            return Err(TeeError::invalid(
                "sealed batch",
                format!(
                    "expected at most {} operations, got {}",
                    self.limits.max_batch_ops,
                    ops.len()
                ),
            ));
        }
        let mut total = 0usize;
        for op in ops {
            self.check_key(&op.namespace, &op.name)?;
            if let Some(v) = &op.value {
                self.check_value(&op.namespace, &op.name, v.len())?;
                total = total.saturating_add(v.len());
            }
        }
        if total > self.limits.max_batch_bytes {
            return Err(TeeError::invalid(
                "sealed batch",
                format!(
                    "expected at most {} bytes in total, got {total}",
                    self.limits.max_batch_bytes
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn check_key(&self, namespace: &str, name: &[u8]) -> Result<(), TeeError> {
        self.check_namespace(namespace)?;
        if name.is_empty() || name.len() > self.limits.max_name_bytes {
            return Err(TeeError::invalid(
                format!("sealed name in {namespace}"),
                format!(
                    "expected 1..={} bytes, got {}",
                    self.limits.max_name_bytes,
                    name.len()
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn check_namespace(&self, namespace: &str) -> Result<(), TeeError> {
        let ok_chars = namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
        if namespace.is_empty() || namespace.len() > self.limits.max_namespace_bytes || !ok_chars {
            return Err(TeeError::invalid(
                "sealed namespace",
                format!(
                    "expected 1..={} characters of [A-Za-z0-9._:/-], got {:?}",
                    self.limits.max_namespace_bytes, namespace
                ),
            ));
        }
        Ok(())
    }

    fn check_value(&self, namespace: &str, name: &[u8], len: usize) -> Result<(), TeeError> {
        if len > self.limits.max_value_bytes {
            return Err(TeeError::invalid(
                format!("sealed value {namespace}/{}", display_name(name)),
                format!(
                    "expected at most {} bytes, got {len}",
                    self.limits.max_value_bytes
                ),
            ));
        }
        Ok(())
    }
}
