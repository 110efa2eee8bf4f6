//! Decoding one head (RFC 8949 §3) and naming the type of the item it starts.

use crate::error::{Error, ErrorKind};

/// One decoded head: the initial byte and its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The initial byte, as sent.
    pub initial: u8,
    /// Major type (0..=7).
    pub major: u8,
    /// Additional information (0..=27 for a head that decoded).
    pub ai: u8,
    /// The argument: a value, a length, a count, a tag number or a simple/float's bits.
    pub arg: u64,
    /// Bytes the head takes (1, 2, 3, 5 or 9).
    pub len: usize,
}

impl Head {
    /// Whether the argument is in its shortest form (RFC 8949 §4.2.1). Major type 7 always
    /// qualifies here: floats carry bits, not a number, and a two-byte simple value below 32
    /// is a separate rule ([`Rules::two_byte_simple`](crate::Rules::two_byte_simple)).
    pub fn is_shortest(&self) -> bool {
        match self.ai {
            _ if self.major == 7 => true,
            0..=23 => true,
            24 => self.arg >= 24,
            25 => self.arg > u64::from(u8::MAX),
            26 => self.arg > u64::from(u16::MAX),
            _ => self.arg > u64::from(u32::MAX),
        }
    }
}

/// Decodes the head at `pos`. Fails on missing bytes, on reserved additional information, and
/// on additional information 31 (indefinite length or break), which has no argument.
pub(crate) fn decode(input: &[u8], pos: usize) -> Result<Head, Error> {
    let at = |kind| Error::at(kind, pos);
    let initial = *input.get(pos).ok_or(at(ErrorKind::EndOfInput))?;
    let (major, ai) = (initial >> 5, initial & 0x1f);
    let extra = match ai {
        0..=23 => 0,
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        28..=30 => return Err(at(ErrorKind::Reserved { initial })),
        _ => {
            return Err(at(match major {
                2..=5 => ErrorKind::Indefinite { major },
                7 => ErrorKind::Break,
                _ => ErrorKind::Reserved { initial },
            }))
        }
    };
    let bytes = input
        .get(pos + 1..pos + 1 + extra)
        .ok_or(at(ErrorKind::TruncatedHead {
            initial,
            have: input.len() - pos - 1,
        }))?;
    let arg = if extra == 0 {
        u64::from(ai)
    } else {
        bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
    };
    Ok(Head {
        initial,
        major,
        ai,
        arg,
        len: 1 + extra,
    })
}

/// The type of the next item, named the way minicbor's `data::Type` names it, so code written
/// against that enum reads the same. Integers are split by the width their value needs as a
/// signed number, which for negative integers is decided by the first argument byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    Null,
    Undefined,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    /// A negative integer below `i64::MIN`.
    Int,
    F16,
    F32,
    F64,
    /// Simple values other than false, true, null and undefined.
    Simple,
    Bytes,
    BytesIndef,
    String,
    StringIndef,
    Array,
    ArrayIndef,
    Map,
    MapIndef,
    Tag,
    Break,
    /// An initial byte that starts no well-formed item (reserved additional information).
    Unknown(u8),
}

impl Type {
    /// Whether this is an integer type (major type 0 or 1).
    pub fn is_int(self) -> bool {
        matches!(
            self,
            Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::I8
                | Type::I16
                | Type::I32
                | Type::I64
                | Type::Int
        )
    }

    /// What the type is called in error messages ("expected bstr, got indefinite-length
    /// array").
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Null => "null",
            Type::Undefined => "undefined",
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => "uint",
            Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => "int",
            Type::F16 | Type::F32 | Type::F64 => "float",
            Type::Simple => "simple value",
            Type::Bytes => "bstr",
            Type::BytesIndef => "indefinite-length bstr",
            Type::String => "tstr",
            Type::StringIndef => "indefinite-length tstr",
            Type::Array => "array",
            Type::ArrayIndef => "indefinite-length array",
            Type::Map => "map",
            Type::MapIndef => "indefinite-length map",
            Type::Tag => "tag",
            Type::Break => "break",
            Type::Unknown(_) => "reserved initial byte",
        }
    }

    /// Whether this is an unsigned integer type (major type 0).
    pub fn is_uint(self) -> bool {
        matches!(self, Type::U8 | Type::U16 | Type::U32 | Type::U64)
    }
}

