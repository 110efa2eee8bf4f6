//! Authentication of a SUIT envelope (manifest-37 §8.3, RFC 9052 detached payloads).
//!
//! Order matters: the envelope map is only split, the authentication wrapper decoded, the
//! manifest digest recomputed over the bstr-wrapped manifest and a COSE block verified against
//! the trust anchors, and only then is the manifest itself parsed.
//!
//! The COSE layer is hand-written here (not `teep_cose::open`) because SUIT needs COSE_Mac0 and
//! detached payloads that are the bstr-wrapped digest, and must keep the received protected
//! header bytes; the signature math is `teep_cose::PublicKey::verify`.

use crate::cbor::Type;
use crate::cbor::{Reader, Writer};
use crate::codec::{decode_authentication, decode_manifest, split_envelope, RawEnvelope};
use crate::error::{AuthError, DecodeError};
use crate::limits::Limits;
use crate::model::*;
use alloc::format;
use alloc::vec::Vec;
use bytes::Bytes;
use teep_cbor::deviation::{catalog, Deviations};
use teep_cose::{Algorithm, PublicKey};

/// Keys trusted to authorise manifests.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    /// TC signer public keys (COSE_Sign1 / COSE_Sign).
    pub signers: Vec<PublicKey>,
    /// Symmetric keys for COSE_Mac0 with HMAC 256/256 (alg 5), as used by the
    /// firmware-encryption AES-KW examples.
    pub mac_keys: Vec<Vec<u8>>,
}

impl TrustAnchors {
    pub fn new(signers: Vec<PublicKey>) -> Self {
        TrustAnchors {
            signers,
            mac_keys: Vec::new(),
        }
    }
}

/// What authenticated an envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Authenticator {
    /// Index into `TrustAnchors::signers`, the COSE algorithm used and the kid if present.
    Signer {
        index: usize,
        algorithm: i64,
        kid: Option<Vec<u8>>,
    },
    /// Index into `TrustAnchors::mac_keys`.
    Mac { index: usize },
}

impl core::fmt::Display for Authenticator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Authenticator::Signer {
                index,
                algorithm,
                kid,
            } => {
                let alg = Algorithm::from_cose(*algorithm).name();
                write!(f, "{alg} signature by trust anchor #{index}")?;
                if let Some(k) = kid {
                    write!(f, " (kid {})", hex::encode(k))?;
                }
                Ok(())
            }
            Authenticator::Mac { index } => write!(f, "HMAC 256/256 with MAC key #{index}"),
        }
    }
}

/// An envelope whose manifest digest and authentication verified.
#[derive(Debug, Clone)]
pub struct VerifiedEnvelope {
    pub envelope: Envelope,
    pub authenticator: Authenticator,
}

impl core::ops::Deref for VerifiedEnvelope {
    type Target = Envelope;
    fn deref(&self) -> &Envelope {
        &self.envelope
    }
}

/// Verifies and decodes an envelope (tagged or not) against the trust anchors.
pub fn verify_envelope(
    bytes: impl Into<Bytes>,
    anchors: &TrustAnchors,
) -> Result<VerifiedEnvelope, AuthError> {
    verify_envelope_with_limits(bytes, anchors, &Limits::default())
}

/// [`verify_envelope`] with explicit limits.
pub fn verify_envelope_with_limits(
    bytes: impl Into<Bytes>,
    anchors: &TrustAnchors,
    limits: &Limits,
) -> Result<VerifiedEnvelope, AuthError> {
    let bytes = bytes.into();
    let raw = split_envelope(&bytes, limits)?;
    let auth = decode_authentication(&raw.authentication)?;
    check_digest(&auth, &raw.manifest_bstr)?;
    let authenticator = authenticate(&auth, anchors)?;
    let envelope = finish_decode(raw, auth, limits)?;
    Ok(VerifiedEnvelope {
        envelope,
        authenticator,
    })
}

