//! Strict CBOR reading and deterministic CBOR writing for TEEP messages, over teep-cbor.
//!
//! Why a hand-driven reader instead of `minicbor`'s `#[derive(Decode)]`: the derive silently
//! accepts duplicate map keys, indefinite lengths and unknown trailing items, and its errors
//! carry no path. TEEP receivers must reject such input and tell the peer where and why, so
//! the codec walks the item itself with teep-cbor's [`teep_cbor::Reader`], which keeps the
//! path stack and checks every rule; this module words its errors as [`DecodeError`]s.
//! Writing is teep-cbor's, so RFC 8949 §4.2.1 core deterministic encoding (shortest heads,
//! definite lengths, map keys sorted bytewise) is guaranteed by construction.

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use teep_cbor::deviation::{DeviationKind, Deviations, Tolerance};
use teep_cbor::{DepthLimit, ErrorKind, MapKeys, Rules};

use crate::error::{DecodeError, DecodeErrorKind};

/// Nesting limit for any CBOR item we walk (arrays, maps and tags each count one level).
pub use teep_cbor::MAX_DEPTH;
pub(crate) use teep_cbor::{
    write_array_head, write_bool, write_bytes, write_int, write_map_head, write_text, write_uint,
    Seg, Type,
};

/// The codec's rules: nesting counted per container, unique map keys, two-byte simple values
/// below 32 rejected; a forged element count fails at the end of the input.
const RULES: Rules = Rules {
    depth: DepthLimit::Containers,
    bound_counts: false,
    two_byte_simple: false,
    map_keys: MapKeys::Unique,
    shortest_heads: false,
};

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
    pub fn from_slice(bytes: &[u8]) -> core::result::Result<Value, DecodeError> {
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

/// Strict reader over one buffer with a path stack for error messages, and the deviations
/// accepted (or, strict, refused) while reading.
pub(crate) struct Reader<'b> {
    r: teep_cbor::Reader<'b>,
    dev: Deviations,
}

pub(crate) type Result<T> = core::result::Result<T, DecodeError>;

fn type_name(t: Type) -> &'static str {
    t.name()
}

impl<'b> Reader<'b> {
    pub fn new(bytes: &'b [u8], root: &'static str) -> Self {
        Self::with_tolerance(bytes, root, Tolerance::Tolerant)
    }

    pub fn with_tolerance(bytes: &'b [u8], root: &'static str, tolerance: Tolerance) -> Self {
        let mut r = teep_cbor::Reader::with_rules(bytes, RULES);
        r.set_root(root);
        Reader {
            r,
            dev: Deviations::new(tolerance),
        }
    }

    /// Records deviation `kind` at the current path; strict, refuses it.
    pub fn note(&mut self, kind: &'static DeviationKind) -> Result<()> {
        let at = self.path_string();
        self.note_at(kind, at)
    }

    /// Records deviation `kind` at `at`; strict, refuses it.
    pub fn note_at(&mut self, kind: &'static DeviationKind, at: String) -> Result<()> {
        let offset = self.position();
        self.dev.note(kind, at).map_err(|d| {
            let mut e = DecodeError::refused(d);
            e.offset = offset;
            e
        })
    }

    pub fn take_deviations(&mut self) -> Deviations {
        let tolerance = self.dev.tolerance();
        core::mem::replace(&mut self.dev, Deviations::new(tolerance))
    }

    pub fn set_root(&mut self, root: &'static str) {
        self.r.set_root(root);
    }

    pub fn push(&mut self, seg: Seg) {
        self.r.push(seg);
    }

    pub fn pop(&mut self) {
        self.r.pop();
    }

    pub fn replace_last(&mut self, seg: Seg) {
        self.r.replace_last(seg);
    }

    pub fn path_string(&self) -> String {
        self.r.path_string()
    }

    pub fn invalid(&self, rule: impl Into<String>) -> DecodeError {
        DecodeError::new(DecodeErrorKind::Invalid, self.path_string(), rule)
    }

    fn strictness(&self, rule: impl Into<String>) -> DecodeError {
        DecodeError::new(DecodeErrorKind::Strictness, self.path_string(), rule)
    }

