//! What a step changes in storage ([`Effects`]), which the adapter commits atomically before
//! it sends the response; and the record an outstanding Update keeps ([`PendingUpdate`]).

use alloc::{string::String, string::ToString, vec::Vec};

use teep_proto::Numbering;

use crate::model::{
    AuditEntry, CorruptRecord, DeviceRecord, DeviceStatus, InstalledTc, NewDevice, SessionKind,
    SessionRecord, TcOrigin,
};

use super::rejection::InternalError;

/// Device-row changes of one step.
#[derive(Clone, Debug, Default)]
pub struct DeviceUpdate {
    /// `None`: the device is the one in `Effects::new_device`.
    pub device_id: Option<i64>,
    pub suite_alg: Option<i64>,
    pub status: Option<DeviceStatus>,
    pub status_detail: Option<String>,
    pub ueid: Option<Vec<u8>>,
    pub claims: Option<String>,
    /// Write `last_seen` even though no field above changes.
    pub touch: bool,
    /// The device's tc-list replaces what storage held.
    pub replace_installed: Option<Vec<InstalledTc>>,
    pub add_installed: Vec<InstalledTc>,
    pub remove_installed: Vec<Vec<u8>>,
}

/// How stale a device's `last_seen` may get before an exchange that changes nothing else in
/// its row writes it anyway. A QueryResponse re-reports the same claims, suite and status
/// each time; rewriting the row for a new timestamp alone cost a random page write per
/// exchange, which a fleet too large for the page cache pays in full.
pub const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

impl DeviceUpdate {
    /// Drops the fields that would write what `stored` already holds, and decides whether
    /// `last_seen` is stale enough to write on its own (see [`LAST_SEEN_RESOLUTION_MS`]).
    pub(crate) fn elide_unchanged(&mut self, stored: &DeviceRecord, now: i64) {
        if self.suite_alg.is_some() && self.suite_alg == stored.suite_alg {
            self.suite_alg = None;
        }
        if self.status.as_ref() == Some(&stored.status) {
            self.status = None;
        }
        if self.status_detail.is_some() && self.status_detail == stored.status_detail {
            self.status_detail = None;
        }
        if self.ueid.is_some() && self.ueid == stored.ueid {
            self.ueid = None;
        }
        if self.claims.is_some() && self.claims == stored.claims {
            self.claims = None;
        }
        self.touch = match stored.last_seen {
            Some(seen) => !(seen..seen + LAST_SEEN_RESOLUTION_MS).contains(&now),
            None => true,
        };
    }

    /// What writing the row does to `d`: `last_seen` = `now`, and the fields given.
    pub fn apply_row(&self, d: &mut DeviceRecord, now: i64) {
        d.last_seen = Some(now);
        if self.suite_alg.is_some() {
            d.suite_alg = self.suite_alg;
        }
        if let Some(s) = &self.status {
            d.status = s.clone();
        }
        if self.status_detail.is_some() {
            d.status_detail = self.status_detail.clone();
        }
        if self.ueid.is_some() {
            d.ueid = self.ueid.clone();
        }
        if self.claims.is_some() {
            d.claims = self.claims.clone();
        }
    }

    /// Whether the device row is written (with `last_seen` = the step's time).
    pub fn writes_row(&self) -> bool {
        self.touch
            || self.suite_alg.is_some()
            || self.status.is_some()
            || self.status_detail.is_some()
            || self.ueid.is_some()
            || self.claims.is_some()
    }
}

/// The token a step answers. A query token is stateless until answered, so consuming it
/// records it; an update token was stored with its Update, so consuming it marks that row.
#[derive(Clone, Debug)]
pub struct Consume {
    pub token: Vec<u8>,
    pub kind: SessionKind,
    pub expires_at: i64,
    /// The numbering of the session (storage writes [`Numbering::name`]).
    pub numbering: Numbering,
    pub device_kid: Option<Vec<u8>>,
}

impl Consume {
    /// Consumes `session`'s token; `numbering` is the session's, already read.
    pub(crate) fn of(session: &SessionRecord, numbering: Numbering) -> Consume {
        Consume {
            token: session.token.clone(),
            kind: session.kind,
            expires_at: session.expires_at,
            numbering,
            device_kid: session.device_kid.clone(),
        }
    }
}

/// Everything a step changes in storage; committed atomically before the response is sent.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    pub now: i64,
    /// Mark this token answered; if it already was, the whole step is void (replay): the
    /// adapter then reports it with [`crate::TamCore::handle_replay_at_commit`].
    pub consume: Option<Consume>,
    pub new_device: Option<NewDevice>,
    pub device: Option<DeviceUpdate>,
    pub new_session: Option<SessionRecord>,
    pub audit: Option<AuditEntry>,
}

impl Effects {
    /// Nothing to commit (a QueryRequest: its token is stateless).
    pub fn is_empty(&self) -> bool {
        self.consume.is_none()
            && self.new_device.is_none()
            && self.device.is_none()
            && self.new_session.is_none()
            && self.audit.is_none()
    }
}

/// What an outstanding Update carried (stored as JSON in the session row), so that its
/// Success can record what the device now holds.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PendingUpdate {
    /// (encoded component id, sequence, origin)
    pub install: Vec<(Vec<u8>, u64, TcOrigin)>,
    pub remove: Vec<Vec<u8>>,
}

impl PendingUpdate {
    /// What `session` says its Update carried. No stored record means the Update carried
    /// nothing to record; a record that does not read is corrupt, never "nothing".
    pub fn from_session(session: &SessionRecord) -> Result<PendingUpdate, CorruptRecord> {
        match session.pending.as_deref() {
            None => Ok(PendingUpdate::default()),
            Some(json) => {
                serde_json::from_str(json).map_err(|source| CorruptRecord::PendingUpdate {
                    token: hex::encode(&session.token),
                    source,
                })
            }
        }
    }

    /// The JSON the session row stores.
    pub fn to_stored(&self) -> Result<String, InternalError> {
        serde_json::to_string(self).map_err(|source| InternalError::Encoding {
            what: "pending update",
            source,
        })
    }
}

/// The numbering a stored session was opened in.
pub(crate) fn session_numbering(session: &SessionRecord) -> Result<Numbering, CorruptRecord> {
    match session.numbering.as_str() {
        "draft26" => Ok(Numbering::Draft26),
        "legacy" => Ok(Numbering::Legacy),
        other => Err(CorruptRecord::SessionNumbering {
            token: hex::encode(&session.token),
            value: other.to_string(),
        }),
    }
}
