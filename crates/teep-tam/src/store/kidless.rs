//! Finding the device that signed a message whose kids name none (see
//! `teep_tam_core::session::SignerSearch`): by the UEID its device attested with, or among
//! all registered devices when there are few. Tags are not read: the exchange loads the
//! device found by its kid afterwards, as for any other message.

use sqlx::AssertSqlSafe;

use super::registry::{DeviceRow, DEVICE_SELECT};
use super::{Result, Store};
use crate::model::DeviceRecord;

/// Most devices with one UEID whose keys are tried: UEIDs are meant to be unique, so more
/// than a few is a misconfiguration, not a reason to verify without bound.
const MAX_SAME_UEID: i64 = 8;

impl Store {
    /// Devices whose recorded UEID is `ueid` (at most [`MAX_SAME_UEID`]), in id order.
    pub async fn devices_by_ueid(&self, ueid: &[u8]) -> Result<Vec<DeviceRecord>> {
        let rows: Vec<DeviceRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{DEVICE_SELECT} WHERE d.ueid = $1 ORDER BY d.id LIMIT $2"
        )))
        .bind(ueid)
        .bind(MAX_SAME_UEID)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(DeviceRecord::from).collect())
    }

    /// Every registered device if there are at most `max`, in id order; `None` if there are
    /// more (only `max` + 1 rows are read to tell).
    pub async fn devices_up_to(&self, max: usize) -> Result<Option<Vec<DeviceRecord>>> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX - 1).saturating_add(1);
        let rows: Vec<DeviceRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{DEVICE_SELECT} ORDER BY d.id LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        if rows.len() > max {
            return Ok(None);
        }
        Ok(Some(rows.into_iter().map(DeviceRecord::from).collect()))
    }
}
