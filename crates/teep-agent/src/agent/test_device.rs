//! Test doubles (feature `test-util`): a device that fails on purpose, and a TAM that asks it
//! one QueryRequest. The device installs nothing: an Update's manifests fail with a device
//! error, so tests and fuzz targets reach the Agent's Update path without a TEE.

use alloc::{boxed::Box, vec, vec::Vec};

use teep_cose::{Algorithm, CoseError, PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::{CipherSuite, ComponentId, DataItems, Numbering, QueryRequest, TeepMessage};

use super::device::{
    AgentDevice, DeviceError, DeviceIdentity, InstalledManifest, InstalledTc, ManifestFailure,
    ManifestResult,
};
use super::{Agent, AgentConfig, Outcome};
use crate::state::AgentState;

/// A signer whose key is gone: every signature fails.
pub struct KeyGone(pub SoftwareSigner);

impl Signer for KeyGone {
    fn algorithm(&self) -> Algorithm {
        self.0.algorithm()
    }
    fn kid(&self) -> Vec<u8> {
        self.0.kid()
    }
    fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, CoseError> {
        Err(CoseError::Crypto("key unavailable".into()))
    }
}

/// Why the test device fails.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("sealed store unreadable")]
    StoreUnreadable,
    #[error("test device: installs nothing")]
    InstallsNothing,
}

/// A device whose store cannot be read, or whose key cannot sign (wrap the signer in
/// [`KeyGone`]).
pub struct Broken {
    pub signer: Box<dyn Signer>,
    pub store_readable: bool,
}

impl AgentDevice for Broken {
    fn teep_signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }
    fn identity(&self) -> DeviceIdentity {
        DeviceIdentity {
            ueid: vec![1; 17],
            oemid: vec![2; 3],
            hwmodel: b"test".to_vec(),
            hwversion: "1".into(),
        }
    }
    fn installed(&self) -> Result<Vec<InstalledTc>, DeviceError> {
        if self.store_readable {
            Ok(Vec::new())
        } else {
            Err(DeviceError::tee(Failure::StoreUnreadable))
        }
    }
    fn installed_manifests(&self) -> Result<Vec<InstalledManifest>, DeviceError> {
        Ok(Vec::new())
    }
    fn apply_manifest(
        &mut self,
        _: &[u8],
        _: &[PublicKey],
        _: Option<&[u8]>,
    ) -> Result<ManifestResult, ManifestFailure> {
        Err(ManifestFailure {
            error: DeviceError::tee(Failure::InstallsNothing),
            report: Vec::new(),
        })
    }
    fn unlink_manifest(&mut self, _: &ComponentId) -> Result<bool, DeviceError> {
        Ok(false)
    }
}

/// A P-256 signer whose scalar is `seed` repeated.
pub fn signer(seed: u8) -> SoftwareSigner {
    SoftwareSigner::new(PrivateKey::from_p256_scalar(&[seed; 32]).unwrap())
}

/// A QueryRequest from the TAM key of seed 0x11 to `device`.
pub fn ask(device: &mut Broken) -> Outcome {
    ask_with(
        device,
        Numbering::Draft26,
        DataItems(DataItems::TRUSTED_COMPONENTS),
    )
}

/// [`ask`] in numbering `numbering`, asking for `data_items`.
pub fn ask_with(device: &mut Broken, numbering: Numbering, data_items: DataItems) -> Outcome {
    let tam = signer(0x11);
    let config = AgentConfig {
        tam_trust_anchors: vec![tam.public_key()],
        ..Default::default()
    };
    let qr = TeepMessage::QueryRequest(QueryRequest {
        token: Some(vec![4; 16]),
        supported_cipher_suites: vec![CipherSuite::SIGN1_ESP256],
        supported_suit_cose_profiles: vec![teep_proto::SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
        data_item_requested: data_items,
        ..Default::default()
    });
    let bytes = teep_cose::sign1(&qr.encode(numbering), &tam).unwrap();
    let mut state = AgentState::default();
    Agent::new(&config, &mut state, device).handle_message("http://tam", &bytes, &mut |b| b.fill(0))
}
