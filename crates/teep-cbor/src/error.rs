//! What a [`Reader`](crate::Reader) reports. Structured rather than text, so that each crate
//! can word its messages its own way (its peers and tests depend on those words).

use core::fmt;

use crate::head::Type;
use crate::MAX_DEPTH;

/// A rejected item: what rule it broke and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    /// Byte offset of the head of the item at fault.
    pub start: usize,
    /// Byte offset at which the fault was found: the item's start for faults of its head or
    /// type, the end of its head for faults of its length, count, nesting or simple value,
    /// and the end of its content for invalid UTF-8.
    pub offset: usize,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, start: usize, offset: usize) -> Self {
        Error {
            kind,
            start,
            offset,
        }
    }

    pub(crate) fn at(kind: ErrorKind, pos: usize) -> Self {
        Error::new(kind, pos, pos)
    }
}

/// The rule an item broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ends where an item should start.
    EndOfInput,
    /// The input ends inside a head: `have` of the argument bytes are there.
    TruncatedHead { initial: u8, have: usize },
    /// A string declares more bytes than remain after its head.
    TruncatedString { len: u64, remaining: u64 },
    /// An array (major 4) or map (major 5) declares more elements than the remaining bytes
    /// could hold, at one byte each ([`Rules::bound_counts`](crate::Rules::bound_counts)).
    CountPastEnd {
        major: u8,
        count: u64,
        remaining: u64,
    },
    /// Reserved additional information 28..=30, or 31 on major type 0, 1 or 6: not
    /// well-formed.
    Reserved { initial: u8 },
    /// A break byte (0xff) where an item should start.
    Break,
    /// An indefinite-length string, array or map (major 2..=5): well-formed, not accepted.
    Indefinite { major: u8 },
    /// A text string that is not UTF-8.
    InvalidUtf8,
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A simple value below 32 in the two-byte form (RFC 8949 §3.3: not well-formed).
    TwoByteSimple { value: u8 },
    /// A head whose argument would fit a shorter form
    /// ([`Rules::shortest_heads`](crate::Rules::shortest_heads)).
    NotShortest { initial: u8 },
    /// A map key equal to an earlier key of the same map.
    DuplicateKey,
    /// A map key whose encoding sorts before the previous key's (RFC 8949 §4.2.1).
    UnsortedKey,
    /// An item of another type than the read asked for.
    Mismatch { expected: &'static str, found: Type },
    /// Bytes after the one item the input should hold.
    TrailingBytes { count: usize },
}

impl ErrorKind {
    /// Whether the input ended before the item did.
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            ErrorKind::EndOfInput
                | ErrorKind::TruncatedHead { .. }
                | ErrorKind::TruncatedString { .. }
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::EndOfInput => f.write_str("unexpected end of input"),
            ErrorKind::TruncatedHead { initial, have } => {
                write!(
                    f,
                    "head {initial:#04x} truncated after {have} argument byte(s)"
                )
            }
            ErrorKind::TruncatedString { len, remaining } => {
                write!(f, "string length {len} exceeds the {remaining} bytes left")
            }
            ErrorKind::CountPastEnd {
                major,
                count,
                remaining,
            } => write!(
                f,
                "{} of {count} elements cannot fit in the {remaining} bytes left",
                if *major == 5 { "map" } else { "array" }
            ),
            ErrorKind::Reserved { initial } => write!(f, "reserved initial byte {initial:#04x}"),
            ErrorKind::Break => f.write_str("unexpected break"),
            ErrorKind::Indefinite { .. } => {
                f.write_str("indefinite length (only definite lengths are allowed)")
            }
            ErrorKind::InvalidUtf8 => f.write_str("text string is not valid UTF-8"),
            ErrorKind::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH} levels"),
            ErrorKind::TwoByteSimple { value } => {
                write!(f, "simple value {value} in two-byte form")
            }
            ErrorKind::NotShortest { initial } => {
                write!(f, "head {initial:#04x} not in its shortest form")
            }
            ErrorKind::DuplicateKey => f.write_str("duplicate map key"),
            ErrorKind::UnsortedKey => f.write_str("map key out of deterministic order"),
            ErrorKind::Mismatch { expected, found } => {
                write!(f, "expected {expected}, got {}", found.name())
            }
            ErrorKind::TrailingBytes { count } => {
                write!(f, "{count} trailing byte(s) after the item")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.offset)
    }
}

impl core::error::Error for Error {}
