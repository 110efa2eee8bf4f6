//! A cursor over well-formed, definite-length CBOR that borrows what it reads, and the CBOR
//! head writer of the evidence template.

use super::SimError;

/// A minimal reader of well-formed, definite-length CBOR for the in-place readers of
/// [`peek`](super::peek). Hand-rolled
/// because the point is to touch only the few items the generator needs, borrowing them, with
/// no intermediate value tree; every length is checked against the bytes that remain.
pub(super) struct CborCursor<'a> {
    b: &'a [u8],
    pos: usize,
    depth: usize,
    /// Where in the message the cursor is, for errors.
    pub(super) path: &'static str,
}

impl<'a> CborCursor<'a> {
    pub(super) fn new(b: &'a [u8], path: &'static str) -> Self {
        CborCursor {
            b,
            pos: 0,
            depth: 0,
            path,
        }
    }

    pub(super) fn err(&self, rule: impl std::fmt::Display) -> SimError {
        SimError::Message(format!("{}: {rule} (at byte {})", self.path, self.pos))
    }

    pub(super) fn peek_major(&self) -> Result<u8, SimError> {
        self.b
            .get(self.pos)
            .map(|b| b >> 5)
            .ok_or_else(|| self.err("unexpected end of input"))
    }

    /// The simple value (major 7) at the cursor, if there is one there.
    pub(super) fn peek_simple(&self) -> Option<u8> {
        self.b
            .get(self.pos)
            .filter(|b| *b >> 5 == 7)
            .map(|b| b & 0x1f)
    }

    /// Reads one head: (major type, argument). Indefinite lengths and reserved
    /// additional-information values are rejected.
    fn head(&mut self) -> Result<(u8, u64), SimError> {
        let ib = *self
            .b
            .get(self.pos)
            .ok_or_else(|| self.err("unexpected end of input"))?;
        let (major, ai) = (ib >> 5, ib & 0x1f);
        let extra = match ai {
            0..=23 => 0,
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Err(self.err("indefinite length (only definite lengths are allowed)")),
            _ => return Err(self.err(format!("reserved additional information {ai}"))),
        };
        let arg_bytes = self
            .b
            .get(self.pos + 1..self.pos + 1 + extra)
            .ok_or_else(|| self.err("unexpected end of input"))?;
        let arg = if extra == 0 {
            u64::from(ai)
        } else {
            arg_bytes
                .iter()
                .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
        };
        self.pos += 1 + extra;
        Ok((major, arg))
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
        let at = self.pos;
        let (m, arg) = self.head()?;
        if m != major {
            self.pos = at;
            return Err(self.err(format!("expected {expected}, got {}", NAMES[m as usize])));
        }
        Ok(arg)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], SimError> {
        let remaining = (self.b.len() - self.pos) as u64;
        if len > remaining {
            return Err(self.err(format!(
                "length {len} exceeds the {remaining} bytes that remain"
            )));
        }
        let s = &self.b[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }

    pub(super) fn bytes(&mut self) -> Result<&'a [u8], SimError> {
        let len = self.head_arg(2, "bstr")?;
        self.take(len)
    }

    /// A head of major type `major` (bstr or tstr) whose length is in `min..=max`; the
    /// content.
    fn sized(&mut self, major: u8, kind: &str, min: u64, max: u64) -> Result<&'a [u8], SimError> {
        let at = self.pos;
        let len = self.head_arg(major, &format!("{kind} of {min}..{max} bytes"))?;
        if !(min..=max).contains(&len) {
            self.pos = at;
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
        let at = self.pos;
        let (major, arg) = self.head()?;
        match major {
            0 | 1 => {}
            2 => {
                self.take(arg)?;
            }
            3 => {
                let raw = self.take(arg)?;
                if std::str::from_utf8(raw).is_err() {
                    return Err(self.err("tstr is not valid UTF-8"));
                }
            }
            4 | 5 => {
                let items = if major == 5 {
                    arg.saturating_mul(2)
                } else {
                    arg
                };
                // Each item takes at least one byte: a count beyond that is malformed, and
                // checking it first bounds the loop by the input size.
                if items > (self.b.len() - self.pos) as u64 {
                    return Err(self.err(format!(
                        "{items} items cannot fit in the {} bytes that remain",
                        self.b.len() - self.pos
                    )));
                }
                self.enter()?;
                for _ in 0..items {
                    self.skip()?;
                }
                self.depth -= 1;
            }
            6 => {
                self.enter()?;
                self.skip()?;
                self.depth -= 1;
            }
            _ => {
                // Simple values and floats: the head already holds them. A simple value
                // in one extra byte must be at least 32 (RFC 8949 §3.3).
                if self.b[at] == 0xf8 && arg < 32 {
                    return Err(self.err(format!("simple value {arg} in two bytes")));
                }
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), SimError> {
        self.depth += 1;
        if self.depth > teep_proto::MAX_DEPTH {
            return Err(self.err(format!(
                "nesting deeper than {} levels",
                teep_proto::MAX_DEPTH
            )));
        }
        Ok(())
    }

    pub(super) fn finish(&self) -> Result<(), SimError> {
        if self.pos != self.b.len() {
            return Err(self.err(format!(
                "{} trailing bytes after the item",
                self.b.len() - self.pos
            )));
        }
        Ok(())
    }
}

/// Appends a CBOR head (RFC 8949 §3), shortest form.
pub(super) fn write_cbor_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    match arg {
        0..=23 => out.push(m | arg as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
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
