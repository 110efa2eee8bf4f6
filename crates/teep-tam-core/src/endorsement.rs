//! Endorsed attestation keys: the X.509 chain in the Evidence's `x5chain` header (RFC 9360
//! §2, leaf first) must lead from the key that signed the EAT to an endorsement root the TAM
//! trusts (a device manufacturer's CA; RFC 9334 §7.1 Endorser). The roots and `now` come in
//! as arguments: the core keeps no clock and no store.
//!
//! Path validation is rustls-webpki's: no_std + alloc, maintained with rustls, and it checks
//! what a chain needs (every signature, validity at `now`, basicConstraints cA for issuers
//! and path length, name chaining, name constraints) without pulling a second ASN.1 stack.
//! Its signature algorithms are a trait, so every signature here is verified by teep-cose's
//! provider, like every other signature in the TAM. x509-cert + our own path rules was the
//! alternative; it would have meant re-implementing exactly the checks webpki is known for.
//! webpki ignores the keyUsage extension; [`check_key_usage`] adds it (digitalSignature on
//! the leaf, keyCertSign on issuers, when the extension is present).
//!
//! Cost: a verified signature is remembered (with `std`; see [`SignatureMemo`]), so a chain
//! seen before costs no signature, and a new device's leaf under a known intermediate costs
//! one: the leaf's. The Evidence signature by the leaf key replaces the one the TEEP key
//! made before, so an endorsed device costs one verification more than a trust-on-first-use
//! one, once.

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};
use core::time::Duration;

use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    UnixTime,
};
use teep_cose::{Algorithm, PublicKey};

/// Why a chain does not endorse the attestation key; the text goes into the err-msg.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("no endorsement root is configured")]
    NoRoots,
    #[error("no x5chain: open enrollment takes an endorsed attestation key (RFC 9360)")]
    Missing,
    #[error("x5chain: {0}")]
    Header(String),
    #[error("x5chain: {0}")]
    Path(&'static str),
    #[error("x5chain: {0}")]
    Other(String),
    /// A certificate offered as an endorsement root is not one.
    #[error("root certificate: {0}")]
    Root(String),
}

/// Which key types a chain may use (the ones teep-cose verifies).
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    P256,
    Ed25519,
}

/// A verified-signature memo: SHA-256 over (key, message, signature) of each signature that
/// verified, so a chain presented again (every device under one intermediate presents the
/// intermediate's certificate) costs no verification. Bounded; when full an eighth of the
/// entries, in hash order, make room. Without `std` there is no lock to share it behind and
/// every signature is verified.
#[derive(Debug, Default)]
pub struct SignatureMemo {
    #[cfg(feature = "std")]
    seen: std::sync::Mutex<std::collections::HashSet<[u8; 32]>>,
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    capacity: usize,
}

/// Default of [`SignatureMemo`]'s capacity: issuer signatures of many fleets, 32 B each.
pub const DEFAULT_SIGNATURE_MEMO: usize = 16 * 1024;

impl SignatureMemo {
    pub fn new(capacity: usize) -> Self {
        SignatureMemo {
            capacity,
            ..Default::default()
        }
    }

    fn fingerprint(key: &[u8], message: &[u8], signature: &[u8]) -> [u8; 32] {
        let mut buf = Vec::with_capacity(key.len() + signature.len() + 48);
        for part in [key, signature] {
            buf.extend_from_slice(&(part.len() as u32).to_be_bytes());
            buf.extend_from_slice(part);
        }
        buf.extend_from_slice(&teep_cose::sha256(message));
        teep_cose::sha256(&buf)
    }

    #[cfg(feature = "std")]
    fn contains(&self, f: &[u8; 32]) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(f)
    }

    #[cfg(feature = "std")]
    fn insert(&self, f: [u8; 32]) {
        if self.capacity == 0 {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= self.capacity {
            let victims: Vec<[u8; 32]> = seen.iter().take(self.capacity / 8 + 1).copied().collect();
            for v in victims {
                seen.remove(&v);
            }
        }
        seen.insert(f);
    }

    #[cfg(not(feature = "std"))]
    fn contains(&self, _f: &[u8; 32]) -> bool {
        false
    }

    #[cfg(not(feature = "std"))]
    fn insert(&self, _f: [u8; 32]) {}

    /// How many verified signatures are remembered.
    pub fn len(&self) -> usize {
        #[cfg(feature = "std")]
        {
            self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
        }
        #[cfg(not(feature = "std"))]
        {
            0
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A webpki signature algorithm verified by teep-cose's provider, through the memo.
#[derive(Debug)]
struct ProviderAlgorithm<'m> {
    kind: KeyKind,
    memo: &'m SignatureMemo,
}

impl SignatureVerificationAlgorithm for ProviderAlgorithm<'_> {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let f = SignatureMemo::fingerprint(public_key, message, signature);
        if self.memo.contains(&f) {
            return Ok(());
        }
        let ok = match self.kind {
            KeyKind::P256 => {
                let raw = teep_cose::x509::ecdsa_der_to_raw(signature).ok_or(InvalidSignature)?;
                PublicKey::from_p256_sec1(public_key)
                    .map_err(|_| InvalidSignature)?
                    .verify(Algorithm::Es256, message, &raw)
            }
            KeyKind::Ed25519 => PublicKey::from_ed25519_bytes(public_key)
                .map_err(|_| InvalidSignature)?
                .verify(Algorithm::Ed25519, message, signature),
        };
        ok.map_err(|_| InvalidSignature)?;
        self.memo.insert(f);
        Ok(())
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        match self.kind {
            KeyKind::P256 => alg_id::ECDSA_P256,
            KeyKind::Ed25519 => alg_id::ED25519,
        }
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        match self.kind {
            KeyKind::P256 => alg_id::ECDSA_SHA256,
            KeyKind::Ed25519 => alg_id::ED25519,
        }
    }
}

