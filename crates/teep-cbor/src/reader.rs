//! The strict reader: a position in one buffer, a nesting depth, a path for messages, and the
//! [`Rules`] it enforces. Every read either returns what it read and moves past it, or fails
//! and stays where it was.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind};
use crate::head::{self, Head, Type};
use crate::path::{self, Seg};
use crate::skip::{DepthLimit, Rules};
use crate::{float, MAX_DEPTH};

pub type Result<T> = core::result::Result<T, Error>;

/// A cursor over one CBOR buffer that borrows what it reads.
#[derive(Debug, Clone)]
pub struct Reader<'b> {
    pub(crate) input: &'b [u8],
    pub(crate) pos: usize,
    pub(crate) depth: usize,
    pub(crate) rules: Rules,
    root: &'static str,
    path: Vec<Seg>,
}

impl<'b> Reader<'b> {
    /// A reader with [`Rules::STRICT`].
    pub fn new(input: &'b [u8]) -> Self {
        Reader::with_rules(input, Rules::STRICT)
    }

    pub fn with_rules(input: &'b [u8], rules: Rules) -> Self {
        Reader {
            input,
            pos: 0,
            depth: 0,
            rules,
            root: "",
            path: Vec::new(),
        }
    }

    pub fn rules(&self) -> Rules {
        self.rules
    }

    pub fn input(&self) -> &'b [u8] {
        self.input
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    /// Moves to `pos` (at most the end of the input).
    pub fn set_position(&mut self, pos: usize) {
        self.pos = pos.min(self.input.len());
    }

    pub fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    // ---- path -------------------------------------------------------------------------

