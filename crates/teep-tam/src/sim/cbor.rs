//! A cursor over well-formed, definite-length CBOR that borrows what it reads (over
//! teep-cbor's reader), and the CBOR head writer of the evidence template.

use teep_cbor::{DepthLimit, ErrorKind, MapKeys, Reader, Rules, MAX_DEPTH};

use super::SimError;

/// Appends a CBOR head (RFC 8949 §3), shortest form.
pub(super) use teep_cbor::write_head as write_cbor_head;

/// The cursor's rules: nesting counted per container, counts bounded by the bytes left,
/// two-byte simple values below 32 rejected, map keys unchecked.
const RULES: Rules = Rules {
    depth: DepthLimit::Containers,
    bound_counts: true,
    two_byte_simple: false,
    map_keys: MapKeys::Any,
    shortest_heads: false,
};

/// A minimal reader of well-formed, definite-length CBOR for the in-place readers of
/// [`peek`](super::peek). The point is to touch only the few items the generator needs,
/// borrowing them, with no intermediate value tree; every length is checked against the bytes
/// that remain.
pub(super) struct CborCursor<'a> {
    r: Reader<'a>,
    /// Where in the message the cursor is, for errors.
    pub(super) path: &'static str,
}

impl<'a> CborCursor<'a> {
    pub(super) fn new(b: &'a [u8], path: &'static str) -> Self {
        CborCursor {
            r: Reader::with_rules(b, RULES),
            path,
        }
    }

    pub(super) fn err(&self, rule: impl std::fmt::Display) -> SimError {
        self.err_at(rule, self.r.position())
    }

    fn err_at(&self, rule: impl std::fmt::Display, pos: usize) -> SimError {
        SimError::Message(format!("{}: {rule} (at byte {pos})", self.path))
    }

    /// A teep-cbor error in the cursor's words, at the byte where it was found.
    fn fault(&self, e: teep_cbor::Error) -> SimError {
        let indefinite = "indefinite length (only definite lengths are allowed)";
        let rule = match e.kind {
            ErrorKind::EndOfInput | ErrorKind::TruncatedHead { .. } => {
                "unexpected end of input".to_string()
            }
            ErrorKind::Indefinite { .. } | ErrorKind::Break => indefinite.to_string(),
            ErrorKind::Reserved { initial } if initial & 0x1f == 31 => indefinite.to_string(),
            ErrorKind::Reserved { initial } => {
                format!("reserved additional information {}", initial & 0x1f)
            }
            ErrorKind::TruncatedString { len, remaining } => {
                format!("length {len} exceeds the {remaining} bytes that remain")
            }
            ErrorKind::InvalidUtf8 => "tstr is not valid UTF-8".to_string(),
            ErrorKind::CountPastEnd {
                major,
                count,
                remaining,
            } => {
                let items = if major == 5 {
                    count.saturating_mul(2)
                } else {
                    count
                };
                format!("{items} items cannot fit in the {remaining} bytes that remain")
            }
            ErrorKind::TooDeep => format!("nesting deeper than {MAX_DEPTH} levels"),
            ErrorKind::TwoByteSimple { value } => format!("simple value {value} in two bytes"),
            other => other.to_string(),
        };
        self.err_at(rule, e.offset)
    }

    pub(super) fn peek_major(&self) -> Result<u8, SimError> {
        self.r
            .peek_byte()
            .map(|b| b >> 5)
            .ok_or_else(|| self.err("unexpected end of input"))
    }

    /// The simple value (major 7) at the cursor, if there is one there.
    pub(super) fn peek_simple(&self) -> Option<u8> {
        self.r
            .peek_byte()
            .filter(|b| *b >> 5 == 7)
            .map(|b| b & 0x1f)
    }

