//! The command loop: sections, sequences, the flow-control commands (set-component-index,
//! try-each, run-sequence, abort) and the dispatch of per-component commands.

use super::failure::Fail;
use super::run::{Ctx, Run, SHARED_SECTION};
use crate::error::ProcessError;
use crate::model::{Command, CommandArg, CommandCode, CommandSequence, IndexArg};
use crate::report::ReportReason;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

impl Run<'_> {
    /// Runs the shared sequence and then `seq` with fresh parameters.
    pub(super) fn run_section(
        &mut self,
        ctx: &mut Ctx<'_>,
        section: i64,
        seq: &CommandSequence,
    ) -> Result<(), ProcessError> {
        ctx.params.clear();
        ctx.current = vec![0];
        if let Some(shared) = &ctx.env.manifest.common.shared_sequence {
            ctx.section = SHARED_SECTION;
            self.run_sequence(ctx, shared, 0)
                .map_err(Fail::into_error)?;
        }
        ctx.section = section;
        self.run_sequence(ctx, seq, 0).map_err(Fail::into_error)
    }

    /// Runs the commands of `seq`, counting them against the command limit; `depth` is the
    /// nesting of try-each / run-sequence.
    pub(super) fn run_sequence(
        &mut self,
        ctx: &mut Ctx<'_>,
        seq: &CommandSequence,
        depth: usize,
    ) -> Result<(), Fail> {
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
            self.run_command(ctx, cmd, depth)?;
        }
        Ok(())
    }

    /// Adds a report record when the command's reporting policy asks for one on success.
    fn record_if_policy_requests(&mut self, ctx: &Ctx<'_>, cmd: &Command, index: u64) {
        if let CommandArg::ReportingPolicy(p) = cmd.arg {
            if p & 1 != 0 {
                let site = self.site(ctx, cmd, index);
                let rec = self.report_record(&site, Vec::new());
                if self.report.records.len() < 1024 {
                    self.report.records.push(rec);
                }
            }
        }
    }

    fn run_command(&mut self, ctx: &mut Ctx<'_>, cmd: &Command, depth: usize) -> Result<(), Fail> {
        use CommandCode::*;
        match (&cmd.code, &cmd.arg) {
            (SetComponentIndex, CommandArg::ComponentIndex(arg)) => {
                self.set_component_index(ctx, cmd, arg)
            }
            (SetParameters | OverrideParameters, CommandArg::Parameters(ps)) => {
                Self::set_parameters(ctx, cmd.code, ps);
                Ok(())
            }
            (
                TryEach,
                CommandArg::TryEach {
                    alternatives,
                    allow_none,
                },
            ) => self.run_try_each(ctx, cmd, alternatives, *allow_none, depth),
            (RunSequence, CommandArg::Sequence(s)) => {
                // With parameter soft-failure set, a failed condition only ends the nested
                // sequence (its staged changes stay: they passed their own checks).
                let saved_result = self.report.result.clone();
                match self.run_sequence(ctx, s, depth + 1) {
                    Err(Fail::Condition(_)) if self.soft_failure_set(ctx) => {
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
                    self.run_on_component(ctx, cmd, i)?;
                    self.record_if_policy_requests(ctx, cmd, i);
                }
                Ok(())
            }
        }
    }

    fn set_component_index(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        arg: &IndexArg,
    ) -> Result<(), Fail> {
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

    /// Tries each alternative in turn; a failed condition drops the alternative's staged
    /// changes, parameters and report before the next one runs.
    fn run_try_each(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &Command,
        alternatives: &[CommandSequence],
        allow_none: bool,
        depth: usize,
    ) -> Result<(), Fail> {
        for alt in alternatives {
            let saved_stage = self.stage.clone();
            let saved_params = ctx.params.clone();
            let saved_current = ctx.current.clone();
            let saved_written = ctx.written.len();
            let saved_result = self.report.result.clone();
            match self.run_sequence(ctx, alt, depth + 1) {
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
        if allow_none {
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

    /// A command on one component index.
    fn run_on_component(&mut self, ctx: &mut Ctx<'_>, cmd: &Command, i: u64) -> Result<(), Fail> {
        use CommandCode::*;
        let is_dep = ctx.env.manifest.dependency(i).is_some();
        match cmd.code {
            VendorIdentifier | ClassIdentifier | DeviceIdentifier => {
                self.check_identifier(ctx, cmd, i)
            }
            ImageMatch => self.check_image_match(ctx, cmd, i, is_dep),
            ComponentSlot => self.check_component_slot(ctx, cmd, i),
            CheckContent => self.check_content(ctx, cmd, i),
            IsDependency => self.check_is_dependency(ctx, cmd, i, is_dep),
            DependencyIntegrity => self.check_dependency_integrity(ctx, cmd, i, is_dep),
            ProcessDependency => self.process_dependency_directive(ctx, cmd, i, is_dep),
            Write | Fetch | Copy | Swap => self.write_payload(ctx, cmd, i, is_dep),
            Invoke => self.invoke_component(ctx, cmd, i),
            Unlink => self.unlink_component(ctx, cmd, i, is_dep),
            _ => {
                let site = self.site(ctx, cmd, i);
                Err(self.command_error(
                    &site,
                    ReportReason::CommandUnsupported,
                    "unsupported command".into(),
                    false,
                ))
            }
        }
    }
}
