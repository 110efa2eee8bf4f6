//! What the Agent needs from the TEE it runs in: keys, identity, the installed components and
//! the SUIT Update Procedure, behind [`AgentDevice`].

use alloc::{boxed::Box, string::String, vec::Vec};
use teep_cbor::SuitDigest;
use teep_cose::{PublicKey, Signer};
use teep_proto::ComponentId;

/// Who the device says it is in its Evidence (EAT claims of §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Universal Entity ID (EAT `ueid`, first byte 0x01 = random type).
    pub ueid: Vec<u8>,
    pub oemid: Vec<u8>,
    pub hwmodel: Vec<u8>,
    pub hwversion: String,
}

/// An installed Trusted Component as reported in tc-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledTc {
    pub component_id: ComponentId,
    pub digest: [u8; 32],
    pub size: u64,
}

/// An installed SUIT manifest as the device knows it: what the Agent reports in tc-list's
/// manifest list and in its Evidence's `manifests` claim (TEEP-26 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledManifest {
    /// The manifest's own component id (suit-manifest-component-id).
    pub component_id: ComponentId,
    pub sequence_number: u64,
    /// The SUIT_Digest its authentication wrapper signs, which a SUIT_Reference carries
    /// (draft-ietf-suit-report); `None` from a device that cannot tell (then the Evidence names
    /// the manifest without a digest).
    pub digest: Option<SuitDigest>,
    /// The manifest's `suit-reference-uri`, if it carries one.
    pub reference_uri: Option<String>,
}

/// What the SUIT processor reported for one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestResult {
    /// Manifest component id (or, lacking one, the first component id) for the narration.
    pub manifest_id: ComponentId,
    pub sequence_number: u64,
    /// The encoded SUIT_Report (nonce = the Update's token).
    pub report: Vec<u8>,
}

/// A failed manifest: why, and the SUIT_Report for the TAM.
#[derive(Debug)]
pub struct ManifestFailure {
    pub error: DeviceError,
    pub report: Vec<u8>,
}

/// The cause a [`DeviceError`] carries: the device's own error, kept whole so callers can
/// inspect it (e.g. downcast to the TEE's error type) while the Agent stays independent of it.
pub type DeviceErrorCause = Box<dyn core::error::Error + Send + Sync + 'static>;

/// Why the device could not do what the Agent asked. Its text is the cause's text, which the
/// Agent passes on to the TAM in err-msg.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The TEE failed to read or change its state (component store, sealed storage, keys).
    #[error(transparent)]
    Tee(DeviceErrorCause),
    /// The SUIT processor stopped a manifest's procedure; nothing was committed.
    #[error(transparent)]
    Suit(DeviceErrorCause),
}

impl DeviceError {
    pub fn tee(cause: impl core::error::Error + Send + Sync + 'static) -> Self {
        DeviceError::Tee(Box::new(cause))
    }

    pub fn suit(cause: impl core::error::Error + Send + Sync + 'static) -> Self {
        DeviceError::Suit(Box::new(cause))
    }

    /// The device's own error.
    pub fn cause(&self) -> &(dyn core::error::Error + Send + Sync + 'static) {
        match self {
            DeviceError::Tee(c) | DeviceError::Suit(c) => c.as_ref(),
        }
    }
}

/// What the Agent needs from the TEE it runs in.
pub trait AgentDevice {
    /// The TEEP key: signs what the Agent sends; its public half goes into `cnf`.
    fn teep_signer(&self) -> &dyn Signer;
    /// The key that signs Evidence: the TEEP key itself, or a provisioned attestation key.
    fn attestation_signer(&self) -> &dyn Signer {
        self.teep_signer()
    }
    /// The X.509 chain endorsing the attestation key (leaf first, DER), sent in the EAT's
    /// `x5chain` header (RFC 9360); empty if the key is not endorsed.
    fn attestation_endorsement(&self) -> &[Vec<u8>] {
        &[]
    }
    fn identity(&self) -> DeviceIdentity;
    /// Installed Trusted Components (TC ids, not manifest ids).
    fn installed(&self) -> Result<Vec<InstalledTc>, DeviceError>;
    /// The installed manifests: component id, sequence number and, where the device can tell,
    /// digest and reference URI.
    fn installed_manifests(&self) -> Result<Vec<InstalledManifest>, DeviceError>;
    /// Runs the SUIT Update Procedure on one envelope against the TC Signer trust anchors and
    /// commits it atomically, or changes nothing.
    fn apply_manifest(
        &mut self,
        envelope: &[u8],
        tc_signers: &[PublicKey],
        nonce: Option<&[u8]>,
    ) -> Result<ManifestResult, ManifestFailure>;
    /// The TAM and TC-signer trust anchors the device holds now, when it keeps them itself
    /// (a TEE): a trust-anchor update in an Update changes them, and the embedder reloads its
    /// [`AgentConfig`](super::AgentConfig) from here. `None`: the configuration is the truth.
    fn trust_anchors(&self) -> Option<(Vec<PublicKey>, Vec<PublicKey>)> {
        None
    }
    /// Unlinks a manifest (its uninstall sequence runs when nothing else holds it).
    /// `Ok(false)`: no such manifest.
    fn unlink_manifest(&mut self, manifest_id: &ComponentId) -> Result<bool, DeviceError>;
    /// Passport model (-26 §5, RFC 9334 §5.1): an Attestation Result for `evidence` (the
    /// Agent's signed EAT, `eat_nonce` = `nonce`, the QueryRequest's token) from a Verifier
    /// this device uses, presented instead of the Evidence. `Ok(None)`, the default: no
    /// Verifier, the Evidence goes.
    fn attestation_result(
        &mut self,
        _evidence: &[u8],
        _nonce: &[u8],
    ) -> Result<Option<Vec<u8>>, DeviceError> {
        Ok(None)
    }
}
