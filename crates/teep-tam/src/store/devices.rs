//! What a QueryResponse needs of its device (the registration and the holdings), kept in
//! memory for a SQLite database.
//!
//! Reading it costs a hop to a reader connection's thread and back on every QueryResponse,
//! about a sixth of the TAM's time per exchange. With SQLite one TAM process serves a database
//! file and is the only one that writes holdings during exchanges, so it can keep them
//! current itself: each committed step updates its device's entry. What others write is
//! noticed two ways, and either empties the cache:
//! - the registry and policy change counter in `meta` moves the store's epoch (admin writes of
//!   this process at once, other processes at the next poll);
//! - `PRAGMA data_version` on the writer connection, read in every group commit and at every
//!   change poll (100 ms), changes when any other connection committed (another process, the
//!   CLI).
//!
//! A step may still read an entry in the moment before another process's commit is noticed,
//! like a reader connection's snapshot taken just before that commit; the next exchange of
//! that device reads the database again. PostgreSQL
//! deployments run several TAM processes on one database, so there the context is read each
//! time.

use std::collections::{HashMap, VecDeque};

use crate::model::{DeviceRecord, InstalledTc};
use crate::session::DeviceUpdate;

/// An entry takes about 1 KiB (measured: 36 MB of RSS for about 45,000 devices before the
/// claims were kept too; 1.8 GB for the TAM with 1,000,000 devices and their parsed keys). When the
/// cache holds this many, an eighth of the entries, picked by hash order (in effect at random),
/// make room: a fleet larger than the cache still finds most devices in it.
pub const DEFAULT_CAPACITY: usize = 1 << 18;

/// Devices whose entry changed most recently, remembered so that a read which raced a commit
/// is dropped only if that commit touched its device. At 3,000 exchanges/s (two changes each)
/// this covers about ten seconds, far longer than a read takes; a read older than that is
/// dropped.
const RECENT_CHANGES: usize = 1 << 16;

#[derive(Clone)]
pub(super) struct Entry {
    pub device: DeviceRecord,
    pub installed: Vec<InstalledTc>,
    /// Whether `device.tags` was loaded (only needed while tag assignments exist).
    pub with_tags: bool,
}

pub(super) struct DeviceCache {
    capacity: usize,
    /// The validity stamp: store epoch, writer connections opened, writer `data_version`.
    stamp: (u64, u64, i64),
    by_kid: HashMap<Vec<u8>, i64>,
    by_id: HashMap<i64, Entry>,
    /// Moves on every change, so that a read that raced a change of its device is not cached.
    mutations: u64,
    /// `mutations` at the last [`clear`](Self::clear): a read that began before it is never
    /// cached (it may predate a commit of another connection).
    cleared_at: u64,
    /// The device of each change since the last clear, newest last, at most
    /// [`RECENT_CHANGES`]: change number `mutations - recent.len() + 1 + i` is `recent[i]`.
    recent: VecDeque<i64>,
    /// Lookups answered from memory, and those that went to the database.
    pub hits: u64,
    pub misses: u64,
}

impl DeviceCache {
    pub fn new(capacity: usize) -> DeviceCache {
        DeviceCache {
            capacity,
            stamp: (0, 0, i64::MIN),
            by_kid: HashMap::new(),
            by_id: HashMap::new(),
            mutations: 0,
            cleared_at: 0,
            recent: VecDeque::new(),
            hits: 0,
            misses: 0,
        }
    }

    pub fn clear(&mut self) {
        self.mutations += 1;
        self.cleared_at = self.mutations;
        self.recent.clear();
        self.by_kid.clear();
        self.by_id.clear();
    }

    pub fn mutations(&self) -> u64 {
        self.mutations
    }

    /// Counts a change of `device_id`'s entry (or of its database rows).
    fn changed(&mut self, device_id: i64) {
        self.mutations += 1;
        if self.recent.len() == RECENT_CHANGES {
            self.recent.pop_front();
        }
        self.recent.push_back(device_id);
    }

    /// Caches what a read that began when `mutations` was `seen` found, unless its device
    /// changed since (the read's snapshot may predate that commit), the cache was emptied
    /// since, or so much changed since that it cannot be told. Changes of other devices do
    /// not matter: under load a commit lands during almost every read, and a cache that
    /// dropped those reads would never fill with a fleet it sees once a minute.
    pub fn insert_if_unchanged(&mut self, seen: u64, entry: Entry) {
        let since = self.mutations.saturating_sub(seen);
        if since > 0 {
            let covered = seen >= self.cleared_at && since <= self.recent.len() as u64;
            if !covered {
                return;
            }
            let id = entry.device.id;
            let first = self.recent.len() - since as usize;
            if self.recent.range(first..).any(|&d| d == id) {
                return;
            }
        }
        self.insert(entry);
    }

