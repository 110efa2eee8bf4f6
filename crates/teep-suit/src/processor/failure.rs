//! How a run fails: the error kinds commands raise, where they sit (for report records), and
//! the translation of errors into [`ReportResult::Failure`].

use super::run::{Ctx, Run, SHARED_SECTION};
use super::{Outcome, Summary};
use crate::error::{AuthError, ProcessError};
use crate::model::{Command, CommandCode};
use crate::report::{ReportReason, ReportResult, SuitRecord, SuitReport};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Where a failing command sits, for errors and report records.
#[derive(Clone)]
pub(super) struct Site {
    pub(super) manifest_id: Vec<u64>,
    pub(super) section: i64,
    pub(super) offset: usize,
    pub(super) component_index: u64,
    pub(super) code: CommandCode,
}

/// How a command failed: conditions may be absorbed by try-each.
pub(super) enum Fail {
    Condition(ProcessError),
    Fatal(ProcessError),
}

impl From<ProcessError> for Fail {
    fn from(e: ProcessError) -> Self {
        Fail::Fatal(e)
    }
}

impl Fail {
    /// The error, once no try-each or soft-failure is left to absorb a condition.
    pub(super) fn into_error(self) -> ProcessError {
        match self {
            Fail::Condition(e) | Fail::Fatal(e) => e,
        }
    }
}

/// Attaches a failure report to a result that failed before any command set one.
pub(super) fn finish_outcome(
    result: Result<Summary, ProcessError>,
    mut report: SuitReport,
) -> Outcome {
    if let Err(e) = &result {
        if report.result == ReportResult::Success {
            let reason = match e {
                ProcessError::Auth(a) => report_reason_for_auth_error(a),
                ProcessError::Decode(_) => ReportReason::CborParse,
                ProcessError::UnsupportedVersion(_) => ReportReason::CborParse,
                ProcessError::Rollback { .. } => ReportReason::Unauthorised,
                _ => ReportReason::OperationFailed,
            };
            report.result = failure_result(0, SuitRecord::default(), reason, e.to_string());
        }
    }
    Outcome { result, report }
}

pub(super) fn failure_result(
    code: i64,
    record: SuitRecord,
    reason: ReportReason,
    detail: String,
) -> ReportResult {
    ReportResult::Failure {
        code,
        record,
        reason,
        detail,
    }
}

pub(super) fn report_reason_for_auth_error(e: &AuthError) -> ReportReason {
    match e {
        AuthError::Decode(_) => ReportReason::CborParse,
        AuthError::UnsupportedCose(_) => ReportReason::CoseUnsupported,
        AuthError::UnsupportedAlgorithm(_) | AuthError::UnsupportedDigest(_) => {
            ReportReason::AlgUnsupported
        }
        _ => ReportReason::Unauthorised,
    }
}

/// The section name errors and reports use (the shared sequence has no manifest key).
pub(super) fn section_name(section: i64) -> String {
    if section == SHARED_SECTION {
        "shared-sequence".into()
    } else {
        crate::codec::manifest_member_name(section).into()
    }
}

impl Run<'_> {
    pub(super) fn site(&self, ctx: &Ctx<'_>, cmd: &Command, index: u64) -> Site {
        Site {
            manifest_id: ctx.manifest_id.clone(),
            section: ctx.section,
            offset: cmd.offset,
            component_index: index,
            code: cmd.code,
        }
    }

    pub(super) fn report_record(&mut self, site: &Site, props: Vec<(i64, Vec<u8>)>) -> SuitRecord {
        SuitRecord {
            manifest_id: site.manifest_id.clone(),
            section: site.section,
            offset: site.offset as u64,
            component_index: site.component_index,
            properties: props,
            command: Some(site.code.to_cbor()),
        }
    }

    /// Builds the error for a failed command and records it as the report's result.
    /// `condition` marks failures try-each and soft-failure may absorb.
    pub(super) fn command_error(
        &mut self,
        site: &Site,
        reason: ReportReason,
        detail: String,
        condition: bool,
    ) -> Fail {
        let record = self.report_record(site, Vec::new());
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
        self.report.result = failure_result(site.code.to_cbor(), record, reason, e.to_string());
        if condition {
            Fail::Condition(e)
        } else {
            Fail::Fatal(e)
        }
    }
}
