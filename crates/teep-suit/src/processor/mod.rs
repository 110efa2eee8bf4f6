//! The SUIT processor: runs command sequences against a [`ComponentStore`], sans-IO.
//!
//! Everything a run changes is staged in memory (component writes and deletes, manifest
//! records with sequence numbers and reference counts) and handed to the store as one
//! [`StoreBatch`](crate::store::StoreBatch) at the end; a failed run commits nothing. Every run
//! yields a [`SuitReport`].
//!
//! Choices where the drafts leave room (documented in ARCHITECTURE.md too):
//! * Anti-rollback: a sequence number lower than the installed one for the same manifest
//!   component id is rejected; an equal one is accepted (re-install, e.g. after a lost reply).
//! * Manifests without manifest-component-id (SUIT examples) are recorded under their first
//!   component id with a final segment `suit`.
//! * process-dependency in an update section runs the same section of the dependency; in
//!   uninstall it drops one reference to the dependency (running its uninstall at zero).
//! * process-dependency without a prior condition-dependency-integrity aborts (trust-domains
//!   MUST) unless `Options::implicit_dependency_integrity` is set, in which case the same
//!   signature and digest checks run implicitly (the TEEP personalization example needs it).
//! * directive-fetch of a dependency uses the dependency manifest the device already holds
//!   at its component id when that manifest has the pinned image-digest (installed earlier,
//!   or earlier in the same TEEP Update), instead of fetching the same bytes again.
//! * image-size bounds fetches and is compared exactly by condition-image-match.
//! * Conditions failing inside try-each move to the next alternative (staged changes of the
//!   failed alternative are dropped); inside run-sequence they end the nested sequence only when
//!   parameter soft-failure is true; condition-abort and errors always end the run.
//!
//! Layout: this file holds the public API; `run` the per-run state and staging, `sequence`
//! the command loop, `failure` error and report construction, `parameters`, `conditions`,
//! `payload` (write/fetch/copy/swap), `directives` (invoke/unlink), `dependencies` and
//! `manifests` (procedures and manifest records) one concern each.

mod conditions;
mod dependencies;
mod directives;
mod failure;
mod manifests;
mod parameters;
mod payload;
mod run;
mod sequence;

use crate::auth::{verify_envelope_with_limits, TrustAnchors};
use crate::encryption::DecryptionKeys;
use crate::error::ProcessError;
use crate::limits::Limits;
use crate::model::{ComponentId, Manifest};
use crate::report::{SuitRecord, SuitReport};
use crate::store::{ComponentStore, PayloadFetcher};
use alloc::string::ToString;
use alloc::vec::Vec;
use bytes::Bytes;
use failure::{failure_result, finish_outcome, report_reason_for_auth_error};
use run::Run;

/// The device's identifiers, compared by vendor/class/device-identifier conditions.
/// An empty list means "not checked" (any identifier the manifest names is accepted).
#[derive(Debug, Clone, Default)]
pub struct DeviceIdentity {
    pub vendor_ids: Vec<Vec<u8>>,
    pub class_ids: Vec<Vec<u8>>,
    pub device_ids: Vec<Vec<u8>>,
}

/// Behaviour switches (see the module documentation).
#[derive(Debug, Clone)]
pub struct Options {
    pub implicit_dependency_integrity: bool,
    pub allow_equal_sequence: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            implicit_dependency_integrity: false,
            allow_equal_sequence: true,
        }
    }
}

/// A SUIT processor configured with trust anchors, decryption keys, identity and limits.
#[derive(Debug, Clone, Default)]
pub struct Processor {
    pub anchors: TrustAnchors,
    pub keys: DecryptionKeys,
    pub identity: DeviceIdentity,
    pub limits: Limits,
    pub options: Options,
}

/// A component invoked by directive-invoke, for the caller to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub component: ComponentId,
    pub args: Option<Bytes>,
}

