//! Update → Success or Error (draft-ietf-teep-protocol-26 §4.4, §4.5): unlink each unneeded
//! manifest, then install each envelope (staged, one atomic commit each); the first failure
//! answers with ERR_MANIFEST_PROCESSING_FAILED and its SUIT report.

use alloc::{format, vec, vec::Vec};
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
        update: Update,
    ) -> Outcome {
        let token = update.token.clone();
        if let Some(code) = update.err_code {
            events.push(AgentEvent::TamReportedError {
                code,
                message: update.err_msg.clone(),
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
        for manifest_id in &update.unneeded_manifest_list {
            match self.device.unlink_manifest(manifest_id) {
                Ok(found) => {
                    events.push(AgentEvent::Unlinked {
                        manifest_id: manifest_id.clone(),
                        found,
                    });
                    let tc = TcId(manifest_id.clone());
                    self.state.unrequested.remove(&tc);
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
            match self.device.apply_manifest(
                envelope,
                &self.config.tc_signer_trust_anchors,
                token.as_deref(),
            ) {
                Ok(result) => {
                    events.push(AgentEvent::Installed {
                        manifest_id: result.manifest_id.clone(),
                        sequence_number: result.sequence_number,
                    });
                    // Installed: no longer a pending request.
                    let tc = TcId(result.manifest_id.clone()).component_of_manifest();
                    self.state.requested.remove(&tc);
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
                    err.suit_reports = vec![failure.report];
                    events.push(AgentEvent::Refused {
                        code: ErrorCode::ManifestProcessingFailed,
                        reason,
                    });
                    return self.send(events, answering, TeepMessage::Error(err));
                }
            }
        }
        let success = Success {
            token,
            msg: None,
            suit_reports: Vec::new(),
            ..Default::default()
        };
        // Successful runs produce reports without records; they are not sent unless asked.
        let _ = reports;
        self.send(events, answering, TeepMessage::Success(success))
    }
}
