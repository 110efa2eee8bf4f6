//! The `Tee` trait: what the TEEP Agent needs from a Trusted Execution Environment. The
//! software TEE ([`crate::SoftwareTee`]) implements it; an OP-TEE or SGX backend would implement
//! the same methods over its own secure storage, key store and TA loader.

use std::sync::Arc;

use teep_cose::{PrivateKey, PublicKey, Signer};

use crate::components::{ComponentBatch, ComponentId, ComponentInfo, ManifestRecord};
use crate::TeeError;

/// Device identity claims for the EAT (RFC 9711) the Agent sends as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Universal Entity ID: type byte 0x01 (RAND) followed by 32 random bytes in the software
    /// TEE.
    pub ueid: Vec<u8>,
    /// OEM id (EAT `oemid`, a byte string).
    pub oemid: Vec<u8>,
    /// Hardware model (EAT `hwmodel`).
    pub hwmodel: Vec<u8>,
    /// Hardware version (EAT `hwversion`, text).
    pub hwversion: String,
}

/// Which kind of trust anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustAnchorKind {
    /// Keys of TAMs whose TEEP messages the Agent accepts.
    Tam,
    /// Keys of Trusted Component signers whose SUIT manifests the Agent installs.
    TcSigner,
}

impl TrustAnchorKind {
    pub fn name(self) -> &'static str {
        match self {
            TrustAnchorKind::Tam => "tam",
            TrustAnchorKind::TcSigner => "tc-signer",
        }
    }
}

/// Identifies an open TA session.
pub type SessionId = u64;

/// A Trusted Execution Environment as seen by the TEEP Agent. Object safe: use it as
/// `Arc<dyn Tee>`. All methods take `&self`; implementations synchronise internally.
pub trait Tee: Send + Sync {
    // --- identity and keys -------------------------------------------------------------

    /// Identity claims for the EAT.
    fn identity(&self) -> DeviceIdentity;

    /// The key the Agent signs TEEP messages with. The private key never leaves the TEE.
    fn teep_signer(&self) -> Arc<dyn Signer>;

    /// The key that signs attestation evidence. By default the TEEP key itself (so a TAM in
    /// open enrollment learns one key from the EAT's `cnf` and checks both signatures with it).
    fn attestation_signer(&self) -> Arc<dyn Signer> {
        self.teep_signer()
    }

    /// The X.509 chain endorsing the attestation key (leaf first, DER; RFC 9360 `x5chain`),
    /// empty if the attestation key is not endorsed.
    fn attestation_endorsement(&self) -> Vec<Vec<u8>> {
        Vec::new()
    }

    /// Public half of the device's payload-decryption key (P-256, for SUIT ECDH-ES+A128KW), which
    /// TC signers encrypt personalization data to. `None` if this TEE has no such key.
    fn payload_encryption_key(&self) -> Option<PublicKey> {
        None
    }

    /// The payload-decryption private key, for the SUIT processor that runs inside the TEE
    /// (teep-suit's processor takes keys, not a decryption operation). Never send it out of the
    /// TEE or store it outside sealed storage.
    fn payload_decryption_key(&self) -> Option<PrivateKey> {
        None
    }

    // --- trust anchors (kept sealed) ----------------------------------------------------

    /// The trust anchors of one kind, in the order they were added.
    fn trust_anchors(&self, kind: TrustAnchorKind) -> Result<Vec<PublicKey>, TeeError>;

    /// Adds a trust anchor; returns false if it was already present.
    fn add_trust_anchor(&self, kind: TrustAnchorKind, key: &PublicKey) -> Result<bool, TeeError>;

    /// Removes a trust anchor; returns false if it was not present.
    fn remove_trust_anchor(&self, kind: TrustAnchorKind, key: &PublicKey)
        -> Result<bool, TeeError>;

    // --- the Agent's own sealed records ---------------------------------------------------

    /// Reads a sealed record of the Agent (`name`: 1..=100 bytes). TAs cannot reach these.
    fn agent_get(&self, name: &str) -> Result<Option<Vec<u8>>, TeeError>;

    /// Writes a sealed record of the Agent atomically.
    fn agent_put(&self, name: &str, value: &[u8]) -> Result<(), TeeError>;

    /// Deletes a sealed record of the Agent (no error if absent).
    fn agent_delete(&self, name: &str) -> Result<(), TeeError>;

    // --- component store -------------------------------------------------------------------

    /// The bytes of an installed component, integrity checked; `None` if not installed.
    fn component(&self, id: &[Vec<u8>]) -> Result<Option<Vec<u8>>, TeeError>;

    /// Size and SHA-256 digest of an installed component.
    fn component_info(&self, id: &[Vec<u8>]) -> Result<Option<ComponentInfo>, TeeError>;

    /// All installed components.
    fn list_components(&self) -> Result<Vec<ComponentInfo>, TeeError>;

    /// The record of a processed manifest, by its manifest component id.
    fn manifest(
        &self,
        manifest_component_id: &[Vec<u8>],
    ) -> Result<Option<ManifestRecord>, TeeError>;

    /// All manifest records.
    fn list_manifests(&self) -> Result<Vec<ManifestRecord>, TeeError>;

    /// Applies a batch atomically: all of it, or (on error or crash) none of it.
    fn commit_components(&self, batch: &ComponentBatch) -> Result<(), TeeError>;

    // --- TA runtime (GlobalPlatform-like lifecycle) ---------------------------------------

    /// Loads the installed TA `ta` and opens a session with it.
    fn open_session(&self, ta: &[Vec<u8>]) -> Result<SessionId, TeeError>;

    /// Invokes `command` with `args` in a session; returns what the TA set as its result.
    fn invoke(&self, session: SessionId, command: u32, args: &[u8]) -> Result<Vec<u8>, TeeError>;

    /// Closes a session (calls the TA's `close_session`).
    fn close_session(&self, session: SessionId) -> Result<(), TeeError>;

    /// Open, invoke once, close.
    fn invoke_once(&self, ta: &[Vec<u8>], command: u32, args: &[u8]) -> Result<Vec<u8>, TeeError> {
        let session = self.open_session(ta)?;
        let result = self.invoke(session, command, args);
        match self.close_session(session) {
            Ok(()) | Err(TeeError::NoSession(_)) => result,
            Err(e) => result.and(Err(e)),
        }
    }
}

/// Convenience: a component id from text segments (`id(&["TEEP-Device", "hello"])`).
pub fn component_id(segments: &[&str]) -> ComponentId {
    segments.iter().map(|s| s.as_bytes().to_vec()).collect()
}
