//! The SUIT processor: runs command sequences against a [`ComponentStore`], sans-IO.
//!
//! Everything a run changes is staged in memory (component writes and deletes, manifest
//! records with sequence numbers and reference counts) and handed to the store as one
//! [`StoreBatch`] at the end; a failed run commits nothing. Every run yields a [`SuitReport`].
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
//! * image-size bounds fetches and is compared exactly by condition-image-match.
//! * Conditions failing inside try-each move to the next alternative (staged changes of the
//!   failed alternative are dropped); inside run-sequence they end the nested sequence only when
//!   parameter soft-failure is true; condition-abort and errors always end the run.

use crate::auth::{
    decode_envelope_unverified, verify_envelope_with_limits, TrustAnchors, VerifiedEnvelope,
};
use crate::encryption::{decrypt_payload, DecryptionKeys};
use crate::error::{display_component_id, AuthError, ProcessError};
use crate::limits::Limits;
use crate::model::*;
use crate::report::{ReportReason, ReportResult, SuitRecord, SuitReport};
use crate::store::{ComponentStore, ManifestRecord, PayloadFetcher, StoreBatch};
use bytes::Bytes;
use std::collections::BTreeMap;

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
                report.result = failure(0, SuitRecord::default(), auth_reason(&e), e.to_string());
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
        finish(result, report)
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
        finish(result, report)
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
        finish(result, report)
    }
}

fn finish(result: Result<Summary, ProcessError>, mut report: SuitReport) -> Outcome {
    if let Err(e) = &result {
        if report.result == ReportResult::Success {
            let reason = match e {
                ProcessError::Auth(a) => auth_reason(a),
                ProcessError::Decode(_) => ReportReason::CborParse,
                ProcessError::UnsupportedVersion(_) => ReportReason::CborParse,
                ProcessError::Rollback { .. } => ReportReason::Unauthorised,
                _ => ReportReason::OperationFailed,
            };
            report.result = failure(0, SuitRecord::default(), reason, e.to_string());
        }
    }
    Outcome { result, report }
}

fn failure(code: i64, record: SuitRecord, reason: ReportReason, detail: String) -> ReportResult {
    ReportResult::Failure {
        code,
        record,
        reason,
        detail,
    }
}

fn auth_reason(e: &AuthError) -> ReportReason {
    match e {
        AuthError::Decode(_) => ReportReason::CborParse,
        AuthError::UnsupportedCose(_) => ReportReason::CoseUnsupported,
        AuthError::UnsupportedAlgorithm(_) | AuthError::UnsupportedDigest(_) => {
            ReportReason::AlgUnsupported
        }
        _ => ReportReason::Unauthorised,
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

/// Staged changes, read through before the store.
#[derive(Default, Clone)]
struct Stage {
    components: BTreeMap<ComponentId, Option<Bytes>>,
    manifests: BTreeMap<ComponentId, Option<ManifestRecord>>,
    /// SHA-256 of staged or read component content, so a payload is hashed once per run.
    digests: BTreeMap<ComponentId, Vec<u8>>,
}

impl Stage {
    fn into_batch(self) -> StoreBatch {
        StoreBatch {
            components: self.components.into_iter().collect(),
            manifests: self.manifests.into_iter().collect(),
        }
    }
}

/// Where a failing command sits, for errors and report records.
#[derive(Clone)]
struct Site {
    manifest_id: Vec<u64>,
    section: i64,
    offset: usize,
    component_index: u64,
    code: CommandCode,
}

/// How a command failed: conditions may be absorbed by try-each.
enum Fail {
    Condition(ProcessError),
    Fatal(ProcessError),
}

impl From<ProcessError> for Fail {
    fn from(e: ProcessError) -> Self {
        Fail::Fatal(e)
    }
}

/// Per-manifest execution state.
struct Ctx<'e> {
    env: &'e Envelope,
    /// Manifest component id (storage key) of this manifest.
    key: ComponentId,
    manifest_id: Vec<u64>,
    depth: usize,
    section: i64,
    current: Vec<u64>,
    params: BTreeMap<u64, BTreeMap<i64, Parameter>>,
    /// Dependency envelopes fetched into a dependency index (not stored as components).
    dep_content: BTreeMap<u64, Bytes>,
    /// Dependencies whose integrity was checked, with the verified envelope.
    dep_verified: BTreeMap<u64, VerifiedEnvelope>,
    written: Vec<ComponentId>,
    dependencies: Vec<ComponentId>,
}

struct Run<'a> {
    p: &'a Processor,
    store: &'a dyn ComponentStore,
    fetcher: &'a mut dyn PayloadFetcher,
    report: &'a mut SuitReport,
    stage: Stage,
    summary: Summary,
    commands: usize,
}

const SHARED_SECTION: i64 = manifest_key::COMMON;

