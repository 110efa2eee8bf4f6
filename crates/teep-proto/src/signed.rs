//! TEEP messages inside COSE (draft-ietf-teep-protocol-26 §4.1): the wire body is a
//! COSE_Sign1 (or, for the TAM's first QueryRequest, a COSE_Sign with one signature per
//! algorithm) whose payload is the encoded TEEP message.
//!
//! Opening parses the COSE structure and strictly decodes the payload but verifies nothing:
//! the caller picks the key (by kid, by session) and calls `Opened::verify*`.

use alloc::vec::Vec;

use teep_cbor::deviation::{Deviations, Tolerance};
use teep_cose::{CoseError, Limits, Opened, Signer};

use crate::codec::{decode_message, Decoded};
use crate::error::DecodeError;
use crate::model::TeepMessage;
use crate::registry::Numbering;

/// Why a signed TEEP message could not be built or opened.
///
/// The inner errors are part of the text, not reported again as a `source`: printing the
/// chain (`{e:#}`) would otherwise repeat each message (`X: X`).
#[derive(Debug, thiserror::Error)]
pub enum SignedError {
    #[error("{0}")]
    Cose(CoseError),
    /// The COSE payload is not a valid TEEP message.
    #[error("COSE payload: {0}")]
    Message(DecodeError),
    #[error("COSE payload: detached (nil), but a TEEP message must be carried inside")]
    DetachedPayload,
}

impl From<CoseError> for SignedError {
    fn from(e: CoseError) -> Self {
        SignedError::Cose(e)
    }
}

impl From<DecodeError> for SignedError {
    fn from(e: DecodeError) -> Self {
        SignedError::Message(e)
    }
}

/// COSE_Sign1_Tagged over the deterministic encoding of `msg`.
pub fn sign_message(
    msg: &TeepMessage,
    n: Numbering,
    signer: &dyn Signer,
) -> Result<Vec<u8>, SignedError> {
    Ok(teep_cose::sign1(&msg.encode(n), signer)?)
}

/// COSE_Sign_Tagged with one signature per signer (the TAM's initial QueryRequest, §4.1).
pub fn sign_message_multi(
    msg: &TeepMessage,
    n: Numbering,
    signers: &[&dyn Signer],
) -> Result<Vec<u8>, SignedError> {
    Ok(teep_cose::sign(&msg.encode(n), signers)?)
}

/// Parse a COSE_Sign1 or COSE_Sign (tagged or not) and decode its payload, recording (or,
/// strict, refusing) the deviations of both layers: the COSE headers' first, then the
/// payload's, in [`Decoded::deviations`]. `numbering` as in [`decode_message`]: the numbering
/// known for the peer, `None` to detect it on a first contact. Signatures are not verified:
/// the caller picks the key (by kid, by session) and calls `Opened::verify*`.
pub fn open_message_with(
    bytes: &[u8],
    numbering: Option<Numbering>,
    tolerance: Tolerance,
) -> Result<(Opened, Decoded), SignedError> {
    let mut dev = Deviations::new(tolerance);
    let opened = teep_cose::open_with(bytes, &Limits::default(), &mut dev)?;
    let payload = opened
        .payload
        .as_deref()
        .ok_or(SignedError::DetachedPayload)?;
    let mut decoded = decode_message(payload, numbering, tolerance)?;
    if !dev.is_empty() {
        dev.extend(core::mem::take(&mut decoded.deviations));
        decoded.deviations = dev;
    }
    Ok((opened, decoded))
}

/// [`open_message_with`] in numbering `n`, tolerant, deviations not reported.
pub fn open_message(bytes: &[u8], n: Numbering) -> Result<(Opened, TeepMessage), SignedError> {
    let (opened, d) = open_message_with(bytes, Some(n), Tolerance::Tolerant)?;
    Ok((opened, d.message))
}

/// [`open_message_with`] with the numbering detected, tolerant, deviations not reported.
pub fn open_message_auto(bytes: &[u8]) -> Result<(Opened, TeepMessage, Numbering), SignedError> {
    let (opened, d) = open_message_with(bytes, None, Tolerance::Tolerant)?;
    Ok((opened, d.message, d.numbering))
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec;

    use super::*;
    use crate::model::Success;
    use teep_cose::{CoseKind, KeyType, PrivateKey, SoftwareSigner};

    fn success() -> TeepMessage {
        TeepMessage::Success(Success {
            token: Some(vec![0xa5; 16]),
            ..Default::default()
        })
    }

    #[test]
    fn sign1_round_trip_verifies() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
        let bytes = sign_message(&success(), Numbering::Draft26, &signer).unwrap();
        let (opened, msg) = open_message(&bytes, Numbering::Draft26).unwrap();
        assert_eq!(msg, success());
        assert_eq!(opened.kind, CoseKind::Sign1);
        assert!(opened.tagged);
        let info = opened.verify(&signer.public_key()).unwrap();
        assert_eq!(info.kid.as_deref(), Some(&signer.kid()[..]));
        let other = PrivateKey::generate(KeyType::P256).public_key();
        assert!(opened.verify(&other).is_err());
    }

    #[test]
    fn sign_with_two_algorithms() {
        let p256 = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
        let ed = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        let bytes = sign_message_multi(&success(), Numbering::Legacy, &[&p256, &ed]).unwrap();
        let (opened, msg, n) = open_message_auto(&bytes).unwrap();
        assert_eq!((msg, n), (success(), Numbering::Legacy));
        assert_eq!(opened.kind, CoseKind::Sign);
        assert!(opened.verify(&ed.public_key()).is_ok());
        assert!(opened.verify(&p256.public_key()).is_ok());
    }

    #[test]
    fn rejects_invalid_payload_with_path() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        // Success with a 4-byte token.
        let payload = [0x82, 0x04, 0xa1, 0x13, 0x44, 1, 2, 3, 4];
        let bytes = teep_cose::sign1(&payload, &signer).unwrap();
        let e = open_message(&bytes, Numbering::Draft26).unwrap_err();
        assert_eq!(
            e.to_string(),
            "COSE payload: Success.options.token: expected bstr of 8..64 bytes, got 4"
        );
    }
}
