//! Strict CBOR reading and deterministic CBOR writing.
//!
//! Why hand-written over `minicbor::Decoder` instead of `#[derive(Decode)]`: the derive
//! silently accepts duplicate map keys, indefinite lengths and unknown trailing items, and its
//! errors carry no path. TEEP receivers must reject such input and tell the peer where and why,
//! so the reader walks the item itself, keeps a path stack and checks every rule. minicbor
//! still does the byte-level work (heads, UTF-8, bounds). Writing uses a few lines of our own
//! so RFC 8949 §4.2.1 core deterministic encoding (shortest heads, definite lengths, map keys
//! sorted bytewise) is guaranteed by construction.

use std::collections::BTreeSet;

use minicbor::data::Type;
use minicbor::Decoder;

use crate::error::{DecodeError, DecodeErrorKind};

/// Nesting limit for any CBOR item we walk (arrays, maps and tags each count one level).
pub const MAX_DEPTH: usize = 32;

/// A generic CBOR data item: unknown option values, SUIT parameter values in tc-list entries.
///
/// Decoded maps come back with their entries in deterministic (bytewise key) order, so two
/// encodings of the same map compare equal. Floats compare by value, with every NaN equal.
#[derive(Debug, Clone)]
pub enum Value {
    /// Major types 0 and 1 (range -2^64 ..= 2^64-1).
    Integer(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    /// Entries in the order received; encoded in deterministic order.
    Map(Vec<(Value, Value)>),
    Tag(u64, Box<Value>),
    Bool(bool),
    Null,
    Undefined,
    /// Other simple values (0..=19, 32..=255).
    Simple(u8),
    Float(f64),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Tag(ta, a), Value::Tag(tb, b)) => ta == tb && a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Null, Value::Null) | (Value::Undefined, Value::Undefined) => true,
            (Value::Simple(a), Value::Simple(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => {
                (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
            }
            _ => false,
        }
    }
}

impl Value {
    /// Deterministic encoding of this item.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_value(&mut out, self);
        out
    }

    /// Strictly decode exactly one item (definite lengths, no duplicate keys, depth limit).
    pub fn from_slice(bytes: &[u8]) -> std::result::Result<Value, DecodeError> {
        let mut r = Reader::new(bytes, "cbor");
        let v = r.value()?;
        r.finish()?;
        Ok(v)
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// One step of a decode path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg {
    Name(&'static str),
    Index(usize),
    Key(i128),
}

/// Strict reader over one buffer with a path stack for error messages.
pub(crate) struct Reader<'b> {
    d: Decoder<'b>,
    root: &'static str,
    path: Vec<Seg>,
    depth: usize,
}

pub(crate) type Result<T> = std::result::Result<T, DecodeError>;

