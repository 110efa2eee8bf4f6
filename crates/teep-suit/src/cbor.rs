//! Small CBOR reading/writing layer over minicbor.
//!
//! SUIT maps mix integer keys, text keys and bstr-wrapped CBOR, and the processor needs byte
//! offsets and borrowed slices of the input; a derive-based model cannot express that, so the
//! SUIT codec is hand-written over minicbor's token decoder. Every length comes from the input
//! and is checked against the remaining bytes by minicbor before anything is allocated.

use crate::error::DecodeError;
use minicbor::data::{Tag, Type};
use minicbor::Decoder;

/// A cursor over one CBOR buffer that names the structure it is reading in every error.
pub(crate) struct Reader<'b> {
    pub d: Decoder<'b>,
    pub path: String,
}

impl<'b> Reader<'b> {
    pub fn new(input: &'b [u8], path: impl Into<String>) -> Self {
        Reader {
            d: Decoder::new(input),
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
        self.d.position() >= self.d.input().len()
    }

    pub fn expect_end(&self) -> Result<(), DecodeError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(format!(
                "{} trailing bytes after the CBOR item",
                self.d.input().len() - self.d.position()
            )))
        }
    }

    pub fn datatype(&self) -> Result<Type, DecodeError> {
        self.d
            .datatype()
            .map_err(|e| self.err(format!("truncated or malformed CBOR ({e})")))
    }

    fn type_name(t: Type) -> &'static str {
        match t {
            Type::Bool => "bool",
            Type::Null => "null",
            Type::Undefined => "undefined",
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => "uint",
            Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => "int",
            Type::F16 | Type::F32 | Type::F64 => "float",
            Type::Bytes => "bstr",
            Type::BytesIndef => "indefinite bstr",
            Type::String => "tstr",
            Type::StringIndef => "indefinite tstr",
            Type::Array => "array",
            Type::ArrayIndef => "indefinite array",
            Type::Map => "map",
            Type::MapIndef => "indefinite map",
            Type::Tag => "tag",
            Type::Break => "break",
            _ => "unknown item",
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
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => self
                .d
                .u64()
                .map_err(|e| self.err(format!("bad uint ({e})"))),
            _ => Err(self.wrong("uint")),
        }
    }

    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        match self.datatype()? {
            Type::U8
            | Type::U16
            | Type::U32
            | Type::U64
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::I64
            | Type::Int => self
                .d
                .i64()
                .map_err(|_| self.err("integer out of the 64-bit signed range")),
            _ => Err(self.wrong("int")),
        }
    }

    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.datatype()? {
            Type::Bool => self
                .d
                .bool()
                .map_err(|e| self.err(format!("bad bool ({e})"))),
            _ => Err(self.wrong("bool")),
        }
    }

    pub fn null(&mut self) -> Result<(), DecodeError> {
        match self.datatype()? {
            Type::Null => self
                .d
                .null()
                .map_err(|e| self.err(format!("bad null ({e})"))),
            _ => Err(self.wrong("null")),
        }
    }

    pub fn bytes(&mut self) -> Result<&'b [u8], DecodeError> {
        match self.datatype()? {
            Type::Bytes => self
                .d
                .bytes()
                .map_err(|e| self.err(format!("bad bstr ({e})"))),
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
                .str()
                .map_err(|e| self.err(format!("bad tstr ({e})"))),
            _ => Err(self.wrong("tstr (definite length)")),
        }
    }

    pub fn array(&mut self) -> Result<u64, DecodeError> {
        match self.datatype()? {
            Type::Array => match self.d.array() {
                Ok(Some(n)) => self.bounded(n, 1),
                _ => Err(self.err("bad array header")),
            },
            _ => Err(self.wrong("array (definite length)")),
        }
    }

    pub fn map(&mut self) -> Result<u64, DecodeError> {
        match self.datatype()? {
            Type::Map => match self.d.map() {
                Ok(Some(n)) => self.bounded(n, 2),
                _ => Err(self.err("bad map header")),
            },
            _ => Err(self.wrong("map (definite length)")),
        }
    }

    /// Every element takes at least one byte, so a count larger than the rest of the input is
    /// a lie; rejecting it here keeps `Vec::with_capacity` and loops bounded.
    fn bounded(&self, n: u64, per: u64) -> Result<u64, DecodeError> {
        let rest = (self.d.input().len() - self.d.position()) as u64;
        if n.saturating_mul(per) > rest {
            Err(self.err(format!(
                "declares {n} elements but only {rest} bytes remain"
            )))
        } else {
            Ok(n)
        }
    }

    pub fn tag(&mut self) -> Result<u64, DecodeError> {
        match self.datatype()? {
            Type::Tag => self
                .d
                .tag()
                .map(|t: Tag| t.as_u64())
                .map_err(|e| self.err(format!("bad tag ({e})"))),
            _ => Err(self.wrong("tag")),
        }
    }

    /// Skips one item and returns its raw encoding (used to keep unknown members as data).
    pub fn raw(&mut self) -> Result<&'b [u8], DecodeError> {
        let start = self.position();
        skip(&mut self.d, 0).map_err(|r| self.err(r))?;
        Ok(&self.d.input()[start..self.position()])
    }
}