    /// Empties the cache if the store epoch or the writer connection moved since it was
    /// filled.
    pub fn check(&mut self, epoch: u64, connects: u64) {
        if self.stamp.0 != epoch {
            self.clear();
            self.stamp.0 = epoch;
        }
        if self.stamp.1 != connects {
            self.clear();
            self.stamp.1 = connects;
            self.stamp.2 = i64::MIN;
        }
    }

    /// Records the writer's `data_version`. A change means another connection committed; no
    /// earlier value on this connection means that cannot be known. Either empties the cache.
    pub fn data_version(&mut self, connects: u64, version: i64) {
        if self.stamp.1 != connects || self.stamp.2 != version {
            self.clear();
        }
        self.stamp.1 = connects;
        self.stamp.2 = version;
    }

    pub fn get(&self, kid: &[u8], with_tags: bool) -> Option<&Entry> {
        let e = self.by_id.get(self.by_kid.get(kid)?)?;
        (e.with_tags || !with_tags).then_some(e)
    }

    pub fn insert(&mut self, entry: Entry) {
        if self.capacity == 0 {
            return;
        }
        if self.by_id.len() >= self.capacity && !self.by_id.contains_key(&entry.device.id) {
            let victims: Vec<i64> = self
                .by_id
                .keys()
                .take(self.capacity / 8 + 1)
                .copied()
                .collect();
            for id in victims {
                self.forget(id);
            }
        }
        self.by_kid
            .insert(entry.device.kid.clone(), entry.device.id);
        self.by_id.insert(entry.device.id, entry);
    }

    pub fn forget(&mut self, device_id: i64) {
        self.changed(device_id);
        if let Some(e) = self.by_id.remove(&device_id) {
            self.by_kid.remove(&e.device.kid);
        }
    }

