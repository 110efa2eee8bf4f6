//! Map key order (RFC 8949 §4.2.1: keys sorted bytewise by their deterministic encodings),
//! for writing and for checking what was received.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::write::write_map_head;

/// Writes a map in deterministic order: every key is encoded with `key`, the entries are
/// sorted by those bytes, and each value is written with `value` right after its key.
/// Duplicate keys are the caller's to avoid.
pub fn write_map_sorted<K, V>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = (K, V)>,
    mut key: impl FnMut(&mut Vec<u8>, K),
    mut value: impl FnMut(&mut Vec<u8>, V),
) {
    let mut encoded: Vec<(Vec<u8>, V)> = entries
        .into_iter()
        .map(|(k, v)| {
            let mut kb = Vec::new();
            key(&mut kb, k);
            (kb, v)
        })
        .collect();
    encoded.sort_by(|a, b| a.0.cmp(&b.0));
    write_map_head(out, encoded.len());
    for (k, v) in encoded {
        out.extend_from_slice(&k);
        value(out, v);
    }
}

/// Why a key may not follow the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrderError {
    /// Same encoding as the previous key.
    Duplicate,
    /// Sorts before the previous key.
    Unsorted,
}

/// Checks that the encoded key `next` may follow `prev` (none for the first key).
pub fn check_key_order(prev: Option<&[u8]>, next: &[u8]) -> Result<(), KeyOrderError> {
    match prev.map(|p| p.cmp(next)) {
        Some(Ordering::Equal) => Err(KeyOrderError::Duplicate),
        Some(Ordering::Greater) => Err(KeyOrderError::Unsorted),
        _ => Ok(()),
    }
}

/// The keys of one map as they arrive, checked with [`check_key_order`].
#[derive(Debug, Default, Clone)]
pub struct KeyOrder {
    last: Option<Vec<u8>>,
}

impl KeyOrder {
    pub fn new() -> Self {
        KeyOrder { last: None }
    }

    /// Accepts the encoded key `next` if it sorts after every key so far.
    pub fn check(&mut self, next: &[u8]) -> Result<(), KeyOrderError> {
        check_key_order(self.last.as_deref(), next)?;
        self.last = Some(next.to_vec());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::write::{write_int, write_text};

    #[test]
    fn entries_sorted_by_encoded_key() {
        let mut out = Vec::new();
        write_map_sorted(
            &mut out,
            [(-1i64, 1i64), (24, 2), (10, 3)],
            write_int,
            write_int,
        );
        // 10 (0x0a) < 24 (0x18 0x18) < -1 (0x20)
        assert_eq!(out, [0xa3, 0x0a, 0x03, 0x18, 0x18, 0x02, 0x20, 0x01]);
    }

    #[test]
    fn shorter_text_keys_sort_first() {
        let mut out = Vec::new();
        write_map_sorted(&mut out, [("bb", ()), ("c", ())], write_text, |o, ()| {
            o.push(0xf6)
        });
        assert_eq!(out, [0xa2, 0x61, b'c', 0xf6, 0x62, b'b', b'b', 0xf6]);
    }

    #[test]
    fn key_order_rejects_duplicates_and_descents() {
        let mut k = KeyOrder::new();
        assert_eq!(k.check(&[0x01]), Ok(()));
        assert_eq!(k.check(&[0x01]), Err(KeyOrderError::Duplicate));
        assert_eq!(k.check(&[0x00]), Err(KeyOrderError::Unsorted));
        assert_eq!(k.check(&[0x20]), Ok(()));
    }
}
