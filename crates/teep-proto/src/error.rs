//! Errors of the codec and of the JSON view. Every error names the path of the offending item
//! and the rule it broke, because the TAM sends that text back to peers.

use alloc::string::String;
use core::fmt;

use teep_cbor::deviation::{Deviation, DeviationKind};

use crate::registry::{MessageType, Numbering};

/// What kind of rule a [`DecodeError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecodeErrorKind {
    /// Not well-formed CBOR (truncated, reserved additional info, invalid UTF-8, ...).
    Malformed,
    /// Well-formed CBOR, but not allowed by RFC 8949 strictness rules we enforce
    /// (indefinite lengths, duplicate keys, nesting deeper than the limit, trailing bytes).
    Strictness,
    /// Breaks the TEEP CDDL or a section-4 rule of draft-ietf-teep-protocol.
    Invalid,
    /// A tolerated departure (a named deviation) refused because the receiver is strict.
    Refused,
}

/// A rejected TEEP message: `path: rule`, e.g.
/// `QueryResponse.options.token: expected bstr of 8..64 bytes, got 4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// Dotted path from the message root (`QueryResponse.options.tc-list[0].component-id`).
    pub path: String,
    /// The rule that was broken, in words.
    pub rule: String,
    /// Set when the same bytes form a valid message in the other numbering: the peer most
    /// likely speaks that numbering.
    pub other_numbering: Option<(Numbering, MessageType)>,
    /// Extra explanation (e.g. which numbering uses an unknown message type value).
    pub hint: Option<String>,
    /// How many bytes of the message were read before the rule failed: how far the decoder
    /// got, which is what tells two numberings' attempts apart.
    pub offset: usize,
    /// The deviation refused, when `kind` is [`DecodeErrorKind::Refused`].
    pub refused: Option<&'static DeviationKind>,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, path: String, rule: impl Into<String>) -> Self {
        DecodeError {
            kind,
            path,
            rule: rule.into(),
            other_numbering: None,
            hint: None,
            offset: 0,
            refused: None,
        }
    }

    /// The refusal of deviation `d` under [`teep_cbor::deviation::Tolerance::Strict`]:
    /// `PATH: strict mode refuses CODE (SECTION): READING`.
    pub fn refused(d: Deviation) -> Self {
        let mut e = DecodeError::new(DecodeErrorKind::Refused, String::new(), d.refusal());
        e.refused = Some(d.kind);
        e.path = d.at;
        e
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.rule)?;
        } else {
            write!(f, "{}: {}", self.path, self.rule)?;
        }
        if let Some((n, t)) = self.other_numbering {
            write!(
                f,
                " (this looks like a {} {} (type {}))",
                n.adjective(),
                t.name(),
                t.value(n)
            )?;
        } else if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl core::error::Error for DecodeError {}

/// A JSON document that does not describe a TEEP message.
#[cfg(feature = "json")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct JsonError {
    /// JSON path of the offending value (`options.token`).
    pub path: String,
    pub rule: String,
}

#[cfg(feature = "json")]
impl JsonError {
    pub(crate) fn new(path: impl Into<String>, rule: impl Into<String>) -> Self {
        JsonError {
            path: path.into(),
            rule: rule.into(),
        }
    }
}
