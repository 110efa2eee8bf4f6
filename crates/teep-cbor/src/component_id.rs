//! The SUIT component identifier (RFC 9124 §8.4.5.1: an array of byte strings), by which
//! TEEP names Trusted Components, with its CBOR encoding and its one text form.
//!
//! The text form is CBOR extended diagnostic notation (RFC 8610 Appendix G), e.g.
//! `['TEEP-Device', 'SecureFS', h'8d82573a926d4754935332dc29997f74', 'ta']`: it is how the
//! TEEP and SUIT drafts write component ids and how a diagnostic dump of a message shows
//! them, so an id in a log or an error can be matched against both; the quotes keep empty
//! segments and segments containing `/` or `,` unambiguous, which a `/`-joined form cannot
//! do without escapes. A segment is shown as text when it is printable ASCII without `'` or
//! `\` (so it reads back unchanged), otherwise as lowercase hex.

use alloc::vec::Vec;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::str::FromStr;

use crate::error::Error;
use crate::path::Seg;
use crate::reader::Reader;
use crate::write::{write_array_head, write_bytes};

/// The DNS name whose UUIDv5 is the vendor namespace under which a TAM derives the class
/// UUID of a TA from its name: `UUIDv5(UUIDv5(DNS, TAM_TC_NAMESPACE_DNS), name)`. Agents
/// derive the same UUID from a bare name, so both sides must use this one value.
pub const TAM_TC_NAMESPACE_DNS: &str = "teep.tam.local";

/// A SUIT component identifier: a list of byte-string segments.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId(Vec<Vec<u8>>);

impl ComponentId {
    pub fn new(segments: Vec<Vec<u8>>) -> Self {
        ComponentId(segments)
    }

    pub fn into_inner(self) -> Vec<Vec<u8>> {
        self.0
    }

    /// Deterministic CBOR: an array of bstr with shortest heads. Stores compare these
    /// bytes, so the form is fixed.
    pub fn encode(&self) -> Vec<u8> {
        Self::encode_segments(&self.0)
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        Self::encode_segments_into(&self.0, out);
    }

    /// [`encode`](Self::encode) of segments held elsewhere (an API that lends `&[Vec<u8>]`),
    /// without copying them into a `ComponentId` first.
    pub fn encode_segments(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + segments.iter().map(|s| s.len() + 3).sum::<usize>());
        Self::encode_segments_into(segments, &mut out);
        out
    }

    pub fn encode_segments_into(segments: &[Vec<u8>], out: &mut Vec<u8>) {
        write_array_head(out, segments.len());
        for seg in segments {
            write_bytes(out, seg);
        }
    }

    /// The text form (`Display`) of segments held elsewhere, without copying them.
    pub fn display_segments(segments: &[Vec<u8>]) -> DisplaySegments<'_> {
        DisplaySegments(segments)
    }

    /// Exactly one array of definite-length bstr, nothing after it.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let id = ComponentId::read(&mut r)?;
        r.finish()?;
        Ok(id)
    }

    /// Reads an array of bstr at the reader's position (inside a larger item).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let count = r.array()?;
        r.check_count(4, count)?;
        r.enter()?;
        let mut segments = Vec::with_capacity(r.capacity(count));
        for i in 0..count {
            r.push(Seg::Index(i as usize));
            segments.push(r.bytes()?.to_vec());
            r.pop();
        }
        r.leave();
        Ok(ComponentId(segments))
    }

    /// Reads the text form written by `Display` (whitespace around tokens is allowed, hex
    /// digits may be either case, quoted text may be any UTF-8 without `'`).
    pub fn parse(text: &str) -> Result<Self, ComponentIdError> {
        let mut p = Parser { s: text, pos: 0 };
        p.expect(b'[', "'['")?;
        let mut segments = Vec::new();
        if !p.eat(b']') {
            loop {
                segments.push(p.segment()?);
                if p.eat(b']') {
                    break;
                }
                p.expect(b',', "',' or ']'")?;
            }
        }
        p.skip_ws();
        if p.pos != text.len() {
            return Err(p.error("the end of the text"));
        }
        Ok(ComponentId(segments))
    }
}

