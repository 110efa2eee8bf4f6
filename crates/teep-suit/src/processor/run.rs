//! State of one processor run: the staged changes (read through before the store) and the
//! per-manifest execution context.

use super::{manifest_key_of, Processor, Summary};
use crate::auth::VerifiedEnvelope;
use crate::error::ProcessError;
use crate::model::{manifest_key, ComponentId, Digest, Envelope, Parameter};
use crate::report::SuitReport;
use crate::store::{ComponentStore, ManifestRecord, PayloadFetcher, StoreBatch};
use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;

/// Section number used for the shared sequence in errors and report records.
pub(super) const SHARED_SECTION: i64 = manifest_key::COMMON;

/// Staged changes, read through before the store.
#[derive(Default, Clone)]
pub(super) struct Stage {
    pub(super) components: BTreeMap<ComponentId, Option<Bytes>>,
    pub(super) manifests: BTreeMap<ComponentId, Option<ManifestRecord>>,
    /// SHA-256 of staged or read component content, so a payload is hashed once per run.
    pub(super) digests: BTreeMap<ComponentId, Vec<u8>>,
}

impl Stage {
    pub(super) fn into_batch(self) -> StoreBatch {
        StoreBatch {
            components: self.components.into_iter().collect(),
            manifests: self.manifests.into_iter().collect(),
        }
    }
}

/// Per-manifest execution state.
pub(super) struct Ctx<'e> {
    pub(super) env: &'e Envelope,
    /// Manifest component id (storage key) of this manifest.
    pub(super) key: ComponentId,
    pub(super) manifest_id: Vec<u64>,
    pub(super) depth: usize,
    pub(super) section: i64,
    pub(super) current: Vec<u64>,
    pub(super) params: BTreeMap<u64, BTreeMap<i64, Parameter>>,
    /// Dependency envelopes fetched into a dependency index (not stored as components).
    pub(super) dep_content: BTreeMap<u64, Bytes>,
    /// Dependencies whose integrity was checked, with the verified envelope.
    pub(super) dep_verified: BTreeMap<u64, VerifiedEnvelope>,
    pub(super) written: Vec<ComponentId>,
    pub(super) dependencies: Vec<ComponentId>,
}

impl<'e> Ctx<'e> {
    pub(super) fn new(env: &'e Envelope, manifest_id: Vec<u64>, depth: usize) -> Self {
        Ctx {
            env,
            key: manifest_key_of(&env.manifest),
            manifest_id,
            depth,
            section: 0,
            current: vec![0],
            params: BTreeMap::new(),
            dep_content: BTreeMap::new(),
            dep_verified: BTreeMap::new(),
            written: Vec::new(),
            dependencies: Vec::new(),
        }
    }

    /// Whether `i` names a component or a dependency of this manifest.
    pub(super) fn valid_index(&self, i: u64) -> bool {
        (i as usize) < self.env.manifest.common.components.len()
            || self.env.manifest.dependency(i).is_some()
    }
}

/// One run of the processor over a store: what it staged, reported and did so far.
pub(super) struct Run<'a> {
    pub(super) p: &'a Processor,
    pub(super) store: &'a dyn ComponentStore,
    pub(super) fetcher: &'a mut dyn PayloadFetcher,
    pub(super) report: &'a mut SuitReport,
    pub(super) stage: Stage,
    pub(super) summary: Summary,
    pub(super) commands: usize,
}

impl<'a> Run<'a> {
    pub(super) fn new(
        p: &'a Processor,
        store: &'a dyn ComponentStore,
        fetcher: &'a mut dyn PayloadFetcher,
        report: &'a mut SuitReport,
    ) -> Self {
        Run {
            p,
            store,
            fetcher,
            report,
            stage: Stage::default(),
            summary: Summary::default(),
            commands: 0,
        }
    }

    pub(super) fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, ProcessError> {
        if let Some(c) = self.stage.components.get(id) {
            return Ok(c.clone());
        }
        Ok(self.store.read_component(id)?)
    }

    pub(super) fn read_manifest(
        &self,
        id: &ComponentId,
    ) -> Result<Option<ManifestRecord>, ProcessError> {
        if let Some(m) = self.stage.manifests.get(id) {
            return Ok(m.clone());
        }
        Ok(self.store.manifest(id)?)
    }

    /// Installed manifests (as staged) that list `id` among their components.
    pub(super) fn component_owners(
        &self,
        id: &ComponentId,
    ) -> Result<Vec<ComponentId>, ProcessError> {
        let mut out: Vec<ComponentId> = self
            .store
            .component_owners(id)?
            .into_iter()
            .filter(|m| match self.stage.manifests.get(m) {
                Some(Some(rec)) => rec.components.contains(id),
                Some(None) => false,
                None => true,
            })
            .collect();
        for (m, rec) in &self.stage.manifests {
            if let Some(rec) = rec {
                if rec.components.contains(id) && !out.contains(m) {
                    out.push(m.clone());
                }
            }
        }
        Ok(out)
    }

    /// Rejects a sequence number below the installed one (or equal, unless allowed).
    pub(super) fn check_rollback(&self, key: &ComponentId, seq: u64) -> Result<(), ProcessError> {
        if let Some(rec) = self.read_manifest(key)? {
            let lower = seq < rec.sequence_number;
            let equal = seq == rec.sequence_number;
            if lower || (equal && !self.p.options.allow_equal_sequence) {
                return Err(ProcessError::Rollback {
                    component: key.to_string(),
                    offered: seq,
                    installed: rec.sequence_number,
                });
            }
        }
        Ok(())
    }

    /// SHA-256 and length of a component, cached per run.
    pub(super) fn component_digest(
        &mut self,
        id: &ComponentId,
    ) -> Result<Option<(Vec<u8>, u64)>, ProcessError> {
        let Some(content) = self.read_component(id)? else {
            return Ok(None);
        };
        if let Some(d) = self.stage.digests.get(id) {
            return Ok(Some((d.clone(), content.len() as u64)));
        }
        let d = Digest::sha256(&content).bytes;
        self.stage.digests.insert(id.clone(), d.clone());
        Ok(Some((d, content.len() as u64)))
    }
}