/// What a successful run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub manifest_component_id: ComponentId,
    pub sequence_number: u64,
    /// Components written (in order).
    pub written: Vec<ComponentId>,
    /// Components deleted.
    pub deleted: Vec<ComponentId>,
    /// Manifest records removed (uninstall).
    pub removed_manifests: Vec<ComponentId>,
    pub invocations: Vec<Invocation>,
    /// Number of commands executed.
    pub commands: usize,
}

/// The result of one run: the outcome and its report.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: Result<Summary, ProcessError>,
    pub report: SuitReport,
}

impl Processor {
    pub fn new(anchors: TrustAnchors) -> Self {
        Processor {
            anchors,
            ..Default::default()
        }
    }

    pub fn with_keys(mut self, keys: DecryptionKeys) -> Self {
        self.keys = keys;
        self
    }

    pub fn with_identity(mut self, identity: DeviceIdentity) -> Self {
        self.identity = identity;
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Verifies an envelope and runs the update procedure (dependency-resolution,
    /// payload-fetch, candidate-verification, install, validate), then commits.
    pub fn install(
        &self,
        envelope: impl Into<Bytes>,
        store: &mut dyn ComponentStore,
        fetcher: &mut dyn PayloadFetcher,
    ) -> Outcome {
        let mut report = SuitReport::new();
        let envelope = match verify_envelope_with_limits(envelope, &self.anchors, &self.limits) {
            Ok(v) => v,
            Err(e) => {
                report.result = failure_result(
                    0,
                    SuitRecord::default(),
                    report_reason_for_auth_error(&e),
                    e.to_string(),
                );
                return Outcome {
                    result: Err(e.into()),
                    report,
                };
            }
        };
        report.reference_uri = envelope.manifest.reference_uri.clone().unwrap_or_default();
        report.digest = Some(envelope.authentication.digest.clone());
        let (result, stage) = {
            let mut run = Run::new(self, &*store, fetcher, &mut report);
            let r = run.install_root(&envelope);
            (r, run.stage)
        };
        let result = result.and_then(|summary| {
            store.commit(stage.into_batch())?;
            Ok(summary)
        });
        finish_outcome(result, report)
    }

    /// Drops the root link of an installed manifest (TEEP unneeded-manifest-list); at
    /// reference count zero runs its uninstall sequence and removes it. Commits once.
    pub fn uninstall(
        &self,
        manifest_component_id: &ComponentId,
        store: &mut dyn ComponentStore,
        fetcher: &mut dyn PayloadFetcher,
    ) -> Outcome {
        let mut report = SuitReport::new();
        let (result, stage, mut summary) = {
            let mut run = Run::new(self, &*store, fetcher, &mut report);
            let r = run.unlink_manifest(manifest_component_id, Vec::new(), 0);
            (r, run.stage, run.summary)
        };
        summary.manifest_component_id = manifest_component_id.clone();
        let result = result.and_then(|()| {
            store.commit(stage.into_batch())?;
            Ok(summary)
        });
        finish_outcome(result, report)
    }

    /// Runs the invocation procedure (validate, load, invoke) of an installed manifest.
    /// Changes nothing in the store; the invocations are returned for the caller to start.
    pub fn invoke(
        &self,
        manifest_component_id: &ComponentId,
        store: &dyn ComponentStore,
        fetcher: &mut dyn PayloadFetcher,
    ) -> Outcome {
        let mut report = SuitReport::new();
        let mut run = Run::new(self, store, fetcher, &mut report);
        let result = run.invoke_installed(manifest_component_id);
        finish_outcome(result, report)
    }
}

/// Fallback storage key for manifests without manifest-component-id.
pub fn manifest_key_of(m: &Manifest) -> ComponentId {
    if let Some(id) = &m.manifest_component_id {
        return id.clone();
    }
    let mut id = m.common.components.first().cloned().unwrap_or_default();
    id.push(b"suit".to_vec());
    id
}
