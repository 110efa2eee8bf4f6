//! Encoding COSE_Sign1 and COSE_Sign with alg and kid in the protected header.

use alloc::{format, vec::Vec};

use super::{sig_structure, CoseKind, HDR_ALG, HDR_KID, HDR_X5CHAIN, TAG_SIGN, TAG_SIGN1};
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

/// Protected header {1: alg, 4: kid, 33: x5chain} (RFC 9360 §2: one certificate as a bstr,
/// more as an array of bstr, leaf first).
fn protected_header_x5chain(alg: Algorithm, kid: &[u8], chain: &[Vec<u8>]) -> Vec<u8> {
    let mut h = protected_header(alg, kid);
    if chain.is_empty() {
        return h;
    }
    h[0] += 1; // one more map entry (the map has at most 3, so the head stays one byte)
    write_int(&mut h, HDR_X5CHAIN as i128);
    if let [only] = chain {
        write_bstr(&mut h, only);
    } else {
        write_head(&mut h, 4, chain.len() as u64);
        for cert in chain {
            write_bstr(&mut h, cert);
        }
    }
    h
}

fn encode_sign1(
    payload: &[u8],
    detached: bool,
    tagged: bool,
    signer: &dyn Signer,
    kid_unprotected: bool,
) -> Result<Vec<u8>, CoseError> {
    encode_sign1_with(payload, detached, tagged, signer, kid_unprotected, &[])
}

fn encode_sign1_with(
    payload: &[u8],
    detached: bool,
    tagged: bool,
    signer: &dyn Signer,
    kid_unprotected: bool,
    x5chain: &[Vec<u8>],
) -> Result<Vec<u8>, CoseError> {
    let kid = signer.kid();
    let (protected_kid, unprotected_kid): (&[u8], &[u8]) = if kid_unprotected {
        (&[], &kid)
    } else {
        (&kid, &[])
    };
    let prot = protected_header_x5chain(signer.algorithm(), protected_kid, x5chain);
    let tbs = sig_structure(CoseKind::Sign1, &prot, None, &[], payload);
    let sig = checked_sign(signer, &tbs)?;
    drop(tbs);
    let mut out = Vec::with_capacity(
        20 + prot.len()
            + unprotected_kid.len()
            + sig.len()
            + if detached { 0 } else { payload.len() },
    );
    if tagged {
        write_head(&mut out, 6, TAG_SIGN1);
    }
    write_head(&mut out, 4, 4);
    write_bstr(&mut out, &prot);
    if unprotected_kid.is_empty() {
        out.push(0xa0); // empty unprotected map
    } else {
        write_head(&mut out, 5, 1);
        write_int(&mut out, HDR_KID as i128);
        write_bstr(&mut out, unprotected_kid);
    }
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
    encode_sign1(payload, false, true, signer, false)
}

/// COSE_Sign1_Tagged with alg protected and the kid in the unprotected header (RFC 9052 §3.1
/// allows either bucket): for answering peers that read the kid only from there (AttesTAM).
pub fn sign1_kid_unprotected(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, false, true, signer, true)
}

/// COSE_Sign1_Tagged whose protected header also carries `x5chain` (RFC 9360 §2, label 33):
/// the certificates that endorse the signing key, leaf (the signer's) first.
pub fn sign1_with_x5chain(
    payload: &[u8],
    signer: &dyn Signer,
    x5chain: &[Vec<u8>],
) -> Result<Vec<u8>, CoseError> {
    encode_sign1_with(payload, false, true, signer, false, x5chain)
}

/// Untagged COSE_Sign1.
pub fn sign1_untagged(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, false, false, signer, false)
}

/// COSE_Sign1_Tagged with a detached (nil) payload, as SUIT signs its digest.
pub fn sign1_detached(payload: &[u8], signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
    encode_sign1(payload, true, true, signer, false)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{open, PrivateKey, SoftwareSigner};

    #[test]
    fn kid_goes_to_the_bucket_asked_for_and_the_signature_verifies() {
        let signer = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x31; 32]).unwrap());
        for (bytes, protected) in [
            (sign1(b"payload", &signer).unwrap(), true),
            (sign1_kid_unprotected(b"payload", &signer).unwrap(), false),
        ] {
            let opened = open(&bytes).unwrap();
            let info = opened.verify(&signer.public_key()).unwrap();
            assert_eq!(info.kid.as_deref(), Some(&signer.kid()[..]));
            assert_eq!(info.kid_protected, protected);
            assert_eq!(info.alg, signer.algorithm());
            assert_eq!(opened.protected_header().key_id.is_empty(), !protected);
            assert_eq!(opened.unprotected_header().key_id.is_empty(), protected);
        }
    }

    /// RFC 9360 §2: x5chain in the protected header, one certificate as a bstr, more as an
    /// array, leaf first; the signature covers it.
    #[test]
    fn rfc9360_x5chain_goes_to_the_protected_header_and_reads_back() {
        let signer = SoftwareSigner::new(PrivateKey::from_p256_scalar(&[0x31; 32]).unwrap());
        for chain in [vec![vec![1u8, 2, 3]], vec![vec![1u8], vec![2u8, 3]]] {
            let bytes = sign1_with_x5chain(b"eat", &signer, &chain).unwrap();
            let opened = open(&bytes).unwrap();
            opened.verify(&signer.public_key()).unwrap();
            assert_eq!(opened.x5chain().unwrap(), Some(chain));
        }
        let plain = open(&sign1(b"eat", &signer).unwrap()).unwrap();
        assert_eq!(plain.x5chain().unwrap(), None);
    }
}
