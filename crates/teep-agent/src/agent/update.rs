//! Update → Success or Error (draft-ietf-teep-protocol-26 §4.4, §4.5): unlink each unneeded
//! manifest, then install each envelope (staged, one atomic commit each); the first failure
//! answers with ERR_MANIFEST_PROCESSING_FAILED and its SUIT report.
//!
//! With several TAMs (RFC 9397 §4.3, see `ownership`): an Update that would unlink what
//! another TAM installed is refused whole before anything changes, each manifest is checked
//! against the TC Signers trusted for this TAM, and what it installs is recorded as its own.
//! SUIT reports of the installs go in the Success when the TAM's last QueryRequest asked for
//! them (suit-reports bit), else they wait for the next QueryResponse that does.

use alloc::{format, string::ToString, vec::Vec};
use teep_proto::{ErrorCode, ErrorMessage, Success, TeepMessage, Update};

use super::algorithm::Answering;
use super::reply::truncate_text;
use super::{Agent, AgentEvent, Outcome};
use crate::tc_id::TcId;

/// Longest err-msg (`.size (1..128)`).
const MAX_ERR_MSG: usize = 128;

impl Agent<'_> {
    /// Applies an Update and acknowledges it; an Update that only carries the TAM's err-code
    /// is logged and not answered.
    pub(super) fn on_update(
        &mut self,
        mut events: Vec<AgentEvent>,
        answering: Answering,
        tam: (&str, &[u8]),
        update: Update,
    ) -> Outcome {
        let (tam_uri, tam_kid) = (tam.0, hex::encode(tam.1));
        let token = update.token.clone();
        if let Some(code) = update.err_code {
            events.push(AgentEvent::TamReportedError {
                code,
                message: update.err_msg.clone(),
                lang: update.err_lang.clone(),
            });
            if update.manifest_list.is_empty() && update.unneeded_manifest_list.is_empty() {
                // The TAM's error channel: nothing to apply, nothing to acknowledge.
                return Outcome {
                    reply: None,
                    events,
                    error: None,
                    deviations: Vec::new(),
                };
            }
        }
        if let Some(foreign) = self.foreign_manifest(&tam_kid, &update.unneeded_manifest_list) {
            let reason = format!(
                "unneeded-manifest-list: {} was installed by another TAM ({}); this device lets \
                 a TAM unlink only what it installed",
                TcId(foreign.manifest_id),
                &foreign.installer[..foreign.installer.len().min(16)]
            );
            return self.refuse(
                events,
                answering,
                token.as_deref(),
                ErrorCode::ManifestProcessingFailed,
                reason,
            );
        }
        let tc_signers = self.tc_signers_for(&tam_kid);
        for manifest_id in &update.unneeded_manifest_list {
            match self.device.unlink_manifest(manifest_id) {
                Ok(found) => {
                    events.push(AgentEvent::Unlinked {
                        manifest_id: manifest_id.clone(),
                        found,
                    });
                    let tc = TcId(manifest_id.clone());
                    self.state.unrequested.remove(&tc);
                    self.state.installed_by.remove(&tc);
                }
                Err(e) => {
                    let reason = format!("unlinking {}: {e}", TcId(manifest_id.clone()));
                    return self.refuse(
                        events,
                        answering,
                        token.as_deref(),
                        ErrorCode::ManifestProcessingFailed,
                        reason,
                    );
                }
            }
        }
        let mut reports = Vec::new();
        for (i, envelope) in update.manifest_list.iter().enumerate() {
            match self
                .device
                .apply_manifest(envelope, &tc_signers, token.as_deref())
            {
                Ok(result) => {
                    events.push(AgentEvent::Installed {
                        manifest_id: result.manifest_id.clone(),
                        sequence_number: result.sequence_number,
                    });
                    // Installed: no longer a pending request.
                    let manifest = TcId(result.manifest_id.clone());
                    self.state
                        .requested
                        .remove(&manifest.component_of_manifest());
                    self.state
                        .installed_by
                        .insert(manifest, tam_kid.to_string());
                    reports.push(result.report);
                }
                Err(failure) => {
                    let reason = format!("manifest-list[{i}]: {}", failure.error);
                    events.push(AgentEvent::ManifestFailed {
                        reason: reason.clone(),
                    });
                    let mut err = ErrorMessage::new(ErrorCode::ManifestProcessingFailed);
                    err.token = token;
                    err.err_msg = Some(truncate_text(&reason, MAX_ERR_MSG));
                    // The installs before it were committed: their reports go too.
                    reports.push(failure.report);
                    err.suit_reports = reports;
                    events.push(AgentEvent::Refused {
                        code: ErrorCode::ManifestProcessingFailed,
                        reason,
                    });
                    return self.send(events, answering, TeepMessage::Error(err));
                }
            }
        }
        let asked = self
            .state
            .tam_profiles
            .get(tam_uri)
            .is_some_and(|p| p.suit_reports);
        let suit_reports = if asked {
            reports.into_iter().filter(|r| !r.is_empty()).collect()
        } else {
            for r in reports.iter().filter(|r| !r.is_empty()) {
                self.state.keep_suit_report(&tam_kid, r);
            }
            Vec::new()
        };
        let success = Success {
            token,
            msg: None,
            suit_reports,
            ..Default::default()
        };
        self.send(events, answering, TeepMessage::Success(success))
    }
}