    /// A teep-cbor error in the codec's words, at the current path.
    fn cbor_error(&self, e: teep_cbor::Error) -> DecodeError {
        use DecodeErrorKind::{Malformed, Strictness};
        let definite = "(only definite lengths are allowed)";
        let (kind, rule) = match e.kind {
            k if k.is_truncation() => (Malformed, "malformed CBOR: truncated input".into()),
            ErrorKind::InvalidUtf8 => (
                Malformed,
                format!("malformed CBOR: invalid utf-8 at position {}", e.start),
            ),
            ErrorKind::TwoByteSimple { .. } => (
                Malformed,
                "malformed CBOR: two-byte simple value below 32".into(),
            ),
            ErrorKind::Break => (Malformed, "malformed CBOR: unexpected break".into()),
            ErrorKind::Reserved { .. } => (
                Malformed,
                "malformed CBOR: unexpected reserved initial byte".into(),
            ),
            ErrorKind::Indefinite { major: 4 } => (
                Strictness,
                format!("expected array, got indefinite-length array {definite}"),
            ),
            ErrorKind::Indefinite { major: 5 } => (
                Strictness,
                format!("expected map, got indefinite-length map {definite}"),
            ),
            ErrorKind::Indefinite { major } => (
                Strictness,
                format!(
                    "indefinite-length {} {definite}",
                    if major == 2 { "bstr" } else { "tstr" }
                ),
            ),
            ErrorKind::TooDeep => (
                Strictness,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ),
            ErrorKind::DuplicateKey => (Strictness, "duplicate map key".into()),
            other => (Malformed, format!("malformed CBOR: {other}")),
        };
        DecodeError::new(kind, self.path_string(), rule)
    }

    pub fn position(&self) -> usize {
        self.r.position()
    }

    /// Reject bytes after the top-level item.
    pub fn finish(&self) -> Result<()> {
        let rest = self.r.remaining();
        if rest != 0 {
            return Err(DecodeError::new(
                DecodeErrorKind::Strictness,
                self.r.root().to_string(),
                format!("{rest} trailing byte(s) after the message"),
            ));
        }
        Ok(())
    }

