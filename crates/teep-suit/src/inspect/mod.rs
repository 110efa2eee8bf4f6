//! Human views of an envelope: JSON with every field named, and CBOR diagnostic notation.

mod diagnostic;
#[cfg(feature = "json")]
mod json;

pub use diagnostic::diag;
#[cfg(feature = "json")]
pub use json::{envelope_json, sequence_json};
