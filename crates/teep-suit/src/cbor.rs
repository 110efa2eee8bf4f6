//! SUIT's view of the shared CBOR layer (teep-cbor): a reader that names the structure it is
//! reading in every error, and the deterministic writer.
//!
//! SUIT maps mix integer keys, text keys and bstr-wrapped CBOR, and the processor needs byte
//! offsets and borrowed slices of the input; a derive-based model cannot express that, so the
//! SUIT codec is hand-written over teep-cbor's token reader. Every length comes from the input
//! and is checked against the remaining bytes before anything is allocated. The error texts
//! are the ones this codec has always sent (some quote the minicbor decoder it used before).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::DecodeError;
use crate::limits::MAX_CBOR_DEPTH;
use teep_cbor::{DepthLimit, ErrorKind, MapKeys, Rules};

pub(crate) use teep_cbor::{Type, Writer};

/// SUIT's rules when skipping: nesting counted per item, two-byte simple values accepted,
/// map keys unchecked (the codec checks their order where it reads maps).
const RULES: Rules = Rules {
    depth: DepthLimit::Items,
    bound_counts: false,
    two_byte_simple: true,
    map_keys: MapKeys::Any,
    shortest_heads: false,
};

/// The words of a low-level fault, as minicbor put them.
fn detail(e: &teep_cbor::Error) -> String {
    match e.kind {
        ErrorKind::InvalidUtf8 => format!("invalid utf-8 at position {}", e.start),
        k if k.is_truncation() => "end of input bytes".into(),
        other => other.to_string(),
    }
}

/// The words of a fault found while skipping an item.
fn skip_fault(e: &teep_cbor::Error) -> String {
    match e.kind {
        ErrorKind::TooDeep => format!("CBOR nesting deeper than {MAX_CBOR_DEPTH}"),
        // Naming a negative integer's type needs its first argument byte.
        ErrorKind::EndOfInput
        | ErrorKind::TruncatedHead {
            initial: 0x38..=0x3b,
            have: 0,
        } => format!("truncated or malformed CBOR ({})", detail(e)),
        ErrorKind::Indefinite { .. } => "indefinite-length items are not allowed in SUIT".into(),
        ErrorKind::Break | ErrorKind::Reserved { .. } => "malformed CBOR item".into(),
        _ => format!("malformed CBOR ({})", detail(e)),
    }
}

/// A cursor over one CBOR buffer that names the structure it is reading in every error.
pub(crate) struct Reader<'b> {
    pub d: teep_cbor::Reader<'b>,
    pub path: String,
}

impl<'b> Reader<'b> {
    pub fn new(input: &'b [u8], path: impl Into<String>) -> Self {
        Reader {
            d: teep_cbor::Reader::with_rules(input, RULES),
            path: path.into(),
        }
    }

    pub fn err(&self, rule: impl Into<String>) -> DecodeError {
        DecodeError::new(self.path.clone(), rule)
    }

    pub fn err_at(&self, member: &str, rule: impl Into<String>) -> DecodeError {
        DecodeError::new(format!("{}.{}", self.path, member), rule)
    }