    pub fn peek(&self) -> Result<Type> {
        self.r.datatype().map_err(|e| self.cbor_error(e))
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
            t if t.is_uint() => self.r.uint().map_err(|e| self.cbor_error(e)),
            _ => Err(self.mismatch(expected)),
        }
    }

    /// A CBOR integer that fits i64.
    pub fn int(&mut self, expected: &str) -> Result<i64> {
        match self.peek()? {
            t if t.is_int() => {
                let v = self.r.int().map_err(|e| self.cbor_error(e))?;
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
            Type::Bytes => self.r.bytes().map_err(|e| self.cbor_error(e)),
            Type::BytesIndef => Err(self.strictness(format!("expected {expected}, got indefinite-length bstr (only definite lengths are allowed)"))),
            _ => Err(self.mismatch(expected)),
        }
    }

    pub fn text(&mut self, expected: &str) -> Result<&'b str> {
        match self.peek()? {
            Type::String => self.r.text().map_err(|e| self.cbor_error(e)),
            Type::StringIndef => Err(self.strictness(format!("expected {expected}, got indefinite-length tstr (only definite lengths are allowed)"))),
            _ => Err(self.mismatch(expected)),
        }
    }

    pub fn bool(&mut self, expected: &str) -> Result<bool> {
        match self.peek()? {
            Type::Bool => self.r.bool().map_err(|e| self.cbor_error(e)),
            _ => Err(self.mismatch(expected)),
        }
    }

    /// Definite-length array header; the caller must read exactly `len` items and call
    /// [`Reader::leave`].
    pub fn array(&mut self, expected: &str) -> Result<u64> {
        self.container(expected, Type::Array, Type::ArrayIndef)
    }

    pub fn map(&mut self, expected: &str) -> Result<u64> {
        self.container(expected, Type::Map, Type::MapIndef)
    }

    /// The head of a definite-length array or map (`definite`), entered.
    fn container(&mut self, expected: &str, definite: Type, indefinite: Type) -> Result<u64> {
        match self.peek()? {
            t if t == definite => {
                let len = if t == Type::Array {
                    self.r.array()
                } else {
                    self.r.map()
                };
                let len = len.map_err(|e| self.cbor_error(e))?;
                self.enter()?;
                Ok(len)
            }
            t if t == indefinite => Err(self.strictness(format!(
                "expected {expected}, got {} (only definite lengths are allowed)",
                t.name()
            ))),
            _ => Err(self.mismatch(expected)),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.r.enter().map_err(|e| self.cbor_error(e))
    }

    pub fn leave(&mut self) {
        self.r.leave();
    }

    /// Capacity hint for a declared length: never more than the bytes left, so a forged
    /// length cannot make us allocate.
    pub fn capacity(&self, len: u64) -> usize {
        self.r.capacity(len)
    }

    /// Any item, strictly.
    pub fn value(&mut self) -> Result<Value> {
        let t = self.peek()?;
        let cbor = |r: &Self, e| r.cbor_error(e);
        Ok(match t {
            t if t.is_int() => Value::Integer(self.r.int().map_err(|e| cbor(self, e))?),
            Type::Bytes | Type::BytesIndef => Value::Bytes(self.bytes("bstr")?.to_vec()),
            Type::String | Type::StringIndef => Value::Text(self.text("tstr")?.to_string()),
            Type::Bool => Value::Bool(self.r.bool().map_err(|e| cbor(self, e))?),
            Type::Null => {
                self.r.null().map_err(|e| cbor(self, e))?;
                Value::Null
            }
            Type::Undefined => {
                self.r.undefined().map_err(|e| cbor(self, e))?;
                Value::Undefined
            }
            Type::Simple => Value::Simple(self.r.simple().map_err(|e| cbor(self, e))?),
            Type::F16 | Type::F32 | Type::F64 => {
                Value::Float(self.r.float().map_err(|e| cbor(self, e))?)
            }
            Type::Tag => {
                let tag = self.r.tag().map_err(|e| cbor(self, e))?;
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
            // Only a break or a reserved initial byte is left.
            _ => {
                return Err(DecodeError::new(
                    DecodeErrorKind::Malformed,
                    self.path_string(),
                    format!("malformed CBOR: unexpected {}", type_name(t)),
                ))
            }
        })
    }

    /// Check that the next item is well-formed and strict without building it (used for
    /// `bstr .cbor` contents such as SUIT envelopes, which can be large). Map keys are
    /// compared by their bytes: fine for the deterministic encodings that SUIT and COSE
    /// require.
    pub fn skip_strict(&mut self) -> Result<()> {
        self.r.skip().map_err(|e| self.cbor_error(e))
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

pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Integer(n) => teep_cbor::write_int128(out, *n),
        Value::Bytes(b) => write_bytes(out, b),
        Value::Text(s) => write_text(out, s),
        Value::Array(items) => {
            write_array_head(out, items.len());
            for i in items {
                write_value(out, i);
            }
        }
        Value::Map(entries) => teep_cbor::write_map_sorted(
            out,
            entries.iter().map(|(k, v)| (k, v)),
            write_value,
            write_value,
        ),
        Value::Tag(t, inner) => {
            teep_cbor::write_tag(out, *t);
            write_value(out, inner);
        }
        Value::Bool(b) => write_bool(out, *b),
        Value::Null => teep_cbor::write_null(out),
        Value::Undefined => teep_cbor::write_undefined(out),
        Value::Simple(s) => teep_cbor::write_simple(out, *s),
        Value::Float(f) => teep_cbor::write_f64(out, *f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_round_trip_in_shortest_exact_width() {
        for (f, width) in [
            (0.0, 3),
            (1.5, 3),
            (65504.0, 3),
            (100000.0, 5),
            (1.1, 9),
            (5.960464477539063e-8, 3),
        ] {
            let out = Value::Float(f).to_vec();
            assert_eq!(out.len(), width, "{f}");
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