/// Any list of byte strings is a component id, so the segments are open to read and change.
impl Deref for ComponentId {
    type Target = Vec<Vec<u8>>;
    fn deref(&self) -> &Vec<Vec<u8>> {
        &self.0
    }
}

impl DerefMut for ComponentId {
    fn deref_mut(&mut self) -> &mut Vec<Vec<u8>> {
        &mut self.0
    }
}

impl FromIterator<Vec<u8>> for ComponentId {
    fn from_iter<I: IntoIterator<Item = Vec<u8>>>(segments: I) -> Self {
        ComponentId(segments.into_iter().collect())
    }
}

impl IntoIterator for ComponentId {
    type Item = Vec<u8>;
    type IntoIter = alloc::vec::IntoIter<Vec<u8>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ComponentId {
    type Item = &'a Vec<u8>;
    type IntoIter = core::slice::Iter<'a, Vec<u8>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Vec<Vec<u8>>> for ComponentId {
    fn from(segments: Vec<Vec<u8>>) -> Self {
        ComponentId(segments)
    }
}

impl From<ComponentId> for Vec<Vec<u8>> {
    fn from(id: ComponentId) -> Self {
        id.0
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DisplaySegments(&self.0).fmt(f)
    }
}

/// The text form of borrowed segments: [`ComponentId::display_segments`].
#[derive(Debug, Clone, Copy)]
pub struct DisplaySegments<'a>(&'a [Vec<u8>]);

impl fmt::Display for DisplaySegments<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, seg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let text = !seg.is_empty()
                && seg
                    .iter()
                    .all(|b| (0x20..0x7f).contains(b) && *b != b'\'' && *b != b'\\');
            match core::str::from_utf8(seg) {
                Ok(s) if text => write!(f, "'{s}'")?,
                _ => {
                    f.write_str("h'")?;
                    for b in seg {
                        write!(f, "{b:02x}")?;
                    }
                    f.write_str("'")?;
                }
            }
        }
        f.write_str("]")
    }
}

impl FromStr for ComponentId {
    type Err = ComponentIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ComponentId::parse(s)
    }
}

/// Text that is not a component id: what was expected at which byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentIdError {
    pub offset: usize,
    pub expected: &'static str,
}

impl fmt::Display for ComponentIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "component id: expected {} at byte {}",
            self.expected, self.offset
        )
    }
}

impl core::error::Error for ComponentIdError {}

