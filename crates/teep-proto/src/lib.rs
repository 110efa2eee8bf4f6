//! TEEP messages (draft-ietf-teep-protocol-26, and the legacy numbering of drafts -20 … -25):
//! typed model, strict decoder, deterministic encoder, JSON and CBOR diagnostic views, and the
//! COSE wrapper.
//!
//! ```
//! use teep_proto::{decode, decode_auto, Numbering, TeepMessage, Success};
//! let msg = TeepMessage::Success(Success { token: Some(vec![7; 16]), ..Default::default() });
//! let bytes = msg.encode(Numbering::Draft26);
//! assert_eq!(decode(&bytes, Numbering::Draft26).unwrap(), msg);
//! assert_eq!(decode_auto(&msg.encode(Numbering::Legacy)).unwrap().1, Numbering::Legacy);
//! ```

mod cbor;
mod codec;
pub mod diag;
mod error;
pub mod json;
mod model;
mod registry;
pub mod signed;

pub use cbor::{Value, MAX_DEPTH};
pub use codec::{decode, decode_auto, decode_with_layout, Layout, OptionKey};
pub use error::{DecodeError, DecodeErrorKind, JsonError};
pub use model::*;
pub use registry::*;

impl TeepMessage {
    /// Deterministic CBOR (RFC 8949 §4.2.1) in the given numbering.
    pub fn encode(&self, numbering: Numbering) -> Vec<u8> {
        codec::encode(self, numbering, None)
    }

    /// Encoding with the option order of `layout` (from [`decode_with_layout`]); options not
    /// in the layout follow in ascending order. Reproduces received bytes exactly when the
    /// sender used shortest-form heads and definite lengths, as every draft example does.
    pub fn encode_with_layout(&self, numbering: Numbering, layout: &Layout) -> Vec<u8> {
        codec::encode(self, numbering, Some(layout))
    }
}
