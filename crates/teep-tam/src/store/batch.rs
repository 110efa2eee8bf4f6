//! Group commit of the session core's effects.
//!
//! Every TEEP step must be committed before its response leaves. Committed one by one, a step
//! costs a transaction and half a dozen statements, and with sqlx each statement is a round
//! trip to the connection's thread (SQLite) or to the server (PostgreSQL): that, not SQL or
//! crypto, was what bounded the TAM. So steps that arrive while a commit runs wait in a queue,
//! and the next commit takes them all in one transaction with one multi-row statement per kind
//! of change. Each step still gets its own answer: a replayed token voids only its own step.
//! If the batch fails for another reason than unavailable storage, its steps are retried one
//! by one so that one bad step cannot fail the others.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use sqlx::{AssertSqlSafe, Row};
use tokio::sync::oneshot;

use super::statement_shapes::{chunks, list, values, values_with, Ph};
use super::{lock, Result, Store, StoreError};
use crate::model::{AuditEntry, DeviceStatus, InstalledTc, SessionKind};
use crate::session::{DeviceUpdate, Effects};

/// Most steps one transaction takes.
const MAX_BATCH: usize = 64;

/// What committing one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// False: the token was already answered (a replay); nothing of the step was applied.
    pub accepted: bool,
    /// The device the step concerned (the new row's id for a first contact).
    pub device_id: Option<i64>,
}

struct Job {
    effects: Effects,
    reply: oneshot::Sender<Result<Committed>>,
}

pub(super) struct Batcher {
    queue: Mutex<VecDeque<Job>>,
    active: AtomicUsize,
    max_active: usize,
    /// Transactions run and steps they carried (for `/metrics`).
    transactions: AtomicU64,
    steps: AtomicU64,
}

impl Batcher {
    pub(super) fn new(max_active: usize) -> Batcher {
        Batcher {
            queue: Mutex::new(VecDeque::new()),
            active: AtomicUsize::new(0),
            max_active: max_active.max(1),
            transactions: AtomicU64::new(0),
            steps: AtomicU64::new(0),
        }
    }
}

fn copy_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Query(m) => StoreError::Query(m.clone()),
        StoreError::Migrate(m) => StoreError::Migrate(m.clone()),
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::NotFound(m) => StoreError::NotFound(m.clone()),
    }
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

impl Store {
    /// Group-commit transactions run so far and the steps they carried: their ratio is the
    /// mean batch size.
    pub fn commit_stats(&self) -> (u64, u64) {
        let b = &self.shared.batcher;
        (
            b.transactions.load(Ordering::Relaxed),
            b.steps.load(Ordering::Relaxed),
        )
    }

