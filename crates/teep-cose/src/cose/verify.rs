//! Verification of an [`Opened`] object against one key or a set of keys.

use alloc::{format, string::String, string::ToString, vec::Vec};

use coset::Header;

use super::{sig_structure, CoseKind, Opened, SignatureInfo};
use crate::provider::CryptoProvider;
use crate::{CoseError, PublicKey};

impl Opened {
    /// The `x5chain` header parameter (RFC 9360 §2, label 33), leaf first: `Ok(None)` if
    /// absent, an error naming the bucket if it is neither a bstr nor an array of bstr. The
    /// protected bucket is read first; RFC 9360 allows either.
    pub fn x5chain(&self) -> Result<Option<Vec<Vec<u8>>>, CoseError> {
        for (bucket, header) in [
            ("protected", &self.protected),
            ("unprotected", &self.unprotected),
        ] {
            let found = header
                .rest
                .iter()
                .find(|(l, _)| *l == coset::Label::Int(super::HDR_X5CHAIN));
            let Some((_, value)) = found else { continue };
            let bad = || {
                CoseError::malformed(
                    format!("COSE_Sign1.{bucket}.x5chain (label 33)"),
                    "neither a bstr nor an array of bstr (RFC 9360 section 2)",
                )
            };
            return match value {
                ciborium::Value::Bytes(b) => Ok(Some(alloc::vec![b.clone()])),
                ciborium::Value::Array(a) if !a.is_empty() => a
                    .iter()
                    .map(|c| c.as_bytes().cloned().ok_or_else(bad))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                _ => Err(bad()),
            };
        }
        Ok(None)
    }

    /// Body protected header as parsed.
    pub fn protected_header(&self) -> &Header {
        &self.protected
    }

    /// Body unprotected header as parsed.
    pub fn unprotected_header(&self) -> &Header {
        &self.unprotected
    }

    /// Body protected header bytes exactly as received.
    pub fn protected_bytes(&self) -> &[u8] {
        &self.body_protected
    }

    /// Raw signature bytes of signature `i`.
    pub fn signature_bytes(&self, i: usize) -> Option<&[u8]> {
        self.sigs.get(i).map(|s| s.signature.as_slice())
    }

    /// The to-be-signed bytes of signature `i` over `payload`.
    pub fn tbs(&self, i: usize, payload: &[u8]) -> Option<Vec<u8>> {
        let s = self.sigs.get(i)?;
        Some(match self.kind {
            CoseKind::Sign1 => sig_structure(self.kind, &self.body_protected, None, &[], payload),
            CoseKind::Sign => sig_structure(
                self.kind,
                &self.body_protected,
                Some(&s.protected),
                &[],
                payload,
            ),
        })
    }

    /// Verifies with `key` through the default provider; returns the signature that verified.
    /// When a signature's kid equals the key's thumbprint only that one is tried, otherwise
    /// every signature whose algorithm fits the key.
    pub fn verify(&self, key: &PublicKey) -> Result<&SignatureInfo, CoseError> {
        self.verify_with(key, crate::default_provider())
    }

    /// [`Opened::verify`] with an explicit provider.
    pub fn verify_with(
        &self,
        key: &PublicKey,
        provider: &dyn CryptoProvider,
    ) -> Result<&SignatureInfo, CoseError> {
        let payload = self.payload.as_deref().ok_or(CoseError::Payload(
            "payload is detached (nil); use verify_detached",
        ))?;
        self.verify_payload(payload, key, provider)
    }

    /// Verifies a detached payload (SUIT: the bstr-wrapped digest).
    pub fn verify_detached(
        &self,
        payload: &[u8],
        key: &PublicKey,
    ) -> Result<&SignatureInfo, CoseError> {
        self.verify_detached_with(payload, key, crate::default_provider())
    }

    /// [`Opened::verify_detached`] with an explicit provider.
    pub fn verify_detached_with(
        &self,
        payload: &[u8],
        key: &PublicKey,
        provider: &dyn CryptoProvider,
    ) -> Result<&SignatureInfo, CoseError> {
        if self.payload.is_some() {
            return Err(CoseError::Payload(
                "payload is attached; use verify, not verify_detached",
            ));
        }
        self.verify_payload(payload, key, provider)
    }

    /// Tries each key (those whose thumbprint matches a kid first); returns the key and the
    /// signature that verified.
    pub fn verify_any<'k>(
        &self,
        keys: &'k [PublicKey],
    ) -> Result<(&'k PublicKey, &SignatureInfo), CoseError> {
        let payload = self.payload.as_deref().ok_or(CoseError::Payload(
            "payload is detached (nil); use verify_detached",
        ))?;
        let provider = crate::default_provider();
        let kid_match = |k: &PublicKey| {
            let t = k.thumbprint();
            self.signatures
                .iter()
                .any(|s| s.kid.as_deref() == Some(&t[..]))
        };
        let ordered = keys
            .iter()
            .filter(|k| kid_match(k))
            .chain(keys.iter().filter(|k| !kid_match(k)));
        let mut last = None;
        for k in ordered {
            match self.verify_payload(payload, k, provider) {
                Ok(s) => return Ok((k, s)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| CoseError::NoMatchingSignature("no keys given".into())))
    }

    fn verify_payload(
        &self,
        payload: &[u8],
        key: &PublicKey,
        provider: &dyn CryptoProvider,
    ) -> Result<&SignatureInfo, CoseError> {
        let kt = key.key_type();
        let thumb = key.thumbprint();
        let compatible: Vec<usize> = (0..self.signatures.len())
            .filter(|&i| self.signatures[i].alg.key_type() == Some(kt))
            .collect();
        if compatible.is_empty() {
            let algs: Vec<String> = self.signatures.iter().map(|s| s.alg.to_string()).collect();
            return Err(CoseError::NoMatchingSignature(format!(
                "no signature usable with a {kt} key (signatures: {})",
                algs.join(", ")
            )));
        }
        let by_kid: Vec<usize> = compatible
            .iter()
            .copied()
            .filter(|&i| self.signatures[i].kid.as_deref() == Some(&thumb[..]))
            .collect();
        let candidates = if by_kid.is_empty() {
            compatible
        } else {
            by_kid
        };
        let mut last = CoseError::BadSignature("no candidate");
        for i in candidates {
            let s = &self.sigs[i];
            let sign_prot = match self.kind {
                CoseKind::Sign1 => None,
                CoseKind::Sign => Some(s.protected.as_slice()),
            };
            let tbs = sig_structure(self.kind, &self.body_protected, sign_prot, &[], payload);
            match provider.verify(key, self.signatures[i].alg, &tbs, &s.signature) {
                Ok(()) => return Ok(&self.signatures[i]),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}
