//! The storage and transport seams of the processor (sans-IO): the TEE's component store and
//! the payload fetcher are passed in as traits.

use crate::error::{FetchError, StoreError};
use crate::model::ComponentId;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// What the store remembers about an installed manifest, keyed by manifest component id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub sequence_number: u64,
    /// The envelope as installed (needed to run its uninstall sequence later).
    pub envelope: Bytes,
    /// Components this manifest wrote.
    pub components: Vec<ComponentId>,
    /// Manifest component ids of dependencies this manifest processed.
    pub dependencies: Vec<ComponentId>,
    /// Links to this manifest: 1 for being installed as a root, +1 per dependent manifest.
    /// Unlink decrements it; at 0 the uninstall sequence runs and the record is removed.
    pub refcount: u64,
}

/// All changes of one processor run, committed at once. `None` deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreBatch {
    pub components: Vec<(ComponentId, Option<Bytes>)>,
    pub manifests: Vec<(ComponentId, Option<ManifestRecord>)>,
}

impl StoreBatch {
    pub fn is_empty(&self) -> bool {
        self.components.is_empty() && self.manifests.is_empty()
    }
}

/// The TEE's component store as the processor sees it. Reads answer from committed state;
/// the processor stages every change and calls [`ComponentStore::commit`] once at the end of a
/// successful run, so a failed manifest changes nothing. `commit` must be atomic.
pub trait ComponentStore {
    /// Content of a component, `None` if absent.
    fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, StoreError>;
    /// The record of an installed manifest.
    fn manifest(
        &self,
        manifest_component_id: &ComponentId,
    ) -> Result<Option<ManifestRecord>, StoreError>;
    /// Applies a batch atomically.
    fn commit(&mut self, batch: StoreBatch) -> Result<(), StoreError>;
    /// Manifest component ids of installed manifests whose record lists this component. The
    /// processor refuses to let one manifest overwrite another manifest's component. The
    /// default answers "none", which turns that protection off.
    fn component_owners(&self, id: &ComponentId) -> Result<Vec<ComponentId>, StoreError> {
        let _ = id;
        Ok(Vec::new())
    }
}

/// Fetches payloads named by URI (integrated payloads `#...` never reach the fetcher).
pub trait PayloadFetcher {
    /// Returns at most `max_len` bytes (longer content is an error).
    fn fetch(&mut self, uri: &str, max_len: u64) -> Result<Bytes, FetchError>;
}

/// A fetcher that knows no URIs (integrated payloads only).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFetcher;

impl PayloadFetcher for NoFetcher {
    fn fetch(&mut self, uri: &str, _max_len: u64) -> Result<Bytes, FetchError> {
        Err(FetchError {
            uri: uri.into(),
            reason: "no payload source for this URI".into(),
        })
    }
}

/// A fetcher over a fixed URI → bytes table (tests, `teep suit apply --payload`).
#[derive(Debug, Default, Clone)]
pub struct MapFetcher {
    pub payloads: BTreeMap<String, Bytes>,
}

impl MapFetcher {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn insert(&mut self, uri: impl Into<String>, data: impl Into<Bytes>) -> &mut Self {
        self.payloads.insert(uri.into(), data.into());
        self
    }
}

impl PayloadFetcher for MapFetcher {
    fn fetch(&mut self, uri: &str, max_len: u64) -> Result<Bytes, FetchError> {
        let data = self.payloads.get(uri).ok_or_else(|| FetchError {
            uri: uri.into(),
            reason: "no payload source for this URI".into(),
        })?;
        if data.len() as u64 > max_len {
            return Err(FetchError {
                uri: uri.into(),
                reason: format!("{} bytes exceed the limit of {max_len}", data.len()),
            });
        }
        Ok(data.clone())
    }
}

/// An in-memory store (tests, benchmarks, and as a reference for implementors).
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    pub components: BTreeMap<ComponentId, Bytes>,
    pub manifests: BTreeMap<ComponentId, ManifestRecord>,
    /// Number of successful commits (tests check that failures commit nothing).
    pub commits: usize,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl ComponentStore for MemoryStore {
    fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, StoreError> {
        Ok(self.components.get(id).cloned())
    }
    fn manifest(&self, id: &ComponentId) -> Result<Option<ManifestRecord>, StoreError> {
        Ok(self.manifests.get(id).cloned())
    }
    fn commit(&mut self, batch: StoreBatch) -> Result<(), StoreError> {
        for (id, c) in batch.components {
            match c {
                Some(b) => {
                    self.components.insert(id, b);
                }
                None => {
                    self.components.remove(&id);
                }
            }
        }
        for (id, m) in batch.manifests {
            match m {
                Some(r) => {
                    self.manifests.insert(id, r);
                }
                None => {
                    self.manifests.remove(&id);
                }
            }
        }
        self.commits += 1;
        Ok(())
    }
    fn component_owners(&self, id: &ComponentId) -> Result<Vec<ComponentId>, StoreError> {
        Ok(self
            .manifests
            .iter()
            .filter(|(_, r)| r.components.contains(id))
            .map(|(k, _)| k.clone())
            .collect())
    }
}
