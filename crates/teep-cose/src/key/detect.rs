//! Format detection: which encoding a key buffer holds.

use alloc::boxed::Box;
use alloc::format;

use super::cose_key::cose_key_from_value;
use super::pem::{parse_der, parse_pem};
use super::private::PrivateKey;
use super::public::PublicKey;
use crate::cbor;
use crate::KeyError;

/// What a buffer turned out to hold.
pub(super) enum Parsed {
    Private(Box<PrivateKey>),
    Public(PublicKey),
}

pub(super) fn parse_any(data: &[u8]) -> Result<Parsed, KeyError> {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(|| KeyError::Format("empty key data".into()))?;
    let trimmed = &data[start..];
    if trimmed.starts_with(b"-----BEGIN") {
        let text = core::str::from_utf8(trimmed)
            .map_err(|_| KeyError::Format("PEM: not valid UTF-8".into()))?;
        return parse_pem(text);
    }
    if trimmed[0] == b'{' {
        return parse_json(trimmed);
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

#[cfg(feature = "json")]
fn parse_json(text: &[u8]) -> Result<Parsed, KeyError> {
    let v: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| KeyError::Format(format!("JWK: invalid JSON: {e}")))?;
    super::jwk::parse_jwk(&v)
}

#[cfg(not(feature = "json"))]
fn parse_json(_text: &[u8]) -> Result<Parsed, KeyError> {
    Err(KeyError::Unsupported(
        "JWK (this build has no `json` feature)".into(),
    ))
}
