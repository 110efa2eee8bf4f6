//! The component store: installed Trusted Components (TA binaries, personalization data) and
//! the SUIT manifest records that installed them, changed only by atomic batches.
//!
//! A SUIT processor stages everything a manifest does and commits at the end, so a failed
//! manifest leaves the device as it was. Here a [`ComponentBatch`] becomes one sealed-storage
//! batch: component blobs, manifest blobs and the index that lists them are written through the
//! sealed journal, whose atomic rename is the single commit point. After kill -9 at any moment
//! the store is entirely the old or entirely the new state. Every component read is also
//! checked against the SHA-256 digest recorded in the index, so blobs of different generations
//! cannot be mixed.

use minicbor::bytes::ByteVec;
use minicbor::{Decode, Encode};

use crate::sealed::{SealedOp, SealedStore};
use crate::TeeError;

/// A SUIT_Component_Identifier: a list of byte strings (teep-cbor's one type, with its encoding
/// and text form).
pub use teep_cbor::ComponentId;

/// Namespace of the component store inside sealed storage (not reachable by TAs).
pub(crate) const NAMESPACE: &str = "tee.components";
const INDEX_NAME: &[u8] = b"index";

/// Limits of the component store, checked before anything is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentLimits {
    /// Largest component (TA binary or data).
    pub max_component_bytes: usize,
    /// Largest SUIT envelope kept in a manifest record (it may carry an integrated payload).
    pub max_envelope_bytes: usize,
    /// Most byte strings in a component id.
    pub max_id_segments: usize,
    /// Longest byte string in a component id.
    pub max_id_segment_bytes: usize,
    /// Most installed components.
    pub max_components: usize,
    /// Most manifest records.
    pub max_manifests: usize,
}

impl Default for ComponentLimits {
    fn default() -> Self {
        ComponentLimits {
            max_component_bytes: 8 * 1024 * 1024,
            max_envelope_bytes: 9 * 1024 * 1024,
            max_id_segments: 16,
            max_id_segment_bytes: 256,
            max_components: 1024,
            max_manifests: 1024,
        }
    }
}

/// What the store knows about an installed component without reading its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub id: ComponentId,
    pub size: u64,
    /// SHA-256 of the component bytes.
    pub digest: [u8; 32],
}

/// A SUIT manifest that the device has processed, kept to answer QueryRequests (manifest-list,
/// sequence numbers) and to unlink Trusted Components later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    /// The manifest's own component id (suit-manifest-component-id).
    pub manifest_component_id: ComponentId,
    pub sequence_number: u64,
    /// The SUIT envelope bytes as received.
    pub envelope: Vec<u8>,
    /// How many requesters (TAMs, dependent manifests) hold this manifest; maintained by the
    /// Agent, stored as given.
    pub reference_count: u32,
    /// The components this manifest installed.
    pub components: Vec<ComponentId>,
}

/// One change in a [`ComponentBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentOp {
    /// Install or replace a component.
    PutComponent { id: ComponentId, bytes: Vec<u8> },
    /// Delete a component (no error if absent).
    DeleteComponent { id: ComponentId },
    /// Install or replace the record of a manifest (keyed by its manifest component id).
    PutManifest(ManifestRecord),
    /// Delete a manifest record (no error if absent).
    DeleteManifest { manifest_component_id: ComponentId },
}

/// Changes applied all together or not at all by [`crate::Tee::commit_components`]. Later
/// operations on the same id win.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentBatch {
    ops: Vec<ComponentOp>,
}

impl ComponentBatch {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put_component(&mut self, id: ComponentId, bytes: Vec<u8>) -> &mut Self {
        self.ops.push(ComponentOp::PutComponent { id, bytes });
        self
    }
    pub fn delete_component(&mut self, id: ComponentId) -> &mut Self {
        self.ops.push(ComponentOp::DeleteComponent { id });
        self
    }
    pub fn put_manifest(&mut self, record: ManifestRecord) -> &mut Self {
        self.ops.push(ComponentOp::PutManifest(record));
        self
    }
    pub fn delete_manifest(&mut self, manifest_component_id: ComponentId) -> &mut Self {
        self.ops.push(ComponentOp::DeleteManifest {
            manifest_component_id,
        });
        self
    }
    pub fn push(&mut self, op: ComponentOp) -> &mut Self {
        self.ops.push(op);
        self
    }
    pub fn ops(&self) -> &[ComponentOp] {
        &self.ops
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
    pub fn len(&self) -> usize {
        self.ops.len()
    }
}

/// Sealed-storage name of a component id with a one-letter kind prefix.
fn blob_name(kind: u8, id: &[Vec<u8>]) -> Vec<u8> {
    let mut name = vec![kind];
    name.extend_from_slice(&sha256(&ComponentId::encode_segments(id)));
    name
}

/// SHA-256 by the default crypto provider.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    teep_cose::sha256(data)
}

