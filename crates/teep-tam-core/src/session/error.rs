//! The TAM on an Error (DIGEST §3.6, §4.1): the device could not do what was asked. Its code
//! and message go into the device's status detail for the operator; nothing it was sent is
//! recorded as installed, so the next session offers it again. The session ends.

use alloc::{format, string::ToString, vec::Vec};

use teep_proto::Numbering;

use crate::model::SessionRecord;

use super::effects::Consume;
use super::rejection::Rejection;
use super::{
    session_end, truncate, Context, DeviceUpdate, ExchangeResult, Inspected, Outcome, TamCore,
};

/// Most bytes of an agent's error kept in the device's status detail.
const STATUS_DETAIL_MAX: usize = 256;

impl TamCore {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_error(
        &self,
        msg: &Inspected,
        session: &SessionRecord,
        numbering: Numbering,
        ctx: &Context,
        token: Vec<u8>,
        (code, name, undefined): (u64, &str, Option<u64>),
        (err_msg, err_lang): (Option<&str>, Option<&str>),
        now: i64,
    ) -> Result<Outcome, Rejection> {
        let device = self.known_device(msg, ctx)?;
        self.verify_known(msg, device)?;
        super::data_items::check_report_nonces(msg, &token, &|b| {
            self.decrypt_to_tam(b, teep_cose::encrypt::Purpose::SuitReport)
        })?;
        let code = match undefined {
            Some(raw) => format!("{code}; sent as the undefined err-code {raw}"),
            None => code.to_string(),
        };
        // -26 §4.6: err-lang names the language of err-msg, shown with it to the operator;
        // err-code is processed whatever it says.
        let detail = match (err_msg, err_lang) {
            (Some(m), Some(lang)) => format!("agent error {name} ({code}): {m} [{lang}]"),
            (Some(m), None) => format!("agent error {name} ({code}): {m}"),
            (None, _) => format!("agent error {name} ({code})"),
        };
        let update = DeviceUpdate {
            device_id: Some(device.id),
            status_detail: Some(truncate(&detail, STATUS_DETAIL_MAX)),
            touch: true,
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
            ExchangeResult::AgentError,
        ))
    }
}
