//! What a QueryResponse needs of its device, read in one statement or, with SQLite, from the
//! device cache (`devices.rs`), which this file keeps consistent with the writer connection.
//!
//! The joined read returns a device's columns once per holding; it reads them by position,
//! as tuned for the QueryResponse path, rather than through a row struct.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use sqlx::Row;

use super::{devices, lock, Result, Store};
use crate::model::{DeviceRecord, DeviceStatus, InstalledTc};

impl Store {
    /// A device and what storage says it holds, in one statement (the QueryResponse path).
    /// Tags are read only when `with_tags` (some assignment targets a tag).
    pub async fn device_context(
        &self,
        kid: &[u8],
        with_tags: bool,
    ) -> Result<Option<(DeviceRecord, Vec<InstalledTc>)>> {
        let Some(cache) = &self.shared.devices else {
            return self.read_device_context(kid, with_tags).await;
        };
        let seen = {
            let mut c = self.checked_devices(cache);
            if let Some(e) = c.get(kid, with_tags) {
                let found = (e.device.clone(), e.installed.clone());
                c.hits += 1;
                return Ok(Some(found));
            }
            c.misses += 1;
            c.mutations()
        };
        let found = self.read_device_context(kid, with_tags).await?;
        if let Some((device, installed)) = &found {
            // Kept unless a commit touched this device, or the cache was emptied, while this
            // read ran: its snapshot may predate that change.
            lock(cache).insert_if_unchanged(
                seen,
                devices::Entry {
                    device: device.clone(),
                    installed: installed.clone(),
                    with_tags,
                },
            );
        }
        Ok(found)
    }

    /// Device-context lookups answered from memory and from the database since the store
    /// opened (`None`: no device cache, as with PostgreSQL).
    pub fn device_cache_stats(&self) -> Option<(u64, u64)> {
        let cache = self.shared.devices.as_ref()?;
        let c = lock(cache);
        Some((c.hits, c.misses))
    }

    /// The device cache, emptied first if the store epoch or the writer connection moved.
    pub(super) fn checked_devices<'c>(
        &self,
        cache: &'c Mutex<devices::DeviceCache>,
    ) -> std::sync::MutexGuard<'c, devices::DeviceCache> {
        let mut c = lock(cache);
        c.check(self.epoch(), self.shared.connects.load(Ordering::SeqCst));
        c
    }

    /// Reads the writer connection's `PRAGMA data_version` (through `conn`, the writer pool or
    /// a transaction on it) into the device cache, which empties if another connection
    /// committed since the last reading.
    pub(super) async fn observe_data_version<'e, E>(&self, conn: E) -> Result<()>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        if let Some(cache) = &self.shared.devices {
            let version: i64 = sqlx::query("PRAGMA data_version")
                .fetch_one(conn)
                .await?
                .try_get(0)?;
            lock(cache).data_version(self.shared.connects.load(Ordering::SeqCst), version);
        }
        Ok(())
    }

    async fn read_device_context(
        &self,
        kid: &[u8],
        with_tags: bool,
    ) -> Result<Option<(DeviceRecord, Vec<InstalledTc>)>> {
        let rows = sqlx::query(
            "SELECT d.id, d.name, d.kid, d.teep_key, d.attest_key, d.suite_alg, d.status, d.status_detail, d.ueid, \
             d.created_at, s.last_seen, t.component_id, t.sequence, t.digest, t.updated_at, t.origin, d.claims \
             FROM devices d LEFT JOIN device_seen s ON s.device_id = d.id \
             LEFT JOIN device_tcs t ON t.device_id = d.id WHERE d.kid = $1",
        )
        .bind(kid)
        .fetch_all(&self.read)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut device = DeviceRecord {
            id: first.try_get(0)?,
            name: first.try_get(1)?,
            kid: first.try_get(2)?,
            teep_key: first.try_get(3)?,
            attest_key: first.try_get(4)?,
            suite_alg: first.try_get(5)?,
            status: DeviceStatus::parse(&first.try_get::<String, _>(6)?),
            status_detail: first.try_get(7)?,
            ueid: first.try_get(8)?,
            // The core compares a QueryResponse's claims with these to leave the row alone.
            claims: first.try_get(16)?,
            created_at: first.try_get(9)?,
            last_seen: first.try_get(10)?,
            tags: Vec::new(),
        };
        let mut installed = Vec::new();
        for r in &rows {
            let cid: Option<Vec<u8>> = r.try_get(11)?;
            if let Some(component_id) = cid {
                installed.push(InstalledTc {
                    component_id,
                    sequence: r.try_get::<Option<i64>, _>(12)?.map(|s| s as u64),
                    digest: r.try_get(13)?,
                    updated_at: r.try_get(14)?,
                    origin: r.try_get(15)?,
                });
            }
        }
        installed.sort_by(|a, b| a.component_id.cmp(&b.component_id));
        if with_tags {
            device.tags = self.device_tags(device.id).await?;
        }
        Ok(Some((device, installed)))
    }
}