#[derive(Debug, Clone, Default, Encode, Decode)]
#[cbor(array)]
struct Index {
    #[n(0)]
    generation: u64,
    #[n(1)]
    components: Vec<IndexComponent>,
    #[n(2)]
    manifests: Vec<IndexManifest>,
}

#[derive(Debug, Clone, Encode, Decode)]
#[cbor(array)]
struct IndexComponent {
    #[n(0)]
    id: Vec<ByteVec>,
    #[n(1)]
    size: u64,
    #[cbor(n(2), with = "minicbor::bytes")]
    digest: [u8; 32],
}

#[derive(Debug, Clone, Encode, Decode)]
#[cbor(array)]
struct IndexManifest {
    #[n(0)]
    id: Vec<ByteVec>,
    #[n(1)]
    sequence_number: u64,
    #[cbor(n(2), with = "minicbor::bytes")]
    envelope_digest: [u8; 32],
}

#[derive(Debug, Clone, Encode, Decode)]
#[cbor(array)]
struct StoredManifest {
    #[n(0)]
    id: Vec<ByteVec>,
    #[n(1)]
    sequence_number: u64,
    #[cbor(n(2), with = "minicbor::bytes")]
    envelope: Vec<u8>,
    #[n(3)]
    reference_count: u32,
    #[n(4)]
    components: Vec<Vec<ByteVec>>,
}

fn to_bytevecs(id: &[Vec<u8>]) -> Vec<ByteVec> {
    id.iter().map(|s| ByteVec::from(s.clone())).collect()
}

fn from_bytevecs(id: &[ByteVec]) -> ComponentId {
    id.iter().map(|s| s.to_vec()).collect()
}

/// Component store over sealed storage.
#[derive(Debug)]
pub(crate) struct ComponentStore {
    pub(crate) limits: ComponentLimits,
}

impl ComponentStore {
    pub(crate) fn check_id(&self, what: &str, id: &[Vec<u8>]) -> Result<(), TeeError> {
        let l = &self.limits;
        if id.is_empty() || id.len() > l.max_id_segments {
            return Err(TeeError::invalid(
                what,
                format!(
                    "expected 1..={} byte strings, got {}",
                    l.max_id_segments,
                    id.len()
                ),
            ));
        }
        if let Some((i, seg)) = id
            .iter()
            .enumerate()
            .find(|(_, s)| s.len() > l.max_id_segment_bytes)
        {
            return Err(TeeError::invalid(
                format!("{what}[{i}]"),
                format!(
                    "expected at most {} bytes, got {}",
                    l.max_id_segment_bytes,
                    seg.len()
                ),
            ));
        }
        Ok(())
    }

    fn load_index(&self, sealed: &SealedStore) -> Result<Index, TeeError> {
        match sealed.get_locked(NAMESPACE, INDEX_NAME)? {
            None => Ok(Index::default()),
            Some(bytes) => minicbor::decode(&bytes)
                .map_err(|e| TeeError::corrupt("component store index", e.to_string())),
        }
    }

    pub(crate) fn list(&self, sealed: &SealedStore) -> Result<Vec<ComponentInfo>, TeeError> {
        let _g = sealed.lock()?;
        let index = self.load_index(sealed)?;
        Ok(index
            .components
            .iter()
            .map(|c| ComponentInfo {
                id: from_bytevecs(&c.id),
                size: c.size,
                digest: c.digest,
            })
            .collect())
    }

    pub(crate) fn info(
        &self,
        sealed: &SealedStore,
        id: &[Vec<u8>],
    ) -> Result<Option<ComponentInfo>, TeeError> {
        self.check_id("component id", id)?;
        Ok(self.list(sealed)?.into_iter().find(|c| c.id[..] == *id))
    }