/// [`verify_envelope_with_limits`] for an envelope received in a TEEP `manifest-list`, where
/// the CDDL asks for the untagged `SUIT_Envelope`: a tagged one (tag 107) is recorded in `dev`
/// as `suit.envelope-tagged` (or, strict, refused) and the untagged envelope inside is what is
/// verified, decoded and returned (its `raw` bytes are the untagged ones).
pub fn verify_envelope_with(
    bytes: impl Into<Bytes>,
    anchors: &TrustAnchors,
    limits: &Limits,
    dev: &mut Deviations,
) -> Result<VerifiedEnvelope, AuthError> {
    let bytes = untag_received(bytes.into(), dev)?;
    verify_envelope_with_limits(bytes, anchors, limits)
}

/// [`decode_envelope_unverified`] with the receive rules of [`verify_envelope_with`].
pub fn decode_envelope_unverified_with(
    bytes: impl Into<Bytes>,
    limits: &Limits,
    dev: &mut Deviations,
) -> Result<Envelope, AuthError> {
    let bytes = untag_received(bytes.into(), dev)?;
    decode_envelope_unverified(bytes, limits)
}

/// The untagged envelope of a received one; a tag 107 is a deviation (TEEP-26 §4.4 CDDL).
fn untag_received(bytes: Bytes, dev: &mut Deviations) -> Result<Bytes, AuthError> {
    let mut r = Reader::new(&bytes, "SUIT_Envelope");
    if !r.is_type(|t| t == Type::Tag) || r.tag()? != SUIT_ENVELOPE_TAG {
        return Ok(bytes);
    }
    let at = r.position();
    dev.note(&catalog::SUIT_ENVELOPE_TAGGED, "SUIT_Envelope")
        .map_err(|d| DecodeError::new(d.at.clone(), d.refusal()))?;
    Ok(bytes.slice(at..))
}

/// Decodes an envelope without checking its authentication (inspection, TAM metadata of
/// envelopes it built itself). The manifest digest is still checked.
pub fn decode_envelope_unverified(
    bytes: impl Into<Bytes>,
    limits: &Limits,
) -> Result<Envelope, AuthError> {
    let bytes = bytes.into();
    let raw = split_envelope(&bytes, limits)?;
    let auth = decode_authentication(&raw.authentication)?;
    check_digest(&auth, &raw.manifest_bstr)?;
    Ok(finish_decode(raw, auth, limits)?)
}

/// Decodes an envelope even when its digest is wrong (for `inspect` only).
pub fn decode_envelope_lenient(
    bytes: impl Into<Bytes>,
    limits: &Limits,
) -> Result<(Envelope, Result<(), AuthError>), DecodeError> {
    let bytes = bytes.into();
    let raw = split_envelope(&bytes, limits)?;
    let auth = decode_authentication(&raw.authentication)?;
    let digest_ok = check_digest(&auth, &raw.manifest_bstr);
    Ok((finish_decode(raw, auth, limits)?, digest_ok))
}

fn finish_decode(
    raw: RawEnvelope,
    auth: Authentication,
    limits: &Limits,
) -> Result<Envelope, DecodeError> {
    let manifest = decode_manifest(&raw.raw, &raw.manifest, &raw.severed, limits)?;
    Ok(Envelope {
        tagged: raw.tagged,
        authentication: auth,
        manifest_bstr: raw.manifest_bstr,
        manifest,
        integrated: raw.integrated,
        severed: raw.severed,
        unknown: raw.unknown,
        raw: raw.raw,
    })
}

/// Recomputes the manifest digest (over the bstr-wrapped manifest, header included).
pub fn check_digest(auth: &Authentication, manifest_bstr: &[u8]) -> Result<(), AuthError> {
    if auth.digest.algorithm != DigestAlgorithm::Sha256 {
        return Err(AuthError::UnsupportedDigest(
            auth.digest.algorithm.to_cose(),
        ));
    }
    let computed = Digest::sha256(manifest_bstr);
    if computed.bytes != auth.digest.bytes {
        return Err(AuthError::DigestMismatch {
            expected: hex::encode(&auth.digest.bytes),
            computed: hex::encode(&computed.bytes),
        });
    }
    Ok(())
}

