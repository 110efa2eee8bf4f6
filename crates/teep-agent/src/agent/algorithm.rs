//! Answering each TAM in kind: the algorithm id it understands (ESP256 vs ES256, Ed25519 vs
//! EdDSA: one key, two labels), the numbering it spoke and where it put its kid, remembered per
//! TAM URI.

use alloc::{vec, vec::Vec};
use teep_cose::{Algorithm, KeyType};
use teep_proto::{CipherSuite, Numbering};

use super::Agent;

/// How a reply is signed: the TAM's numbering, the algorithm id it understands and the header
/// bucket it reads the kid from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Answering {
    pub numbering: Numbering,
    pub algorithm: Algorithm,
    /// Kid in the unprotected header (RFC 9052 §3.1 allows either), as the TAM put its own.
    pub kid_unprotected: bool,
}

impl Agent<'_> {
    /// What the last QueryRequest of this TAM taught; draft-26, our own label and a protected
    /// kid otherwise.
    pub(super) fn remembered_answering(&self, tam_uri: &str) -> Answering {
        let signer_alg = self.device.teep_signer().algorithm();
        match self.state.tam_profiles.get(tam_uri) {
            Some(p) => Answering {
                numbering: p.numbering(),
                algorithm: compatible_alg(signer_alg, Algorithm::from_cose(p.algorithm))
                    .unwrap_or(signer_alg),
                kid_unprotected: p.kid_unprotected,
            },
            None => Answering {
                numbering: Numbering::Draft26,
                algorithm: signer_alg,
                kid_unprotected: false,
            },
        }
    }

    /// Our cipher suites, in the numbering of the algorithm family our key belongs to.
    pub(super) fn our_cipher_suites(&self) -> Vec<CipherSuite> {
        match self.device.teep_signer().public_key().key_type() {
            KeyType::P256 => vec![CipherSuite::SIGN1_ESP256, CipherSuite::SIGN1_ES256],
            KeyType::Ed25519 => vec![CipherSuite::SIGN1_ED25519, CipherSuite::SIGN1_EDDSA],
        }
    }

    /// The first of the TAM's suites our key can sign, preferring the id the TAM signed with.
    pub(super) fn pick_algorithm(
        &self,
        suites: &[CipherSuite],
        tam_alg: Algorithm,
    ) -> Option<Algorithm> {
        let ours = self.device.teep_signer().algorithm();
        if suites.is_empty() {
            // Nothing offered: answer with what the TAM itself used, if our key fits it.
            return compatible_alg(ours, tam_alg).or(Some(ours));
        }
        let offered: Vec<Algorithm> = suites
            .iter()
            .filter_map(|s| s.sign1_alg())
            .map(Algorithm::from_cose)
            .collect();
        if let Some(a) = compatible_alg(ours, tam_alg).filter(|a| offered.contains(a)) {
            return Some(a);
        }
        offered.into_iter().find_map(|a| compatible_alg(ours, a))
    }
}

/// The id under which a key of `ours` signs when the peer expects `wanted`: ES256 and ESP256
/// (and EdDSA and Ed25519) are the same computation under two ids.
pub fn compatible_alg(ours: Algorithm, wanted: Algorithm) -> Option<Algorithm> {
    match (ours.key_type(), wanted) {
        (Some(KeyType::P256), Algorithm::Esp256 | Algorithm::Es256) => Some(wanted),
        (Some(KeyType::Ed25519), Algorithm::Ed25519 | Algorithm::EdDsa) => Some(wanted),
        _ => None,
    }
}
