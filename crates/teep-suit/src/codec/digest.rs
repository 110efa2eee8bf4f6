//! SUIT_Digest.

use crate::cbor::{Reader, Writer};
use crate::error::DecodeError;
use crate::model::{Digest, DigestAlgorithm};
use alloc::format;
use alloc::vec::Vec;

/// Decodes a SUIT_Digest array.
pub fn decode_digest(input: &[u8], path: &str) -> Result<Digest, DecodeError> {
    let mut r = Reader::new(input, path);
    let d = read_digest(&mut r)?;
    r.expect_end()?;
    Ok(d)
}

pub(super) fn read_digest(r: &mut Reader<'_>) -> Result<Digest, DecodeError> {
    let n = r.array()?;
    if n != 2 {
        return Err(r.err(format!(
            "SUIT_Digest: expected [algorithm-id, bytes], got {n} elements"
        )));
    }
    let alg = DigestAlgorithm::from_cose(r.i64()?);
    let bytes = r.bytes()?.to_vec();
    if alg == DigestAlgorithm::Sha256 && bytes.len() != 32 {
        return Err(r.err(format!(
            "SUIT_Digest: SHA-256 digest must be 32 bytes, got {}",
            bytes.len()
        )));
    }
    if bytes.len() > 64 {
        return Err(r.err(format!(
            "SUIT_Digest: digest of {} bytes is longer than any supported hash",
            bytes.len()
        )));
    }
    Ok(Digest {
        algorithm: alg,
        bytes,
    })
}

pub(crate) fn write_digest(w: &mut Writer, d: &Digest) {
    w.array(2).int(d.algorithm.to_cose()).bytes(&d.bytes);
}

/// Encodes a SUIT_Digest.
pub fn encode_digest(d: &Digest) -> Vec<u8> {
    let mut w = Writer::new();
    write_digest(&mut w, d);
    w.finish()
}
