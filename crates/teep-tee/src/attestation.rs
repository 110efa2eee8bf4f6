//! The software TEE's attestation key: a key apart from the TEEP key that signs only
//! Evidence, created when the device is provisioned, with the endorsement a manufacturer's
//! CA issued for it (an X.509 chain, leaf first, sent in `x5chain`, RFC 9360). A device not
//! provisioned has neither and signs Evidence with its TEEP key, as before.

use std::sync::Arc;

use teep_cose::{KeyType, PrivateKey, PublicKey, Signer, SoftwareSigner};

use crate::sealed::{SealedOp, SealedStore};
use crate::{SoftwareTee, TeeError};

const DEVICE_NS: &str = "tee.device";
const ATTESTATION_KEY_NAME: &[u8] = b"attestation-key";
const ENDORSEMENT_NAME: &[u8] = b"attestation-endorsement";

/// The attestation signer and its endorsement chain, once provisioned.
#[derive(Clone)]
pub(crate) struct Attestation {
    pub signer: Arc<dyn Signer>,
    pub chain: Vec<Vec<u8>>,
}

fn signer(sealed: &SealedStore, key: PrivateKey) -> Result<Arc<dyn Signer>, TeeError> {
    let alg = key.default_algorithm();
    Ok(Arc::new(
        SoftwareSigner::with_provider(key, alg, sealed.provider())
            .map_err(|e| TeeError::corrupt("sealed attestation key", e.to_string()))?,
    ))
}

fn load_key(sealed: &SealedStore) -> Result<Option<PrivateKey>, TeeError> {
    sealed
        .get_locked(DEVICE_NS, ATTESTATION_KEY_NAME)?
        .map(|b| {
            PrivateKey::from_bytes_any(&b)
                .map_err(|e| TeeError::corrupt("sealed attestation key", e.to_string()))
        })
        .transpose()
}

/// The provisioned attestation key and endorsement, if any.
pub(crate) fn load(sealed: &SealedStore) -> Result<Option<Attestation>, TeeError> {
    let _guard = sealed.lock()?;
    let Some(key) = load_key(sealed)? else {
        return Ok(None);
    };
    let chain = match sealed.get_locked(DEVICE_NS, ENDORSEMENT_NAME)? {
        Some(b) => minicbor::decode::<Vec<minicbor::bytes::ByteVec>>(&b)
            .map_err(|e| TeeError::corrupt("sealed attestation endorsement", e.to_string()))?
            .into_iter()
            .map(Vec::from)
            .collect(),
        None => Vec::new(),
    };
    Ok(Some(Attestation {
        signer: signer(sealed, key)?,
        chain,
    }))
}

/// The attestation key's public half, creating the key (of type `kt`) on first use.
pub(crate) fn ensure_key(sealed: &SealedStore, kt: KeyType) -> Result<PublicKey, TeeError> {
    let _guard = sealed.lock()?;
    if let Some(key) = load_key(sealed)? {
        return Ok(key.public_key());
    }
    let key = PrivateKey::generate_with(kt, sealed.provider())
        .map_err(|source| TeeError::crypto("attestation key generation", source))?;
    sealed.commit_locked(&[SealedOp {
        namespace: DEVICE_NS.into(),
        name: ATTESTATION_KEY_NAME.to_vec(),
        value: Some(key.to_pkcs8_pem().into_bytes()),
    }])?;
    tracing::info!("software TEE: created {kt:?} attestation key");
    Ok(key.public_key())
}

/// Stores the endorsement chain (leaf first); the leaf must certify the attestation key.
pub(crate) fn set_endorsement(sealed: &SealedStore, chain: &[Vec<u8>]) -> Result<(), TeeError> {
    let _guard = sealed.lock()?;
    let key = load_key(sealed)?.ok_or_else(|| TeeError::Invalid {
        what: "attestation endorsement".into(),
        rule: "the device has no attestation key yet (read its public key first)".into(),
    })?;
    let leaf = chain.first().ok_or_else(|| TeeError::Invalid {
        what: "attestation endorsement".into(),
        rule: "the chain holds no certificate".into(),
    })?;
    let certified =
        teep_cose::x509::certificate_public_key(leaf).map_err(|e| TeeError::Invalid {
            what: "attestation endorsement leaf".into(),
            rule: e.to_string(),
        })?;
    if certified != key.public_key() {
        return Err(TeeError::Invalid {
            what: "attestation endorsement".into(),
            rule: "the leaf certificate is not for this device's attestation key".into(),
        });
    }
    let list: Vec<minicbor::bytes::ByteVec> = chain.iter().cloned().map(Into::into).collect();
    let bytes = minicbor::to_vec(&list)
        .map_err(|e| TeeError::corrupt("attestation endorsement", e.to_string()))?;
    sealed.commit_locked(&[SealedOp {
        namespace: DEVICE_NS.into(),
        name: ENDORSEMENT_NAME.to_vec(),
        value: Some(bytes),
    }])
}

impl SoftwareTee {
    /// The attestation key's public half, for a manufacturer's CA to certify; creates the key
    /// (of `kt`) on first use. Until an endorsement is stored the TEEP key signs Evidence.
    pub fn attestation_public_key(&self, kt: KeyType) -> Result<PublicKey, TeeError> {
        ensure_key(&self.sealed, kt)
    }

    /// Stores the endorsement of the attestation key (X.509 chain, leaf first, without the
    /// root); from now on Evidence is signed by the attestation key and carries the chain.
    pub fn set_attestation_endorsement(&self, chain: &[Vec<u8>]) -> Result<(), TeeError> {
        set_endorsement(&self.sealed, chain)?;
        *self.attestation.lock().unwrap_or_else(|p| p.into_inner()) = load(&self.sealed)?;
        Ok(())
    }
}