    pub(crate) fn read(
        &self,
        sealed: &SealedStore,
        id: &[Vec<u8>],
    ) -> Result<Option<Vec<u8>>, TeeError> {
        self.check_id("component id", id)?;
        let _g = sealed.lock()?;
        let index = self.load_index(sealed)?;
        let Some(entry) = index
            .components
            .iter()
            .find(|c| from_bytevecs(&c.id)[..] == *id)
        else {
            return Ok(None);
        };
        let bytes = sealed
            .get_locked(NAMESPACE, &blob_name(b'c', id))?
            .ok_or_else(|| {
                TeeError::corrupt(
                    format!("component {}", ComponentId::display_segments(id)),
                    "listed in the index but its blob is missing",
                )
            })?;
        if sha256(&bytes) != entry.digest {
            return Err(TeeError::corrupt(
                format!("component {}", ComponentId::display_segments(id)),
                "content does not match the digest in the index",
            ));
        }
        Ok(Some(bytes))
    }

    pub(crate) fn manifests(&self, sealed: &SealedStore) -> Result<Vec<ManifestRecord>, TeeError> {
        let _g = sealed.lock()?;
        let index = self.load_index(sealed)?;
        index
            .manifests
            .iter()
            .map(|m| self.load_manifest(sealed, &from_bytevecs(&m.id), m))
            .collect()
    }

    pub(crate) fn manifest(
        &self,
        sealed: &SealedStore,
        id: &[Vec<u8>],
    ) -> Result<Option<ManifestRecord>, TeeError> {
        self.check_id("manifest component id", id)?;
        let _g = sealed.lock()?;
        let index = self.load_index(sealed)?;
        match index
            .manifests
            .iter()
            .find(|m| from_bytevecs(&m.id)[..] == *id)
        {
            None => Ok(None),
            Some(m) => self.load_manifest(sealed, id, m).map(Some),
        }
    }

    fn load_manifest(
        &self,
        sealed: &SealedStore,
        id: &[Vec<u8>],
        entry: &IndexManifest,
    ) -> Result<ManifestRecord, TeeError> {
        let what = || format!("manifest record {}", ComponentId::display_segments(id));
        let bytes = sealed
            .get_locked(NAMESPACE, &blob_name(b'm', id))?
            .ok_or_else(|| {
                TeeError::corrupt(what(), "listed in the index but its blob is missing")
            })?;
        let stored: StoredManifest =
            minicbor::decode(&bytes).map_err(|e| TeeError::corrupt(what(), e.to_string()))?;
        if sha256(&stored.envelope) != entry.envelope_digest
            || stored.sequence_number != entry.sequence_number
        {
            return Err(TeeError::corrupt(what(), "does not match the index"));
        }
        Ok(ManifestRecord {
            manifest_component_id: from_bytevecs(&stored.id),
            sequence_number: stored.sequence_number,
            envelope: stored.envelope,
            reference_count: stored.reference_count,
            components: stored.components.iter().map(|c| from_bytevecs(c)).collect(),
        })
    }

    fn check_batch(&self, batch: &ComponentBatch) -> Result<(), TeeError> {
        let l = &self.limits;
        for (i, op) in batch.ops().iter().enumerate() {
            let at = |field: &str| format!("component batch op {i}: {field}");
            match op {
                ComponentOp::PutComponent { id, bytes } => {
                    self.check_id(&at("component id"), id)?;
                    if bytes.len() > l.max_component_bytes {
                        return Err(TeeError::invalid(
                            at(&format!("component {}", ComponentId::display_segments(id))),
                            format!(
                                "expected at most {} bytes, got {}",
                                l.max_component_bytes,
                                bytes.len()
                            ),
                        ));
                    }
                }
                ComponentOp::DeleteComponent { id } => self.check_id(&at("component id"), id)?,
                ComponentOp::PutManifest(m) => {
                    self.check_id(&at("manifest component id"), &m.manifest_component_id)?;
                    if m.envelope.len() > l.max_envelope_bytes {
                        return Err(TeeError::invalid(
                            at("envelope"),
                            format!(
                                "expected at most {} bytes, got {}",
                                l.max_envelope_bytes,
                                m.envelope.len()
                            ),
                        ));
                    }
                    if m.components.len() > l.max_components {
                        return Err(TeeError::invalid(
                            at("manifest components"),
                            format!(
                                "expected at most {} ids, got {}",
                                l.max_components,
                                m.components.len()
                            ),
                        ));
                    }
                    for c in &m.components {
                        self.check_id(&at("manifest components[]"), c)?;
                    }
                }
                ComponentOp::DeleteManifest {
                    manifest_component_id,
                } => self.check_id(&at("manifest component id"), manifest_component_id)?,
            }
        }
        Ok(())
    }

