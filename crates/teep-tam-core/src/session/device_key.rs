//! A known device's TEEP key: parsed from storage once, then kept (with `std`), and checked
//! against the message's signature.

use alloc::format;

use teep_cose::{Algorithm, PublicKey};

use crate::model::DeviceRecord;

use super::rejection::{InternalError, RefusalKind, Rejection};
use super::{Inspected, TamCore};

impl TamCore {
    /// The device's stored COSE_Key, parsed. A key storage holds but that does not parse is
    /// the TAM's error, not the peer's.
    #[cfg(feature = "std")]
    pub(super) fn stored_key(&self, device: &DeviceRecord) -> Result<PublicKey, InternalError> {
        let mut memo = self.parsed_keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = memo.get(&device.teep_key) {
            return Ok(k.clone());
        }
        let key = parse_stored_key(device)?;
        let cap = self.config.parsed_keys;
        if cap == 0 {
            return Ok(key);
        }
        if memo.len() >= cap {
            let victims: alloc::vec::Vec<_> = memo.keys().take(cap / 8 + 1).cloned().collect();
            for k in victims {
                memo.remove(&k);
            }
        }
        memo.insert(device.teep_key.clone(), key.clone());
        Ok(key)
    }

    /// Without `std` there is no lock to share a cache behind: parse on each message.
    #[cfg(not(feature = "std"))]
    pub(super) fn stored_key(&self, device: &DeviceRecord) -> Result<PublicKey, InternalError> {
        parse_stored_key(device)
    }

    /// Verifies the TEEP signature with a known device's key (DIGEST §2.2).
    pub(super) fn verify_known(
        &self,
        msg: &Inspected,
        device: &DeviceRecord,
    ) -> Result<(PublicKey, Algorithm), Rejection> {
        let key = self.stored_key(device)?;
        let info = msg.opened.verify(&key).map_err(|e| {
            Rejection::refuse(
                RefusalKind::BadSignature,
                Some(msg.type_name),
                format!(
                    "{}: signature does not verify with the key of device {} ({e})",
                    msg.type_name, device.id
                ),
            )
        })?;
        Ok((key, info.alg))
    }
}

fn parse_stored_key(device: &DeviceRecord) -> Result<PublicKey, InternalError> {
    PublicKey::from_cose_key(&device.teep_key).map_err(|source| InternalError::StoredDeviceKey {
        device_id: device.id,
        source,
    })
}
