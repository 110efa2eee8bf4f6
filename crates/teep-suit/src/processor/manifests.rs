//! The SUIT procedures over whole manifests (update, invocation, uninstall) and the
//! manifest records they stage: sequence numbers, components, links and reference counts.

use super::manifest_key_of;
use super::run::{Ctx, Run};
use super::Summary;
use crate::auth::{decode_envelope_unverified, verify_envelope_with_limits, VerifiedEnvelope};
use crate::error::ProcessError;
use crate::model::{manifest_key, CommandSequence, ComponentId, Severable};
use crate::store::ManifestRecord;
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

impl Run<'_> {
    /// The update procedure of a root manifest, then its record (reference count 1).
    pub(super) fn install_root(&mut self, env: &VerifiedEnvelope) -> Result<Summary, ProcessError> {
        let m = &env.manifest;
        if m.version != 1 {
            return Err(ProcessError::UnsupportedVersion(m.version));
        }
        let key = manifest_key_of(m);
        self.check_rollback(&key, m.sequence_number)?;
        let mut ctx = Ctx::new(env, Vec::new(), 0);
        self.update_procedure(&mut ctx)?;
        self.record_manifest(&key, &ctx, true)?;
        let mut summary = core::mem::take(&mut self.summary);
        summary.manifest_component_id = key;
        summary.sequence_number = m.sequence_number;
        summary.written = ctx.written.clone();
        summary.commands = self.commands;
        Ok(summary)
    }

    /// dependency-resolution, payload-fetch, candidate-verification, install, validate.
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
    pub(super) fn unlink_manifest(
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
            return Err(ProcessError::NotInstalled(key.to_string()));
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

    /// The invocation procedure (validate, load, invoke) of an installed manifest.
    pub(super) fn invoke_installed(&mut self, key: &ComponentId) -> Result<Summary, ProcessError> {
        let Some(rec) = self.read_manifest(key)? else {
            return Err(ProcessError::NotInstalled(key.to_string()));
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
        let mut summary = core::mem::take(&mut self.summary);
        summary.manifest_component_id = key.clone();
        summary.sequence_number = env.manifest.sequence_number;
        summary.commands = self.commands;
        Ok(summary)
    }
}
