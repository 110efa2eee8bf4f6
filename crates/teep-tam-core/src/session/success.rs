//! The TAM on a Success (DIGEST §4.1): the device applied the Update, so what the Update
//! carried (stored with its session) becomes what the device holds. The session ends.

use alloc::{format, string::ToString, vec::Vec};

use teep_proto::Numbering;

use crate::model::{InstalledTc, SessionRecord};

use super::effects::Consume;
use super::rejection::{RefusalKind, Rejection};
use super::{
    session_end, Context, DeviceUpdate, ExchangeResult, Inspected, Outcome, PendingUpdate, TamCore,
};

impl TamCore {
    pub(super) fn on_success(
        &self,
        msg: &Inspected,
        session: &SessionRecord,
        numbering: Numbering,
        ctx: &Context,
        token: Vec<u8>,
        now: i64,
    ) -> Result<Outcome, Rejection> {
        let device = self.known_device(msg, ctx)?;
        self.verify_known(msg, device)?;
        super::data_items::check_report_nonces(msg, &token, &|b| {
            self.decrypt_to_tam(b, teep_cose::encrypt::Purpose::SuitReport)
        })?;
        let pending = PendingUpdate::from_session(session)?;
        let update = DeviceUpdate {
            device_id: Some(device.id),
            add_installed: pending
                .install
                .iter()
                .map(|(cid, seq, origin)| InstalledTc {
                    component_id: cid.clone(),
                    sequence: Some(*seq),
                    digest: ctx
                        .catalog
                        .iter()
                        .find(|c| &c.component_id == cid)
                        .and_then(|c| c.payload_digest.clone()),
                    origin: origin.as_str().to_string(),
                    updated_at: now,
                })
                .collect(),
            remove_installed: pending.remove,
            ..Default::default()
        };
        Ok(session_end(
            now,
            token,
            Consume::of(session, numbering),
            device.kid.clone(),
            None,
            update,
            msg,
            ExchangeResult::Success,
        ))
    }
}

impl TamCore {
    /// The device a Success or Error comes from: one this TAM knows (only a QueryResponse
    /// enrolls).
    pub(super) fn known_device<'c>(
        &self,
        msg: &Inspected,
        ctx: &'c Context,
    ) -> Result<&'c crate::model::DeviceRecord, Rejection> {
        let t = msg.type_name;
        ctx.device.as_ref().ok_or_else(|| {
            Rejection::refuse(
                RefusalKind::UnknownDevice,
                Some(t),
                format!(
                    "{t}: the signer is not a known device: {}",
                    self.no_signer_found(msg, ctx)
                ),
            )
        })
    }
}
