//! Which Verifier appraises Evidence (RFC 9334 background-check model): the core's built-in
//! appraisal, or a remote Verifier the server asks between `inspect` and `handle_message`
//! (the core is sans-IO), handing its verdict to the core in `Context::verifier`. Either way
//! the core then checks freshness, `cnf`, the TEEP profile's claims and the appraisal policy.
//! See docs/attestation/verifier.md.

pub mod ear;
pub mod veraison;

use teep_tam_core::attest::{EvidenceForVerifier, VerifierVerdict};

/// A Verifier of Evidence.
pub trait Verifier: Send + Sync {
    /// The verdict on `e`, or `None` when the core's own appraisal decides. Blocking: it may
    /// do network I/O (the server calls it on the blocking pool).
    fn appraise(&self, e: &EvidenceForVerifier) -> Option<VerifierVerdict>;
    /// Whether [`appraise`](Self::appraise) may say anything: `false` spares the hot path the
    /// copy of the Evidence and the trip to the blocking pool.
    fn is_remote(&self) -> bool {
        true
    }
}

/// The core's built-in appraisal: the Evidence's signature by the device's attestation key.
pub struct Builtin;

impl Verifier for Builtin {
    fn appraise(&self, _: &EvidenceForVerifier) -> Option<VerifierVerdict> {
        None
    }
    fn is_remote(&self) -> bool {
        false
    }
}

impl Verifier for veraison::Veraison {
    fn appraise(&self, e: &EvidenceForVerifier) -> Option<VerifierVerdict> {
        Some(veraison::Veraison::appraise(self, e))
    }
}

/// The Verifier `config` names.
pub fn from_config(config: &crate::config::Config) -> Result<std::sync::Arc<dyn Verifier>, String> {
    use crate::config::VerifierChoice;
    match config.verifier {
        VerifierChoice::Builtin => Ok(std::sync::Arc::new(Builtin)),
        VerifierChoice::Veraison => {
            let v = &config.veraison;
            let key_path = v.ear_key.as_ref().ok_or("veraison.ear_key: required")?;
            let ear_key = teep_cose::PublicKey::load(key_path)
                .map_err(|e| format!("veraison.ear_key {}: {e}", key_path.display()))?;
            let ca_pem = match &v.ca {
                Some(p) => Some(
                    std::fs::read(p).map_err(|e| format!("veraison.ca {}: {e}", p.display()))?,
                ),
                None => None,
            };
            let client = veraison::Veraison::new(veraison::VeraisonOptions {
                url: v.url.clone().ok_or("veraison.url: required")?,
                ear_key,
                timeout: v.timeout(),
                ca_pem,
                max_response: v.max_response,
            })?;
            Ok(std::sync::Arc::new(client))
        }
    }
}
