//! The layout of a received message: what re-encoding it byte for byte needs beyond its
//! content.

use alloc::vec::Vec;

use crate::registry::Label;

/// An option as it appears in [`Layout::option_order`]: by meaning, so a layout taken in one
/// numbering applies in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionKey {
    Known(Label),
    Unknown(u64),
}

/// How a received message was laid out, beyond its content: the order of its options.
///
/// [`TeepMessage::encode`](crate::TeepMessage::encode) always writes deterministic CBOR (labels ascending). Senders are
/// not required to (the draft's own examples put `token` first), so re-encoding a received
/// message byte for byte needs this order: see [`decode_with_layout`](crate::decode_with_layout)
/// and [`TeepMessage::encode_with_layout`](crate::TeepMessage::encode_with_layout).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub option_order: Vec<OptionKey>,
}
