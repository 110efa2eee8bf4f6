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
//!
//! # Features
//!
//! - `std` (default): the standard library; without it the crate is `no_std` + `alloc`, and
//!   the model, the strict codec, both numberings and the COSE wrapper ([`signed`]) remain.
//! - `json` (default): the JSON view (module `json`, `TeepMessage::to_json` and
//!   `TeepMessage::from_json`); works without `std`.
//! - `diag` (default): CBOR diagnostic notation (module `diag`) through cbor-diag, which
//!   needs `std`.
//! - `view` (default): [`view`], the human views named all the way down (SUIT through
//!   teep-suit, EAT through teep-cose).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;

mod cbor;
mod codec;
#[cfg(feature = "diag")]
pub mod diag;
mod error;
#[cfg(feature = "json")]
pub mod json;
mod model;
mod registry;
pub mod signed;
pub mod text;
pub mod trust_anchor_update;
#[cfg(feature = "view")]
pub mod view;

#[cfg(any(test, not(feature = "diag")))]
mod plain_diag;
/// Without cbor-diag, error messages render generic values with [`plain_diag`].
#[cfg(not(feature = "diag"))]
mod diag {
    pub(crate) use crate::plain_diag::value_to_diag;
}

pub use cbor::{Value, MAX_DEPTH};
pub use codec::{
    decode, decode_auto, decode_message, decode_with_layout, Decoded, Layout, OptionKey,
};
#[cfg(feature = "json")]
pub use error::JsonError;
pub use error::{DecodeError, DecodeErrorKind};
pub use model::*;
pub use registry::*;
/// Named deviations (re-exported from teep-cbor): [`decode_message`] and
/// [`signed::open_message_with`] take a [`deviation::Tolerance`] and return the
/// [`deviation::Deviations`] seen.
pub use teep_cbor::deviation;

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
