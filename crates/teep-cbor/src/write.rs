//! Deterministic CBOR writing (RFC 8949 §4.2.1): every head in its shortest form, definite
//! lengths only, so equal values always encode to equal bytes.

use alloc::vec::Vec;

use crate::float;
use crate::major::{ARRAY, BYTES, MAP, NINT, TAG, TEXT, UINT};

/// Appends a head (major type and argument) in its shortest form (RFC 8949 §3, §4.2.1).
pub fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= u64::from(u8::MAX) {
        out.extend_from_slice(&[m | 24, arg as u8]);
    } else if arg <= u64::from(u16::MAX) {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= u64::from(u32::MAX) {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

pub fn write_uint(out: &mut Vec<u8>, n: u64) {
    write_head(out, UINT, n);
}

pub fn write_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        write_head(out, UINT, n as u64);
    } else {
        write_head(out, NINT, (-1 - n) as u64);
    }
}

/// Any CBOR integer: `n` must lie in -2^64 ..= 2^64-1, the range of major types 0 and 1.
pub fn write_int128(out: &mut Vec<u8>, n: i128) {
    debug_assert!(
        (-(1i128 << 64)..(1i128 << 64)).contains(&n),
        "{n} is not a CBOR int"
    );
    if n >= 0 {
        write_head(out, UINT, n as u64);
    } else {
        write_head(out, NINT, (-1 - n) as u64);
    }
}

pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_head(out, BYTES, b.len() as u64);
    out.extend_from_slice(b);
}

pub fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, TEXT, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Head of an array of `len` items; the caller writes the items.
pub fn write_array_head(out: &mut Vec<u8>, len: usize) {
    write_head(out, ARRAY, len as u64);
}

/// Head of a map of `len` entries; the caller writes them in order (see
/// [`write_map_sorted`](crate::write_map_sorted) for deterministic order).
pub fn write_map_head(out: &mut Vec<u8>, len: usize) {
    write_head(out, MAP, len as u64);
}

/// Tag head; the caller writes the tagged item.
pub fn write_tag(out: &mut Vec<u8>, tag: u64) {
    write_head(out, TAG, tag);
}

pub fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.push(if b { 0xf5 } else { 0xf4 });
}

pub fn write_null(out: &mut Vec<u8>) {
    out.push(0xf6);
}

pub fn write_undefined(out: &mut Vec<u8>) {
    out.push(0xf7);
}

/// A simple value: one byte below 24, two bytes otherwise. Values 24..=31 are not
/// well-formed in two bytes either (RFC 8949 §3.3); callers never have them to write.
pub fn write_simple(out: &mut Vec<u8>, v: u8) {
    if v < 24 {
        out.push(0xe0 | v);
    } else {
        out.extend_from_slice(&[0xf8, v]);
    }
}

/// A float in the shortest width that keeps its value exactly (RFC 8949 §4.2.1 with the
/// preferred serialization of §4.2.2); every NaN becomes the half-precision quiet NaN.
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        out.extend_from_slice(&[0xf9, 0x7e, 0x00]);
    } else if let Some(h) = float::f64_to_f16_exact(f) {
        out.push(0xf9);
        out.extend_from_slice(&h.to_be_bytes());
    } else if f64::from(f as f32) == f {
        out.push(0xfa);
        out.extend_from_slice(&(f as f32).to_be_bytes());
    } else {
        out.push(0xfb);
        out.extend_from_slice(&f.to_be_bytes());
    }
}

