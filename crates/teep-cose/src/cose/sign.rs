//! Encoding COSE_Sign1 and COSE_Sign with alg and kid in the protected header.

use alloc::{format, vec::Vec};

use super::{sig_structure, CoseKind, HDR_ALG, HDR_KID, TAG_SIGN, TAG_SIGN1};
use crate::cbor::{write_bstr, write_head, write_int};
use crate::{Algorithm, CoseError, Signer};

/// Protected header {1: alg, 4: kid}, deterministic.
fn protected_header(alg: Algorithm, kid: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + kid.len());
    write_head(&mut h, 5, if kid.is_empty() { 1 } else { 2 });
    write_int(&mut h, HDR_ALG as i128);
    write_int(&mut h, alg.to_cose() as i128);
    if !kid.is_empty() {
        write_int(&mut h, HDR_KID as i128);
        write_bstr(&mut h, kid);
    }
    h
}

fn checked_sign(signer: &dyn Signer, tbs: &[u8]) -> Result<Vec<u8>, CoseError> {
    let alg = signer.algorithm();
    if alg.key_type().is_none() {
        return Err(CoseError::UnsupportedAlgorithm(alg.to_cose()));
    }
    let sig = signer.sign(tbs)?;
    if sig.len() != 64 {
        return Err(CoseError::Crypto(format!(
            "signer returned {} bytes for {}, expected 64",
            sig.len(),
            alg.name()
        )));
    }
    Ok(sig)
}

fn encode_sign1(
    payload: &[u8],
    detached: bool,
    tagged: bool,
    signer: &dyn Signer,
) -> Result<Vec<u8>, CoseError> {
    let prot = protected_header(signer.algorithm(), &signer.kid());
    let tbs = sig_structure(CoseKind::Sign1, &prot, None, &[], payload);
    let sig = checked_sign(signer, &tbs)?;
    drop(tbs);
    let mut out =
        Vec::with_capacity(16 + prot.len() + sig.len() + if detached { 0 } else { payload.len() });
    if tagged {
        write_head(&mut out, 6, TAG_SIGN1);
    }
    write_head(&mut out, 4, 4);
    write_bstr(&mut out, &prot);
    out.push(0xa0); // empty unprotected map
    if detached {
        out.push(0xf6);
    } else {
        write_bstr(&mut out, payload);
    }
    write_bstr(&mut out, &sig);
    Ok(out)
}

/// COSE_Sign1_Tagged (tag 18) over `payload`; alg and kid in the protected header.
pub fn sign1(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, false, true, signer)
}

/// Untagged COSE_Sign1.
pub fn sign1_untagged(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, false, false, signer)
}

/// COSE_Sign1_Tagged with a detached (nil) payload, as SUIT signs its digest.
pub fn sign1_detached(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, true, true, signer)
}

fn encode_sign(
    payload: &[u8],
    signers: &[&dyn Signer],
    tagged: bool,
) -> Result<Vec<u8>, CoseError> {
    if signers.is_empty() {
        return Err(CoseError::malformed(
            "COSE_Sign.signatures",
            "at least one signer is required",
        ));
    }
    // Empty body protected header: alg and kid are per signer.
    let body_prot: &[u8] = &[];
    let mut parts = Vec::with_capacity(signers.len());
    for s in signers {
        let prot = protected_header(s.algorithm(), &s.kid());
        let tbs = sig_structure(CoseKind::Sign, body_prot, Some(&prot), &[], payload);
        let sig = checked_sign(*s, &tbs)?;
        parts.push((prot, sig));
    }
    let mut out = Vec::with_capacity(32 + payload.len() + parts.len() * 120);
    if tagged {
        write_head(&mut out, 6, TAG_SIGN);
    }
    write_head(&mut out, 4, 4);
    write_bstr(&mut out, body_prot);
    out.push(0xa0);
    write_bstr(&mut out, payload);
    write_head(&mut out, 4, parts.len() as u64);
    for (prot, sig) in &parts {
        write_head(&mut out, 4, 3);
        write_bstr(&mut out, prot);
        out.push(0xa0);
        write_bstr(&mut out, sig);
    }
    Ok(out)
}

/// COSE_Sign_Tagged (tag 98): one signature per signer, e.g. ESP256 and Ed25519 in the
/// TAM's first QueryRequest.
pub fn sign(payload: &[u8], signers: &[&dyn Signer]) -> Result<Vec<u8>, CoseError> {
    encode_sign(payload, signers, true)
}

/// Untagged COSE_Sign.
pub fn sign_untagged(payload: &[u8], signers: &[&dyn Signer]) -> Result<Vec<u8>, CoseError> {
    encode_sign(payload, signers, false)
}
