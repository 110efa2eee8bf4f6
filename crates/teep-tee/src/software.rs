//! The software TEE: a state directory holding a device root secret, sealed storage, the
//! component store and the TA runtime. Real isolation for TAs comes from the Wasm sandbox; the
//! keys are protected only by file permissions (see [`crate::sealed`] on the root secret).
//!
//! State directory layout:
//!
//! ```text
//! <state_dir>/
//!   device-root.key        32-byte device root secret, mode 0600 (software stand-in for a fused key)
//!   LOCK                   advisory lock serialising access from several processes
//!   sealed/<hex ns>/<hex name>   AES-256-GCM blobs; namespaces:
//!       tee.device           identity, the TEEP private key and the payload-decryption key
//!       tee.anchors          trust anchors (TAM keys, TC-signer keys)
//!       tee.components       component store (index, components, manifest records)
//!       agent                the Agent's own records
//!       ta:<sha256 of id>    one per TA, reachable only by that TA
//!   sealed/journal         present only while an atomic batch is being applied
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use minicbor::{Decode, Encode};
use teep_cose::provider::CryptoProvider;
use teep_cose::{KeyType, PrivateKey, PublicKey, Signer, SoftwareSigner};

use crate::components::{
    sha256, ComponentBatch, ComponentId, ComponentInfo, ComponentLimits, ComponentStore,
    ManifestRecord,
};
use crate::runtime::{TaInstance, TaLimits, TaModule, TaRuntime};
use crate::sealed::{random_bytes, SealedLimits, SealedStore};
use crate::tee::{DeviceIdentity, SessionId, Tee, TrustAnchorKind};
use crate::TeeError;

const DEVICE_NS: &str = "tee.device";
const ANCHORS_NS: &str = "tee.anchors";
const AGENT_NS: &str = "agent";
const IDENTITY_NAME: &[u8] = b"identity";
const TEEP_KEY_NAME: &[u8] = b"teep-key";
const PAYLOAD_KEY_NAME: &[u8] = b"payload-key";
const MAX_ANCHORS: usize = 256;

/// Settings of a software TEE. Identity and key settings apply only when the device is
/// created (first open of an empty state directory); later opens use what was stored.
#[derive(Debug, Clone)]
pub struct SoftwareTeeOptions {
    /// Key type of the TEEP key made on first start (P-256 for ESP256 by default).
    pub key_type: KeyType,
    /// OEM id; 16 random bytes (EAT random oemid) if not given.
    pub oemid: Option<Vec<u8>>,
    /// Hardware model claim.
    pub hwmodel: Vec<u8>,
    /// Hardware version claim.
    pub hwversion: String,
    pub ta_limits: TaLimits,
    pub sealed_limits: SealedLimits,
    pub component_limits: ComponentLimits,
    /// Compiled TA modules kept in memory (0 disables the cache).
    pub module_cache_entries: usize,
    /// The crypto provider for sealing, randomness, key generation and the TEEP key's
    /// signatures: teep-cose's default provider unless set (a hardware TEE would pass its
    /// own). Whatever one provider sealed, another opens.
    pub provider: &'static dyn CryptoProvider,
}

impl Default for SoftwareTeeOptions {
    fn default() -> Self {
        SoftwareTeeOptions {
            key_type: KeyType::P256,
            oemid: None,
            hwmodel: b"teep-software-tee".to_vec(),
            hwversion: env!("CARGO_PKG_VERSION").to_owned(),
            ta_limits: TaLimits::default(),
            sealed_limits: SealedLimits::default(),
            component_limits: ComponentLimits::default(),
            module_cache_entries: 32,
            provider: teep_cose::default_provider(),
        }
    }
}

#[derive(Encode, Decode)]
#[cbor(array)]
struct StoredIdentity {
    #[cbor(n(0), with = "minicbor::bytes")]
    ueid: Vec<u8>,
    #[cbor(n(1), with = "minicbor::bytes")]
    oemid: Vec<u8>,
    #[cbor(n(2), with = "minicbor::bytes")]
    hwmodel: Vec<u8>,
    #[n(3)]
    hwversion: String,
}

struct Session {
    label: String,
    instance: TaInstance,
}

