//! The optional rules of a [`Reader`], and skipping one item under them.
//!
//! Every reader rejects what is not well-formed (truncation, reserved additional
//! information, stray breaks, invalid UTF-8) and every indefinite length. What differs
//! between the crates' readers, and is chosen here, is how nesting is counted and which
//! further RFC 8949 strictness rules apply; each crate keeps the rules it always had.

use alloc::collections::BTreeSet;

use crate::error::{Error, ErrorKind};
use crate::map::{check_key_order, KeyOrderError};
use crate::path::Seg;
use crate::reader::{Reader, Result};
use crate::MAX_DEPTH;

/// How [`MAX_DEPTH`] is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthLimit {
    /// Opening a container (array, map, tag) inside [`MAX_DEPTH`] others fails.
    Containers,
    /// Reading any item inside more than [`MAX_DEPTH`] containers fails, checked before its
    /// head; an empty container may sit one level deeper than under `Containers`.
    Items,
}

/// What to require of map keys while skipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKeys {
    /// Anything.
    Any,
    /// No two keys of a map with the same encoding (RFC 8949 §5.6).
    Unique,
    /// Encodings strictly increasing bytewise (RFC 8949 §4.2.1), which implies `Unique`.
    Sorted,
}

/// The optional strictness rules of a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub depth: DepthLimit,
    /// When skipping, reject an array or map whose declared count cannot fit in the bytes
    /// left before reading any element (otherwise the walk fails at the end of the input).
    pub bound_counts: bool,
    /// Accept a simple value below 32 in two bytes (`0xf8 0x14`), which RFC 8949 §3.3 says is
    /// not well-formed.
    pub two_byte_simple: bool,
    /// Keys of the maps that [`Reader::skip`] walks.
    pub map_keys: MapKeys,
    /// Require every head in its shortest form (RFC 8949 §4.2.1).
    pub shortest_heads: bool,
}

impl Rules {
    /// Well-formed, definite lengths, unique keys, bounded counts and nesting.
    pub const STRICT: Rules = Rules {
        depth: DepthLimit::Containers,
        bound_counts: true,
        two_byte_simple: false,
        map_keys: MapKeys::Unique,
        shortest_heads: false,
    };

    /// [`Rules::STRICT`] plus RFC 8949 §4.2.1 core deterministic encoding: shortest heads
    /// and sorted map keys.
    pub const DETERMINISTIC: Rules = Rules {
        map_keys: MapKeys::Sorted,
        shortest_heads: true,
        ..Rules::STRICT
    };
}

impl<'b> Reader<'b> {
    /// Skips one item, checking it under the reader's rules. On failure the reader's path
    /// ends with the index of the array element at fault (map entries add no segment, as
    /// their keys are not decoded); position and depth are then unspecified.
    pub fn skip(&mut self) -> Result<()> {
        if self.rules.depth == DepthLimit::Items && self.depth > MAX_DEPTH {
            return Err(Error::at(ErrorKind::TooDeep, self.pos));
        }
        let start = self.pos;
        let h = self.read_head()?;
        match h.major {
            2 => {
                self.take(h.arg).map_err(|e| Error { start, ..e })?;
            }
            3 => {
                let raw = self.take(h.arg).map_err(|e| Error { start, ..e })?;
                if core::str::from_utf8(raw).is_err() {
                    return Err(Error::new(ErrorKind::InvalidUtf8, start, self.pos));
                }
            }
            4 | 5 => {
                if self.rules.bound_counts {
                    self.check_count(h.major, h.arg)
                        .map_err(|e| Error { start, ..e })?;
                }
                self.enter().map_err(|e| Error { start, ..e })?;
                if h.major == 4 {
                    for i in 0..h.arg {
                        self.push(Seg::Index(i as usize));
                        self.skip()?;
                        self.pop();
                    }
                } else {
                    self.skip_entries(h.arg)?;
                }
                self.leave();
            }
            6 => {
                self.enter().map_err(|e| Error { start, ..e })?;
                self.skip()?;
                self.leave();
            }
            7 => self.check_simple(&h, start)?,
            // Integers are all head.
            _ => {}
        }
        Ok(())
    }

