//! Strict decoding and deterministic encoding of TEEP messages.
//!
//! Decoding enforces the CDDL of Appendix C (types, sizes, presence, array arity) and the
//! section-4 rules that the draft does not contradict, plus RFC 8949 strictness (definite
//! lengths, no duplicate keys, no trailing bytes, bounded nesting). Labels we do not know are
//! kept; labels we know but that the CDDL does not allow in this message type are rejected,
//! which is also what tells the two numberings apart.

mod error_message;
mod items;
mod layout;
mod message;
mod option_writer;
mod options;
mod query_request;
mod query_response;
mod success;
mod update;

pub use layout::{Layout, OptionKey};
pub(crate) use message::encode;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::model::TeepMessage;
use crate::registry::Numbering;
use message::decode_strict;

type Result<T> = core::result::Result<T, DecodeError>;

/// Decode one TEEP message in the given numbering, strictly. On failure, when the bytes are a
/// valid message in the other numbering, the error says so.
pub fn decode(bytes: &[u8], numbering: Numbering) -> Result<TeepMessage> {
    decode_with_layout(bytes, numbering).map(|(m, _)| m)
}

/// [`decode`], also returning the option order of the input.
pub fn decode_with_layout(bytes: &[u8], numbering: Numbering) -> Result<(TeepMessage, Layout)> {
    match decode_strict(bytes, numbering) {
        Ok(m) => Ok(m),
        Err(mut e) => {
            if e.kind != DecodeErrorKind::Malformed {
                let other = numbering.other();
                if let Ok((m, _)) = decode_strict(bytes, other) {
                    e.other_numbering = Some((other, m.message_type()));
                }
            }
            Err(e)
        }
    }
}

/// Decode trying draft -26 first, then legacy; returns which numbering matched.
///
/// Some messages are valid in both (e.g. a QueryResponse with no options, or a QueryRequest
/// whose options are only versions): they are reported as [`Numbering::Draft26`], the
/// standard. When neither matches, the draft -26 error is returned (with the legacy one as
/// a hint if the message type only exists in legacy numbering).
pub fn decode_auto(bytes: &[u8]) -> Result<(TeepMessage, Numbering)> {
    match decode_strict(bytes, Numbering::Draft26) {
        Ok((m, _)) => Ok((m, Numbering::Draft26)),
        Err(e26) => match decode_strict(bytes, Numbering::Legacy) {
            Ok((m, _)) => Ok((m, Numbering::Legacy)),
            Err(mut elegacy) => {
                // The message type only exists in legacy numbering: the legacy error is the
                // one that explains what is wrong.
                if e26.kind != DecodeErrorKind::Malformed
                    && e26.hint.is_some()
                    && elegacy.hint.is_none()
                {
                    elegacy.hint = Some("read in legacy numbering".into());
                    Err(elegacy)
                } else {
                    Err(e26)
                }
            }
        },
    }
}
