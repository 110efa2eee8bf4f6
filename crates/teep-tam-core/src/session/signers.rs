//! Which TAM key signs what, and under which algorithm identifier.
//!
//! draft-ietf-teep-protocol-26 §8.1 (DIGEST §2.2): once the agent has chosen a cipher suite
//! (the algorithm it signed its QueryResponse with), "the selected suite is used in both
//! directions". ES256 (-7) and ESP256 (-9) are the same computation on a P-256 key, as are
//! EdDSA (-8) and Ed25519 (-19) on an Ed25519 key (DIGEST §9.7); an agent of the -12…-25 era
//! signs and verifies -7 only. So every TAM key signs under either identifier of its key type:
//! the set below holds, per key, a signer for its own algorithm and one for the other
//! identifier, built once so that picking one allocates nothing.

use alloc::{format, string::String, sync::Arc, vec::Vec};

use teep_cose::{Algorithm, KeyType, Signer};

/// How the first QueryRequest of a session on a path is signed.
///
/// -26 §8.1: until the TAM knows the agent's suite, the first QueryRequest "uses COSE_Sign with
/// multiple signatures, one for each algorithm" (DIGEST §9.6). Agents of the -12…-20 era
/// (libteep) verify only COSE_Sign1 and only ES256 (-7); a path that serves them can send that
/// instead, signed by the TAM key of the algorithm's type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum FirstQuery {
    /// COSE_Sign, one signature per TAM key: the draft-26 rule and the default.
    #[default]
    CoseSign,
    /// COSE_Sign1 with this algorithm identifier.
    Sign1(Algorithm),
}

impl FirstQuery {
    /// The spellings accepted by [`FromStr`](core::str::FromStr), for help texts.
    pub const NAMES: [&'static str; 5] = ["cose-sign", "es256", "esp256", "ed25519", "eddsa"];

    /// The spelling [`FromStr`](core::str::FromStr) reads.
    pub fn name(self) -> String {
        match self {
            FirstQuery::CoseSign => "cose-sign".into(),
            FirstQuery::Sign1(a) => a.name().to_ascii_lowercase(),
        }
    }
}

impl core::str::FromStr for FirstQuery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("cose-sign") {
            return Ok(FirstQuery::CoseSign);
        }
        Algorithm::from_name(s)
            .map(FirstQuery::Sign1)
            .ok_or_else(|| {
                format!(
                "first QueryRequest {s:?}: expected cose-sign (one signature per TAM key) or a \
                 COSE_Sign1 algorithm: es256, esp256, ed25519 or eddsa"
            )
            })
    }
}

impl TryFrom<String> for FirstQuery {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl core::fmt::Display for FirstQuery {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The TAM's keys, each reachable under both identifiers of its key type.
pub(crate) struct SignerSet {
    /// The keys as configured (one per key type), in order.
    keys: Vec<Arc<dyn Signer>>,
    /// Every (identifier, signer) pair the keys can sign under.
    by_alg: Vec<(Algorithm, Arc<dyn Signer>)>,
}

impl SignerSet {
    pub(crate) fn new(keys: Vec<Arc<dyn Signer>>) -> SignerSet {
        let mut by_alg: Vec<(Algorithm, Arc<dyn Signer>)> = Vec::new();
        for k in &keys {
            let own = k.algorithm();
            if !by_alg.iter().any(|(a, _)| *a == own) {
                by_alg.push((own, k.clone()));
            }
        }
        // Aliases after every key's own identifier, so a key configured under the alias
        // itself wins over the alias of another.
        for k in &keys {
            if let Some(alias) = k.algorithm().same_computation() {
                if !by_alg.iter().any(|(a, _)| *a == alias) {
                    let s: Arc<dyn Signer> = Arc::new(teep_cose::Relabeled {
                        inner: k.clone(),
                        algorithm: alias,
                    });
                    by_alg.push((alias, s));
                }
            }
        }
        SignerSet { keys, by_alg }
    }

    pub(crate) fn keys(&self) -> &[Arc<dyn Signer>] {
        &self.keys
    }

    /// The signer that signs under exactly `alg`, if a TAM key can.
    pub(crate) fn for_alg(&self, alg: Algorithm) -> Option<&Arc<dyn Signer>> {
        self.by_alg.iter().find(|(a, _)| *a == alg).map(|(_, s)| s)
    }

    /// The key of type `kt`, under its own identifier.
    pub(crate) fn for_key_type(&self, kt: KeyType) -> Option<&Arc<dyn Signer>> {
        self.keys.iter().find(|s| s.public_key().key_type() == kt)
    }

    /// The signer for the suite an agent selected by signing with `alg`: that identifier if
    /// a TAM key can sign under it, else the key of the same type, else the first key (the
    /// agent then cannot verify, and says so with an Error).
    pub(crate) fn for_selected(&self, alg: Algorithm) -> Option<&Arc<dyn Signer>> {
        self.for_alg(alg)
            .or_else(|| alg.key_type().and_then(|kt| self.for_key_type(kt)))
            .or_else(|| self.keys.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teep_cose::{PrivateKey, SoftwareSigner};

    fn set() -> SignerSet {
        SignerSet::new(vec![
            Arc::new(SoftwareSigner::new(
                PrivateKey::from_p256_scalar(&[0x42; 32]).unwrap(),
            )),
            Arc::new(SoftwareSigner::new(
                PrivateKey::from_ed25519_seed(&[0x43; 32]).unwrap(),
            )),
        ])
    }

    /// DIGEST §9.7: each key signs under both identifiers of its computation, and the
    /// signature made under the alias verifies as that alias.
    #[test]
    fn every_key_signs_under_both_identifiers_of_its_type() {
        let s = set();
        for (alg, kt) in [
            (Algorithm::Esp256, KeyType::P256),
            (Algorithm::Es256, KeyType::P256),
            (Algorithm::Ed25519, KeyType::Ed25519),
            (Algorithm::EdDsa, KeyType::Ed25519),
        ] {
            let signer = s.for_alg(alg).unwrap();
            assert_eq!(signer.algorithm(), alg);
            assert_eq!(signer.public_key().key_type(), kt);
            let bytes = teep_cose::sign1(b"payload", signer.as_ref()).unwrap();
            let opened = teep_cose::open(&bytes).unwrap();
            let info = opened.verify(&signer.public_key()).unwrap();
            assert_eq!(info.alg, alg);
        }
        assert!(s.for_alg(Algorithm::Unknown(-35)).is_none());
        assert_eq!(
            s.for_selected(Algorithm::Unknown(-35)).unwrap().algorithm(),
            Algorithm::Esp256,
            "an unknown suite falls back to the first key"
        );
    }

    #[test]
    fn a_tam_with_one_key_type_answers_the_other_with_its_first_key() {
        let s = SignerSet::new(vec![Arc::new(SoftwareSigner::new(
            PrivateKey::from_ed25519_seed(&[0x43; 32]).unwrap(),
        ))]);
        assert_eq!(
            s.for_selected(Algorithm::Es256).unwrap().algorithm(),
            Algorithm::Ed25519
        );
    }
}