    /// Skips one item and returns its encoding.
    pub fn raw(&mut self) -> Result<&'b [u8]> {
        let start = self.pos;
        self.skip()?;
        Ok(&self.input[start..self.pos])
    }

    fn skip_entries(&mut self, count: u64) -> Result<()> {
        let keys = self.rules.map_keys;
        // Keys are compared as encoded, so only slices of the input are kept.
        let mut seen: BTreeSet<&'b [u8]> = BTreeSet::new();
        let mut prev: Option<&'b [u8]> = None;
        for _ in 0..count {
            let key = self.raw()?;
            let fault = match keys {
                MapKeys::Any => None,
                MapKeys::Unique => (!seen.insert(key)).then_some(ErrorKind::DuplicateKey),
                MapKeys::Sorted => match check_key_order(prev, key) {
                    Ok(()) => None,
                    Err(KeyOrderError::Duplicate) => Some(ErrorKind::DuplicateKey),
                    Err(KeyOrderError::Unsorted) => Some(ErrorKind::UnsortedKey),
                },
            };
            if let Some(kind) = fault {
                let start = self.pos - key.len();
                return Err(Error::new(kind, start, self.pos));
            }
            prev = Some(key);
            self.skip()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip_with(rules: Rules, b: &[u8]) -> core::result::Result<usize, ErrorKind> {
        let mut r = Reader::with_rules(b, rules);
        r.skip().map(|()| r.position()).map_err(|e| e.kind)
    }

    #[test]
    fn skips_nested_items() {
        let b = [0x82, 0xa1, 0x01, 0x61, 0x61, 0xc1, 0x41, 0x00, 0xff];
        assert_eq!(skip_with(Rules::STRICT, &b), Ok(8));
    }

    #[test]
    fn bounded_counts_fail_before_the_elements() {
        let b = [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
        assert_eq!(
            skip_with(Rules::STRICT, &b),
            Err(ErrorKind::CountPastEnd {
                major: 4,
                count: u64::MAX,
                remaining: 1
            })
        );
        let loose = Rules {
            bound_counts: false,
            ..Rules::STRICT
        };
        assert_eq!(skip_with(loose, &b), Err(ErrorKind::EndOfInput));
    }

    #[test]
    fn depth_limits_differ_only_for_an_empty_innermost_container() {
        let items = Rules {
            depth: DepthLimit::Items,
            ..Rules::STRICT
        };
        let mut empty = [0x81; 33];
        empty[32] = 0x80;
        assert_eq!(skip_with(Rules::STRICT, &empty), Err(ErrorKind::TooDeep));
        assert_eq!(skip_with(items, &empty), Ok(33));
        let mut full = [0x81; 34];
        full[33] = 0x00;
        assert_eq!(skip_with(Rules::STRICT, &full), Err(ErrorKind::TooDeep));
        assert_eq!(skip_with(items, &full), Err(ErrorKind::TooDeep));
    }

    #[test]
    fn map_key_rules() {
        let dup = [0xa2, 0x01, 0x00, 0x01, 0x00];
        let unsorted = [0xa2, 0x02, 0x00, 0x01, 0x00];
        let any = Rules {
            map_keys: MapKeys::Any,
            ..Rules::STRICT
        };
        assert_eq!(skip_with(any, &dup), Ok(5));
        assert_eq!(skip_with(Rules::STRICT, &dup), Err(ErrorKind::DuplicateKey));
        assert_eq!(skip_with(Rules::STRICT, &unsorted), Ok(5));
        assert_eq!(
            skip_with(Rules::DETERMINISTIC, &unsorted),
            Err(ErrorKind::UnsortedKey)
        );
        assert_eq!(
            skip_with(Rules::DETERMINISTIC, &dup),
            Err(ErrorKind::DuplicateKey)
        );
    }

    #[test]
    fn two_byte_simple_values() {
        let lenient = Rules {
            two_byte_simple: true,
            ..Rules::STRICT
        };
        assert_eq!(skip_with(lenient, &[0xf8, 0x10]), Ok(2));
        assert_eq!(
            skip_with(Rules::STRICT, &[0xf8, 0x10]),
            Err(ErrorKind::TwoByteSimple { value: 16 })
        );
        assert_eq!(skip_with(Rules::STRICT, &[0xf8, 0x20]), Ok(2));
    }

    #[test]
    fn failing_element_is_named_in_the_path() {
        let mut r = Reader::new(&[0x82, 0x00, 0x7f]);
        let e = r.skip().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Indefinite { major: 3 });
        assert_eq!(r.path_string(), "[1]");
    }

    #[test]
    fn utf8_error_reports_head_and_end() {
        let e = Reader::new(&[0x00, 0x62, 0xff, 0xfe][1..])
            .skip()
            .unwrap_err();
        assert_eq!((e.kind, e.start, e.offset), (ErrorKind::InvalidUtf8, 0, 3));
    }
}