/// Bounded-depth skip (minicbor's own skip is fine too, but its nesting limit is not ours).
fn skip(d: &mut Decoder<'_>, depth: usize) -> Result<(), String> {
    if depth > crate::limits::MAX_CBOR_DEPTH {
        return Err(format!(
            "CBOR nesting deeper than {}",
            crate::limits::MAX_CBOR_DEPTH
        ));
    }
    let t = d
        .datatype()
        .map_err(|e| format!("truncated or malformed CBOR ({e})"))?;
    let bad = |e: minicbor::decode::Error| format!("malformed CBOR ({e})");
    match t {
        Type::Array => {
            let n = d.array().map_err(bad)?.ok_or("bad array")?;
            for _ in 0..n {
                skip(d, depth + 1)?;
            }
        }
        Type::Map => {
            let n = d.map().map_err(bad)?.ok_or("bad map")?;
            for _ in 0..n {
                skip(d, depth + 1)?;
                skip(d, depth + 1)?;
            }
        }
        Type::Tag => {
            d.tag().map_err(bad)?;
            skip(d, depth + 1)?;
        }
        Type::ArrayIndef | Type::MapIndef | Type::BytesIndef | Type::StringIndef => {
            return Err("indefinite-length items are not allowed in SUIT".into());
        }
        Type::Break | Type::Unknown(_) => return Err("malformed CBOR item".into()),
        _ => d.skip().map_err(bad)?,
    }
    Ok(())
}

/// Appends the CBOR header for major type `major` with argument `n` (shortest form).
pub(crate) fn put_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u8::MAX as u64 {
        out.push(m | 24);
        out.push(n as u8);
    } else if n <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Deterministic CBOR writer (RFC 8949 §4.2.1 shortest forms; callers emit map keys sorted).
#[derive(Default)]
pub(crate) struct Writer {
    pub out: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { out: Vec::new() }
    }
    pub fn uint(&mut self, n: u64) -> &mut Self {
        put_head(&mut self.out, 0, n);
        self
    }
    pub fn int(&mut self, n: i64) -> &mut Self {
        if n >= 0 {
            put_head(&mut self.out, 0, n as u64);
        } else {
            put_head(&mut self.out, 1, (-1 - n) as u64);
        }
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        put_head(&mut self.out, 2, b.len() as u64);
        self.out.extend_from_slice(b);
        self
    }
    pub fn text(&mut self, s: &str) -> &mut Self {
        put_head(&mut self.out, 3, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
        self
    }
    pub fn array(&mut self, n: usize) -> &mut Self {
        put_head(&mut self.out, 4, n as u64);
        self
    }
    pub fn map(&mut self, n: usize) -> &mut Self {
        put_head(&mut self.out, 5, n as u64);
        self
    }
    pub fn tag(&mut self, t: u64) -> &mut Self {
        put_head(&mut self.out, 6, t);
        self
    }
    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.out.push(if b { 0xf5 } else { 0xf4 });
        self
    }
    pub fn null(&mut self) -> &mut Self {
        self.out.push(0xf6);
        self
    }
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b);
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.out
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

/// Tracks map keys in order and rejects duplicates (minicbor itself would silently keep the
/// last one) and out-of-order keys (SUIT requires core deterministic encoding).
pub(crate) struct KeyOrder {
    last: Option<Vec<u8>>,
}

impl KeyOrder {
    pub fn new() -> Self {
        KeyOrder { last: None }
    }
    pub fn check(&mut self, r: &Reader<'_>, k: &Key<'_>) -> Result<(), DecodeError> {
        let enc = key_order_bytes(k);
        if let Some(prev) = &self.last {
            if *prev == enc {
                return Err(r.err(format!("duplicate map key {}", show_key(k))));
            }
            if *prev > enc {
                return Err(r.err(format!(
                    "map key {} out of deterministic order (RFC 8949 §4.2.1)",
                    show_key(k)
                )));
            }
        }
        self.last = Some(enc);
        Ok(())
    }
}

pub(crate) fn show_key(k: &Key<'_>) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Text(s) => format!("{s:?}"),
    }
}
