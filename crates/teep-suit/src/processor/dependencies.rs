//! Dependency manifests (trust-domains): authenticating a dependency envelope and running
//! the same section of it for directive-process-dependency, recording what it installed.

use super::failure::{report_reason_for_auth_error, Fail};
use super::manifest_key_of;
use super::run::{Ctx, Run};
use crate::auth::{verify_envelope_with_limits, VerifiedEnvelope};
use crate::error::ProcessError;
use crate::model::{manifest_key, Command, Parameter};
use crate::report::ReportReason;
use crate::store::ManifestRecord;
use alloc::format;

impl Run<'_> {
    /// directive-process-dependency: in uninstall drops one link to the dependency;
    /// elsewhere runs the current section of the (integrity-checked) dependency.
    pub(super) fn process_dependency_directive(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        i: u64,
        is_dep: bool,
    ) -> Result<(), Fail> {
        let site = self.site(ctx, cmd, i);
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
                    "process-dependency without a preceding condition-dependency-integrity".into(),
                    false,
                ));
            }
        };
        self.process_dependency(ctx, cmd, i, &dep)
    }

    /// Finds the dependency envelope (fetched, integrated, or installed), authenticates it and
    /// checks it against image-digest when set.
    pub(super) fn verify_dependency(
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
                        format!("dependency {} was neither fetched nor installed", id),
                        true,
                    ))
                }
            },
        };
        let v = match verify_envelope_with_limits(content, &self.p.anchors, &self.p.limits) {
            Ok(v) => v,
            Err(e) => {
                let reason = report_reason_for_auth_error(&e);
                return Err(self.command_error(&site, reason, format!("dependency: {e}"), true));
            }
        };
        if let Some(Parameter::ImageDigest(want)) = self.parameter(ctx, i, 3) {
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

    /// Runs the current section of a verified dependency and, in the update sections,
    /// stages its manifest record (merging components written in earlier sections).
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
}