impl<'a> Run<'a> {
    fn new(
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

    fn read_component(&self, id: &ComponentId) -> Result<Option<Bytes>, ProcessError> {
        if let Some(c) = self.stage.components.get(id) {
            return Ok(c.clone());
        }
        Ok(self.store.read_component(id)?)
    }

    fn read_manifest(&self, id: &ComponentId) -> Result<Option<ManifestRecord>, ProcessError> {
        if let Some(m) = self.stage.manifests.get(id) {
            return Ok(m.clone());
        }
        Ok(self.store.manifest(id)?)
    }

    /// Installed manifests (as staged) that list `id` among their components.
    fn owners(&self, id: &ComponentId) -> Result<Vec<ComponentId>, ProcessError> {
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

    fn check_rollback(&self, key: &ComponentId, seq: u64) -> Result<(), ProcessError> {
        if let Some(rec) = self.read_manifest(key)? {
            let lower = seq < rec.sequence_number;
            let equal = seq == rec.sequence_number;
            if lower || (equal && !self.p.options.allow_equal_sequence) {
                return Err(ProcessError::Rollback {
                    component: display_component_id(key),
                    offered: seq,
                    installed: rec.sequence_number,
                });
            }
        }
        Ok(())
    }

    fn install_root(&mut self, env: &VerifiedEnvelope) -> Result<Summary, ProcessError> {
        let m = &env.manifest;
        if m.version != 1 {
            return Err(ProcessError::UnsupportedVersion(m.version));
        }
        let key = manifest_key_of(m);
        self.check_rollback(&key, m.sequence_number)?;
        let mut ctx = Ctx::new(env, Vec::new(), 0);
        self.update_procedure(&mut ctx)?;
        self.record_manifest(&key, &ctx, true)?;
        let mut summary = std::mem::take(&mut self.summary);
        summary.manifest_component_id = key;
        summary.sequence_number = m.sequence_number;
        summary.written = ctx.written.clone();
        summary.commands = self.commands;
        Ok(summary)
    }

    fn update_procedure(&mut self, ctx: &mut Ctx<'_>) -> Result<(), ProcessError> {
        let m = &ctx.env.manifest;
        let sections: [(i64, Option<&Severable<CommandSequence>>); 4] = [
            (
                manifest_key::DEPENDENCY_RESOLUTION,
                m.dependency_resolution.as_ref(),
            ),
            (manifest_key::PAYLOAD_FETCH, m.payload_fetch.as_ref()),
            (
                manifest_key::CANDIDATE_VERIFICATION,
                m.candidate_verification.as_ref(),
            ),
            (manifest_key::INSTALL, m.install.as_ref()),
        ];
        for (key, member) in sections {
            if let Some(member) = member {
                let seq = member.get().ok_or_else(|| ProcessError::CommandFailed {
                    section: crate::codec::manifest_member_name(key).into(),
                    offset: 0,
                    command: "severed member".into(),
                    reason: "the member is severed and the envelope does not carry it".into(),
                })?;
                self.run_section(ctx, key, seq)?;
            }
        }
        if let Some(v) = &m.validate {
            self.run_section(ctx, manifest_key::VALIDATE, v)?;
        }
        Ok(())
    }

    /// Runs the shared sequence and then `seq` with fresh parameters.
    fn run_section(
        &mut self,
        ctx: &mut Ctx<'_>,
        section: i64,
        seq: &CommandSequence,
    ) -> Result<(), ProcessError> {
        ctx.params.clear();
        ctx.current = vec![0];
        if let Some(shared) = &ctx.env.manifest.common.shared_sequence {
            ctx.section = SHARED_SECTION;
            self.exec(ctx, shared, 0).map_err(|f| self.fail(f))?;
        }
        ctx.section = section;
        self.exec(ctx, seq, 0).map_err(|f| self.fail(f))
    }

    fn fail(&mut self, f: Fail) -> ProcessError {
        match f {
            Fail::Condition(e) | Fail::Fatal(e) => e,
        }
    }

    fn site(&self, ctx: &Ctx<'_>, cmd: &Command, index: u64) -> Site {
        Site {
            manifest_id: ctx.manifest_id.clone(),
            section: ctx.section,
            offset: cmd.offset,
            component_index: index,
            code: cmd.code,
        }
    }

    fn record(&mut self, site: &Site, props: Vec<(i64, Vec<u8>)>) -> SuitRecord {
        SuitRecord {
            manifest_id: site.manifest_id.clone(),
            section: site.section,
            offset: site.offset as u64,
            component_index: site.component_index,
            properties: props,
            command: Some(site.code.to_cbor()),
        }
    }

    fn command_error(
        &mut self,
        site: &Site,
        reason: ReportReason,
        detail: String,
        condition: bool,
    ) -> Fail {
        let record = self.record(site, Vec::new());
        let section = section_name(site.section);
        let e = if reason == ReportReason::CommandUnsupported {
            ProcessError::UnsupportedCommand {
                section,
                offset: site.offset,
                code: site.code.to_cbor(),
            }
        } else if condition {
            ProcessError::ConditionFailed {
                section,
                offset: site.offset,
                command: site.code.name().into(),
                reason: detail.clone(),
            }
        } else {
            ProcessError::CommandFailed {
                section,
                offset: site.offset,
                command: site.code.name().into(),
                reason: detail.clone(),
            }
        };
        self.report.result = failure(site.code.to_cbor(), record, reason, e.to_string());
        if condition {
            Fail::Condition(e)
        } else {
            Fail::Fatal(e)
        }
    }

    fn exec(&mut self, ctx: &mut Ctx<'_>, seq: &CommandSequence, depth: usize) -> Result<(), Fail> {
        if depth > self.p.limits.max_sequence_depth {
            return Err(Fail::Fatal(ProcessError::Limit(format!(
                "command sequences nested deeper than {}",
                self.p.limits.max_sequence_depth
            ))));
        }
        for cmd in &seq.commands {
            self.commands += 1;
            if self.commands > self.p.limits.max_commands {
                return Err(Fail::Fatal(ProcessError::Limit(format!(
                    "more than {} commands executed",
                    self.p.limits.max_commands
                ))));
            }
            self.exec_one(ctx, cmd, depth)?;
        }
        Ok(())
    }

    fn policy_record(&mut self, ctx: &Ctx<'_>, cmd: &Command, index: u64) {
        if let CommandArg::ReportingPolicy(p) = cmd.arg {
            if p & 1 != 0 {
                let site = self.site(ctx, cmd, index);
                let rec = self.record(&site, Vec::new());
                if self.report.records.len() < 1024 {
                    self.report.records.push(rec);
                }
            }
        }
    }

    fn exec_one(&mut self, ctx: &mut Ctx<'_>, cmd: &Command, depth: usize) -> Result<(), Fail> {
        use CommandCode::*;
        match (&cmd.code, &cmd.arg) {
            (SetComponentIndex, CommandArg::ComponentIndex(arg)) => {
                let all: Vec<u64> = match arg {
                    IndexArg::One(i) => vec![*i],
                    IndexArg::All => (0..ctx.env.manifest.common.components.len() as u64).collect(),
                    IndexArg::List(v) => v.clone(),
                };
                for i in &all {
                    if !ctx.valid_index(*i) {
                        let site = self.site(ctx, cmd, *i);
                        return Err(self.command_error(
                            &site,
                            ReportReason::ComponentUnsupported,
                            format!("component index {i} is not in the manifest"),
                            false,
                        ));
                    }
                }
                ctx.current = all;
                Ok(())
            }
            (SetParameters | OverrideParameters, CommandArg::Parameters(ps)) => {
                for i in ctx.current.clone() {
                    let slot = ctx.params.entry(i).or_default();
                    for p in ps {
                        if cmd.code == OverrideParameters {
                            slot.insert(p.label(), p.clone());
                        } else {
                            slot.entry(p.label()).or_insert_with(|| p.clone());
                        }
                    }
                }
                Ok(())
            }
            (
                TryEach,
                CommandArg::TryEach {
                    alternatives,
                    allow_none,
                },
            ) => {
                for alt in alternatives {
                    let saved_stage = self.stage.clone();
                    let saved_params = ctx.params.clone();
                    let saved_current = ctx.current.clone();
                    let saved_written = ctx.written.len();
                    let saved_result = self.report.result.clone();
                    match self.exec(ctx, alt, depth + 1) {
                        Ok(()) => return Ok(()),
                        Err(Fail::Condition(_)) => {
                            self.stage = saved_stage;
                            ctx.params = saved_params;
                            ctx.current = saved_current;
                            ctx.written.truncate(saved_written);
                            self.report.result = saved_result;
                        }
                        Err(f) => return Err(f),
                    }
                }
                if *allow_none {
                    Ok(())
                } else {
                    let site = self.site(ctx, cmd, ctx.current.first().copied().unwrap_or(0));
                    Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        "no alternative of try-each succeeded".into(),
                        true,
                    ))
                }
            }
            (RunSequence, CommandArg::Sequence(s)) => {
                // With parameter soft-failure set, a failed condition only ends the nested
                // sequence (its staged changes stay: they passed their own checks).
                let saved_result = self.report.result.clone();
                match self.exec(ctx, s, depth + 1) {
                    Err(Fail::Condition(_)) if self.soft_failure(ctx) => {
                        self.report.result = saved_result;
                        Ok(())
                    }
                    other => other,
                }
            }
            (Abort, _) => {
                let site = self.site(ctx, cmd, ctx.current.first().copied().unwrap_or(0));
                Err(self.command_error(
                    &site,
                    ReportReason::ConditionFailed,
                    "condition-abort".into(),
                    false,
                ))
            }
            (Unknown(_), _) | (_, CommandArg::Raw(_)) => {
                let site = self.site(ctx, cmd, ctx.current.first().copied().unwrap_or(0));
                Err(self.command_error(
                    &site,
                    ReportReason::CommandUnsupported,
                    "unsupported command or argument".into(),
                    false,
                ))
            }
            _ => {
                for i in ctx.current.clone() {
                    self.exec_on(ctx, cmd, i)?;
                    self.policy_record(ctx, cmd, i);
                }
                Ok(())
            }
        }
    }

