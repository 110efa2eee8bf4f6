//! CBOR diagnostic notation (RFC 8949 §8) of any bytes, for logs and `teep msg decode
//! --format diag`. Rendering uses the cbor-diag crate, which also parses the drafts' `.diag`
//! and annotated `.hex` files.

use crate::cbor::{self, Value};

/// Error of the diagnostic-notation functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CBOR diagnostic notation: {0}")]
pub struct DiagError(pub String);

/// Pretty diagnostic notation of one CBOR item (nested `bstr .cbor` shown as `<< >>` where
/// cbor-diag recognises it).
pub fn to_diag(bytes: &[u8]) -> Result<String, DiagError> {
    let item = cbor_diag::parse_bytes(bytes).map_err(|e| DiagError(e.to_string()))?;
    Ok(item.to_diag_pretty())
}

/// Single-line diagnostic notation.
pub fn to_diag_compact(bytes: &[u8]) -> Result<String, DiagError> {
    let item = cbor_diag::parse_bytes(bytes).map_err(|e| DiagError(e.to_string()))?;
    Ok(item.to_diag())
}

/// Bytes of a diagnostic-notation text (for tests and the `.diag` files of the drafts).
pub fn from_diag(text: &str) -> Result<Vec<u8>, DiagError> {
    let item = cbor_diag::parse_diag(text).map_err(|e| DiagError(e.to_string()))?;
    Ok(item.to_bytes())
}

/// Bytes of hex text: white space and `#` comments (annotated hex of the drafts) are ignored.
pub fn from_hex_text(text: &str) -> Result<Vec<u8>, DiagError> {
    let mut digits = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        digits.extend(line.chars().filter(|c| !c.is_whitespace()));
    }
    hex::decode(&digits).map_err(|e| DiagError(format!("invalid hex: {e}")))
}

/// Diagnostic notation of a generic value (used in error messages).
pub fn value_to_diag(v: &Value) -> String {
    to_diag_compact(&cbor::Value::to_vec(v)).unwrap_or_else(|_| format!("{v:?}"))
}
