//! directive-invoke and directive-unlink on one component index.

use super::failure::Fail;
use super::run::{Ctx, Run};
use super::Invocation;
use crate::model::{Command, Parameter};

impl Run<'_> {
    /// directive-invoke: records the component (and invoke-args) for the caller to start.
    pub(super) fn invoke_component(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
    ) -> Result<(), Fail> {
        let id = self.component_id(ctx, cmd, i)?;
        let args = match self.parameter(ctx, i, 23) {
            Some(Parameter::InvokeArgs(b)) => Some(b.clone()),
            _ => None,
        };
        self.summary.invocations.push(Invocation {
            component: id,
            args,
        });
        Ok(())
    }

    /// directive-unlink: deletes a component, or drops one link to a dependency manifest.
    pub(super) fn unlink_component(
        &mut self,
        ctx: &Ctx<'_>,
        cmd: &Command,
        i: u64,
        is_dep: bool,
    ) -> Result<(), Fail> {
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
}