/// A decoded COSE authentication block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseBlock {
    pub kind: CoseKind,
    pub tagged: bool,
    /// (protected header bytes, algorithm, kid, signature/tag) per signer.
    pub signatures: Vec<CoseSignature>,
    /// Body protected header bytes (COSE_Sign), empty otherwise.
    pub body_protected: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoseKind {
    Sign1,
    Sign,
    Mac0,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoseSignature {
    pub protected: Vec<u8>,
    pub algorithm: Option<i64>,
    pub kid: Option<Vec<u8>>,
    pub signature: Vec<u8>,
}

/// Parses one authentication block (COSE_Sign1 18, COSE_Sign 98, COSE_Mac0 17; untagged
/// COSE_Sign1 vs COSE_Mac0 is told apart by the algorithm).
pub fn parse_cose_block(block: &[u8], index: usize) -> Result<CoseBlock, DecodeError> {
    let mut r = Reader::new(
        block,
        format!("SUIT_Envelope.authentication-wrapper[{}]", index + 1),
    );
    let mut tag = None;
    if r.is_type(|t| t == Type::Tag) {
        tag = Some(r.tag()?);
    }
    let n = r.array()?;
    let (protected, algorithm, kid) = read_headers(&mut r)?;
    if !r.is_type(|t| t == Type::Null) {
        return Err(r.err("payload must be nil (detached: the payload is the SUIT digest)"));
    }
    r.null()?;
    let kind = match (tag, n) {
        (Some(18), 4) => CoseKind::Sign1,
        (Some(17), 4) => CoseKind::Mac0,
        (Some(98), 4) => CoseKind::Sign,
        (None, 4) if r.is_type(|t| t == Type::Array) => CoseKind::Sign,
        (None, 4) if matches!(algorithm, Some(4..=7)) => CoseKind::Mac0,
        (None, 4) => CoseKind::Sign1,
        (Some(t), _) => return Err(r.err(format!("unsupported COSE structure (tag {t}, {n} elements); expected COSE_Sign1, COSE_Sign or COSE_Mac0"))),
        (None, _) => return Err(r.err(format!("expected a 4-element COSE structure, got {n} elements"))),
    };
    let mut out = CoseBlock {
        kind,
        tagged: tag.is_some(),
        signatures: Vec::new(),
        body_protected: Vec::new(),
    };
    match kind {
        CoseKind::Sign1 | CoseKind::Mac0 => {
            let signature = r.bytes()?.to_vec();
            out.signatures.push(CoseSignature {
                protected,
                algorithm,
                kid,
                signature,
            });
        }
        CoseKind::Sign => {
            out.body_protected = protected;
            let m = r.array()?;
            for _ in 0..m {
                if r.array()? != 3 {
                    return Err(r.err("COSE_Signature must be [protected, unprotected, signature]"));
                }
                let (protected, algorithm, kid) = read_headers(&mut r)?;
                let signature = r.bytes()?.to_vec();
                out.signatures.push(CoseSignature {
                    protected,
                    algorithm,
                    kid,
                    signature,
                });
            }
        }
    }
    r.expect_end()?;
    Ok(out)
}

/// Received protected header bytes, algorithm and kid.
type Headers = (Vec<u8>, Option<i64>, Option<Vec<u8>>);

/// Reads protected (bstr .cbor map) and unprotected headers; returns the received protected
/// bytes, the algorithm (protected first) and the kid.
fn read_headers(r: &mut Reader<'_>) -> Result<Headers, DecodeError> {
    let protected = r.bytes()?.to_vec();
    let mut alg = None;
    let mut kid = None;
    if !protected.is_empty() {
        let mut p = Reader::new(&protected, format!("{}.protected", r.path));
        let n = p.map()?;
        for _ in 0..n {
            let label = p.i64()?;
            match label {
                1 if p.is_type(|t| !matches!(t, Type::String)) => alg = Some(p.i64()?),
                4 => kid = Some(p.bytes()?.to_vec()),
                _ => {
                    p.raw()?;
                }
            }
        }
        p.expect_end()?;
    }
    let n = r.map()?;
    for _ in 0..n {
        let label = r.i64()?;
        match label {
            1 if alg.is_none() => alg = Some(r.i64()?),
            4 if kid.is_none() => kid = Some(r.bytes()?.to_vec()),
            _ => {
                r.raw()?;
            }
        }
    }
    Ok((protected, alg, kid))
}

/// Sig_structure / MAC_structure over the detached payload.
pub(crate) fn tbs(
    context: &str,
    body_protected: &[u8],
    sign_protected: Option<&[u8]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut w = Writer::new();
    w.array(if sign_protected.is_some() { 5 } else { 4 });
    w.text(context).bytes(body_protected);
    if let Some(sp) = sign_protected {
        w.bytes(sp);
    }
    w.bytes(&[]).bytes(payload);
    w.finish()
}

/// Verifies the authentication blocks: succeeds when any block verifies with any anchor.
pub fn authenticate(
    auth: &Authentication,
    anchors: &TrustAnchors,
) -> Result<Authenticator, AuthError> {
    if auth.blocks.is_empty() {
        return Err(AuthError::NoAuthenticationBlock);
    }
    let mut reasons = Vec::new();
    for (i, block) in auth.blocks.iter().enumerate() {
        let cose = parse_cose_block(block, i)?;
        for sig in &cose.signatures {
            let Some(alg) = sig.algorithm else {
                reasons.push(format!("block {}: no algorithm", i + 1));
                continue;
            };
            match cose.kind {
                CoseKind::Mac0 => {
                    if alg != 5 {
                        reasons.push(format!("block {}: MAC algorithm {alg} unsupported", i + 1));
                        continue;
                    }
                    let data = tbs("MAC0", &sig.protected, None, &auth.digest_cbor);
                    for (k, key) in anchors.mac_keys.iter().enumerate() {
                        if hmac_sha256_verify(key, &data, &sig.signature) {
                            return Ok(Authenticator::Mac { index: k });
                        }
                    }
                    reasons.push(format!(
                        "block {}: MAC does not verify with any MAC key",
                        i + 1
                    ));
                }
                CoseKind::Sign1 | CoseKind::Sign => {
                    let algorithm = Algorithm::from_cose(alg);
                    if algorithm.key_type().is_none() {
                        reasons.push(format!("block {}: algorithm {alg} unsupported", i + 1));
                        continue;
                    }
                    let data = if cose.kind == CoseKind::Sign1 {
                        tbs("Signature1", &sig.protected, None, &auth.digest_cbor)
                    } else {
                        tbs(
                            "Signature",
                            &cose.body_protected,
                            Some(&sig.protected),
                            &auth.digest_cbor,
                        )
                    };
                    for (k, key) in anchors.signers.iter().enumerate() {
                        if Some(key.key_type()) != algorithm.key_type() {
                            continue;
                        }
                        if key.verify(algorithm, &data, &sig.signature).is_ok() {
                            return Ok(Authenticator::Signer {
                                index: k,
                                algorithm: alg,
                                kid: sig.kid.clone(),
                            });
                        }
                    }
                    reasons.push(format!(
                        "block {}: {} signature does not verify with any trusted key",
                        i + 1,
                        algorithm.name()
                    ));
                }
            }
        }
    }
    Err(AuthError::Untrusted(reasons.join("; ")))
}

fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

/// HMAC-SHA-256 (for building COSE_Mac0 blocks in tests and tools).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