    #[allow(dead_code)]
    pub fn input(&self) -> &'b [u8] {
        self.d.input()
    }

    pub fn position(&self) -> usize {
        self.d.position()
    }

    pub fn at_end(&self) -> bool {
        self.d.at_end()
    }

    pub fn expect_end(&self) -> Result<(), DecodeError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(format!(
                "{} trailing bytes after the CBOR item",
                self.d.remaining()
            )))
        }
    }

    pub fn datatype(&self) -> Result<Type, DecodeError> {
        self.d
            .datatype()
            .map_err(|e| self.err(format!("truncated or malformed CBOR ({})", detail(&e))))
    }

    fn type_name(t: Type) -> &'static str {
        match t {
            Type::BytesIndef => "indefinite bstr",
            Type::StringIndef => "indefinite tstr",
            Type::ArrayIndef => "indefinite array",
            Type::MapIndef => "indefinite map",
            Type::Simple | Type::Unknown(_) => "unknown item",
            t => t.name(),
        }
    }

    fn wrong(&self, expected: &str) -> DecodeError {
        match self.d.datatype() {
            Ok(t) => self.err(format!("expected {expected}, got {}", Self::type_name(t))),
            Err(_) => self.err(format!("expected {expected}, got end of input")),
        }
    }

    pub fn is_type(&self, pred: fn(Type) -> bool) -> bool {
        self.d.datatype().map(pred).unwrap_or(false)
    }

    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        match self.datatype()? {
            t if t.is_uint() => self
                .d
                .uint()
                .map_err(|e| self.err(format!("bad uint ({})", detail(&e)))),
            _ => Err(self.wrong("uint")),
        }
    }

    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        match self.datatype()? {
            t if t.is_int() => {
                let start = self.position();
                match self.d.int().map(i64::try_from) {
                    Ok(Ok(v)) => Ok(v),
                    _ => {
                        self.d.set_position(start);
                        Err(self.err("integer out of the 64-bit signed range"))
                    }
                }
            }
            _ => Err(self.wrong("int")),
        }
    }

    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.datatype()? {
            Type::Bool => self
                .d
                .bool()
                .map_err(|e| self.err(format!("bad bool ({})", detail(&e)))),
            _ => Err(self.wrong("bool")),
        }
    }

    pub fn null(&mut self) -> Result<(), DecodeError> {
        match self.datatype()? {
            Type::Null => self
                .d
                .null()
                .map_err(|e| self.err(format!("bad null ({})", detail(&e)))),
            _ => Err(self.wrong("null")),
        }
    }

    pub fn bytes(&mut self) -> Result<&'b [u8], DecodeError> {
        match self.datatype()? {
            Type::Bytes => self
                .d
                .bytes()
                .map_err(|e| self.err(format!("bad bstr ({})", detail(&e)))),
            _ => Err(self.wrong("bstr (definite length)")),
        }
    }

    /// A bstr together with its CBOR header: the SUIT digest covers exactly these bytes.
    pub fn bytes_with_header(&mut self) -> Result<(&'b [u8], &'b [u8]), DecodeError> {
        let start = self.position();
        let inner = self.bytes()?;
        let end = self.position();
        Ok((&self.d.input()[start..end], inner))
    }

    pub fn str(&mut self) -> Result<&'b str, DecodeError> {
        match self.datatype()? {
            Type::String => self
                .d
                .text()
                .map_err(|e| self.err(format!("bad tstr ({})", detail(&e)))),
            _ => Err(self.wrong("tstr (definite length)")),
        }
    }

    pub fn array(&mut self) -> Result<u64, DecodeError> {
        match self.datatype()? {
            Type::Array => match self.d.array() {
                Ok(n) => self.bounded(4, n),
                _ => Err(self.err("bad array header")),
            },
            _ => Err(self.wrong("array (definite length)")),
        }
    }

    pub fn map(&mut self) -> Result<u64, DecodeError> {
        match self.datatype()? {
            Type::Map => match self.d.map() {
                Ok(n) => self.bounded(5, n),
                _ => Err(self.err("bad map header")),
            },
            _ => Err(self.wrong("map (definite length)")),
        }
    }

    /// Every element takes at least one byte, so a count larger than the rest of the input is
    /// a lie; rejecting it here keeps `Vec::with_capacity` and loops bounded.
    fn bounded(&self, major: u8, n: u64) -> Result<u64, DecodeError> {
        match self.d.check_count(major, n) {
            Ok(()) => Ok(n),
            Err(_) => Err(self.err(format!(
                "declares {n} elements but only {} bytes remain",
                self.d.remaining()
            ))),
        }
    }

    pub fn tag(&mut self) -> Result<u64, DecodeError> {
        match self.datatype()? {
            Type::Tag => self
                .d
                .tag()
                .map_err(|e| self.err(format!("bad tag ({})", detail(&e)))),
            _ => Err(self.wrong("tag")),
        }
    }

    /// Skips one item and returns its raw encoding (used to keep unknown members as data).
    pub fn raw(&mut self) -> Result<&'b [u8], DecodeError> {
        match self.d.raw() {
            Ok(raw) => Ok(raw),
            Err(e) => {
                // Nesting is counted from the item skipped, whatever the walk left behind.
                self.d.set_depth(0);
                Err(self.err(skip_fault(&e)))
            }
        }
    }
}

/// Key of a CBOR map member as SUIT uses them: integer or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Key<'b> {
    Int(i64),
    Text(&'b str),
}

impl<'b> Reader<'b> {
    pub fn key(&mut self) -> Result<Key<'b>, DecodeError> {
        match self.datatype()? {
            Type::String => Ok(Key::Text(self.str()?)),
            _ => Ok(Key::Int(
                self.i64()
                    .map_err(|_| self.err("map key must be int or tstr"))?,
            )),
        }
    }
}

/// Encoded bytes of a map key, for the RFC 8949 bytewise ordering check.
pub(crate) fn key_order_bytes(k: &Key<'_>) -> Vec<u8> {
    let mut w = Writer::new();
    match k {
        Key::Int(i) => w.int(*i),
        Key::Text(s) => w.text(s),
    };
    w.finish()
}

/// Tracks map keys in order and rejects duplicates (a general decoder would silently keep the
/// last one) and out-of-order keys (SUIT requires core deterministic encoding).
pub(crate) struct KeyOrder(teep_cbor::KeyOrder);

impl KeyOrder {
    pub fn new() -> Self {
        KeyOrder(teep_cbor::KeyOrder::new())
    }
    pub fn check(&mut self, r: &Reader<'_>, k: &Key<'_>) -> Result<(), DecodeError> {
        match self.0.check(&key_order_bytes(k)) {
            Ok(()) => Ok(()),
            Err(teep_cbor::KeyOrderError::Duplicate) => {
                Err(r.err(format!("duplicate map key {}", show_key(k))))
            }
            Err(teep_cbor::KeyOrderError::Unsorted) => Err(r.err(format!(
                "map key {} out of deterministic order (RFC 8949 §4.2.1)",
                show_key(k)
            ))),
        }
    }
}

pub(crate) fn show_key(k: &Key<'_>) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Text(s) => format!("{s:?}"),
    }
}
