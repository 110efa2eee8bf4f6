//! Input rules every built-in provider applies before calling its library, so that all of
//! them accept and reject exactly the same inputs with the same [`CryptoError`] (the libraries
//! differ at the edges: aes-kw wraps a single 8-byte block, aws-lc refuses to; aws-lc caps an
//! HKDF PRK at 64 bytes).

use crate::key::{PrivateKey, PublicKey};
use crate::{CryptoError, KeyType};

/// Largest HKDF-SHA-256 output (RFC 5869 section 2.3: 255 × HashLen).
pub(crate) const HKDF_SHA256_MAX_OKM: usize = 255 * 32;

/// AES-GCM tag length; the only one the providers produce or accept.
pub(crate) const GCM_TAG_LEN: usize = 16;

/// AES-128 or AES-256 key (the key wrap KEK, the GCM or the CTR key).
pub(crate) fn aes_key(op: &'static str, key: &[u8]) -> Result<(), CryptoError> {
    match key.len() {
        16 | 32 => Ok(()),
        got => Err(CryptoError::KeyLength {
            op,
            expected: "16 or 32",
            got,
        }),
    }
}

/// RFC 3394 section 2: at least two 64-bit blocks of key data.
pub(crate) fn key_wrap_input(key: &[u8]) -> Result<(), CryptoError> {
    let got = key.len();
    if got < 16 || !got.is_multiple_of(8) {
        return Err(CryptoError::InputLength {
            op: "AES key wrap",
            rule: "key data must be a multiple of 8 bytes and at least 16",
            got,
        });
    }
    Ok(())
}

/// A wrapped key is the key data plus one 64-bit block.
pub(crate) fn key_unwrap_input(wrapped: &[u8]) -> Result<(), CryptoError> {
    let got = wrapped.len();
    if got < 24 || !got.is_multiple_of(8) {
        return Err(CryptoError::InputLength {
            op: "AES key unwrap",
            rule: "wrapped key must be a multiple of 8 bytes and at least 24",
            got,
        });
    }
    Ok(())
}

/// RFC 3394 section 2.2.3: the recovered initial value is not the default one.
pub(crate) fn key_unwrap_failed() -> CryptoError {
    CryptoError::Authentication {
        op: "AES key unwrap",
        check: "integrity check",
    }
}

/// The AEADs here (AES-GCM and ChaCha20-Poly1305), by the name errors give them.
pub(crate) const AES_GCM: &str = "AES-GCM";
pub(crate) const CHACHA20_POLY1305: &str = "ChaCha20-Poly1305";

/// The sealed input of the AEAD `op` holds at least the tag (16 bytes for both).
pub(crate) fn aead_sealed(op: &'static str, sealed: &[u8]) -> Result<(), CryptoError> {
    if sealed.len() < GCM_TAG_LEN {
        return Err(CryptoError::InputLength {
            op,
            rule: "sealed input must hold the 16-byte tag",
            got: sealed.len(),
        });
    }
    Ok(())
}

pub(crate) fn aead_open_failed(op: &'static str) -> CryptoError {
    CryptoError::Authentication {
        op,
        check: "authentication",
    }
}

pub(crate) fn hmac_mismatch() -> CryptoError {
    CryptoError::Authentication {
        op: "HMAC-SHA-256",
        check: "tag comparison",
    }
}

/// RFC 5869 section 2.3: PRK of at least HashLen bytes, output of at most 255 × HashLen.
pub(crate) fn hkdf_expand(prk: &[u8], okm: &[u8]) -> Result<(), CryptoError> {
    if prk.len() < 32 {
        return Err(CryptoError::InputLength {
            op: "HKDF-SHA-256",
            rule: "PRK must be at least 32 bytes",
            got: prk.len(),
        });
    }
    if okm.len() > HKDF_SHA256_MAX_OKM {
        return Err(CryptoError::InputLength {
            op: "HKDF-SHA-256",
            rule: "output must be at most 8160 (255 × 32) bytes",
            got: okm.len(),
        });
    }
    Ok(())
}

/// ECDH here is P-256 only.
pub(crate) fn ecdh_keys(private: &PrivateKey, peer: &PublicKey) -> Result<(), CryptoError> {
    for got in [private.key_type(), peer.key_type()] {
        if got != KeyType::P256 {
            return Err(CryptoError::KeyType {
                op: "ECDH",
                expected: KeyType::P256,
                got,
            });
        }
    }
    Ok(())
}

/// Any failure inside a library call, named by operation.
pub(crate) fn failed(op: &'static str) -> CryptoError {
    CryptoError::Failed { op }
}

/// RFC 7748 §6.1: an all-zero X25519 output means the peer sent a small-order point.
pub(crate) fn x25519_nonzero(shared: &[u8; 32]) -> Result<(), CryptoError> {
    if shared.iter().fold(0u8, |acc, b| acc | b) == 0 {
        return Err(CryptoError::Authentication {
            op: "X25519",
            check: "non-zero shared secret (RFC 7748 §6.1; small-order peer key)",
        });
    }
    Ok(())
}