    pub fn root(&self) -> &'static str {
        self.root
    }

    /// Names what the whole input is (`QueryResponse`, `COSE`), the start of every path.
    pub fn set_root(&mut self, root: &'static str) {
        self.root = root;
    }

    pub fn push(&mut self, seg: Seg) {
        self.path.push(seg);
    }

    pub fn pop(&mut self) {
        self.path.pop();
    }

    /// Replaces the innermost segment (e.g. a map label once it is known).
    pub fn replace_last(&mut self, seg: Seg) {
        if let Some(last) = self.path.last_mut() {
            *last = seg;
        }
    }

    pub fn path(&self) -> &[Seg] {
        &self.path
    }

    /// The root and segments as text: `QueryResponse.options.tc-list[0]`.
    pub fn path_string(&self) -> String {
        path::render(self.root, &self.path)
    }

    // ---- nesting ------------------------------------------------------------------------

    /// Containers (arrays, maps, tags) open around the current position.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Starts counting nesting from `depth`, for a reader over part of an enclosing item.
    pub fn set_depth(&mut self, depth: usize) {
        self.depth = depth;
    }

    /// Records that a container's head was read and its elements follow. Under
    /// [`DepthLimit::Containers`] this fails when the container would be nested deeper than
    /// [`MAX_DEPTH`]. Callers pair it with [`Reader::leave`].
    pub fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.rules.depth == DepthLimit::Containers && self.depth > MAX_DEPTH {
            return Err(Error::at(ErrorKind::TooDeep, self.pos));
        }
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- heads and types ----------------------------------------------------------------

    /// The next byte, if any, without checking that it starts a well-formed item.
    pub fn peek_byte(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// The next head, without moving (and checked to be shortest if the rules say so).
    pub fn peek_head(&self) -> Result<Head> {
        let h = head::decode(self.input, self.pos)?;
        if self.rules.shortest_heads && !h.is_shortest() {
            return Err(Error::at(
                ErrorKind::NotShortest { initial: h.initial },
                self.pos,
            ));
        }
        Ok(h)
    }

    /// Applies [`Rules::two_byte_simple`] to a head read at `start`. Only reads of simple
    /// values check it, so that a typed read of another type reports a type mismatch.
    pub(crate) fn check_simple(&self, h: &Head, start: usize) -> Result<()> {
        if h.major == 7 && h.ai == 24 && h.arg < 32 && !self.rules.two_byte_simple {
            let value = h.arg as u8;
            return Err(Error::new(
                ErrorKind::TwoByteSimple { value },
                start,
                start + h.len,
            ));
        }
        Ok(())
    }

    /// Reads one head. Strings' contents and containers' elements are the caller's to read.
    pub fn read_head(&mut self) -> Result<Head> {
        let h = self.peek_head()?;
        self.pos += h.len;
        Ok(h)
    }

    /// The type of the next item (see [`Type`]); fails only at the end of the input.
    pub fn datatype(&self) -> Result<Type> {
        head::type_at(self.input, self.pos)
    }

    /// Reads a head of major type `major`, or fails without moving.
    fn head_of(&mut self, major: u8, expected: &'static str) -> Result<Head> {
        let h = self.peek_head()?;
        if h.major != major {
            return Err(self.mismatch(expected));
        }
        self.pos += h.len;
        Ok(h)
    }

    fn mismatch(&self, expected: &'static str) -> Error {
        match self.datatype() {
            Ok(found) => Error::at(ErrorKind::Mismatch { expected, found }, self.pos),
            Err(e) => e,
        }
    }

    // ---- typed reads --------------------------------------------------------------------

    pub fn uint(&mut self) -> Result<u64> {
        Ok(self.head_of(0, "uint")?.arg)
    }

    /// Any CBOR integer (major type 0 or 1): -2^64 ..= 2^64-1.
    pub fn int(&mut self) -> Result<i128> {
        let h = self.peek_head()?;
        let v = match h.major {
            0 => i128::from(h.arg),
            1 => -1 - i128::from(h.arg),
            _ => return Err(self.mismatch("int")),
        };
        self.pos += h.len;
        Ok(v)
    }

    /// `len` bytes of content, after a head the caller read.
    pub fn take(&mut self, len: u64) -> Result<&'b [u8]> {
        let remaining = self.remaining() as u64;
        if len > remaining {
            return Err(Error::at(
                ErrorKind::TruncatedString { len, remaining },
                self.pos,
            ));
        }
        let s = &self.input[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }

    /// A definite-length byte string.
    pub fn bytes(&mut self) -> Result<&'b [u8]> {
        let start = self.pos;
        let h = self.head_of(2, "bstr")?;
        self.take(h.arg).map_err(|e| self.rewind(start, e))
    }

    /// A definite-length text string, checked to be UTF-8.
    pub fn text(&mut self) -> Result<&'b str> {
        let start = self.pos;
        let h = self.head_of(3, "tstr")?;
        let raw = self.take(h.arg).map_err(|e| self.rewind(start, e))?;
        match core::str::from_utf8(raw) {
            Ok(s) => Ok(s),
            Err(_) => {
                let end = self.pos;
                self.pos = start;
                Err(Error::new(ErrorKind::InvalidUtf8, start, end))
            }
        }
    }

    /// The head of a definite-length array: its element count. The caller reads the elements
    /// (bracketed by [`Reader::enter`] and [`Reader::leave`] when it tracks nesting).
    pub fn array(&mut self) -> Result<u64> {
        Ok(self.head_of(4, "array")?.arg)
    }

    /// The head of a definite-length map: its entry count.
    pub fn map(&mut self) -> Result<u64> {
        Ok(self.head_of(5, "map")?.arg)
    }

    /// A tag number; the tagged item follows.
    pub fn tag(&mut self) -> Result<u64> {
        Ok(self.head_of(6, "tag")?.arg)
    }

    pub fn bool(&mut self) -> Result<bool> {
        match self.peek_byte() {
            Some(0xf4) => self.step(false),
            Some(0xf5) => self.step(true),
            _ => Err(self.mismatch_or_end("bool")),
        }
    }

    pub fn null(&mut self) -> Result<()> {
        match self.peek_byte() {
            Some(0xf6) => self.step(()),
            _ => Err(self.mismatch_or_end("null")),
        }
    }

    pub fn undefined(&mut self) -> Result<()> {
        match self.peek_byte() {
            Some(0xf7) => self.step(()),
            _ => Err(self.mismatch_or_end("undefined")),
        }
    }

    /// A simple value other than false, true, null and undefined (0..=19 or 32..=255).
    pub fn simple(&mut self) -> Result<u8> {
        let h = self.peek_head()?;
        match (h.major, h.ai) {
            (7, 0..=19) | (7, 24) => {
                self.check_simple(&h, self.pos)?;
                self.pos += h.len;
                Ok(h.arg as u8)
            }
            _ => Err(self.mismatch("simple value")),
        }
    }

    /// A half, single or double precision float, as f64 (exactly).
    pub fn float(&mut self) -> Result<f64> {
        let h = self.peek_head()?;
        let f = match (h.major, h.ai) {
            (7, 25) => float::f16_bits_to_f64(h.arg as u16),
            (7, 26) => f64::from(f32::from_bits(h.arg as u32)),
            (7, 27) => f64::from_bits(h.arg),
            _ => return Err(self.mismatch("float")),
        };
        self.pos += h.len;
        Ok(f)
    }

    // ---- bounds -------------------------------------------------------------------------

    /// Capacity to reserve for `len` declared elements: never more than the bytes left, so a
    /// forged length cannot make the caller allocate.
    pub fn capacity(&self, len: u64) -> usize {
        usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(self.remaining())
    }

    /// Fails when an array (`major` 4) or map (5) of `count` declared elements cannot fit in
    /// the bytes left, every element taking at least one byte.
    pub fn check_count(&self, major: u8, count: u64) -> Result<()> {
        let remaining = self.remaining() as u64;
        let items = if major == 5 {
            count.checked_mul(2)
        } else {
            Some(count)
        };
        match items {
            Some(n) if n <= remaining => Ok(()),
            _ => Err(Error::at(
                ErrorKind::CountPastEnd {
                    major,
                    count,
                    remaining,
                },
                self.pos,
            )),
        }
    }

    /// Fails unless the whole input has been read.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(Error::at(ErrorKind::TrailingBytes { count }, self.pos)),
        }
    }

    fn step<T>(&mut self, v: T) -> Result<T> {
        self.pos += 1;
        Ok(v)
    }

    fn mismatch_or_end(&self, expected: &'static str) -> Error {
        match self.peek_head() {
            Err(e) => e,
            Ok(_) => self.mismatch(expected),
        }
    }

    fn rewind(&mut self, start: usize, e: Error) -> Error {
        self.pos = start;
        Error { start, ..e }
    }
}