/// The software TEE. Cheap to share as `Arc<SoftwareTee>` or `Arc<dyn Tee>`.
pub struct SoftwareTee {
    dir: PathBuf,
    pub(crate) sealed: Arc<SealedStore>,
    components: ComponentStore,
    identity: DeviceIdentity,
    signer: Arc<dyn Signer>,
    /// Provisioned attestation key and endorsement (see `attestation`).
    pub(crate) attestation: Mutex<Option<crate::attestation::Attestation>>,
    payload_key: PrivateKey,
    runtime: TaRuntime,
    cache_entries: usize,
    cache: Mutex<HashMap<[u8; 32], TaModule>>,
    sessions: Mutex<HashMap<SessionId, Arc<Mutex<Session>>>>,
    next_session: AtomicU64,
}

impl std::fmt::Debug for SoftwareTee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareTee")
            .field("dir", &self.dir)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The sealed namespace of a TA: derived from its component id, so an upgraded TA (same id)
/// keeps its storage and no two TAs share one.
pub fn ta_namespace(ta: &[Vec<u8>]) -> String {
    format!(
        "ta:{}",
        hex::encode(sha256(&ComponentId::encode_segments(ta)))
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SoftwareTee {
    /// Opens the software TEE in `state_dir` with default options, creating the device identity
    /// and keys on first start.
    pub fn open(state_dir: impl AsRef<Path>) -> Result<Self, TeeError> {
        Self::open_with(state_dir, SoftwareTeeOptions::default())
    }

    /// Opens the software TEE with explicit options.
    pub fn open_with(
        state_dir: impl AsRef<Path>,
        options: SoftwareTeeOptions,
    ) -> Result<Self, TeeError> {
        let dir = state_dir.as_ref().to_path_buf();
        let provider = options.provider;
        let (sealed, _created) = SealedStore::open(&dir, options.sealed_limits, provider)?;
        let sealed = Arc::new(sealed);
        let (identity, key) = load_or_create_device(&sealed, &options)?;
        let alg = key.default_algorithm();
        let signer: Arc<dyn Signer> = Arc::new(
            SoftwareSigner::with_provider(key, alg, provider)
                .map_err(|e| TeeError::corrupt("sealed TEEP key", e.to_string()))?,
        );
        let payload_key = load_or_create_payload_key(&sealed)?;
        let attestation = Mutex::new(crate::attestation::load(&sealed)?);
        Ok(SoftwareTee {
            dir,
            sealed,
            components: ComponentStore {
                limits: options.component_limits,
            },
            identity,
            signer,
            attestation,
            payload_key,
            runtime: TaRuntime::new(options.ta_limits),
            cache_entries: options.module_cache_entries,
            cache: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            next_session: AtomicU64::new(1),
        })
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// The sealed storage underneath. Host-side code of the TEE only (tests, tools): it reaches
    /// every namespace, which TAs never can.
    pub fn sealed_store(&self) -> &SealedStore {
        &self.sealed
    }

    /// The TA runtime (engine and limits).
    pub fn runtime(&self) -> &TaRuntime {
        &self.runtime
    }

    /// Number of open sessions.
    pub fn open_sessions(&self) -> usize {
        lock(&self.sessions).len()
    }

    fn module_for(&self, ta: &[Vec<u8>], label: &str) -> Result<TaModule, TeeError> {
        let info = self
            .component_info(ta)?
            .ok_or_else(|| TeeError::ComponentNotFound(label.to_owned()))?;
        if let Some(m) = lock(&self.cache).get(&info.digest) {
            return Ok(m.clone());
        }
        let bytes = self
            .component(ta)?
            .ok_or_else(|| TeeError::ComponentNotFound(label.to_owned()))?;
        let module = self.runtime.compile(label, &bytes)?;
        if self.cache_entries > 0 {
            let mut cache = lock(&self.cache);
            if cache.len() >= self.cache_entries {
                cache.clear();
            }
            cache.insert(sha256(&bytes), module.clone());
        }
        Ok(module)
    }

    /// Opens a session with a TA given as module bytes instead of an installed component,
    /// running it as the TA `ta` (its storage namespace and siblings). For development tools
    /// and tests; the bytes are not stored.
    pub fn open_session_with_module(
        &self,
        ta: &[Vec<u8>],
        wasm: &[u8],
    ) -> Result<SessionId, TeeError> {
        self.components.check_id("TA component id", ta)?;
        let label = ComponentId::display_segments(ta).to_string();
        let module = self.runtime.compile(&label, wasm)?;
        self.start_session(ta, label, &module)
    }

    fn start_session(
        &self,
        ta: &[Vec<u8>],
        label: String,
        module: &TaModule,
    ) -> Result<SessionId, TeeError> {
        let max = self.runtime.limits().max_sessions;
        if lock(&self.sessions).len() >= max {
            return Err(TeeError::TooManySessions(max));
        }
        let mut instance = self.runtime.instantiate(
            &label,
            ta,
            self.components.limits,
            module,
            self.sealed.clone(),
            ta_namespace(ta),
        )?;
        instance.open_session()?;
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= max {
            return Err(TeeError::TooManySessions(max));
        }
        sessions.insert(id, Arc::new(Mutex::new(Session { label, instance })));
        Ok(id)
    }

    fn session(&self, session: SessionId) -> Result<Arc<Mutex<Session>>, TeeError> {
        lock(&self.sessions)
            .get(&session)
            .cloned()
            .ok_or(TeeError::NoSession(session))
    }
}

fn load_or_create_device(
    sealed: &SealedStore,
    options: &SoftwareTeeOptions,
) -> Result<(DeviceIdentity, PrivateKey), TeeError> {
    // One lock over read-or-create, so two processes opening a fresh directory agree on one
    // identity.
    let _guard = sealed.lock()?;
    let stored_key = sealed.get_locked(DEVICE_NS, TEEP_KEY_NAME)?;
    let stored_identity = sealed.get_locked(DEVICE_NS, IDENTITY_NAME)?;
    if let (Some(key), Some(identity)) = (&stored_key, &stored_identity) {
        let key = PrivateKey::from_bytes_any(key)
            .map_err(|e| TeeError::corrupt("sealed TEEP key", e.to_string()))?;
        let id: StoredIdentity = minicbor::decode(identity)
            .map_err(|e| TeeError::corrupt("sealed device identity", e.to_string()))?;
        return Ok((
            DeviceIdentity {
                ueid: id.ueid,
                oemid: id.oemid,
                hwmodel: id.hwmodel,
                hwversion: id.hwversion,
            },
            key,
        ));
    }
    if stored_key.is_some() != stored_identity.is_some() {
        return Err(TeeError::corrupt(
            "sealed device identity",
            "only one of identity and TEEP key is present",
        ));
    }
    let provider = options.provider;
    let mut ueid = vec![0x01u8; 33];
    random_bytes(provider, &mut ueid[1..])?;
    let oemid = match &options.oemid {
        Some(o) => o.clone(),
        None => {
            let mut o = vec![0u8; 16];
            random_bytes(provider, &mut o)?;
            o
        }
    };
    let key = PrivateKey::generate_with(options.key_type, provider)
        .map_err(|source| TeeError::crypto("TEEP key generation", source))?;
    let stored = StoredIdentity {
        ueid,
        oemid,
        hwmodel: options.hwmodel.clone(),
        hwversion: options.hwversion.clone(),
    };
    let identity_bytes = minicbor::to_vec(&stored)
        .map_err(|e| TeeError::corrupt("device identity", e.to_string()))?;
    sealed.commit_locked(&[
        crate::sealed::SealedOp {
            namespace: DEVICE_NS.into(),
            name: TEEP_KEY_NAME.to_vec(),
            value: Some(key.to_pkcs8_pem().into_bytes()),
        },
        crate::sealed::SealedOp {
            namespace: DEVICE_NS.into(),
            name: IDENTITY_NAME.to_vec(),
            value: Some(identity_bytes),
        },
    ])?;
    tracing::info!(
        "software TEE: created device identity and {:?} TEEP key",
        options.key_type
    );
    Ok((
        DeviceIdentity {
            ueid: stored.ueid,
            oemid: stored.oemid,
            hwmodel: stored.hwmodel,
            hwversion: stored.hwversion,
        },
        key,
    ))
}

/// The P-256 key payloads are encrypted to, sealed as its 32-byte scalar. Kept apart from the
/// identity so a device created before it existed gets one on its next start.
fn load_or_create_payload_key(sealed: &SealedStore) -> Result<PrivateKey, TeeError> {
    let _guard = sealed.lock()?;
    if let Some(bytes) = sealed.get_locked(DEVICE_NS, PAYLOAD_KEY_NAME)? {
        return PrivateKey::from_p256_scalar(&bytes)
            .map_err(|e| TeeError::corrupt("sealed payload-decryption key", e.to_string()));
    }
    let key = PrivateKey::generate_with(KeyType::P256, sealed.provider())
        .map_err(|source| TeeError::crypto("payload-decryption key generation", source))?;
    sealed.commit_locked(&[crate::sealed::SealedOp {
        namespace: DEVICE_NS.into(),
        name: PAYLOAD_KEY_NAME.to_vec(),
        value: Some(key.secret_bytes().to_vec()),
    }])?;
    tracing::info!("software TEE: created P-256 payload-decryption key");
    Ok(key)
}

fn decode_anchor_list(bytes: &[u8]) -> Result<Vec<Vec<u8>>, TeeError> {
    let bad = |e: minicbor::decode::Error| TeeError::corrupt("sealed trust anchors", e.to_string());
    let mut d = minicbor::Decoder::new(bytes);
    let n = d
        .array()
        .map_err(bad)?
        .ok_or_else(|| TeeError::corrupt("sealed trust anchors", "indefinite array"))?;
    if n > MAX_ANCHORS as u64 {
        return Err(TeeError::corrupt(
            "sealed trust anchors",
            "too many entries",
        ));
    }
    (0..n)
        .map(|_| d.bytes().map(|b| b.to_vec()).map_err(bad))
        .collect()
}

fn encode_anchor_list(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    let _ = e.array(keys.len() as u64);
    for k in keys {
        let _ = e.bytes(k);
    }
    e.into_writer()
}

fn check_agent_name(name: &str) -> Result<(), TeeError> {
    if name.is_empty() || name.len() > 100 {
        return Err(TeeError::invalid(
            "agent record name",
            format!("expected 1..=100 bytes, got {}", name.len()),
        ));
    }
    Ok(())
}

impl SoftwareTee {
    fn anchor_keys(&self, kind: TrustAnchorKind) -> Result<Vec<Vec<u8>>, TeeError> {
        match self.sealed.get(ANCHORS_NS, kind.name().as_bytes())? {
            None => Ok(Vec::new()),
            Some(bytes) => decode_anchor_list(&bytes),
        }
    }

    fn update_anchors(
        &self,
        kind: TrustAnchorKind,
        f: impl FnOnce(&mut Vec<Vec<u8>>) -> bool,
    ) -> Result<bool, TeeError> {
        let _g = self.sealed.lock()?;
        let mut keys = match self.sealed.get_locked(ANCHORS_NS, kind.name().as_bytes())? {
            None => Vec::new(),
            Some(bytes) => decode_anchor_list(&bytes)?,
        };
        if !f(&mut keys) {
            return Ok(false);
        }
        if keys.len() > MAX_ANCHORS {
            return Err(TeeError::invalid(
                format!("{} trust anchors", kind.name()),
                format!("expected at most {MAX_ANCHORS}"),
            ));
        }
        self.sealed.commit_locked(&[crate::sealed::SealedOp {
            namespace: ANCHORS_NS.into(),
            name: kind.name().as_bytes().to_vec(),
            value: Some(encode_anchor_list(&keys)),
        }])?;
        Ok(true)
    }
}

impl Tee for SoftwareTee {
    fn identity(&self) -> DeviceIdentity {
        self.identity.clone()
    }

    fn teep_signer(&self) -> Arc<dyn Signer> {
        self.signer.clone()
    }

    fn attestation_signer(&self) -> Arc<dyn Signer> {
        match &*lock(&self.attestation) {
            Some(a) => a.signer.clone(),
            None => self.signer.clone(),
        }
    }

    fn attestation_endorsement(&self) -> Vec<Vec<u8>> {
        lock(&self.attestation)
            .as_ref()
            .map(|a| a.chain.clone())
            .unwrap_or_default()
    }

    fn payload_encryption_key(&self) -> Option<PublicKey> {
        Some(self.payload_key.public_key())
    }

    fn payload_decryption_key(&self) -> Option<PrivateKey> {
        Some(self.payload_key.clone())
    }

    fn trust_anchors(&self, kind: TrustAnchorKind) -> Result<Vec<PublicKey>, TeeError> {
        self.anchor_keys(kind)?
            .iter()
            .map(|k| {
                PublicKey::from_cose_key(k).map_err(|e| {
                    TeeError::corrupt(
                        format!("sealed {} trust anchor", kind.name()),
                        e.to_string(),
                    )
                })
            })
            .collect()
    }

    fn add_trust_anchor(&self, kind: TrustAnchorKind, key: &PublicKey) -> Result<bool, TeeError> {
        let encoded = key.to_cose_key();
        let thumb = key.thumbprint();
        self.update_anchors(kind, |keys| {
            let present = keys.iter().any(|k| {
                PublicKey::from_cose_key(k)
                    .map(|p| p.thumbprint() == thumb)
                    .unwrap_or(false)
            });
            if present {
                return false;
            }
            keys.push(encoded);
            true
        })
    }

    fn remove_trust_anchor(
        &self,
        kind: TrustAnchorKind,
        key: &PublicKey,
    ) -> Result<bool, TeeError> {
        let thumb = key.thumbprint();
        self.update_anchors(kind, |keys| {
            let before = keys.len();
            keys.retain(|k| {
                PublicKey::from_cose_key(k)
                    .map(|p| p.thumbprint() != thumb)
                    .unwrap_or(true)
            });
            keys.len() != before
        })
    }

    fn agent_get(&self, name: &str) -> Result<Option<Vec<u8>>, TeeError> {
        check_agent_name(name)?;
        self.sealed.get(AGENT_NS, name.as_bytes())
    }

    fn agent_put(&self, name: &str, value: &[u8]) -> Result<(), TeeError> {
        check_agent_name(name)?;
        self.sealed.put(AGENT_NS, name.as_bytes(), value)
    }

    fn agent_delete(&self, name: &str) -> Result<(), TeeError> {
        check_agent_name(name)?;
        self.sealed.delete(AGENT_NS, name.as_bytes())
    }

    fn component(&self, id: &[Vec<u8>]) -> Result<Option<Vec<u8>>, TeeError> {
        self.components.read(&self.sealed, id)
    }

    fn component_info(&self, id: &[Vec<u8>]) -> Result<Option<ComponentInfo>, TeeError> {
        self.components.info(&self.sealed, id)
    }

    fn list_components(&self) -> Result<Vec<ComponentInfo>, TeeError> {
        self.components.list(&self.sealed)
    }

    fn manifest(
        &self,
        manifest_component_id: &[Vec<u8>],
    ) -> Result<Option<ManifestRecord>, TeeError> {
        self.components
            .manifest(&self.sealed, manifest_component_id)
    }

    fn list_manifests(&self) -> Result<Vec<ManifestRecord>, TeeError> {
        self.components.manifests(&self.sealed)
    }

    fn commit_components(&self, batch: &ComponentBatch) -> Result<(), TeeError> {
        self.components.commit(&self.sealed, batch)
    }

    fn open_session(&self, ta: &[Vec<u8>]) -> Result<SessionId, TeeError> {
        self.components.check_id("TA component id", ta)?;
        let label = ComponentId::display_segments(ta).to_string();
        if lock(&self.sessions).len() >= self.runtime.limits().max_sessions {
            return Err(TeeError::TooManySessions(
                self.runtime.limits().max_sessions,
            ));
        }
        let module = self.module_for(ta, &label)?;
        self.start_session(ta, label, &module)
    }

    fn invoke(&self, session: SessionId, command: u32, args: &[u8]) -> Result<Vec<u8>, TeeError> {
        let handle = self.session(session)?;
        let mut s = lock(&handle);
        let (result, alive) = s.instance.invoke(command, args);
        if !alive {
            tracing::warn!(ta = %s.label, session, "TA stopped; session closed");
            drop(s);
            lock(&self.sessions).remove(&session);
        }
        result
    }

    fn close_session(&self, session: SessionId) -> Result<(), TeeError> {
        let handle = lock(&self.sessions)
            .remove(&session)
            .ok_or(TeeError::NoSession(session))?;
        let mut s = lock(&handle);
        s.instance.close_session()
    }
}
