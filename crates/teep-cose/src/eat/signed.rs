//! Signing a claims set as COSE_Sign1 and opening, verifying and checking the freshness of a
//! signed one.

use alloc::{format, vec::Vec};

use super::claims::EatClaims;
use super::error::{claim_err, EatError};
use super::{EAT_NONCE_MAX, EAT_NONCE_MIN};
use crate::{open, CoseError, PublicKey, Signer};

impl EatClaims {
    /// Signs the encoded claims as COSE_Sign1 (tagged).
    ///
    /// Refuses an `eat_nonce` outside 8..64 bytes: a signed token carrying one breaks RFC 9711
    /// and every strict decoder (ours included). [`encode`](Self::encode) stays permissive
    /// because it also serves to build byte templates.
    pub fn sign(&self, signer: &dyn Signer) -> Result<Vec<u8>, CoseError> {
        self.check_nonce_size()?;
        crate::sign1(&self.encode(), signer)
    }

    /// Signs like [`sign`](Self::sign) with the certificates endorsing the signing key in the
    /// protected `x5chain` header (RFC 9360 §2), leaf first; an empty chain adds nothing.
    pub fn sign_with_x5chain(
        &self,
        signer: &dyn Signer,
        x5chain: &[Vec<u8>],
    ) -> Result<Vec<u8>, CoseError> {
        self.check_nonce_size()?;
        crate::sign1_with_x5chain(&self.encode(), signer, x5chain)
    }

    fn check_nonce_size(&self) -> Result<(), CoseError> {
        match &self.eat_nonce {
            Some(n) if !(EAT_NONCE_MIN..=EAT_NONCE_MAX).contains(&n.len()) => {
                Err(CoseError::Malformed {
                    path: "EAT.eat_nonce".into(),
                    reason: format!(
                        "{} bytes; RFC 9711 takes {EAT_NONCE_MIN}..{EAT_NONCE_MAX}",
                        n.len()
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// Parses a signed EAT without checking the signature (to pick the key by kid or iss).
    pub fn open_unverified(bytes: &[u8]) -> Result<(crate::Opened, Self), EatError> {
        let opened = open(bytes)?;
        let payload = opened
            .payload
            .as_deref()
            .ok_or_else(|| claim_err("", "detached EAT payloads are not supported"))?;
        let claims = Self::decode(payload)?;
        Ok((opened, claims))
    }

    /// Verifies a signed EAT with `key` and decodes its claims.
    pub fn verify(bytes: &[u8], key: &PublicKey) -> Result<Self, EatError> {
        let opened = open(bytes)?;
        opened.verify(key)?;
        let payload = opened
            .payload
            .as_deref()
            .ok_or_else(|| claim_err("", "detached EAT payloads are not supported"))?;
        Self::decode(payload)
    }

    /// Checks `eat_nonce` equals `expected` (freshness).
    pub fn check_nonce(&self, expected: &[u8]) -> Result<(), EatError> {
        match &self.eat_nonce {
            None => Err(EatError::Nonce("missing")),
            Some(n) if n.as_slice() == expected => Ok(()),
            Some(_) => Err(EatError::Nonce(
                "does not match the challenge or token sent",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyType, PrivateKey, SoftwareSigner};

    fn with_nonce(len: usize) -> EatClaims {
        EatClaims {
            eat_nonce: Some(vec![0x5a; len]),
            ..Default::default()
        }
    }

    #[test]
    fn sign_accepts_nonces_of_8_to_64_bytes() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        for len in [EAT_NONCE_MIN, 32, EAT_NONCE_MAX] {
            let signed = with_nonce(len).sign(&signer).unwrap();
            let back = EatClaims::verify(&signed, &signer.public_key()).unwrap();
            assert_eq!(back.eat_nonce, Some(vec![0x5a; len]));
        }
    }

    #[test]
    fn sign_rejects_nonces_outside_8_to_64_bytes() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        for len in [0, 7, 65, 512] {
            let err = with_nonce(len).sign(&signer).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("EAT.eat_nonce: {len} bytes; RFC 9711 takes 8..64")
            );
        }
    }

    #[test]
    fn sign_without_nonce_still_works() {
        let signer = SoftwareSigner::new(PrivateKey::generate(KeyType::Ed25519));
        let signed = EatClaims::default().sign(&signer).unwrap();
        let back = EatClaims::verify(&signed, &signer.public_key()).unwrap();
        assert_eq!(back.eat_nonce, None);
    }
}
