//! Strict decoding and deterministic encoding of TEEP messages.
//!
//! Decoding enforces the CDDL of Appendix C (types, sizes, presence, array arity) and the
//! section-4 rules that the draft does not contradict, plus RFC 8949 strictness (definite
//! lengths, no duplicate keys, no trailing bytes, bounded nesting). Labels we do not know are
//! kept; labels we know but that the CDDL does not allow in this message type are rejected,
//! which is also what tells the two numberings apart.

mod detect;
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

use teep_cbor::deviation::{Deviations, Tolerance};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::model::TeepMessage;
use crate::registry::Numbering;
use message::decode_strict;

type Result<T> = core::result::Result<T, DecodeError>;

/// A received message decoded, with how it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub message: TeepMessage,
    /// The numbering it was read in.
    pub numbering: Numbering,
    /// The departures from the draft accepted while reading it (empty when it conforms; never
    /// allocated then).
    pub deviations: Deviations,
    /// Set when the numbering was detected (no hint) and the other numbering reads the same
    /// bytes as the same message (e.g. AttesTAM's second QueryRequest, whose options are only
    /// a challenge): [`Decoded::numbering`] is then draft -26 by default, not evidence of what
    /// the peer speaks. A receiver that knows the peer's numbering passes it as the hint.
    pub also_valid_in: Option<Numbering>,
}

/// Decode one TEEP message.
///
/// `numbering`: the numbering known for this peer (a path's numbering, or the one a TAM spoke
/// earlier in the session); `None` only for a first contact, when it is detected: both
/// numberings are tried. Bytes that read as two different messages are refused with both
/// readings named; when both fail, the error of the attempt that read further is reported,
/// with the other's. `tolerance`: whether named deviations are accepted (and returned) or
/// refused.
pub fn decode_message(
    bytes: &[u8],
    numbering: Option<Numbering>,
    tolerance: Tolerance,
) -> Result<Decoded> {
    match numbering {
        Some(n) => {
            let (message, _, deviations) = decode_known(bytes, n, tolerance)?;
            Ok(Decoded {
                message,
                numbering: n,
                deviations,
                also_valid_in: None,
            })
        }
        None => detect::decode_detected(bytes, tolerance),
    }
}

/// Decode in numbering `n`; on failure, when the bytes are a valid message in the other
/// numbering, the error says so.
fn decode_known(
    bytes: &[u8],
    n: Numbering,
    tolerance: Tolerance,
) -> Result<(TeepMessage, Layout, Deviations)> {
    match decode_strict(bytes, n, tolerance) {
        Ok(m) => Ok(m),
        Err(mut e) => {
            if e.kind != DecodeErrorKind::Malformed {
                let other = n.other();
                if let Ok((m, _, _)) = decode_strict(bytes, other, tolerance) {
                    e.other_numbering = Some((other, m.message_type()));
                }
            }
            Err(e)
        }
    }
}

/// Decode one TEEP message in the given numbering, tolerantly (deviations accepted, not
/// reported: see [`decode_message`]). On failure, when the bytes are a valid message in the
/// other numbering, the error says so.
pub fn decode(bytes: &[u8], numbering: Numbering) -> Result<TeepMessage> {
    decode_with_layout(bytes, numbering).map(|(m, _)| m)
}

/// [`decode`], also returning the option order of the input.
pub fn decode_with_layout(bytes: &[u8], numbering: Numbering) -> Result<(TeepMessage, Layout)> {
    decode_known(bytes, numbering, Tolerance::Tolerant).map(|(m, l, _)| (m, l))
}

/// [`decode_message`] without a hint, tolerantly; returns which numbering matched (draft -26
/// when both read the same message).
pub fn decode_auto(bytes: &[u8]) -> Result<(TeepMessage, Numbering)> {
    decode_message(bytes, None, Tolerance::Tolerant).map(|d| (d.message, d.numbering))
}