    /// Applies one committed step's device changes the way the group commit wrote them: the
    /// row's fields where given, then the tc-list replacing the holdings, then additions
    /// (sequence and digest kept when the addition lacks them), then removals.
    pub fn apply(&mut self, device_id: i64, now: i64, u: &DeviceUpdate, touch_row: bool) {
        self.changed(device_id);
        let Some(e) = self.by_id.get_mut(&device_id) else {
            return;
        };
        if touch_row {
            u.apply_row(&mut e.device, now);
        }
        if u.replace_installed.is_some() {
            e.installed.clear();
        }
        for tc in u.replace_installed.iter().flatten().chain(&u.add_installed) {
            match e
                .installed
                .binary_search_by(|x| x.component_id.cmp(&tc.component_id))
            {
                Ok(i) => {
                    let old = &mut e.installed[i];
                    old.sequence = tc.sequence.or(old.sequence);
                    old.digest = tc.digest.clone().or(old.digest.take());
                    old.origin = tc.origin.clone();
                    old.updated_at = now;
                }
                Err(i) => {
                    let mut tc = tc.clone();
                    tc.updated_at = now;
                    e.installed.insert(i, tc);
                }
            }
        }
        for cid in &u.remove_installed {
            e.installed.retain(|x| &x.component_id != cid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeviceStatus;

    fn entry(id: i64, kid: u8) -> Entry {
        Entry {
            device: DeviceRecord {
                id,
                name: None,
                kid: vec![kid; 32],
                teep_key: vec![],
                attest_key: None,
                suite_alg: None,
                status: DeviceStatus::Registered,
                status_detail: None,
                ueid: None,
                claims: None,
                created_at: 0,
                last_seen: None,
                tags: vec![],
            },
            installed: vec![],
            with_tags: false,
        }
    }

    fn tc(cid: u8, seq: Option<u64>) -> InstalledTc {
        InstalledTc {
            component_id: vec![cid],
            sequence: seq,
            digest: None,
            origin: "policy".into(),
            updated_at: 0,
        }
    }

    #[test]
    fn epoch_connection_and_foreign_commits_empty_it() {
        let mut c = DeviceCache::new(10);
        c.check(1, 1);
        c.data_version(1, 5);
        c.insert(entry(1, 1));
        c.check(1, 1);
        c.data_version(1, 5);
        assert!(c.get(&[1; 32], false).is_some(), "nothing moved");
        c.data_version(1, 6);
        assert!(
            c.get(&[1; 32], false).is_none(),
            "another connection committed"
        );
        c.insert(entry(1, 1));
        c.check(2, 1);
        assert!(c.get(&[1; 32], false).is_none(), "the registry changed");
        c.insert(entry(1, 1));
        c.check(2, 2);
        assert!(c.get(&[1; 32], false).is_none(), "the writer reconnected");
    }

    #[test]
    fn tags_are_only_served_when_loaded() {
        let mut c = DeviceCache::new(10);
        c.insert(entry(1, 1));
        assert!(c.get(&[1; 32], false).is_some());
        assert!(c.get(&[1; 32], true).is_none());
    }

    #[test]
    fn committed_steps_update_holdings_like_the_database() {
        let mut c = DeviceCache::new(10);
        let mut e = entry(7, 7);
        e.installed = vec![tc(1, Some(1)), tc(3, Some(1))];
        c.insert(e);
        // Success of an Update that installed 2 (sequence kept from nothing) and upgraded 1.
        let u = DeviceUpdate {
            add_installed: vec![tc(2, Some(4)), tc(1, None)],
            remove_installed: vec![vec![3]],
            ..Default::default()
        };
        c.apply(7, 99, &u, false);
        let got = &c.get(&[7; 32], false).unwrap().installed;
        assert_eq!(
            got.iter()
                .map(|t| (t.component_id[0], t.sequence, t.updated_at))
                .collect::<Vec<_>>(),
            vec![(1, Some(1), 99), (2, Some(4), 99)]
        );
        // A tc-list replaces everything, and the row moves.
        let u = DeviceUpdate {
            replace_installed: Some(vec![tc(5, Some(2))]),
            status: Some(DeviceStatus::Attested),
            claims: Some("{\"manifests\":0}".into()),
            ..Default::default()
        };
        c.apply(7, 100, &u, true);
        let e = c.get(&[7; 32], false).unwrap();
        assert_eq!(e.installed.len(), 1);
        assert_eq!(e.installed[0].component_id, vec![5]);
        assert_eq!(e.device.last_seen, Some(100));
        assert_eq!(e.device.status, DeviceStatus::Attested);
        // The claims too: the core compares against them to skip rewriting the same.
        assert_eq!(e.device.claims.as_deref(), Some("{\"manifests\":0}"));
    }

    #[test]
    fn a_read_is_dropped_only_if_its_device_changed_meanwhile() {
        let mut c = DeviceCache::new(10);
        let u = DeviceUpdate::default();
        // Another device's commit landed during the read: cached.
        let seen = c.mutations();
        c.apply(2, 1, &u, true);
        c.insert_if_unchanged(seen, entry(1, 1));
        assert!(c.get(&[1; 32], false).is_some());
        // Its own device's commit landed during the read: the snapshot may predate it.
        let seen = c.mutations();
        c.apply(2, 2, &u, true);
        c.apply(3, 2, &u, true);
        c.insert_if_unchanged(seen, entry(3, 3));
        assert!(c.get(&[3; 32], false).is_none());
        let seen = c.mutations();
        c.forget(4);
        c.insert_if_unchanged(seen, entry(4, 4));
        assert!(c.get(&[4; 32], false).is_none());
        // The cache was emptied during the read (another connection committed).
        let seen = c.mutations();
        c.clear();
        c.insert_if_unchanged(seen, entry(5, 5));
        assert!(c.get(&[5; 32], false).is_none());
        // Changes since the clear are still told apart.
        let seen = c.mutations();
        c.apply(9, 3, &u, true);
        c.insert_if_unchanged(seen, entry(6, 6));
        assert!(c.get(&[6; 32], false).is_some());
        // More changes than are remembered: cannot be told, dropped.
        let seen = c.mutations();
        for _ in 0..=RECENT_CHANGES {
            c.apply(9, 4, &u, true);
        }
        c.insert_if_unchanged(seen, entry(7, 7));
        assert!(c.get(&[7; 32], false).is_none());
        let seen = c.mutations();
        c.apply(9, 5, &u, true);
        c.insert_if_unchanged(seen, entry(7, 7));
        assert!(
            c.get(&[7; 32], false).is_some(),
            "the log still works when full"
        );
    }

    #[test]
    fn a_full_cache_makes_room_by_dropping_an_eighth() {
        let mut c = DeviceCache::new(16);
        for i in 0..16u8 {
            c.insert(entry(i64::from(i), i));
        }
        assert_eq!(c.by_id.len(), 16);
        c.insert(entry(100, 100));
        assert_eq!(c.by_id.len(), 16 - 3 + 1, "16/8 + 1 entries made room");
        assert_eq!(c.by_kid.len(), c.by_id.len());
        assert!(c.get(&[100; 32], false).is_some());
        // Replacing an entry that is already there drops nothing.
        c.insert(entry(100, 100));
        assert_eq!(c.by_id.len(), 14);
        c.forget(100);
        assert!(c.get(&[100; 32], false).is_none());
        let mut off = DeviceCache::new(0);
        off.insert(entry(1, 1));
        assert!(off.get(&[1; 32], false).is_none());
    }
}