/// The type of the item at `pos`. Fails only when the input ends first (including a
/// negative integer whose first argument byte is missing).
pub(crate) fn type_at(input: &[u8], pos: usize) -> Result<Type, Error> {
    let initial = *input
        .get(pos)
        .ok_or(Error::at(ErrorKind::EndOfInput, pos))?;
    let sign_byte = || {
        input.get(pos + 1).copied().ok_or(Error::at(
            ErrorKind::TruncatedHead { initial, have: 0 },
            pos,
        ))
    };
    Ok(match initial {
        0x00..=0x18 => Type::U8,
        0x19 => Type::U16,
        0x1a => Type::U32,
        0x1b => Type::U64,
        0x20..=0x37 => Type::I8,
        0x38..=0x3b => {
            let wide = sign_byte()? >= 0x80;
            match (initial, wide) {
                (0x38, false) => Type::I8,
                (0x38, true) | (0x39, false) => Type::I16,
                (0x39, true) | (0x3a, false) => Type::I32,
                (0x3a, true) | (0x3b, false) => Type::I64,
                _ => Type::Int,
            }
        }
        0x40..=0x5b => Type::Bytes,
        0x5f => Type::BytesIndef,
        0x60..=0x7b => Type::String,
        0x7f => Type::StringIndef,
        0x80..=0x9b => Type::Array,
        0x9f => Type::ArrayIndef,
        0xa0..=0xbb => Type::Map,
        0xbf => Type::MapIndef,
        0xc0..=0xdb => Type::Tag,
        0xe0..=0xf3 | 0xf8 => Type::Simple,
        0xf4 | 0xf5 => Type::Bool,
        0xf6 => Type::Null,
        0xf7 => Type::Undefined,
        0xf9 => Type::F16,
        0xfa => Type::F32,
        0xfb => Type::F64,
        0xff => Type::Break,
        other => Type::Unknown(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_width() {
        let h = decode(&[0x19, 0x01, 0x00], 0).unwrap();
        assert_eq!((h.major, h.ai, h.arg, h.len), (0, 25, 256, 3));
        assert!(h.is_shortest());
        let h = decode(&[0x59, 0x00, 0x10], 0).unwrap();
        assert_eq!((h.major, h.arg), (2, 16));
        assert!(!h.is_shortest());
        assert!(decode(&[0xf9, 0x00, 0x00], 0).unwrap().is_shortest());
    }

    #[test]
    fn head_errors_are_classified() {
        let kind = |b: &[u8]| decode(b, 0).unwrap_err().kind;
        assert_eq!(kind(&[]), ErrorKind::EndOfInput);
        assert_eq!(
            kind(&[0x1a, 0x00]),
            ErrorKind::TruncatedHead {
                initial: 0x1a,
                have: 1
            }
        );
        assert_eq!(kind(&[0x1c]), ErrorKind::Reserved { initial: 0x1c });
        assert_eq!(kind(&[0x3f]), ErrorKind::Reserved { initial: 0x3f });
        assert_eq!(kind(&[0x9f]), ErrorKind::Indefinite { major: 4 });
        assert_eq!(kind(&[0xff]), ErrorKind::Break);
    }

    #[test]
    fn negative_integer_width_needs_the_first_argument_byte() {
        assert_eq!(type_at(&[0x38, 0x7f], 0).unwrap(), Type::I8);
        assert_eq!(type_at(&[0x38, 0x80], 0).unwrap(), Type::I16);
        assert_eq!(type_at(&[0x3b, 0x80], 0).unwrap(), Type::Int);
        assert!(type_at(&[0x38], 0).is_err());
        assert_eq!(type_at(&[0x1c], 0).unwrap(), Type::Unknown(0x1c));
    }
}