/// Extended key usage: an attestation key has no registered purpose, so any (or none) is
/// accepted; what the key may do is checked through keyUsage.
struct AnyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, _iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        Ok(())
    }
}

/// What a root certificate must be to be configured: a DER certificate webpki takes as a
/// trust anchor, of a P-256 or Ed25519 key, self-issued, and allowed to sign certificates.
pub fn check_root(der: &[u8]) -> Result<PublicKey, ChainError> {
    let cert = CertificateDer::from(der);
    let root = |why: &str| ChainError::Root(why.into());
    webpki::anchor_from_trusted_cert(&cert)
        .map_err(|e| ChainError::Root(format!("not a usable X.509 certificate ({e:?})")))?;
    let key = teep_cose::x509::certificate_public_key(der)
        .map_err(|e| ChainError::Root(e.to_string()))?;
    if !teep_cose::x509::is_self_issued(der) {
        return Err(root(
            "must be self-issued (a CA's own root, not an intermediate or a device certificate)",
        ));
    }
    match teep_cose::x509::key_usage(der) {
        Ok(Some(ku)) if ku & teep_cose::x509::KEY_USAGE_KEY_CERT_SIGN == 0 => {
            Err(root("keyUsage lacks keyCertSign"))
        }
        Err(()) => Err(root("keyUsage does not parse")),
        _ => Ok(key),
    }
}

/// keyUsage (RFC 5280 §4.2.1.3), where present: digitalSignature on the leaf (it signs the
/// EAT), keyCertSign on every issuer in the chain.
fn check_key_usage(chain: &[Vec<u8>]) -> Result<(), ChainError> {
    for (i, cert) in chain.iter().enumerate() {
        let (need, why) = if i == 0 {
            (
                teep_cose::x509::KEY_USAGE_DIGITAL_SIGNATURE,
                "leaf keyUsage lacks digitalSignature",
            )
        } else {
            (
                teep_cose::x509::KEY_USAGE_KEY_CERT_SIGN,
                "issuer keyUsage lacks keyCertSign",
            )
        };
        match teep_cose::x509::key_usage(cert) {
            Ok(Some(ku)) if ku & need == 0 => return Err(ChainError::Path(why)),
            Err(()) => return Err(ChainError::Path("keyUsage does not parse")),
            _ => {}
        }
    }
    Ok(())
}

fn path_error(e: &webpki::Error) -> ChainError {
    use webpki::Error as E;
    ChainError::Path(match e {
        E::CertExpired { .. } => "a certificate has expired",
        E::CertNotValidYet { .. } => "a certificate is not valid yet",
        E::UnknownIssuer => "does not chain to a trusted endorsement root",
        E::InvalidSignatureForPublicKey | E::InvalidCertValidity => {
            "a certificate signature does not verify"
        }
        E::CaUsedAsEndEntity => "the leaf is a CA certificate",
        E::EndEntityUsedAsCa => "an issuer is not a CA (basicConstraints)",
        E::PathLenConstraintViolated => "path length constraint violated",
        E::BadDer | E::BadDerTime | E::TrailingData(_) => "a certificate is not valid DER",
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "a signature algorithm other than ECDSA P-256/SHA-256 or Ed25519"
        }
        E::MaximumPathBuildCallsExceeded | E::MaximumSignatureChecksExceeded => {
            "path building gave up"
        }
        _ => "not a valid certificate path",
    })
}

/// Checks that `chain` (leaf first, as `x5chain` carries it) leads to one of `roots` (DER
/// certificates) at `now_ms`, and returns the leaf's key: the attestation key that must
/// have signed the EAT.
pub fn verify_chain(
    chain: &[Vec<u8>],
    roots: &[Vec<u8>],
    now_ms: i64,
    memo: &SignatureMemo,
) -> Result<PublicKey, ChainError> {
    if roots.is_empty() {
        return Err(ChainError::NoRoots);
    }
    let leaf = chain.first().ok_or(ChainError::Missing)?;
    let root_ders: Vec<CertificateDer<'_>> = roots
        .iter()
        .map(|r| CertificateDer::from(r.as_slice()))
        .collect();
    let anchors: Vec<_> = root_ders
        .iter()
        .filter_map(|r| webpki::anchor_from_trusted_cert(r).ok())
        .collect();
    let leaf_der = CertificateDer::from(leaf.as_slice());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|_| ChainError::Path("the leaf is not a valid X.509 certificate"))?;
    let intermediates: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let p256 = ProviderAlgorithm {
        kind: KeyKind::P256,
        memo,
    };
    let ed25519 = ProviderAlgorithm {
        kind: KeyKind::Ed25519,
        memo,
    };
    let algs: [&dyn SignatureVerificationAlgorithm; 2] = [&p256, &ed25519];
    let time = UnixTime::since_unix_epoch(Duration::from_millis(now_ms.max(0) as u64));
    end_entity
        .verify_for_usage(
            &algs,
            &anchors,
            &intermediates,
            time,
            AnyPurpose,
            None,
            None,
        )
        .map_err(|e| path_error(&e))?;
    check_key_usage(chain)?;
    teep_cose::x509::certificate_public_key(leaf)
        .map_err(|e| ChainError::Other(format!("leaf key: {e}")))
}

#[cfg(test)]
#[path = "endorsement_tests.rs"]
mod tests;