    /// Commits one step's effects; resolves once the transaction that holds them committed.
    pub async fn commit(&self, effects: Effects) -> Result<Committed> {
        let (reply, rx) = oneshot::channel();
        lock(&self.shared.batcher.queue).push_back(Job { effects, reply });
        self.kick();
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the commit task stopped before answering".into(),
            ))
        })
    }

    /// Starts a commit task unless enough run already. The tasks are spawned, not run inside
    /// the caller, so a request whose client went away cannot abandon other requests' commit.
    fn kick(&self) {
        let b = &self.shared.batcher;
        loop {
            let a = b.active.load(Ordering::SeqCst);
            if a >= b.max_active || lock(&b.queue).is_empty() {
                return;
            }
            if b.active
                .compare_exchange(a, a + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                let store = self.clone();
                tokio::spawn(async move { store.run_batches().await });
                return;
            }
        }
    }

    async fn run_batches(self) {
        let b = &self.shared.batcher;
        loop {
            let jobs: Vec<Job> = {
                let mut q = lock(&b.queue);
                let n = q.len().min(MAX_BATCH);
                q.drain(..n).collect()
            };
            if jobs.is_empty() {
                b.active.fetch_sub(1, Ordering::SeqCst);
                // A step queued after the drain above and before the decrement saw this task
                // as running and started none: start one for it.
                self.kick();
                return;
            }
            let (effects, replies): (Vec<Effects>, Vec<_>) =
                jobs.into_iter().map(|j| (j.effects, j.reply)).unzip();
            let refs: Vec<&Effects> = effects.iter().collect();
            match self.apply(&refs).await {
                Ok(results) => {
                    for (reply, r) in replies.into_iter().zip(results) {
                        let _ = reply.send(Ok(r));
                    }
                }
                Err(e) if refs.len() > 1 && !matches!(e, StoreError::Unavailable(_)) => {
                    tracing::warn!(
                        "group commit of {} steps failed ({e}); retrying them one by one",
                        refs.len()
                    );
                    for (reply, eff) in replies.into_iter().zip(&refs) {
                        let r = self.apply(&[eff]).await.map(|mut v| v.remove(0));
                        let _ = reply.send(r);
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(copy_err(&e)));
                    }
                }
            }
        }
    }

    /// One transaction for `steps`.
    async fn apply(&self, steps: &[&Effects]) -> Result<Vec<Committed>> {
        let ph = Ph::of(self.backend);
        let mut tx = self.pool.begin().await?;
        let mut accepted = vec![true; steps.len()];
        // Did another connection commit since the last batch? (See `devices`.)
        self.observe_data_version(&mut *tx).await?;

        // 1. Tokens. A query token is stateless until answered: answering inserts it, and the
        //    primary key refuses a second answer. An update token was stored with its Update.
        let mut seen: HashSet<&[u8]> = HashSet::new();
        let mut query: Vec<usize> = Vec::new();
        let mut update: Vec<usize> = Vec::new();
        for (i, e) in steps.iter().enumerate() {
            if let Some(c) = &e.consume {
                if !seen.insert(&c.token) {
                    accepted[i] = false; // the same token twice in one batch
                    continue;
                }
                match c.kind {
                    SessionKind::Query => query.push(i),
                    SessionKind::Update => update.push(i),
                }
            }
        }
        let mut consumed: HashSet<Vec<u8>> = HashSet::new();
        for part in chunks(&query) {
            let sql = format!(
                "INSERT INTO sessions (token, kind, device_kid, challenge, numbering, pending, created_at, expires_at, answered) \
                 VALUES {} ON CONFLICT (token) DO NOTHING RETURNING token",
                values_with(ph, part.len(), &["$", "'query'", "$", "NULL", "$", "NULL", "$", "$", "1"])
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for &i in part {
                let e = steps[i];
                let c = e.consume.as_ref().expect("query consume");
                q = q
                    .bind(&c.token)
                    .bind(&c.device_kid)
                    .bind(c.numbering.name())
                    .bind(e.now)
                    .bind(c.expires_at);
            }
            for r in q.fetch_all(&mut *tx).await? {
                consumed.insert(r.try_get::<Vec<u8>, _>(0)?);
            }
        }
        for part in chunks(&update) {
            let sql = format!(
                "UPDATE sessions SET answered = 1 WHERE answered = 0 AND kind = 'update' AND token IN ({}) RETURNING token",
                list(ph, part.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for &i in part {
                q = q.bind(&steps[i].consume.as_ref().expect("update consume").token);
            }
            for r in q.fetch_all(&mut *tx).await? {
                consumed.insert(r.try_get::<Vec<u8>, _>(0)?);
            }
        }
        for i in query.iter().chain(&update) {
            let t = &steps[*i].consume.as_ref().expect("consume").token;
            if !consumed.contains(t) {
                accepted[*i] = false;
            }
        }
        let live: Vec<usize> = (0..steps.len()).filter(|&i| accepted[i]).collect();

        // 2. Devices seen for the first time (open enrollment). Two first contacts of one
        //    device may race: the second finds the row the first made.
        let mut new_ids: HashMap<Vec<u8>, i64> = HashMap::new();
        let mut new_devs: Vec<usize> = Vec::new();
        let mut kids: HashSet<&[u8]> = HashSet::new();
        for &i in &live {
            if let Some(d) = &steps[i].new_device {
                if kids.insert(&d.kid) {
                    new_devs.push(i);
                }
            }
        }
        for part in chunks(&new_devs) {
            let sql = format!(
                "INSERT INTO devices (name, kid, teep_key, attest_key, suite_alg, status, created_at) VALUES {} \
                 ON CONFLICT (kid) DO NOTHING RETURNING id, kid",
                values_with(ph, part.len(), &["$", "$", "$", "$", "NULL", "$", "$"])
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for &i in part {
                let d = steps[i].new_device.as_ref().expect("new device");
                q = q
                    .bind(&d.name)
                    .bind(&d.kid)
                    .bind(&d.teep_key)
                    .bind(&d.attest_key)
                    .bind(DeviceStatus::Registered.as_str())
                    .bind(steps[i].now);
            }
            for r in q.fetch_all(&mut *tx).await? {
                new_ids.insert(r.try_get(1)?, r.try_get(0)?);
            }
        }
        let missing: Vec<&[u8]> = kids
            .iter()
            .copied()
            .filter(|k| !new_ids.contains_key(*k))
            .collect();
        for part in chunks(&missing) {
            let sql = format!(
                "SELECT id, kid FROM devices WHERE kid IN ({})",
                list(ph, part.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for k in part {
                q = q.bind(*k);
            }
            for r in q.fetch_all(&mut *tx).await? {
                new_ids.insert(r.try_get(1)?, r.try_get(0)?);
            }
        }

        // Which device each step concerns.
        let mut device_of: Vec<Option<i64>> = vec![None; steps.len()];
        for &i in &live {
            let e = steps[i];
            let id = match (e.device.as_ref().and_then(|u| u.device_id), &e.new_device) {
                (Some(id), _) => Some(id),
                (None, Some(d)) => new_ids.get(&d.kid).copied(),
                (None, None) => None,
            };
            if e.device.is_some() && id.is_none() {
                return Err(StoreError::Query("device update without a device".into()));
            }
            device_of[i] = id;
        }

        // 3. Device rows: last seen, suite, attestation status and claims, one row per device.
        //    Several steps of one device in a batch merge field by field, a later step's
        //    value winning. A step that changes nothing in the row (Success; a QueryResponse
        //    re-reporting what is stored, seen less than a minute ago) leaves it alone.
        let mut dev_rows: Vec<RowWrite> = Vec::new();
        let mut dev_index: HashMap<i64, usize> = HashMap::new();
        for &i in &live {
            let (Some(u), Some(id)) = (&steps[i].device, device_of[i]) else {
                continue;
            };
            if !u.writes_row() && steps[i].new_device.is_none() {
                continue;
            }
            let pos = *dev_index.entry(id).or_insert_with(|| {
                dev_rows.push(RowWrite {
                    id,
                    ..RowWrite::default()
                });
                dev_rows.len() - 1
            });
            dev_rows[pos].merge(steps[i].now, u);
        }
        // Most rows change nothing but last_seen, which has its own narrow table: only rows
        // with news touch the wide device table.
        let changed: Vec<&RowWrite> = dev_rows.iter().filter(|r| r.changes_fields()).collect();
        for part in chunks(&changed) {
            self.update_devices(&mut tx, part).await?;
        }
        for part in chunks(&dev_rows) {
            let sql = format!(
                "INSERT INTO device_seen (device_id, last_seen) VALUES {} \
                 ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen",
                values(ph, part.len(), 2)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in part {
                q = q.bind(r.id).bind(r.now);
            }
            q.execute(&mut *tx).await?;
        }

        // 4. Holdings. A tc-list replaces what was stored; Success adds what the Update
        //    installed and drops what it deleted.
        let replace: Vec<i64> = {
            let mut v: Vec<i64> = live
                .iter()
                .filter(|&&i| {
                    steps[i]
                        .device
                        .as_ref()
                        .is_some_and(|u| u.replace_installed.is_some())
                })
                .filter_map(|&i| device_of[i])
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        for part in chunks(&replace) {
            let sql = format!(
                "DELETE FROM device_tcs WHERE device_id IN ({})",
                list(ph, part.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in part {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
        }
        let mut upserts: Vec<(i64, &InstalledTc, i64)> = Vec::new();
        let mut removals: Vec<(i64, &[u8])> = Vec::new();
        for &i in &live {
            let (Some(u), Some(id)) = (&steps[i].device, device_of[i]) else {
                continue;
            };
            for tc in u.replace_installed.iter().flatten().chain(&u.add_installed) {
                upserts.retain(|(d, t, _)| !(*d == id && t.component_id == tc.component_id));
                upserts.push((id, tc, steps[i].now));
            }
            for cid in &u.remove_installed {
                removals.push((id, cid));
            }
        }
        for part in chunks(&upserts) {
            let sql = format!(
                "INSERT INTO device_tcs (device_id, component_id, sequence, digest, origin, updated_at) VALUES {} \
                 ON CONFLICT (device_id, component_id) DO UPDATE SET sequence = COALESCE(excluded.sequence, device_tcs.sequence), \
                 digest = COALESCE(excluded.digest, device_tcs.digest), origin = excluded.origin, updated_at = excluded.updated_at",
                values(ph, part.len(), 6)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (id, tc, now) in part {
                q = q
                    .bind(*id)
                    .bind(&tc.component_id)
                    .bind(tc.sequence.map(|s| s as i64))
                    .bind(&tc.digest)
                    .bind(&tc.origin)
                    .bind(*now);
            }
            q.execute(&mut *tx).await?;
        }
        for part in chunks(&removals) {
            let mut cond = String::new();
            for k in 0..part.len() {
                if k > 0 {
                    cond.push_str(" OR ");
                }
                cond.push_str("(device_id = ");
                ph.push(&mut cond, 2 * k + 1);
                cond.push_str(" AND component_id = ");
                ph.push(&mut cond, 2 * k + 2);
                cond.push(')');
            }
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM device_tcs WHERE {cond}"
            )));
            for (id, cid) in part {
                q = q.bind(*id).bind(*cid);
            }
            q.execute(&mut *tx).await?;
        }

        // 5. Outstanding Updates.
        let sessions: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&i| steps[i].new_session.is_some())
            .collect();
        for part in chunks(&sessions) {
            let sql = format!(
                "INSERT INTO sessions (token, kind, device_kid, challenge, numbering, pending, created_at, expires_at, answered) VALUES {}",
                values_with(ph, part.len(), &["$", "$", "$", "$", "$", "$", "$", "$", "0"])
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for &i in part {
                let s = steps[i].new_session.as_ref().expect("session");
                q = q
                    .bind(&s.token)
                    .bind(s.kind.as_str())
                    .bind(&s.device_kid)
                    .bind(&s.challenge)
                    .bind(&s.numbering)
                    .bind(&s.pending)
                    .bind(s.created_at)
                    .bind(s.expires_at);
            }
            q.execute(&mut *tx).await?;
        }

        // 6. Audit log.
        let audits: Vec<&AuditEntry> = live
            .iter()
            .filter_map(|&i| steps[i].audit.as_ref())
            .collect();
        super::audit::insert(&mut tx, ph, &audits).await?;

        tx.commit().await?;
        if let Some(cache) = &self.shared.devices {
            let mut c = self.checked_devices(cache);
            let mut steps_of: HashMap<i64, usize> = HashMap::new();
            for &i in &live {
                if let (Some(_), Some(id)) = (&steps[i].device, device_of[i]) {
                    *steps_of.entry(id).or_default() += 1;
                }
            }
            for &i in &live {
                let (Some(u), Some(id)) = (&steps[i].device, device_of[i]) else {
                    continue;
                };
                if steps_of[&id] > 1 {
                    // Several steps of one device in a batch: the database merged them; read
                    // it back next time rather than replay the merge here.
                    c.forget(id);
                } else {
                    c.apply(id, steps[i].now, u, dev_index.contains_key(&id));
                }
            }
        }
        let b = &self.shared.batcher;
        b.transactions.fetch_add(1, Ordering::Relaxed);
        b.steps.fetch_add(steps.len() as u64, Ordering::Relaxed);
        Ok((0..steps.len())
            .map(|i| Committed {
                accepted: accepted[i],
                device_id: device_of[i],
            })
            .collect())
    }

    async fn update_devices(&self, tx: &mut Tx<'_>, rows: &[&RowWrite<'_>]) -> Result<()> {
        let ph = Ph::of(self.backend);
        // UPDATE ... FROM (VALUES ...) is understood by SQLite (3.33+) and PostgreSQL alike;
        // both name the columns of a VALUES list column1, column2, ...
        let sql = format!(
            "UPDATE devices SET suite_alg = COALESCE(v.column2, devices.suite_alg), \
             status = COALESCE(v.column3, devices.status), status_detail = COALESCE(v.column4, devices.status_detail), \
             ueid = COALESCE(v.column5, devices.ueid), claims = COALESCE(v.column6, devices.claims) \
             FROM (VALUES {}) AS v WHERE devices.id = v.column1",
            values(ph, rows.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for r in rows {
            q = q
                .bind(r.id)
                .bind(r.suite_alg)
                .bind(r.status)
                .bind(r.status_detail)
                .bind(r.ueid)
                .bind(r.claims);
        }
        q.execute(&mut **tx).await?;
        Ok(())
    }
}

/// The new values of one device row (`None`: keep the stored value).
#[derive(Default)]
struct RowWrite<'a> {
    id: i64,
    now: i64,
    suite_alg: Option<i64>,
    status: Option<&'static str>,
    status_detail: Option<&'a str>,
    ueid: Option<&'a [u8]>,
    claims: Option<&'a str>,
}

impl<'a> RowWrite<'a> {
    /// Whether the wide device row changes (last_seen lives in `device_seen`).
    fn changes_fields(&self) -> bool {
        self.suite_alg.is_some()
            || self.status.is_some()
            || self.status_detail.is_some()
            || self.ueid.is_some()
            || self.claims.is_some()
    }

    /// Lays a later step's changes over this row's.
    fn merge(&mut self, now: i64, u: &'a DeviceUpdate) {
        self.now = self.now.max(now);
        self.suite_alg = u.suite_alg.or(self.suite_alg);
        self.status = u.status.as_ref().map(|s| s.as_str()).or(self.status);
        self.status_detail = u.status_detail.as_deref().or(self.status_detail);
        self.ueid = u.ueid.as_deref().or(self.ueid);
        self.claims = u.claims.as_deref().or(self.claims);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_of_one_device_merge_field_by_field() {
        // A QueryResponse that attested, then one that only changed the suite: the second
        // must not wipe the first's claims (each leaves alone what it found unchanged).
        let first = DeviceUpdate {
            status: Some(DeviceStatus::Attested),
            claims: Some("{}".into()),
            suite_alg: Some(-7),
            touch: true,
            ..Default::default()
        };
        let second = DeviceUpdate {
            suite_alg: Some(-19),
            ..Default::default()
        };
        let mut row = RowWrite::default();
        row.merge(10, &first);
        row.merge(9, &second);
        assert_eq!(row.now, 10);
        assert_eq!(row.suite_alg, Some(-19));
        assert_eq!(row.status, Some("attested"));
        assert_eq!(row.claims, Some("{}"));
        assert_eq!((row.status_detail, row.ueid), (None, None));
    }
}
