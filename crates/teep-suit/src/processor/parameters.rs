//! SUIT parameters as the processor sees them: set/override per component index, lookup,
//! and resolving a component index to its identifier.

use super::failure::Fail;
use super::run::{Ctx, Run};
use crate::model::{Command, CommandCode, ComponentId, Parameter};
use crate::report::ReportReason;
use alloc::format;

impl Run<'_> {
    /// directive-set-parameters keeps values already set; directive-override-parameters
    /// replaces them. Both apply to every current component index.
    pub(super) fn set_parameters(ctx: &mut Ctx<'_>, code: CommandCode, ps: &[Parameter]) {
        for i in ctx.current.clone() {
            let slot = ctx.params.entry(i).or_default();
            for p in ps {
                if code == CommandCode::OverrideParameters {
                    slot.insert(p.label(), p.clone());
                } else {
                    slot.entry(p.label()).or_insert_with(|| p.clone());
                }
            }
        }
    }

    /// Whether parameter soft-failure is true for any current component index.
    pub(super) fn soft_failure_set(&self, ctx: &Ctx<'_>) -> bool {
        ctx.current.iter().any(|i| {
            matches!(
                self.parameter(ctx, *i, 13),
                Some(Parameter::SoftFailure(true))
            )
        })
    }

    /// The parameter with `label` set for component index `i`.
    pub(super) fn parameter<'c>(
        &self,
        ctx: &'c Ctx<'_>,
        i: u64,
        label: i64,
    ) -> Option<&'c Parameter> {
        ctx.params.get(&i).and_then(|m| m.get(&label))
    }

    /// The identifier of component index `i` (a dependency's prefix for dependencies).
    pub(super) fn component_id(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
    ) -> Result<ComponentId, Fail> {
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
}