/// The same writes, chained on an owned buffer, for code that builds a message in one go.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer { out: Vec::new() }
    }
    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            out: Vec::with_capacity(capacity),
        }
    }
    pub fn head(&mut self, major: u8, arg: u64) -> &mut Self {
        write_head(&mut self.out, major, arg);
        self
    }
    pub fn uint(&mut self, n: u64) -> &mut Self {
        write_uint(&mut self.out, n);
        self
    }
    pub fn int(&mut self, n: i64) -> &mut Self {
        write_int(&mut self.out, n);
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        write_bytes(&mut self.out, b);
        self
    }
    pub fn text(&mut self, s: &str) -> &mut Self {
        write_text(&mut self.out, s);
        self
    }
    pub fn array(&mut self, len: usize) -> &mut Self {
        write_array_head(&mut self.out, len);
        self
    }
    pub fn map(&mut self, len: usize) -> &mut Self {
        write_map_head(&mut self.out, len);
        self
    }
    pub fn tag(&mut self, tag: u64) -> &mut Self {
        write_tag(&mut self.out, tag);
        self
    }
    pub fn bool(&mut self, b: bool) -> &mut Self {
        write_bool(&mut self.out, b);
        self
    }
    pub fn null(&mut self) -> &mut Self {
        write_null(&mut self.out);
        self
    }
    pub fn f64(&mut self, f: f64) -> &mut Self {
        write_f64(&mut self.out, f);
        self
    }
    /// Bytes that already are encoded CBOR (a nested item, a pre-encoded map key).
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.out.extend_from_slice(b);
        self
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.out
    }
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

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
    fn head_widths_at_every_boundary() {
        for (limit, len) in [
            (23u64, 1),
            (0xff, 2),
            (0xffff, 3),
            (0xffff_ffff, 5),
            (u64::MAX, 9),
        ] {
            for arg in [limit, limit.saturating_sub(1)] {
                let mut out = Vec::new();
                write_head(&mut out, 4, arg);
                assert_eq!(out.len(), len, "argument {arg}");
            }
            if let Some(next) = limit.checked_add(1) {
                let mut out = Vec::new();
                write_head(&mut out, 4, next);
                assert!(out.len() > len, "argument {next}");
            }
        }
    }

    #[test]
    fn full_integer_range() {
        let mut v = Vec::new();
        write_int128(&mut v, -(1i128 << 64));
        write_int128(&mut v, (1i128 << 64) - 1);
        assert_eq!(
            v,
            [
                0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1b, 0xff, 0xff, 0xff, 0xff,
                0xff, 0xff, 0xff, 0xff
            ]
        );
    }

    #[test]
    fn floats_use_shortest_exact_width() {
        for (f, expect) in [
            (0.0, vec![0xf9, 0x00, 0x00]),
            (-0.0, vec![0xf9, 0x80, 0x00]),
            (1.5, vec![0xf9, 0x3e, 0x00]),
            (65504.0, vec![0xf9, 0x7b, 0xff]),
            (f64::INFINITY, vec![0xf9, 0x7c, 0x00]),
            (100000.0, vec![0xfa, 0x47, 0xc3, 0x50, 0x00]),
            (
                1.1,
                vec![0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
            ),
            (5.960464477539063e-8, vec![0xf9, 0x00, 0x01]),
            (f64::NAN, vec![0xf9, 0x7e, 0x00]),
        ] {
            let mut out = Vec::new();
            write_f64(&mut out, f);
            assert_eq!(out, expect, "{f}");
        }
    }

    #[test]
    fn writer_chains_the_same_bytes() {
        let mut w = Writer::new();
        w.array(3).uint(1).text("a").bytes(&[0xff]);
        w.map(1).int(-1).null().tag(24).bool(true).raw(&[0x00]);
        assert_eq!(
            w.finish(),
            [0x83, 0x01, 0x61, 0x61, 0x41, 0xff, 0xa1, 0x20, 0xf6, 0xd8, 0x18, 0xf5, 0x00]
        );
    }

    #[test]
    fn simple_values() {
        let mut v = Vec::new();
        write_simple(&mut v, 16);
        write_simple(&mut v, 32);
        write_undefined(&mut v);
        assert_eq!(v, [0xf0, 0xf8, 0x20, 0xf7]);
    }
}
