//! Shared by the interop tests: the captured peer messages and keys of
//! `../shared/interop/` (see `captured/README.md` there), a device, and HTTP peers that answer
//! as AttesTAM and tamproto were seen to.

#![allow(dead_code)]

pub mod http_peer;
pub mod peers;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use teep_agent::agent::AgentConfig;
use teep_agent::state::AgentState;
use teep_broker::device::TeeDevice;
use teep_broker::runner::AgentRunner;
use teep_cbor::Tolerance;
use teep_cose::{PrivateKey, PublicKey};
use teep_tee::{SoftwareTee, Tee, TrustAnchorKind};

/// A file of the peers' test data (`shared/interop/` beside the repository).
pub fn interop(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/interop")
        .join(rel)
}

/// The bytes of one captured HTTP body.
pub fn captured(name: &str) -> Vec<u8> {
    let path = interop("captured").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The SECOM test TAM key (AttesTAM's demo mode, tamproto, libteep's trust anchor).
pub fn secom_tam_key() -> PublicKey {
    PublicKey::load(&interop("libteep/testfiles/key/tam_prime256v1_pub.pem")).unwrap()
}

/// Its private half, to sign messages as those TAMs would.
pub fn secom_tam_private() -> PrivateKey {
    PrivateKey::load(&interop("libteep/testfiles/key/tam_prime256v1.pem")).unwrap()
}

/// AttesTAM's TC developer key, which signs the manifests of its Updates.
pub fn attestam_developer_key() -> PublicKey {
    PrivateKey::load(&interop("AttesTAM/doc-examples/developer_priv.pem"))
        .unwrap()
        .public_key()
}

/// A device on a software TEE in `dir` trusting `tam_keys` and `tc_signers`.
pub struct Device {
    pub tee: Arc<dyn Tee>,
    pub runner: AgentRunner<TeeDevice>,
}

impl Device {
    pub fn new(dir: &Path, tam_keys: &[PublicKey], tc_signers: &[PublicKey]) -> Device {
        Device::with_tolerance(dir, tam_keys, tc_signers, Tolerance::Tolerant)
    }

    /// A device whose Agent refuses (`Strict`) or reports (`Tolerant`) deviations.
    pub fn with_tolerance(
        dir: &Path,
        tam_keys: &[PublicKey],
        tc_signers: &[PublicKey],
        tolerance: Tolerance,
    ) -> Device {
        let tee: Arc<dyn Tee> = Arc::new(SoftwareTee::open(dir).unwrap());
        for k in tam_keys {
            tee.add_trust_anchor(TrustAnchorKind::Tam, k).unwrap();
        }
        for k in tc_signers {
            tee.add_trust_anchor(TrustAnchorKind::TcSigner, k).unwrap();
        }
        let config = AgentConfig {
            tam_trust_anchors: tee.trust_anchors(TrustAnchorKind::Tam).unwrap(),
            tc_signer_trust_anchors: tee.trust_anchors(TrustAnchorKind::TcSigner).unwrap(),
            require_tam_attestation: false,
            tolerance,
            ..Default::default()
        };
        let runner = AgentRunner::new(config, AgentState::default(), TeeDevice::new(tee.clone()))
            .with_random(|b| b.fill(7));
        Device { tee, runner }
    }
}
