//! Input rules every built-in provider applies before calling its library, so that all of
//! them accept and reject exactly the same inputs with the same messages (the libraries
//! differ at the edges: aes-kw wraps a single 8-byte block, aws-lc refuses to; aws-lc caps an
//! HKDF PRK at 64 bytes).

use alloc::format;

use crate::key::{PrivateKey, PublicKey};
use crate::{CoseError, KeyType};

/// Largest HKDF-SHA-256 output (RFC 5869 section 2.3: 255 × HashLen).
pub(crate) const HKDF_SHA256_MAX_OKM: usize = 255 * 32;

/// AES-GCM tag length; the only one the providers produce or accept.
pub(crate) const GCM_TAG_LEN: usize = 16;

fn err(op: &str, reason: impl core::fmt::Display) -> CoseError {
    CoseError::Crypto(format!("{op}: {reason}"))
}

/// AES-128 or AES-256 key (the key wrap KEK or the GCM key).
pub(crate) fn aes_key(op: &str, key: &[u8]) -> Result<(), CoseError> {
    match key.len() {
        16 | 32 => Ok(()),
        n => Err(err(op, format_args!("key must be 16 or 32 bytes, got {n}"))),
    }
}

/// RFC 3394 section 2: at least two 64-bit blocks of key data.
pub(crate) fn key_wrap_input(key: &[u8]) -> Result<(), CoseError> {
    let n = key.len();
    if n < 16 || !n.is_multiple_of(8) {
        return Err(err(
            "AES key wrap",
            format_args!("key data must be a multiple of 8 bytes and at least 16, got {n}"),
        ));
    }
    Ok(())
}

/// A wrapped key is the key data plus one 64-bit block.
pub(crate) fn key_unwrap_input(wrapped: &[u8]) -> Result<(), CoseError> {
    let n = wrapped.len();
    if n < 24 || !n.is_multiple_of(8) {
        return Err(err(
            "AES key unwrap",
            format_args!("wrapped key must be a multiple of 8 bytes and at least 24, got {n}"),
        ));
    }
    Ok(())
}

pub(crate) fn key_unwrap_failed() -> CoseError {
    err("AES key unwrap", "integrity check failed")
}

/// The sealed input holds at least the tag.
pub(crate) fn gcm_sealed(sealed: &[u8]) -> Result<(), CoseError> {
    if sealed.len() < GCM_TAG_LEN {
        return Err(err(
            "AES-GCM",
            format_args!(
                "sealed input of {} bytes is shorter than the {GCM_TAG_LEN}-byte tag",
                sealed.len()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn gcm_open_failed() -> CoseError {
    err("AES-GCM", "authentication failed")
}

pub(crate) fn hmac_mismatch() -> CoseError {
    err("HMAC-SHA-256", "tag does not match")
}

/// RFC 5869 section 2.3: PRK of at least HashLen bytes, output of at most 255 × HashLen.
pub(crate) fn hkdf_expand(prk: &[u8], okm: &[u8]) -> Result<(), CoseError> {
    if prk.len() < 32 {
        return Err(err(
            "HKDF-SHA-256",
            format_args!("PRK must be at least 32 bytes, got {}", prk.len()),
        ));
    }
    if okm.len() > HKDF_SHA256_MAX_OKM {
        return Err(err(
            "HKDF-SHA-256",
            format_args!(
                "{} output bytes exceed the limit of {HKDF_SHA256_MAX_OKM}",
                okm.len()
            ),
        ));
    }
    Ok(())
}

/// ECDH here is P-256 only.
pub(crate) fn ecdh_keys(private: &PrivateKey, peer: &PublicKey) -> Result<(), CoseError> {
    for kt in [private.key_type(), peer.key_type()] {
        if kt != KeyType::P256 {
            return Err(err(
                "ECDH",
                format_args!("needs P-256 keys, got a {kt} key"),
            ));
        }
    }
    Ok(())
}

/// Any failure inside a library call, named by operation.
pub(crate) fn failed(op: &str) -> CoseError {
    err(op, "operation failed")
}
