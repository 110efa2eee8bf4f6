//! JSON view of TEEP messages, for humans and for `teep msg encode`.
//!
//! Shape: `{"type": "query-request", "options": {...}, <positional fields by CDDL name>}`.
//! Labels and registry values appear by name (`"token"`, `"sign1-esp256"`,
//! `"ERR_MANIFEST_PROCESSING_FAILED"`); values without a name stay numbers (or the raw array
//! for cipher suites and profiles). Plain bstrs are hex strings. bstrs that carry CBOR
//! (manifest-list, suit-reports, attestation-payload) are `{"hex": ..., "decoded": ...}`;
//! `decoded` is for reading only and comes from a [`Render`] hook, so teep-suit can show
//! envelopes its own way. Options with unknown labels appear under their number as a string.
//!
//! Generic CBOR (unknown options, SUIT parameter values) uses a reversible mapping: integers
//! and text as JSON, bstr `{"hex": ...}`, map `{"map": [[k, v], ...]}`, tag
//! `{"tag": n, "value": v}`, float `{"float": x}`, other simple values `{"simple": n}`.

mod from_json;
mod generic;
mod items;
mod object_reader;
mod to_json;

use serde_json::Value as Json;

use crate::cbor::Value;
use crate::error::JsonError;
use crate::model::TeepMessage;
use crate::registry::Numbering;

pub use from_json::from_json_in;
pub use generic::{value_from_json, value_to_json};
pub use to_json::to_json_with;

/// Hooks that render nested CBOR for reading. The defaults show generic CBOR-to-JSON.
pub trait Render {
    fn suit_envelope(&self, bytes: &[u8]) -> Option<Json> {
        generic_view(bytes)
    }
    fn suit_report(&self, bytes: &[u8]) -> Option<Json> {
        generic_view(bytes)
    }
    fn attestation_payload(&self, _format: Option<&str>, bytes: &[u8]) -> Option<Json> {
        generic_view(bytes)
    }
}

/// The default [`Render`]: generic CBOR-to-JSON of every nested item.
pub struct GenericRender;
impl Render for GenericRender {}

/// Generic view of bytes that hold one CBOR item; `None` if they do not.
pub fn generic_view(bytes: &[u8]) -> Option<Json> {
    if bytes.is_empty() {
        return None;
    }
    Value::from_slice(bytes).ok().map(|v| value_to_json(&v))
}

impl TeepMessage {
    /// JSON view with generic rendering of nested CBOR.
    pub fn to_json(&self) -> Json {
        to_json_with(self, &GenericRender)
    }

    /// Message from its JSON view (error-code numbers read as draft -26 values).
    pub fn from_json(v: &Json) -> Result<Self, JsonError> {
        from_json_in(v, Numbering::Draft26)
    }
}
