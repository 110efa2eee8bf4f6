//! Sending an Update (DIGEST §3.4): signed in the suite the device signed with (the same
//! algorithm identifier, -26 §8.1: the selected suite is used in both directions), its token
//! stored as a new session together with what it carried, so that the Success can record it.

use alloc::vec::Vec;

use teep_cose::Algorithm;

use crate::model::{AuditEntry, NewDevice, SessionKind, SessionRecord};
use crate::wire;

use super::effects::Consume;
use super::rejection::{InternalError, Rejection};
use super::{
    audit, DeviceUpdate, Effects, ExchangeResult, Inspected, Outcome, PendingUpdate, TamCore,
};

/// An Update the TAM answers a QueryResponse with, and what the step records.
pub(super) struct UpdateToSend<'m> {
    /// The QueryResponse answered.
    pub msg: &'m Inspected,
    /// The Update, and its token (the new session's).
    pub upd: teep_proto::TeepMessage,
    pub update_token: Vec<u8>,
    /// The device's kid and the token of the QueryResponse.
    pub kid: Vec<u8>,
    pub token: Vec<u8>,
    pub consume: Consume,
    pub update: DeviceUpdate,
    pub new_device: Option<NewDevice>,
    /// What the Update carries, for its Success.
    pub pending: PendingUpdate,
    /// The algorithm the device signed with: the Update is signed in the same suite.
    pub alg: Algorithm,
    pub now: i64,
    pub result: ExchangeResult,
}

impl TamCore {
    /// The audit entry of a QueryResponse answered with `bytes`: the Update kept whole up to
    /// [`crate::CoreConfig::audit_response_max`]; a larger one abridged to an unsigned Update
    /// without its manifest-list (token and the rest kept, so the Success still joins its
    /// session), with a note saying what was left out.
    fn audited_update(
        &self,
        mut entry: AuditEntry,
        upd: &teep_proto::TeepMessage,
        bytes: &[u8],
        numbering: teep_proto::Numbering,
    ) -> AuditEntry {
        if bytes.len() <= self.config.audit_response_max {
            entry.response = Some(bytes.to_vec());
            return entry;
        }
        if let teep_proto::TeepMessage::Update(full) = upd {
            let abridged = teep_proto::TeepMessage::Update(teep_proto::Update {
                manifest_list: Vec::new(),
                ..full.clone()
            });
            entry.response = Some(abridged.encode(numbering));
            entry.notes.push(alloc::format!(
                "Update of {} bytes kept abridged: unsigned, without its manifest-list of {} envelope(s) (audit_response_max {})",
                bytes.len(),
                full.manifest_list.len(),
                self.config.audit_response_max
            ));
        }
        entry
    }

    pub(super) fn send_update(&self, u: UpdateToSend<'_>) -> Result<Outcome, Rejection> {
        let numbering = u.msg.numbering;
        let signer = self
            .signers
            .for_selected(u.alg)
            .ok_or(InternalError::NoSigningKey)?;
        let bytes =
            wire::signed::sign_message(&u.upd, numbering, signer.as_ref()).map_err(|source| {
                InternalError::Signing {
                    message: "Update",
                    source,
                }
            })?;
        let session = SessionRecord {
            token: u.update_token,
            kind: SessionKind::Update,
            device_kid: Some(u.kid.clone()),
            challenge: None,
            numbering: numbering.name().into(),
            pending: Some(u.pending.to_stored()?),
            created_at: u.now,
            expires_at: u.now.saturating_add(self.config.session_ttl_ms),
            answered: false,
        };
        let effects = Effects {
            now: u.now,
            consume: Some(u.consume),
            new_device: u.new_device,
            device: Some(u.update),
            new_session: Some(session),
            audit: Some(self.audited_update(
                audit(u.now, Some(&u.kid), &u.token, u.msg, u.result),
                &u.upd,
                &bytes,
                numbering,
            )),
        };
        Ok(Outcome {
            response: Some(bytes),
            effects,
            device_kid: Some(u.kid),
            token: Some(u.token),
            response_json: self.config.render_json.then(|| u.upd.to_json()),
            result: u.result,
            deviations: Default::default(),
        })
    }
}