fn type_name(t: Type) -> &'static str {
    match t {
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

impl<'b> Reader<'b> {
    pub fn new(bytes: &'b [u8], root: &'static str) -> Self {
        Reader {
            d: Decoder::new(bytes),
            root,
            path: Vec::with_capacity(8),
            depth: 0,
        }
    }

    pub fn set_root(&mut self, root: &'static str) {
        self.root = root;
    }

    pub fn push(&mut self, seg: Seg) {
        self.path.push(seg);
    }

    pub fn pop(&mut self) {
        self.path.pop();
    }

    pub fn replace_last(&mut self, seg: Seg) {
        if let Some(last) = self.path.last_mut() {
            *last = seg;
        }
    }

    pub fn path_string(&self) -> String {
        let mut s = String::from(self.root);
        for seg in &self.path {
            match seg {
                Seg::Name(n) => {
                    s.push('.');
                    s.push_str(n);
                }
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
                Seg::Key(k) => s.push_str(&format!(".{k}")),
            }
        }
        s
    }

    pub fn invalid(&self, rule: impl Into<String>) -> DecodeError {
        DecodeError::new(DecodeErrorKind::Invalid, self.path_string(), rule)
    }

    fn strictness(&self, rule: impl Into<String>) -> DecodeError {
        DecodeError::new(DecodeErrorKind::Strictness, self.path_string(), rule)
    }

    fn malformed(&self, e: minicbor::decode::Error) -> DecodeError {
        let rule = if e.is_end_of_input() {
            "malformed CBOR: truncated input".to_string()
        } else {
            format!("malformed CBOR: {e}")
        };
        DecodeError::new(DecodeErrorKind::Malformed, self.path_string(), rule)
    }

    pub fn position(&self) -> usize {
        self.d.position()
    }

    /// Reject bytes after the top-level item.
    pub fn finish(&self) -> Result<()> {
        let rest = self.d.input().len() - self.d.position();
        if rest != 0 {
            return Err(DecodeError::new(
                DecodeErrorKind::Strictness,
                self.root.to_string(),
                format!("{rest} trailing byte(s) after the message"),
            ));
        }
        Ok(())
    }

    pub fn peek(&self) -> Result<Type> {
        if self.d.position() >= self.d.input().len() {
            return Err(DecodeError::new(
                DecodeErrorKind::Malformed,
                self.path_string(),
                "malformed CBOR: truncated input",
            ));
        }
        self.d.datatype().map_err(|e| self.malformed(e))
    }

    /// Name of the next item's type, for "expected X, got Y" messages.
    pub fn peek_name(&self) -> &'static str {
        self.peek().map(type_name).unwrap_or("end of input")
    }

    fn mismatch(&self, expected: &str) -> DecodeError {
        match self.peek() {
            Err(e) => e,
            Ok(t) => self.invalid(format!("expected {expected}, got {}", type_name(t))),
        }
    }

    pub fn uint(&mut self, expected: &str) -> Result<u64> {
        match self.peek()? {
            Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
                self.d.u64().map_err(|e| self.malformed(e))
            }
            _ => Err(self.mismatch(expected)),
        }
    }

    /// A CBOR integer that fits i64.
    pub fn int(&mut self, expected: &str) -> Result<i64> {
        match self.peek()? {
            Type::U8
            | Type::U16
            | Type::U32
            | Type::U64
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::I64
            | Type::Int => {
                let v = i128::from(self.d.int().map_err(|e| self.malformed(e))?);
                i64::try_from(v).map_err(|_| {
                    self.invalid(format!(
                        "expected {expected}, got integer {v} outside 64-bit range"
                    ))
                })
            }
            _ => Err(self.mismatch(expected)),
        }
    }

    pub fn bytes(&mut self, expected: &str) -> Result<&'b [u8]> {
        match self.peek()? {
            Type::Bytes => self.d.bytes().map_err(|e| self.malformed(e)),
            Type::BytesIndef => Err(self.strictness(format!("expected {expected}, got indefinite-length bstr (only definite lengths are allowed)"))),
            _ => Err(self.mismatch(expected)),
        }
    }

    pub fn text(&mut self, expected: &str) -> Result<&'b str> {
        match self.peek()? {
            Type::String => self.d.str().map_err(|e| self.malformed(e)),
            Type::StringIndef => Err(self.strictness(format!("expected {expected}, got indefinite-length tstr (only definite lengths are allowed)"))),
            _ => Err(self.mismatch(expected)),
        }
    }

    pub fn bool(&mut self, expected: &str) -> Result<bool> {
        match self.peek()? {
            Type::Bool => self.d.bool().map_err(|e| self.malformed(e)),
            _ => Err(self.mismatch(expected)),
        }
    }

    /// Definite-length array header; the caller must read exactly `len` items and call
    /// [`Reader::leave`].
    pub fn array(&mut self, expected: &str) -> Result<u64> {
        match self.peek()? {
            Type::Array => {
                let len = self.d.array().map_err(|e| self.malformed(e))?.unwrap_or(0);
                self.enter()?;
                Ok(len)
            }
            Type::ArrayIndef => Err(self.strictness(format!("expected {expected}, got indefinite-length array (only definite lengths are allowed)"))),
            _ => Err(self.mismatch(expected)),
        }
    }

    pub fn map(&mut self, expected: &str) -> Result<u64> {
        match self.peek()? {
            Type::Map => {
                let len = self.d.map().map_err(|e| self.malformed(e))?.unwrap_or(0);
                self.enter()?;
                Ok(len)
            }
            Type::MapIndef => Err(self.strictness(format!("expected {expected}, got indefinite-length map (only definite lengths are allowed)"))),
            _ => Err(self.mismatch(expected)),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.strictness(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Capacity hint for a declared length: never more than the bytes left, so a forged
    /// length cannot make us allocate.
    pub fn capacity(&self, len: u64) -> usize {
        let left = self.d.input().len().saturating_sub(self.d.position());
        usize::try_from(len).unwrap_or(usize::MAX).min(left)
    }

    /// Any item, strictly.
    pub fn value(&mut self) -> Result<Value> {
        let t = self.peek()?;
        Ok(match t {
            Type::U8
            | Type::U16
            | Type::U32
            | Type::U64
            | Type::I8
            | Type::I16
            | Type::I32
            | Type::I64
            | Type::Int => Value::Integer(i128::from(self.d.int().map_err(|e| self.malformed(e))?)),
            Type::Bytes | Type::BytesIndef => Value::Bytes(self.bytes("bstr")?.to_vec()),
            Type::String | Type::StringIndef => Value::Text(self.text("tstr")?.to_string()),
            Type::Bool => Value::Bool(self.d.bool().map_err(|e| self.malformed(e))?),
            Type::Null => {
                self.d.null().map_err(|e| self.malformed(e))?;
                Value::Null
            }
            Type::Undefined => {
                self.d.undefined().map_err(|e| self.malformed(e))?;
                Value::Undefined
            }
            Type::Simple => {
                self.check_simple()?;
                Value::Simple(self.d.simple().map_err(|e| self.malformed(e))?)
            }
            Type::F16 => {
                // minicbor decodes half floats only with its `half` feature; three bytes.
                let pos = self.d.position();
                let raw = self.d.input().get(pos + 1..pos + 3).ok_or_else(|| {
                    DecodeError::new(
                        DecodeErrorKind::Malformed,
                        self.path_string(),
                        "malformed CBOR: truncated input",
                    )
                })?;
                let bits = u16::from_be_bytes([raw[0], raw[1]]);
                self.d.set_position(pos + 3);
                Value::Float(f16_to_f64(bits))
            }
            Type::F32 => Value::Float(f64::from(self.d.f32().map_err(|e| self.malformed(e))?)),
            Type::F64 => Value::Float(self.d.f64().map_err(|e| self.malformed(e))?),
            Type::Tag => {
                let tag = self.d.tag().map_err(|e| self.malformed(e))?.as_u64();
                self.enter()?;
                let inner = self.value()?;
                self.leave();
                Value::Tag(tag, Box::new(inner))
            }
            Type::Array | Type::ArrayIndef => {
                let len = self.array("array")?;
                let mut items = Vec::with_capacity(self.capacity(len));
                for i in 0..len {
                    self.push(Seg::Index(i as usize));
                    items.push(self.value()?);
                    self.pop();
                }
                self.leave();
                Value::Array(items)
            }
            Type::Map | Type::MapIndef => {
                let len = self.map("map")?;
                let mut entries = Vec::with_capacity(self.capacity(len));
                let mut seen = BTreeSet::new();
                for _ in 0..len {
                    let key = self.value()?;
                    let key_bytes = key.to_vec();
                    if seen.contains(&key_bytes) {
                        return Err(self.strictness(format!(
                            "duplicate map key {}",
                            crate::diag::value_to_diag(&key)
                        )));
                    }
                    let seg = match key {
                        Value::Integer(k) => Seg::Key(k),
                        _ => Seg::Name("<key>"),
                    };
                    self.push(seg);
                    let v = self.value()?;
                    self.pop();
                    entries.push((key_bytes.clone(), key, v));
                    seen.insert(key_bytes);
                }
                self.leave();
                // Deterministic order, so equal maps compare equal however they were sent.
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Map(entries.into_iter().map(|(_, k, v)| (k, v)).collect())
            }
            Type::Break | Type::Unknown(_) => {
                return Err(DecodeError::new(
                    DecodeErrorKind::Malformed,
                    self.path_string(),
                    format!("malformed CBOR: unexpected {}", type_name(t)),
                ))
            }
        })
    }

    /// Simple values below 32 must use the one-byte form (RFC 8949 §3.3).
    fn check_simple(&self) -> Result<()> {
        let pos = self.d.position();
        let input = self.d.input();
        if input.get(pos) == Some(&0xf8) && input.get(pos + 1).is_some_and(|v| *v < 32) {
            return Err(DecodeError::new(
                DecodeErrorKind::Malformed,
                self.path_string(),
                "malformed CBOR: two-byte simple value below 32",
            ));
        }
        Ok(())
    }

    /// Check that the next item is well-formed and strict without building it (used for
    /// `bstr .cbor` contents such as SUIT envelopes, which can be large).
    pub fn skip_strict(&mut self) -> Result<()> {
        let t = self.peek()?;
        match t {
            Type::Array | Type::ArrayIndef => {
                let len = self.array("array")?;
                for i in 0..len {
                    self.push(Seg::Index(i as usize));
                    self.skip_strict()?;
                    self.pop();
                }
                self.leave();
            }
            Type::Map | Type::MapIndef => {
                let len = self.map("map")?;
                // Keys are compared by their bytes: fine for the deterministic encodings
                // that SUIT and COSE require; only the set of key slices is allocated.
                let mut seen: BTreeSet<&'b [u8]> = BTreeSet::new();
                for _ in 0..len {
                    let start = self.d.position();
                    self.skip_strict()?;
                    let key = &self.d.input()[start..self.d.position()];
                    if !seen.insert(key) {
                        return Err(self.strictness("duplicate map key"));
                    }
                    self.skip_strict()?;
                }
                self.leave();
            }
            Type::Tag => {
                self.d.tag().map_err(|e| self.malformed(e))?;
                self.enter()?;
                self.skip_strict()?;
                self.leave();
            }
            Type::BytesIndef | Type::StringIndef => {
                return Err(self.strictness(format!(
                    "{} (only definite lengths are allowed)",
                    type_name(t)
                )))
            }
            Type::Break | Type::Unknown(_) => {
                return Err(DecodeError::new(
                    DecodeErrorKind::Malformed,
                    self.path_string(),
                    format!("malformed CBOR: unexpected {}", type_name(t)),
                ))
            }
            Type::String => {
                self.d.str().map_err(|e| self.malformed(e))?;
            }
            Type::Simple => {
                self.check_simple()?;
                self.d.skip().map_err(|e| self.malformed(e))?
            }
            _ => self.d.skip().map_err(|e| self.malformed(e))?,
        }
        Ok(())
    }
}

/// Check that `bytes` hold exactly one strict CBOR item (for `bstr .cbor` fields); returns the
/// major type of that item. Errors are reported at `outer`'s path.
pub(crate) fn check_embedded(outer: &Reader<'_>, bytes: &[u8], what: &str) -> Result<Type> {
    let mut inner = Reader::new(bytes, "");
    let t = inner
        .peek()
        .map_err(|e| outer.invalid(format!("expected bstr .cbor {what}: {}", e.rule)))?;
    inner.skip_strict().map_err(|e| {
        let at = if e.path.is_empty() {
            String::new()
        } else {
            format!(" at {}", e.path)
        };
        let mut err = outer.invalid(format!("expected bstr .cbor {what}: {}{at}", e.rule));
        err.kind = e.kind;
        err
    })?;
    if inner.position() != bytes.len() {
        return Err(outer.invalid(format!(
            "expected bstr .cbor {what}: {} trailing byte(s) after the embedded item",
            bytes.len() - inner.position()
        )));
    }
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// Writing (RFC 8949 §4.2.1 core deterministic encoding).

pub(crate) fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u8::MAX as u64 {
        out.extend_from_slice(&[m | 24, n as u8]);
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

pub(crate) fn write_uint(out: &mut Vec<u8>, n: u64) {
    head(out, 0, n);
}

pub(crate) fn write_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        head(out, 0, n as u64);
    } else {
        head(out, 1, (-1 - n) as u64);
    }
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn write_array_head(out: &mut Vec<u8>, len: usize) {
    head(out, 4, len as u64);
}

pub(crate) fn write_map_head(out: &mut Vec<u8>, len: usize) {
    head(out, 5, len as u64);
}

pub(crate) fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xf5 } else { 0xf4 });
}

