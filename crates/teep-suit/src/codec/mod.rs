//! Decoding and encoding of SUIT_Envelope / SUIT_Manifest.
//!
//! Decoding is two-staged so that nothing but the authentication wrapper is interpreted
//! before the signature is checked: [`split_envelope`] only locates the members of the
//! envelope map, [`decode_authentication`] reads the wrapper, and [`decode_manifest`] runs
//! after verification (see `auth.rs`). Encoding is deterministic (map keys ascending).

mod common;
mod digest;
mod envelope;
mod manifest;
mod sequence;

pub use common::encode_common;
pub(crate) use digest::write_digest;
pub use digest::{decode_digest, encode_digest};
pub use envelope::{decode_authentication, split_envelope, RawEnvelope};
pub use manifest::{bstr_wrap, decode_manifest, encode_manifest, manifest_member_name};
pub use sequence::{decode_sequence, encode_sequence};

use crate::cbor::{Key, Writer};
use alloc::vec::Vec;
use bytes::Bytes;

/// Whether `sub` lies inside `root`'s memory (so `root.slice_ref(sub)` is valid).
fn slice_is_within(root: &Bytes, sub: &[u8]) -> bool {
    let (r, s) = (root.as_ptr() as usize, sub.as_ptr() as usize);
    sub.is_empty() || (s >= r && s + sub.len() <= r + root.len())
}

/// Writes an int-keyed map with its keys in RFC 8949 core deterministic order (bytewise over
/// their encodings).
fn write_map_in_key_order(w: &mut Writer, mut entries: Vec<(i64, Vec<u8>)>) {
    entries.sort_by_key(|(k, _)| crate::cbor::key_order_bytes(&Key::Int(*k)));
    w.map(entries.len());
    for (k, v) in entries {
        w.int(k).raw(&v);
    }
}