struct Parser<'t> {
    s: &'t str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &'static str) -> ComponentIdError {
        ComponentIdError {
            offset: self.pos,
            expected,
        }
    }

    fn skip_ws(&mut self) {
        let rest = &self.s[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.as_bytes().get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8, expected: &'static str) -> Result<(), ComponentIdError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// `'text'` or `h'hex'`.
    fn segment(&mut self) -> Result<Vec<u8>, ComponentIdError> {
        let hex = self.eat(b'h');
        if self.s.as_bytes().get(self.pos) != Some(&b'\'') {
            return Err(self.error("a segment ('text' or h'hex')"));
        }
        self.pos += 1;
        let body_start = self.pos;
        let len = self.s[body_start..]
            .find('\'')
            .ok_or_else(|| self.error("a closing quote"))?;
        let body = &self.s.as_bytes()[body_start..body_start + len];
        self.pos = body_start + len + 1;
        if !hex {
            return Ok(body.to_vec());
        }
        if !body.len().is_multiple_of(2) {
            return Err(ComponentIdError {
                offset: body_start + body.len(),
                expected: "an even number of hex digits",
            });
        }
        body.chunks(2)
            .enumerate()
            .map(|(i, pair)| match (hex_digit(pair[0]), hex_digit(pair[1])) {
                (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
                _ => Err(ComponentIdError {
                    offset: body_start + 2 * i,
                    expected: "hex digits",
                }),
            })
            .collect()
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use alloc::string::ToString;
    use alloc::vec;

    fn teep_id() -> ComponentId {
        ComponentId::from(vec![
            b"TEEP-Device".to_vec(),
            b"SecureFS".to_vec(),
            vec![0x8d, 0x82, 0x57, 0x3a],
            b"ta".to_vec(),
        ])
    }

    #[test]
    fn displays_as_diagnostic_notation() {
        assert_eq!(
            teep_id().to_string(),
            "['TEEP-Device', 'SecureFS', h'8d82573a', 'ta']"
        );
        let odd = ComponentId::from(vec![vec![], b"it's".to_vec(), b"a/b".to_vec()]);
        assert_eq!(odd.to_string(), "[h'', h'69742773', 'a/b']");
        assert_eq!(ComponentId::default().to_string(), "[]");
    }

    #[test]
    fn parses_what_it_displays() {
        for id in [
            teep_id(),
            ComponentId::default(),
            ComponentId::from(vec![vec![], vec![0xff], b" x ".to_vec()]),
        ] {
            assert_eq!(ComponentId::parse(&id.to_string()).unwrap(), id);
        }
        assert_eq!(
            " [ 'TEEP-Device' ,'SecureFS',h'8D82573A', 'ta' ] "
                .parse::<ComponentId>()
                .unwrap(),
            teep_id()
        );
    }

    #[test]
    fn parse_errors_say_what_and_where() {
        let err = |s: &str| ComponentId::parse(s).unwrap_err();
        assert_eq!(err("'a'").expected, "'['");
        assert_eq!(err("['a' 'b']").expected, "',' or ']'");
        assert_eq!(err("['a").expected, "a closing quote");
        assert_eq!(err("[h'abc']").expected, "an even number of hex digits");
        assert_eq!(err("[h'zz']").offset, 3);
        assert_eq!(err("[x]").expected, "a segment ('text' or h'hex')");
        assert_eq!(
            err("[] x").to_string(),
            "component id: expected the end of the text at byte 3"
        );
    }

    #[test]
    fn cbor_round_trip_and_strictness() {
        let enc = teep_id().encode();
        assert_eq!(enc[0], 0x84);
        assert_eq!(ComponentId::decode(&enc).unwrap(), teep_id());
        let long = ComponentId::from(vec![vec![7u8; 300]]);
        assert_eq!(&long.encode()[..4], &[0x81, 0x59, 0x01, 0x2c]);
        let kind = |b: &[u8]| ComponentId::decode(b).unwrap_err().kind;
        assert!(matches!(kind(&[0x81, 0x01]), ErrorKind::Mismatch { .. }));
        assert_eq!(
            kind(&[0x9f, 0x40, 0xff]),
            ErrorKind::Indefinite { major: 4 }
        );
        assert_eq!(kind(&[0x80, 0x00]), ErrorKind::TrailingBytes { count: 1 });
        assert!(matches!(
            kind(&[0x9a, 0xff, 0xff, 0xff, 0xff]),
            ErrorKind::CountPastEnd { .. }
        ));
    }

    #[test]
    fn deref_and_conversions() {
        let id = teep_id();
        assert_eq!(id.len(), 4);
        assert_eq!(id[3], b"ta");
        let raw: Vec<Vec<u8>> = id.clone().into();
        assert_eq!(ComponentId::new(raw.clone()), id);
        assert_eq!(raw.iter().cloned().collect::<ComponentId>(), id);
        assert_eq!((&id).into_iter().count(), 4);
        let mut suit = id.clone();
        *suit.last_mut().unwrap() = b"suit".to_vec();
        assert_eq!(suit.into_iter().last().unwrap(), b"suit");
    }

    #[test]
    fn borrowed_segments_encode_and_display_as_the_id_does() {
        let id = teep_id();
        assert_eq!(ComponentId::encode_segments(&id), id.encode());
        assert_eq!(
            ComponentId::display_segments(&id).to_string(),
            id.to_string()
        );
    }
}
