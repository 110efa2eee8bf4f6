//! Reading SUIT_Encryption_Info: a COSE_Encrypt (RFC 9052 section 5.1, tag 96) whose
//! ciphertext is detached (nil) and whose recipients carry the wrapped content key.

use crate::cbor::{Reader, Type};
use crate::error::{CryptoError, DecodeError};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

pub(super) struct Recipient {
    /// The protected header bytes as received (ECDH-ES binds them into the KDF context).
    pub protected: Vec<u8>,
    pub alg: Option<i64>,
    pub kid: Option<Vec<u8>>,
    /// The ephemeral key's x and y (ECDH-ES).
    pub ephemeral: Option<(Vec<u8>, Vec<u8>)>,
    pub wrapped: Vec<u8>,
}

pub(super) struct EncryptionInfo {
    /// The protected header bytes as received (AES-GCM authenticates them).
    pub protected: Vec<u8>,
    pub alg: i64,
    pub iv: Vec<u8>,
    pub recipients: Vec<Recipient>,
}

/// The header parameters SUIT encryption uses (RFC 9052 section 3.1, RFC 9053 section 6.3.1).
#[derive(Default)]
struct Headers {
    alg: Option<i64>,
    kid: Option<Vec<u8>>,
    iv: Option<Vec<u8>>,
    ephemeral: Option<(Vec<u8>, Vec<u8>)>,
}

fn m(e: DecodeError) -> CryptoError {
    CryptoError::Malformed(e.to_string())
}

fn read_headers(r: &mut Reader<'_>) -> Result<Headers, CryptoError> {
    let n = r.map().map_err(m)?;
    let mut h = Headers::default();
    for _ in 0..n {
        let label = r.i64().map_err(m)?;
        match label {
            1 => h.alg = Some(r.i64().map_err(m)?),
            4 => h.kid = Some(r.bytes().map_err(m)?.to_vec()),
            5 => h.iv = Some(r.bytes().map_err(m)?.to_vec()),
            -1 => {
                let k = r.map().map_err(m)?;
                let (mut x, mut y) = (None, None);
                for _ in 0..k {
                    let l = r.i64().map_err(m)?;
                    match l {
                        -2 => x = Some(r.bytes().map_err(m)?.to_vec()),
                        -3 if r.is_type(|t| t == Type::Bytes) => {
                            y = Some(r.bytes().map_err(m)?.to_vec())
                        }
                        _ => {
                            r.raw().map_err(m)?;
                        }
                    }
                }
                match (x, y) {
                    (Some(x), Some(y)) => h.ephemeral = Some((x, y)),
                    _ => return Err(CryptoError::Malformed("ephemeral key needs x and y".into())),
                }
            }
            _ => {
                r.raw().map_err(m)?;
            }
        }
    }
    Ok(h)
}

/// Headers of a protected bucket: an empty bstr is an empty map (RFC 9052 section 3).
fn read_protected(bytes: &[u8], path: &str) -> Result<Headers, CryptoError> {
    if bytes.is_empty() {
        return Ok(Headers::default());
    }
    read_headers(&mut Reader::new(bytes, path))
}

pub(super) fn parse_info(info: &[u8]) -> Result<EncryptionInfo, CryptoError> {
    let mut r = Reader::new(info, "SUIT_Encryption_Info");
    if r.is_type(|t| t == Type::Tag) {
        let tag = r.tag().map_err(m)?;
        if tag != 96 {
            return Err(CryptoError::Malformed(format!(
                "expected COSE_Encrypt (tag 96), got tag {tag}"
            )));
        }
    }
    if r.array().map_err(m)? != 4 {
        return Err(CryptoError::Malformed(
            "COSE_Encrypt must have 4 elements".into(),
        ));
    }
    let protected = r.bytes().map_err(m)?.to_vec();
    let alg = read_protected(&protected, "COSE_Encrypt.protected")?.alg;
    let unprotected = read_headers(&mut r)?;
    let alg = alg
        .or(unprotected.alg)
        .ok_or_else(|| CryptoError::Malformed("no content algorithm".into()))?;
    let iv = unprotected
        .iv
        .ok_or_else(|| CryptoError::Malformed("no IV (5)".into()))?;
    if r.is_type(|t| t == Type::Null) {
        r.null().map_err(m)?;
    } else {
        return Err(CryptoError::Malformed(
            "ciphertext must be detached (nil)".into(),
        ));
    }
    let n = r.array().map_err(m)?;
    let mut recipients = Vec::new();
    for _ in 0..n {
        if r.array().map_err(m)? != 3 {
            return Err(CryptoError::Malformed(
                "COSE_recipient must have 3 elements".into(),
            ));
        }
        let rprot = r.bytes().map_err(m)?.to_vec();
        let p = read_protected(&rprot, "COSE_recipient.protected")?;
        let u = read_headers(&mut r)?;
        let wrapped = r.bytes().map_err(m)?.to_vec();
        recipients.push(Recipient {
            protected: rprot,
            alg: p.alg.or(u.alg),
            kid: p.kid.or(u.kid),
            ephemeral: u.ephemeral,
            wrapped,
        });
    }
    r.expect_end().map_err(m)?;
    Ok(EncryptionInfo {
        protected,
        alg,
        iv,
        recipients,
    })
}
