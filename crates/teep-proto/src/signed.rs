//! TEEP messages inside COSE (draft-ietf-teep-protocol-26 §4.1): the wire body is a
//! COSE_Sign1 (or, for the TAM's first QueryRequest, a COSE_Sign with one signature per
//! algorithm) whose payload is the encoded TEEP message.
//!
//! Opening parses the COSE structure and strictly decodes the payload but verifies nothing:
//! the caller picks the key (by kid, by session) and calls `Opened::verify*`.

use alloc::vec::Vec;

use teep_cose::{CoseError, Opened, Signer};

use crate::error::DecodeError;
use crate::model::TeepMessage;
use crate::registry::Numbering;

/// Why a signed TEEP message could not be built or opened.
#[derive(Debug, thiserror::Error)]
pub enum SignedError {
    #[error("{0}")]
    Cose(#[from] CoseError),
    /// The COSE payload is not a valid TEEP message.
    #[error("COSE payload: {0}")]
    Message(#[from] DecodeError),
    #[error("COSE payload: detached (nil), but a TEEP message must be carried inside")]
    DetachedPayload,
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

/// Parse a COSE_Sign1 or COSE_Sign (tagged or not) and decode its payload in numbering `n`.
/// Signatures are not verified.
pub fn open_message(bytes: &[u8], n: Numbering) -> Result<(Opened, TeepMessage), SignedError> {
    let opened = teep_cose::open(bytes)?;
    let payload = opened
        .payload
        .as_deref()
        .ok_or(SignedError::DetachedPayload)?;
    let msg = crate::codec::decode(payload, n)?;
    Ok((opened, msg))
}

/// [`open_message`] with the numbering detected as in [`crate::decode_auto`].
pub fn open_message_auto(bytes: &[u8]) -> Result<(Opened, TeepMessage, Numbering), SignedError> {
    let opened = teep_cose::open(bytes)?;
    let payload = opened
        .payload
        .as_deref()
        .ok_or(SignedError::DetachedPayload)?;
    let (msg, n) = crate::codec::decode_auto(payload)?;
    Ok((opened, msg, n))
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
