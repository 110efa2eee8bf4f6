//! The one CBOR layer of the TEEP crates.
//!
//! * Writing: [`write_head`] and friends, or the chaining [`Writer`], always emit RFC 8949
//!   §4.2.1 core deterministic encoding (shortest heads, definite lengths, floats in the
//!   shortest exact width); [`write_map_sorted`] orders map entries by their encoded keys.
//! * Reading: [`Reader`] walks one buffer strictly, keeps a path ([`Seg`]) for error messages
//!   and reports structured [`Error`]s, so each crate can keep its own error type and texts.
//!   Which optional rules apply (depth accounting, two-byte simple values, duplicate and
//!   unsorted map keys, non-shortest heads) is chosen per reader with [`Rules`].
//! * [`ComponentId`]: the SUIT component identifier (array of bstr), its encoding and its one
//!   human-readable form; [`suit_parameter_name`]: the one list of SUIT parameter names;
//!   [`SuitReference`] / [`SuitDigest`]: the suit-report reference to a manifest.
//! * [`deviation`]: the named deviations every receiver (COSE, TEEP, SUIT, HTTP) records when it
//!   tolerates a peer's departure from the specification, and the one catalog of their codes.
//!
//! Hand-written rather than built on a CBOR library: the readers of the TEEP crates must
//! reject input that general decoders accept (indefinite lengths, duplicate keys, deep
//! nesting, forged lengths), must say where and why, and must borrow from the input; and the
//! writers must be deterministic by construction.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod component_id;
pub mod deviation;
mod error;
mod float;
mod head;
mod map;
mod path;
mod reader;
mod skip;
mod suit_parameter;
mod suit_reference;
mod write;

pub use component_id::{ComponentId, ComponentIdError, DisplaySegments, TAM_TC_NAMESPACE_DNS};
pub use deviation::{Deviation, DeviationKind, Deviations, Tolerance};
pub use error::{Error, ErrorKind};
pub use float::{f16_bits_to_f64, f64_to_f16_exact};
pub use head::{Head, Type};
pub use map::{check_key_order, write_map_sorted, KeyOrder, KeyOrderError};
pub use path::Seg;
pub use reader::Reader;
pub use skip::{DepthLimit, MapKeys, Rules};
pub use suit_parameter::{suit_parameter_from_name, suit_parameter_name};
pub use suit_reference::{SuitDigest, SuitReference};
pub use write::{
    write_array_head, write_bool, write_bytes, write_f64, write_head, write_int, write_int128,
    write_map_head, write_null, write_simple, write_tag, write_text, write_uint, write_undefined,
    Writer,
};

/// Deepest nesting any reader accepts: arrays, maps and tags each count one level.
pub const MAX_DEPTH: usize = 32;

/// CBOR major types (RFC 8949 §3.1), for [`write_head`] and [`Head::major`].
pub mod major {
    pub const UINT: u8 = 0;
    pub const NINT: u8 = 1;
    pub const BYTES: u8 = 2;
    pub const TEXT: u8 = 3;
    pub const ARRAY: u8 = 4;
    pub const MAP: u8 = 5;
    pub const TAG: u8 = 6;
    pub const SIMPLE: u8 = 7;
}
