//! Atomic batches: several writes become one unit through a sealed journal. The journal is
//! written atomically (the commit point), applied, then removed; a journal found on the next
//! access is re-applied (every operation is idempotent).

use super::{SealedLimits, SealedOp, SealedStore};
use crate::fsutil;
use crate::TeeError;

const JOURNAL_FILE: &str = "journal";
const JOURNAL_NAMESPACE: &str = "tee.journal";

impl SealedStore {
    /// Like [`SealedStore::commit`] for a caller already holding the lock (and having checked
    /// the batch).
    pub(crate) fn commit_locked(&self, ops: &[SealedOp]) -> Result<(), TeeError> {
        match ops {
            [] => Ok(()),
            [op] => self.write_or_remove_blob(op),
            _ => {
                let journal =
                    self.seal(JOURNAL_NAMESPACE, JOURNAL_FILE.as_bytes(), &encode_ops(ops))?;
                fsutil::ensure_dir(&self.dir)?;
                // The rename inside write_atomic_in is the commit point of the batch.
                fsutil::write_atomic_in(&self.dir, JOURNAL_FILE, &journal)?;
                for op in ops {
                    self.write_or_remove_blob(op)?;
                }
                fsutil::remove_durable(&self.dir, JOURNAL_FILE)
            }
        }
    }

    /// Re-applies a journal left by a crash between the commit point and its removal.
    pub(super) fn replay_interrupted_journal(&self) -> Result<(), TeeError> {
        let path = self.dir.join(JOURNAL_FILE);
        let limit = self.limits.max_batch_bytes
            + self.limits.max_batch_ops
                * (self.limits.max_name_bytes + self.limits.max_namespace_bytes + 16)
            + 1024;
        let Some(blob) = fsutil::read_limited(&path, limit)? else {
            return Ok(());
        };
        let plain = self.unseal(JOURNAL_NAMESPACE, JOURNAL_FILE.as_bytes(), &blob)?;
        let ops = decode_ops(&plain, &self.limits)?;
        tracing::info!(ops = ops.len(), "re-applying interrupted sealed batch");
        for op in &ops {
            self.write_or_remove_blob(op)?;
        }
        fsutil::remove_durable(&self.dir, JOURNAL_FILE)
    }
}

fn encode_ops(ops: &[SealedOp]) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = e.array(ops.len() as u64);
    for op in ops {
        let _ = e
            .array(3)
            .and_then(|e| e.str(&op.namespace))
            .and_then(|e| e.bytes(&op.name));
        let _ = match &op.value {
            Some(v) => e.bytes(v),
            None => e.null(),
        };
    }
    e.into_writer()
}

fn decode_ops(data: &[u8], limits: &SealedLimits) -> Result<Vec<SealedOp>, TeeError> {
    let bad = |e: minicbor::decode::Error| TeeError::corrupt("sealed journal", e.to_string());
    let mut d = minicbor::Decoder::new(data);
    let n = d
        .array()
        .map_err(bad)?
        .ok_or_else(|| TeeError::corrupt("sealed journal", "indefinite array"))?;
    if n > limits.max_batch_ops as u64 {
        return Err(TeeError::corrupt(
            "sealed journal",
            format!("{n} operations exceed the limit"),
        ));
    }
    let mut ops = Vec::with_capacity(n as usize);
    for _ in 0..n {
        if d.array().map_err(bad)? != Some(3) {
            return Err(TeeError::corrupt(
                "sealed journal",
                "expected [namespace, name, value]",
            ));
        }
        let namespace = d.str().map_err(bad)?.to_owned();
        let name = d.bytes().map_err(bad)?.to_vec();
        let value = if d.datatype().map_err(bad)? == minicbor::data::Type::Null {
            d.skip().map_err(bad)?;
            None
        } else {
            Some(d.bytes().map_err(bad)?.to_vec())
        };
        ops.push(SealedOp {
            namespace,
            name,
            value,
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn interrupted_journal_is_reapplied() {
        let (d, s) = crate::sealed::store::tests::store();
        let ops = vec![
            SealedOp {
                namespace: "ns".into(),
                name: b"x".to_vec(),
                value: Some(b"1".to_vec()),
            },
            SealedOp {
                namespace: "ns".into(),
                name: b"y".to_vec(),
                value: Some(b"2".to_vec()),
            },
        ];
        // Simulate a crash right after the commit point: journal present, nothing applied.
        let journal = s
            .seal(
                JOURNAL_NAMESPACE,
                JOURNAL_FILE.as_bytes(),
                &encode_ops(&ops),
            )
            .unwrap();
        fsutil::ensure_dir(&s.dir).unwrap();
        fs::write(s.dir.join(JOURNAL_FILE), journal).unwrap();
        drop(s);
        let (s, created) = SealedStore::open(
            d.path(),
            SealedLimits::default(),
            teep_cose::default_provider(),
        )
        .unwrap();
        assert!(!created);
        assert_eq!(s.get("ns", b"x").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(s.get("ns", b"y").unwrap().as_deref(), Some(&b"2"[..]));
        assert!(!s.dir.join(JOURNAL_FILE).exists());
    }
}
