//! Format detection: which encoding a key file or buffer holds, and bounded file reading.

use std::path::Path;

use super::cose_key::cose_key_from_value;
use super::jwk::parse_jwk;
use super::pem::{parse_der, parse_pem};
use super::private::PrivateKey;
use super::public::PublicKey;
use crate::cbor;
use crate::KeyError;

/// Key files larger than this are not keys.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// What a buffer turned out to hold.
pub(super) enum Parsed {
    Private(Box<PrivateKey>),
    Public(PublicKey),
}

pub(super) fn read_limited(path: &Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyError::Format(format!(
            "{}: {} bytes is too large for a key file (limit {MAX_KEY_FILE})",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read(path).map_err(io)
}

pub(super) fn with_path(path: &Path, e: KeyError) -> KeyError {
    match e {
        KeyError::Format(m) => KeyError::Format(format!("{}: {m}", path.display())),
        KeyError::Unsupported(m) => KeyError::Unsupported(format!("{}: {m}", path.display())),
        other => other,
    }
}

pub(super) fn parse_any(data: &[u8]) -> Result<Parsed, KeyError> {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(|| KeyError::Format("empty key data".into()))?;
    let trimmed = &data[start..];
    if trimmed.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| KeyError::Format("PEM: not valid UTF-8".into()))?;
        return parse_pem(text);
    }
    if trimmed[0] == b'{' {
        let v: serde_json::Value = serde_json::from_slice(trimmed)
            .map_err(|e| KeyError::Format(format!("JWK: invalid JSON: {e}")))?;
        return parse_jwk(&v);
    }
    match data[0] >> 5 {
        // A CBOR map: COSE_Key. DER starts with 0x30 (SEQUENCE), major type 1.
        5 => {
            let v =
                cbor::decode_value(data).map_err(|e| KeyError::Format(format!("COSE_Key: {e}")))?;
            let (public, private) = cose_key_from_value(&v)?;
            Ok(match private {
                Some(k) => Parsed::Private(Box::new(k)),
                None => Parsed::Public(public),
            })
        }
        _ if data[0] == 0x30 => parse_der(data),
        _ => Err(KeyError::Format(
            "unrecognised key format (expected PEM, DER, JWK or COSE_Key)".into(),
        )),
    }
}