    /// A head of major type `major`; its argument.
    pub(super) fn head_arg(&mut self, major: u8, expected: &str) -> Result<u64, SimError> {
        const NAMES: [&str; 8] = [
            "uint",
            "nint",
            "bstr",
            "tstr",
            "array",
            "map",
            "tag",
            "simple/float",
        ];
        let at = self.r.position();
        let h = self.r.read_head().map_err(|e| self.fault(e))?;
        if h.major != major {
            self.r.set_position(at);
            return Err(self.err(format!(
                "expected {expected}, got {}",
                NAMES[h.major as usize]
            )));
        }
        Ok(h.arg)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], SimError> {
        self.r.take(len).map_err(|e| self.fault(e))
    }

    pub(super) fn bytes(&mut self) -> Result<&'a [u8], SimError> {
        let len = self.head_arg(2, "bstr")?;
        self.take(len)
    }

    /// A head of major type `major` (bstr or tstr) whose length is in `min..=max`; the
    /// content.
    fn sized(&mut self, major: u8, kind: &str, min: u64, max: u64) -> Result<&'a [u8], SimError> {
        let at = self.r.position();
        let len = self.head_arg(major, &format!("{kind} of {min}..{max} bytes"))?;
        if !(min..=max).contains(&len) {
            self.r.set_position(at);
            return Err(self.err(format!("expected {kind} of {min}..{max} bytes, got {len}")));
        }
        self.take(len)
    }

    pub(super) fn sized_bytes(&mut self, min: u64, max: u64) -> Result<&'a [u8], SimError> {
        self.sized(2, "bstr", min, max)
    }

    pub(super) fn sized_text(&mut self, min: u64, max: u64) -> Result<&'a str, SimError> {
        let raw = self.sized(3, "tstr", min, max)?;
        std::str::from_utf8(raw).map_err(|_| self.err("tstr is not valid UTF-8"))
    }

    /// A non-empty array (`expected` names it; `empty` is the error for no elements), each
    /// element read by `element`; the number of elements.
    pub(super) fn non_empty_array(
        &mut self,
        expected: &str,
        empty: &str,
        mut element: impl FnMut(&mut Self) -> Result<(), SimError>,
    ) -> Result<u64, SimError> {
        let count = self.head_arg(4, expected)?;
        if count == 0 {
            return Err(self.err(empty));
        }
        for _ in 0..count {
            element(self)?;
        }
        Ok(count)
    }

    /// Skips one data item, checking that it is well formed.
    pub(super) fn skip(&mut self) -> Result<(), SimError> {
        self.r.skip().map_err(|e| self.fault(e))
    }

    pub(super) fn finish(&self) -> Result<(), SimError> {
        if !self.r.at_end() {
            return Err(self.err(format!(
                "{} trailing bytes after the item",
                self.r.remaining()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_in_shortest_form() {
        for (arg, len) in [
            (0u64, 1),
            (23, 1),
            (24, 2),
            (0xff, 2),
            (0x100, 3),
            (0xffff, 3),
            (0x1_0000, 5),
            (0xffff_ffff, 5),
            (0x1_0000_0000, 9),
            (u64::MAX, 9),
        ] {
            let mut out = Vec::new();
            write_cbor_head(&mut out, 2, arg);
            assert_eq!(out.len(), len, "argument {arg}");
            let mut c = CborCursor::new(&out, "test");
            assert_eq!(c.head_arg(2, "bstr").unwrap(), arg);
            c.finish().unwrap();
        }
    }

    #[test]
    fn errors_name_the_path_and_position() {
        let mut c = CborCursor::new(&[0x01, 0x61, 0xff], "Test.field");
        let e = c.head_arg(2, "bstr").unwrap_err().to_string();
        assert_eq!(
            e,
            "TAM message: Test.field: expected bstr, got uint (at byte 0)"
        );
        c.skip().unwrap();
        let e = c.sized_text(1, 4).unwrap_err().to_string();
        assert_eq!(
            e,
            "TAM message: Test.field: tstr is not valid UTF-8 (at byte 3)"
        );
        let e = CborCursor::new(&[0x42, 0x00], "T").bytes().unwrap_err();
        assert!(
            e.to_string().contains("length 2 exceeds the 1 bytes"),
            "{e}"
        );
    }
}