    fn soft_failure(&self, ctx: &Ctx<'_>) -> bool {
        ctx.current
            .iter()
            .any(|i| matches!(self.param(ctx, *i, 13), Some(Parameter::SoftFailure(true))))
    }

    fn param<'c>(&self, ctx: &'c Ctx<'_>, i: u64, label: i64) -> Option<&'c Parameter> {
        ctx.params.get(&i).and_then(|m| m.get(&label))
    }

    fn component_id(&mut self, ctx: &Ctx<'_>, cmd: &Command, i: u64) -> Result<ComponentId, Fail> {
        match ctx.env.manifest.component_id(i) {
            Some(id) => Ok(id),
            None => {
                let site = self.site(ctx, cmd, i);
                Err(self.command_error(
                    &site,
                    ReportReason::ComponentUnsupported,
                    format!("component index {i} is not in the manifest"),
                    false,
                ))
            }
        }
    }

    /// A command on one component index.
    fn exec_on(&mut self, ctx: &mut Ctx<'_>, cmd: &Command, i: u64) -> Result<(), Fail> {
        use CommandCode::*;
        let site = self.site(ctx, cmd, i);
        let is_dep = ctx.env.manifest.dependency(i).is_some();
        match cmd.code {
            VendorIdentifier | ClassIdentifier | DeviceIdentifier => {
                let (label, known) = match cmd.code {
                    VendorIdentifier => (1, &self.p.identity.vendor_ids),
                    ClassIdentifier => (2, &self.p.identity.class_ids),
                    _ => (24, &self.p.identity.device_ids),
                };
                let value = match self.param(ctx, i, label) {
                    Some(
                        Parameter::VendorId(b) | Parameter::ClassId(b) | Parameter::DeviceId(b),
                    ) => b.clone(),
                    _ => {
                        return Err(self.command_error(
                            &site,
                            ReportReason::ParameterUnsupported,
                            format!("parameter {} is not set", Parameter::name(label)),
                            true,
                        ))
                    }
                };
                if !known.is_empty() && !known.iter().any(|k| k[..] == value[..]) {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        format!(
                            "{} {} does not match this device",
                            Parameter::name(label),
                            hex::encode(&value)
                        ),
                        true,
                    ));
                }
                Ok(())
            }
            ImageMatch => {
                let Some(Parameter::ImageDigest(want)) = self.param(ctx, i, 3).cloned() else {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ParameterUnsupported,
                        "parameter image-digest is not set".into(),
                        true,
                    ));
                };
                if want.algorithm != DigestAlgorithm::Sha256 {
                    return Err(self.command_error(
                        &site,
                        ReportReason::AlgUnsupported,
                        format!(
                            "digest algorithm {} is not supported",
                            want.algorithm.to_cose()
                        ),
                        false,
                    ));
                }
                let size = match self.param(ctx, i, 14) {
                    Some(Parameter::ImageSize(n)) => Some(*n),
                    _ => None,
                };
                let (have, len) = if is_dep {
                    // A dependency's image is its bstr-wrapped manifest: its auth digest.
                    let content = ctx.dep_content.get(&i).cloned();
                    match content {
                        Some(c) => match decode_envelope_unverified(c.clone(), &self.p.limits) {
                            Ok(e) => (e.authentication.digest.bytes.clone(), Some(c.len() as u64)),
                            Err(e) => {
                                return Err(self.command_error(
                                    &site,
                                    ReportReason::ConditionFailed,
                                    format!("dependency is not a valid envelope: {e}"),
                                    true,
                                ))
                            }
                        },
                        None => {
                            return Err(self.command_error(
                                &site,
                                ReportReason::ConditionFailed,
                                "dependency has not been fetched".into(),
                                true,
                            ))
                        }
                    }
                } else {
                    let id = self.component_id(ctx, cmd, i)?;
                    match self.digest_of(&id).map_err(Fail::Fatal)? {
                        Some((d, len)) => (d, Some(len)),
                        None => {
                            return Err(self.command_error(
                                &site,
                                ReportReason::ConditionFailed,
                                format!("component {} is empty", display_component_id(&id)),
                                true,
                            ))
                        }
                    }
                };
                if let (Some(want_len), Some(len)) = (size, len) {
                    if want_len != len && !is_dep {
                        return Err(self.command_error(
                            &site,
                            ReportReason::ConditionFailed,
                            format!(
                                "image-size {want_len} does not match the component's {len} bytes"
                            ),
                            true,
                        ));
                    }
                }
                if have != want.bytes {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        format!(
                            "digest {} does not match image-digest {}",
                            hex::encode(&have),
                            hex::encode(&want.bytes)
                        ),
                        true,
                    ));
                }
                if is_dep {
                    // A matching digest is an integrity check of the dependency; its
                    // signature is verified here too, before anything of it is processed.
                    let v = self.verify_dependency(ctx, cmd, i)?;
                    ctx.dep_verified.insert(i, v);
                }
                Ok(())
            }
            ComponentSlot => {
                // This store has one slot per component: slot 0.
                match self.param(ctx, i, 5) {
                    Some(Parameter::ComponentSlot(0)) => Ok(()),
                    Some(Parameter::ComponentSlot(n)) => {
                        let n = *n;
                        Err(self.command_error(
                            &site,
                            ReportReason::ConditionFailed,
                            format!("component-slot {n} is not the active slot 0"),
                            true,
                        ))
                    }
                    _ => Err(self.command_error(
                        &site,
                        ReportReason::ParameterUnsupported,
                        "parameter component-slot is not set".into(),
                        true,
                    )),
                }
            }
            CheckContent => {
                let Some(Parameter::Content(want)) = self.param(ctx, i, 18).cloned() else {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ParameterUnsupported,
                        "parameter content is not set".into(),
                        true,
                    ));
                };
                let id = self.component_id(ctx, cmd, i)?;
                let have = self
                    .read_component(&id)
                    .map_err(Fail::Fatal)?
                    .unwrap_or_default();
                if !constant_time_eq(&have, &want) {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        "component content differs from parameter content".into(),
                        true,
                    ));
                }
                Ok(())
            }
            IsDependency => {
                if is_dep {
                    Ok(())
                } else {
                    Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        format!("component index {i} is not a dependency"),
                        true,
                    ))
                }
            }
            DependencyIntegrity => {
                if !is_dep {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        format!("component index {i} is not a dependency"),
                        true,
                    ));
                }
                let v = self.verify_dependency(ctx, cmd, i)?;
                ctx.dep_verified.insert(i, v);
                Ok(())
            }
            ProcessDependency => {
                if !is_dep {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ComponentUnsupported,
                        format!("component index {i} is not a dependency"),
                        false,
                    ));
                }
                if ctx.section == manifest_key::UNINSTALL {
                    let id = self.component_id(ctx, cmd, i)?;
                    let mut mid = ctx.manifest_id.clone();
                    mid.push(i);
                    return self
                        .unlink_manifest(&id, mid, ctx.depth + 1)
                        .map_err(Fail::Fatal);
                }
                let dep = match ctx.dep_verified.get(&i) {
                    Some(v) => v.clone(),
                    None if self.p.options.implicit_dependency_integrity => {
                        self.verify_dependency(ctx, cmd, i)?
                    }
                    None => {
                        return Err(self.command_error(
                            &site,
                            ReportReason::ComponentUnauthorised,
                            "process-dependency without a preceding condition-dependency-integrity"
                                .into(),
                            false,
                        ));
                    }
                };
                self.process_dependency(ctx, cmd, i, &dep)
            }
            Write | Fetch | Copy | Swap => self.write_like(ctx, cmd, i, is_dep),
            Invoke => {
                let id = self.component_id(ctx, cmd, i)?;
                let args = match self.param(ctx, i, 23) {
                    Some(Parameter::InvokeArgs(b)) => Some(b.clone()),
                    _ => None,
                };
                self.summary.invocations.push(Invocation {
                    component: id,
                    args,
                });
                Ok(())
            }
            Unlink => {
                let id = self.component_id(ctx, cmd, i)?;
                if is_dep {
                    let mut mid = ctx.manifest_id.clone();
                    mid.push(i);
                    return self
                        .unlink_manifest(&id, mid, ctx.depth + 1)
                        .map_err(Fail::Fatal);
                }
                self.stage.components.insert(id.clone(), None);
                self.stage.digests.remove(&id);
                self.summary.deleted.push(id);
                Ok(())
            }
            _ => Err(self.command_error(
                &site,
                ReportReason::CommandUnsupported,
                "unsupported command".into(),
                false,
            )),
        }
    }

    fn write_like(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        i: u64,
        is_dep: bool,
    ) -> Result<(), Fail> {
        use CommandCode::*;
        let site = self.site(ctx, cmd, i);
        let max = self.p.limits.max_payload_len;
        let mut data: Bytes = match cmd.code {
            Write => match self.param(ctx, i, 18) {
                Some(Parameter::Content(b)) => b.clone(),
                _ => {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ParameterUnsupported,
                        "parameter content is not set".into(),
                        false,
                    ))
                }
            },
            Fetch => {
                let uri = match self.param(ctx, i, 21) {
                    Some(Parameter::Uri(u)) => u.clone(),
                    _ => {
                        return Err(self.command_error(
                            &site,
                            ReportReason::ParameterUnsupported,
                            "parameter uri is not set".into(),
                            false,
                        ))
                    }
                };
                let bound = match self.param(ctx, i, 14) {
                    Some(Parameter::ImageSize(n)) => (*n).min(max),
                    _ => max,
                };
                if uri.starts_with('#') {
                    match ctx
                        .env
                        .integrated(&uri)
                        .or_else(|| ctx.env.integrated(&uri[1..]))
                    {
                        Some(b) if b.len() as u64 <= bound => b.clone(),
                        Some(b) => {
                            let len = b.len();
                            return Err(self.command_error(
                                &site,
                                ReportReason::OperationFailed,
                                format!("integrated payload {uri} of {len} bytes exceeds {bound}"),
                                false,
                            ));
                        }
                        None => {
                            return Err(self.command_error(
                                &site,
                                ReportReason::OperationFailed,
                                format!("integrated payload {uri} is not in the envelope"),
                                false,
                            ))
                        }
                    }
                } else {
                    match self.fetcher.fetch(&uri, bound) {
                        Ok(b) if b.len() as u64 <= bound => b,
                        Ok(b) => {
                            let len = b.len();
                            return Err(self.command_error(
                                &site,
                                ReportReason::OperationFailed,
                                format!("{uri}: {len} bytes exceed {bound}"),
                                false,
                            ));
                        }
                        Err(e) => {
                            return Err(self.command_error(
                                &site,
                                ReportReason::OperationFailed,
                                e.to_string(),
                                false,
                            ))
                        }
                    }
                }
            }
            Copy | Swap => {
                let src = match self.param(ctx, i, 22) {
                    Some(Parameter::SourceComponent(s)) => *s,
                    _ => {
                        return Err(self.command_error(
                            &site,
                            ReportReason::ParameterUnsupported,
                            "parameter source-component is not set".into(),
                            false,
                        ))
                    }
                };
                let src_id = self.component_id(ctx, cmd, src)?;
                let content = self.read_component(&src_id).map_err(Fail::Fatal)?;
                let Some(content) = content else {
                    return Err(self.command_error(
                        &site,
                        ReportReason::OperationFailed,
                        format!(
                            "source component {} is empty",
                            display_component_id(&src_id)
                        ),
                        false,
                    ));
                };
                if cmd.code == Swap {
                    let dst_id = self.component_id(ctx, cmd, i)?;
                    let dst = self.read_component(&dst_id).map_err(Fail::Fatal)?;
                    self.stage.components.insert(src_id.clone(), dst);
                    self.stage.digests.remove(&src_id);
                }
                content
            }
            _ => unreachable_command(),
        };
        if cmd.code != Swap {
            if let Some(Parameter::EncryptionInfo(info)) = self.param(ctx, i, 19).cloned() {
                match decrypt_payload(&info, &data, &self.p.keys) {
                    Ok(plain) => data = Bytes::from(plain),
                    Err(e) => {
                        return Err(self.command_error(
                            &site,
                            ReportReason::OperationFailed,
                            e.to_string(),
                            false,
                        ))
                    }
                }
            }
        }
        if data.len() as u64 > max {
            let len = data.len();
            return Err(self.command_error(
                &site,
                ReportReason::OperationFailed,
                format!("payload of {len} bytes exceeds the limit of {max}"),
                false,
            ));
        }
        if is_dep {
            ctx.dep_content.insert(i, data);
            ctx.dep_verified.remove(&i);
            return Ok(());
        }
        let id = self.component_id(ctx, cmd, i)?;
        let owners = self.owners(&id).map_err(Fail::Fatal)?;
        if let Some(other) = owners.iter().find(|o| **o != ctx.key) {
            let detail = format!(
                "component {} belongs to installed manifest {}",
                display_component_id(&id),
                display_component_id(other)
            );
            return Err(self.command_error(
                &site,
                ReportReason::ComponentUnauthorised,
                detail,
                false,
            ));
        }
        self.stage.digests.remove(&id);
        self.stage.components.insert(id.clone(), Some(data));
        if !ctx.written.contains(&id) {
            ctx.written.push(id);
        }
        Ok(())
    }

    /// SHA-256 and length of a component, cached per run.
    fn digest_of(&mut self, id: &ComponentId) -> Result<Option<(Vec<u8>, u64)>, ProcessError> {
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

    /// Finds the dependency envelope (fetched, integrated, or installed), authenticates it and
    /// checks it against image-digest when set.
    fn verify_dependency(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        i: u64,
    ) -> Result<VerifiedEnvelope, Fail> {
        let site = self.site(ctx, cmd, i);
        if ctx.depth + 1 > self.p.limits.max_dependency_depth {
            return Err(Fail::Fatal(ProcessError::Limit(format!(
                "dependencies nested deeper than {}",
                self.p.limits.max_dependency_depth
            ))));
        }
        let id = self.component_id(ctx, cmd, i)?;
        let content = match ctx.dep_content.get(&i) {
            Some(c) => c.clone(),
            None => match self.read_manifest(&id).map_err(Fail::Fatal)? {
                Some(rec) => rec.envelope,
                None => {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        format!(
                            "dependency {} was neither fetched nor installed",
                            display_component_id(&id)
                        ),
                        true,
                    ))
                }
            },
        };
        let v = match verify_envelope_with_limits(content, &self.p.anchors, &self.p.limits) {
            Ok(v) => v,
            Err(e) => {
                let reason = auth_reason(&e);
                return Err(self.command_error(&site, reason, format!("dependency: {e}"), true));
            }
        };
        if let Some(Parameter::ImageDigest(want)) = self.param(ctx, i, 3) {
            if want.bytes != v.authentication.digest.bytes {
                let (w, h) = (
                    hex::encode(&want.bytes),
                    hex::encode(&v.authentication.digest.bytes),
                );
                return Err(self.command_error(
                    &site,
                    ReportReason::ConditionFailed,
                    format!("dependency digest {h} does not match image-digest {w}"),
                    true,
                ));
            }
        }
        Ok(v)
    }

    fn process_dependency(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        i: u64,
        dep: &VerifiedEnvelope,
    ) -> Result<(), Fail> {
        let site = self.site(ctx, cmd, i);
        let m = &dep.manifest;
        if m.version != 1 {
            return Err(self.command_error(
                &site,
                ReportReason::CborParse,
                format!("dependency manifest-version {} is not supported", m.version),
                false,
            ));
        }
        let key = manifest_key_of(m);
        self.check_rollback(&key, m.sequence_number)
            .map_err(Fail::Fatal)?;
        let mut mid = ctx.manifest_id.clone();
        mid.push(i);
        let mut child = Ctx::new(dep, mid, ctx.depth + 1);
        let section = ctx.section;
        let member = match section {
            manifest_key::DEPENDENCY_RESOLUTION => {
                m.dependency_resolution.as_ref().and_then(|s| s.get())
            }
            manifest_key::PAYLOAD_FETCH => m.payload_fetch.as_ref().and_then(|s| s.get()),
            manifest_key::CANDIDATE_VERIFICATION => {
                m.candidate_verification.as_ref().and_then(|s| s.get())
            }
            manifest_key::INSTALL => m.install.as_ref().and_then(|s| s.get()),
            manifest_key::VALIDATE => m.validate.as_ref(),
            manifest_key::LOAD => m.load.as_ref(),
            manifest_key::INVOKE => m.invoke.as_ref(),
            _ => None,
        };
        if let Some(seq) = member {
            self.run_section(&mut child, section, seq)
                .map_err(Fail::Fatal)?;
            ctx.section = section;
        }
        if matches!(
            section,
            manifest_key::INSTALL
                | manifest_key::PAYLOAD_FETCH
                | manifest_key::DEPENDENCY_RESOLUTION
                | manifest_key::CANDIDATE_VERIFICATION
        ) {
            // Record the dependency (merging components written in earlier sections).
            let mut prior = self.read_manifest(&key).map_err(Fail::Fatal)?;
            let mut components = prior
                .as_ref()
                .map(|r| r.components.clone())
                .unwrap_or_default();
            for c in child.written {
                if !components.contains(&c) {
                    components.push(c);
                }
            }
            let was_linked = ctx.dependencies.contains(&key);
            let refcount = match prior.take() {
                Some(r) if r.sequence_number == m.sequence_number && r.envelope == dep.raw => {
                    r.refcount
                }
                Some(r) => r.refcount,
                None => 0,
            };
            let rec = ManifestRecord {
                sequence_number: m.sequence_number,
                envelope: dep.raw.clone(),
                components,
                dependencies: child.dependencies,
                refcount,
            };
            self.stage.manifests.insert(key.clone(), Some(rec));
            if !was_linked {
                ctx.dependencies.push(key);
            }
        }
        Ok(())
    }

    /// Stages the record of a root manifest (and the +1 links to newly referenced deps).
    fn record_manifest(
        &mut self,
        key: &ComponentId,
        ctx: &Ctx<'_>,
        root: bool,
    ) -> Result<(), ProcessError> {
        let prior = self.read_manifest(key)?;
        let old_deps = prior
            .as_ref()
            .map(|r| r.dependencies.clone())
            .unwrap_or_default();
        let refcount = match &prior {
            Some(r) if r.refcount > 0 => r.refcount,
            _ => u64::from(root),
        };
        for d in &ctx.dependencies {
            if !old_deps.contains(d) {
                if let Some(mut rec) = self.read_manifest(d)? {
                    rec.refcount = rec.refcount.saturating_add(1);
                    self.stage.manifests.insert(d.clone(), Some(rec));
                }
            }
        }
        let mut components = prior
            .as_ref()
            .map(|r| r.components.clone())
            .unwrap_or_default();
        for c in &ctx.written {
            if !components.contains(c) {
                components.push(c.clone());
            }
        }
        let rec = ManifestRecord {
            sequence_number: ctx.env.manifest.sequence_number,
            envelope: ctx.env.raw.clone(),
            components,
            dependencies: ctx.dependencies.clone(),
            refcount,
        };
        self.stage.manifests.insert(key.clone(), Some(rec));
        Ok(())
    }

    /// Drops one link to an installed manifest; at zero runs its uninstall sequence and
    /// removes its record.
    fn unlink_manifest(
        &mut self,
        key: &ComponentId,
        manifest_id: Vec<u64>,
        depth: usize,
    ) -> Result<(), ProcessError> {
        if depth > self.p.limits.max_dependency_depth {
            return Err(ProcessError::Limit(format!(
                "dependencies nested deeper than {}",
                self.p.limits.max_dependency_depth
            )));
        }
        let Some(mut rec) = self.read_manifest(key)? else {
            return Err(ProcessError::NotInstalled(display_component_id(key)));
        };
        rec.refcount = rec.refcount.saturating_sub(1);
        if rec.refcount > 0 {
            self.stage.manifests.insert(key.clone(), Some(rec));
            return Ok(());
        }
        // Our own stored envelope: its digest is rechecked, its signature was checked at install.
        let env = decode_envelope_unverified(rec.envelope.clone(), &self.p.limits)?;
        self.report.reference_uri = env.manifest.reference_uri.clone().unwrap_or_default();
        if depth == 0 {
            self.report.digest = Some(env.authentication.digest.clone());
        }
        self.stage.manifests.insert(key.clone(), None);
        self.summary.removed_manifests.push(key.clone());
        if let Some(seq) = &env.manifest.uninstall {
            let mut ctx = Ctx::new(&env, manifest_id, depth);
            self.run_section(&mut ctx, manifest_key::UNINSTALL, seq)?;
        } else {
            for c in &rec.components {
                self.stage.components.insert(c.clone(), None);
                self.summary.deleted.push(c.clone());
            }
        }
        Ok(())
    }

    fn invoke_installed(&mut self, key: &ComponentId) -> Result<Summary, ProcessError> {
        let Some(rec) = self.read_manifest(key)? else {
            return Err(ProcessError::NotInstalled(display_component_id(key)));
        };
        let env =
            verify_envelope_with_limits(rec.envelope.clone(), &self.p.anchors, &self.p.limits)?;
        self.report.reference_uri = env.manifest.reference_uri.clone().unwrap_or_default();
        self.report.digest = Some(env.authentication.digest.clone());
        let mut ctx = Ctx::new(&env, Vec::new(), 0);
        for (section, seq) in [
            (manifest_key::VALIDATE, &env.manifest.validate),
            (manifest_key::LOAD, &env.manifest.load),
            (manifest_key::INVOKE, &env.manifest.invoke),
        ] {
            if let Some(seq) = seq {
                self.run_section(&mut ctx, section, seq)?;
            }
        }
        let mut summary = std::mem::take(&mut self.summary);
        summary.manifest_component_id = key.clone();
        summary.sequence_number = env.manifest.sequence_number;
        summary.commands = self.commands;
        Ok(summary)
    }
}

fn unreachable_command() -> Bytes {
    Bytes::new()
}

impl<'e> Ctx<'e> {
    fn new(env: &'e Envelope, manifest_id: Vec<u64>, depth: usize) -> Self {
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

    fn valid_index(&self, i: u64) -> bool {
        (i as usize) < self.env.manifest.common.components.len()
            || self.env.manifest.dependency(i).is_some()
    }
}

fn section_name(section: i64) -> String {
    if section == SHARED_SECTION {
        "shared-sequence".into()
    } else {
        crate::codec::manifest_member_name(section).into()
    }
}

/// Constant-time comparison (length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