    /// Applies `batch` atomically (see the module docs).
    pub(crate) fn commit(
        &self,
        sealed: &SealedStore,
        batch: &ComponentBatch,
    ) -> Result<(), TeeError> {
        self.check_batch(batch)?;
        if batch.is_empty() {
            return Ok(());
        }
        let _g = sealed.lock()?;
        let mut index = self.load_index(sealed)?;
        let mut ops: Vec<SealedOp> = Vec::with_capacity(batch.len() + 1);
        let op = |name: Vec<u8>, value: Option<Vec<u8>>| SealedOp {
            namespace: NAMESPACE.to_owned(),
            name,
            value,
        };
        for change in batch.ops() {
            match change {
                ComponentOp::PutComponent { id, bytes } => {
                    let entry = IndexComponent {
                        id: to_bytevecs(id),
                        size: bytes.len() as u64,
                        digest: sha256(bytes),
                    };
                    match index
                        .components
                        .iter_mut()
                        .find(|c| from_bytevecs(&c.id) == *id)
                    {
                        Some(existing) => *existing = entry,
                        None => index.components.push(entry),
                    }
                    ops.push(op(blob_name(b'c', id), Some(bytes.clone())));
                }
                ComponentOp::DeleteComponent { id } => {
                    index.components.retain(|c| from_bytevecs(&c.id) != *id);
                    ops.push(op(blob_name(b'c', id), None));
                }
                ComponentOp::PutManifest(m) => {
                    let id = &m.manifest_component_id;
                    let entry = IndexManifest {
                        id: to_bytevecs(id),
                        sequence_number: m.sequence_number,
                        envelope_digest: sha256(&m.envelope),
                    };
                    match index
                        .manifests
                        .iter_mut()
                        .find(|e| from_bytevecs(&e.id) == *id)
                    {
                        Some(existing) => *existing = entry,
                        None => index.manifests.push(entry),
                    }
                    let stored = StoredManifest {
                        id: to_bytevecs(id),
                        sequence_number: m.sequence_number,
                        envelope: m.envelope.clone(),
                        reference_count: m.reference_count,
                        components: m.components.iter().map(|c| to_bytevecs(c)).collect(),
                    };
                    let bytes = minicbor::to_vec(&stored)
                        .map_err(|e| TeeError::corrupt("manifest record", e.to_string()))?;
                    ops.push(op(blob_name(b'm', id), Some(bytes)));
                }
                ComponentOp::DeleteManifest {
                    manifest_component_id: id,
                } => {
                    index.manifests.retain(|e| from_bytevecs(&e.id) != *id);
                    ops.push(op(blob_name(b'm', id), None));
                }
            }
        }
        if index.components.len() > self.limits.max_components {
            return Err(TeeError::invalid(
                "component store",
                format!(
                    "expected at most {} components, the batch would make {}",
                    self.limits.max_components,
                    index.components.len()
                ),
            ));
        }
        if index.manifests.len() > self.limits.max_manifests {
            return Err(TeeError::invalid(
                "component store",
                format!(
                    "expected at most {} manifests, the batch would make {}",
                    self.limits.max_manifests,
                    index.manifests.len()
                ),
            ));
        }
        index.generation = index.generation.wrapping_add(1);
        let index_bytes = minicbor::to_vec(&index)
            .map_err(|e| TeeError::corrupt("component store index", e.to_string()))?;
        ops.push(op(INDEX_NAME.to_vec(), Some(index_bytes)));
        sealed.check_batch(&ops)?;
        sealed.commit_locked(&ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_names_differ_by_kind_and_id() {
        let a = vec![b"a".to_vec()];
        let b = vec![b"b".to_vec()];
        assert_ne!(blob_name(b'c', &a), blob_name(b'm', &a));
        assert_ne!(blob_name(b'c', &a), blob_name(b'c', &b));
        // ["ab"] and ["a", "b"] are different ids.
        assert_ne!(
            blob_name(b'c', &[b"ab".to_vec()]),
            blob_name(b'c', &[b"a".to_vec(), b"b".to_vec()])
        );
    }

    #[test]
    fn batch_builder_keeps_order() {
        let mut batch = ComponentBatch::new();
        batch
            .put_component(vec![b"x".to_vec()].into(), vec![1])
            .delete_component(vec![b"x".to_vec()].into());
        assert_eq!(batch.len(), 2);
        assert!(matches!(
            batch.ops()[1],
            ComponentOp::DeleteComponent { .. }
        ));
    }
}