/// Shortest float encoding that preserves the value (RFC 8949 §4.2.1 / §4.2.2 preferred
/// serialization); NaN is written as the canonical half-precision quiet NaN.
fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(&[0xf9, 0x7e, 0x00]);
        return;
    }
    if let Some(h) = f64_to_f16_exact(f) {
        out.push(0xf9);
        out.extend_from_slice(&h.to_be_bytes());
    } else if (f as f32) as f64 == f {
        out.push(0xfa);
        out.extend_from_slice(&(f as f32).to_be_bytes());
    } else {
        out.push(0xfb);
        out.extend_from_slice(&f.to_be_bytes());
    }
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let mant = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + mant / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Half-precision bits of `f` if the conversion is exact.
fn f64_to_f16_exact(f: f64) -> Option<u16> {
    let sign: u16 = if f.is_sign_negative() { 0x8000 } else { 0 };
    if f == 0.0 {
        return Some(sign);
    }
    if f.is_infinite() {
        return Some(sign | 0x7c00);
    }
    let a = f.abs();
    // Normal half range: 2^-14 ..= 65504, 10-bit mantissa.
    if (6.103515625e-05..=65504.0).contains(&a) {
        let e = a.log2().floor() as i32;
        let m = a / 2f64.powi(e) - 1.0; // in [0,1)
        let mant = m * 1024.0;
        if mant.fract() != 0.0 || !(-14..=15).contains(&e) {
            return None;
        }
        return Some(sign | (((e + 15) as u16) << 10) | mant as u16);
    }
    // Subnormal: multiples of 2^-24 below 2^-14.
    let q = a * 2f64.powi(24);
    if a < 6.103515625e-05 && q.fract() == 0.0 && q >= 1.0 {
        return Some(sign | q as u16);
    }
    None
}

pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Integer(n) => {
            if *n >= 0 {
                head(out, 0, *n as u64);
            } else {
                head(out, 1, (-1 - *n) as u64);
            }
        }
        Value::Bytes(b) => write_bytes(out, b),
        Value::Text(s) => write_text(out, s),
        Value::Array(items) => {
            write_array_head(out, items.len());
            for i in items {
                write_value(out, i);
            }
        }
        Value::Map(entries) => {
            let mut enc: Vec<(Vec<u8>, &Value)> =
                entries.iter().map(|(k, v)| (k.to_vec(), v)).collect();
            enc.sort_by(|a, b| a.0.cmp(&b.0));
            write_map_head(out, enc.len());
            for (k, v) in enc {
                out.extend_from_slice(&k);
                write_value(out, v);
            }
        }
        Value::Tag(t, inner) => {
            head(out, 6, *t);
            write_value(out, inner);
        }
        Value::Bool(b) => write_bool(out, *b),
        Value::Null => out.push(0xf6),
        Value::Undefined => out.push(0xf7),
        Value::Simple(s) => {
            if *s < 24 {
                out.push(0xe0 | *s);
            } else {
                out.extend_from_slice(&[0xf8, *s]);
            }
        }
        Value::Float(f) => write_float(out, *f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_shortest() {
        let mut v = Vec::new();
        write_uint(&mut v, 23);
        write_uint(&mut v, 24);
        write_uint(&mut v, 256);
        write_int(&mut v, -65534);
        assert_eq!(v, [0x17, 0x18, 0x18, 0x19, 0x01, 0x00, 0x39, 0xff, 0xfd]);
    }

    #[test]
    fn floats_use_shortest_exact_width() {
        for (f, expect) in [
            (0.0, vec![0xf9, 0x00, 0x00]),
            (1.5, vec![0xf9, 0x3e, 0x00]),
            (65504.0, vec![0xf9, 0x7b, 0xff]),
            (100000.0, vec![0xfa, 0x47, 0xc3, 0x50, 0x00]),
            (
                1.1,
                vec![0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
            ),
            (5.960464477539063e-8, vec![0xf9, 0x00, 0x01]),
        ] {
            let mut out = Vec::new();
            write_float(&mut out, f);
            assert_eq!(out, expect, "{f}");
            assert_eq!(Value::from_slice(&out).unwrap(), Value::Float(f));
        }
    }

    #[test]
    fn map_keys_sorted_bytewise() {
        let m = Value::Map(vec![
            (Value::Integer(-1), Value::Null),
            (Value::Integer(24), Value::Null),
            (Value::Integer(10), Value::Null),
        ]);
        assert_eq!(m.to_vec(), [0xa3, 0x0a, 0xf6, 0x18, 0x18, 0xf6, 0x20, 0xf6]);
    }

    #[test]
    fn decoded_maps_are_in_deterministic_order() {
        let v = Value::from_slice(&[0xa2, 0x20, 0x00, 0x01, 0x00]).unwrap();
        assert_eq!(
            v,
            Value::Map(vec![
                (Value::Integer(1), Value::Integer(0)),
                (Value::Integer(-1), Value::Integer(0))
            ])
        );
    }

    #[test]
    fn rejects_two_byte_simple_below_32() {
        assert!(Value::from_slice(&[0xf8, 0x14]).is_err());
        assert_eq!(Value::from_slice(&[0xf8, 0x20]).unwrap(), Value::Simple(32));
        assert_eq!(Value::from_slice(&[0xf4]).unwrap(), Value::Bool(false));
    }

    #[test]
    fn nan_equals_nan() {
        let nan = Value::from_slice(&[0xfa, 0x7f, 0xc0, 0x00, 0x01]).unwrap();
        assert_eq!(nan, Value::Float(f64::NAN));
        assert_eq!(nan.to_vec(), [0xf9, 0x7e, 0x00]);
    }

    #[test]
    fn rejects_duplicate_keys_in_generic_maps() {
        let e = Value::from_slice(&[0xa2, 0x01, 0x00, 0x01, 0x00]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Strictness);
        assert!(e.rule.contains("duplicate map key 1"), "{e}");
    }

    #[test]
    fn rejects_indefinite_lengths() {
        let e = Value::from_slice(&[0x9f, 0xff]).unwrap_err();
        assert!(e.rule.contains("indefinite"), "{e}");
        let e = Value::from_slice(&[0x5f, 0x41, 0x00, 0xff]).unwrap_err();
        assert!(e.rule.contains("indefinite"), "{e}");
    }

    #[test]
    fn rejects_nesting_bombs() {
        let bomb = vec![0x81; 10_000];
        let e = Value::from_slice(&bomb).unwrap_err();
        assert!(e.rule.contains("nesting deeper"), "{e}");
        let tags: Vec<u8> = [0xc6].repeat(1000);
        assert!(Value::from_slice(&tags).is_err());
    }

    #[test]
    fn forged_lengths_do_not_allocate() {
        // Array claiming 2^63 elements, then nothing.
        let e =
            Value::from_slice(&[0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Malformed);
        let e =
            Value::from_slice(&[0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Malformed);
    }
}
