//! SUIT conditions on one component index: identifiers, image-match, component-slot,
//! check-content, is-dependency and dependency-integrity. Failures are conditions (try-each
//! and soft-failure may absorb them) except where noted.

use super::failure::Fail;
use super::run::{Ctx, Run};
use crate::auth::decode_envelope_unverified;
use crate::model::{Command, CommandCode, DigestAlgorithm, Parameter};
use crate::report::ReportReason;
use alloc::format;

impl Run<'_> {
    /// condition-vendor-identifier, condition-class-identifier, condition-device-identifier.
    pub(super) fn check_identifier(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
    ) -> Result<(), Fail> {
        let site = self.site(ctx, cmd, i);
        let (label, known) = match cmd.code {
            CommandCode::VendorIdentifier => (1, &self.p.identity.vendor_ids),
            CommandCode::ClassIdentifier => (2, &self.p.identity.class_ids),
            _ => (24, &self.p.identity.device_ids),
        };
        let value = match self.parameter(ctx, i, label) {
            Some(Parameter::VendorId(b) | Parameter::ClassId(b) | Parameter::DeviceId(b)) => {
                b.clone()
            }
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

    /// condition-image-match: the component's SHA-256 (or a fetched dependency's manifest
    /// digest) against image-digest, and its length against image-size.
    pub(super) fn check_image_match(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        i: u64,
        is_dep: bool,
    ) -> Result<(), Fail> {
        let site = self.site(ctx, cmd, i);
        let Some(Parameter::ImageDigest(want)) = self.parameter(ctx, i, 3).cloned() else {
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
        let size = match self.parameter(ctx, i, 14) {
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
            match self.component_digest(&id).map_err(Fail::Fatal)? {
                Some((d, len)) => (d, Some(len)),
                None => {
                    return Err(self.command_error(
                        &site,
                        ReportReason::ConditionFailed,
                        format!("component {} is empty", id),
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
                    format!("image-size {want_len} does not match the component's {len} bytes"),
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

    /// condition-component-slot: this store has one slot per component, slot 0.
    pub(super) fn check_component_slot(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
    ) -> Result<(), Fail> {
        let site = self.site(ctx, cmd, i);
        match self.parameter(ctx, i, 5) {
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

    /// condition-check-content: the component equals parameter content (constant time).
    pub(super) fn check_content(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
    ) -> Result<(), Fail> {
        let site = self.site(ctx, cmd, i);
        let Some(Parameter::Content(want)) = self.parameter(ctx, i, 18).cloned() else {
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

    /// condition-is-dependency.
    pub(super) fn check_is_dependency(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
        is_dep: bool,
    ) -> Result<(), Fail> {
        if is_dep {
            Ok(())
        } else {
            let site = self.site(ctx, cmd, i);
            Err(self.command_error(
                &site,
                ReportReason::ConditionFailed,
                format!("component index {i} is not a dependency"),
                true,
            ))
        }
    }

    /// condition-dependency-integrity: authenticates the dependency and remembers it for
    /// process-dependency.
    pub(super) fn check_dependency_integrity(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        i: u64,
        is_dep: bool,
    ) -> Result<(), Fail> {
        if !is_dep {
            let site = self.site(ctx, cmd, i);
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
}

/// Constant-time comparison (length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
