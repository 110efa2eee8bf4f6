//! An in-memory TAM: the core driven the way the server drives it, with maps for storage, a
//! clock the test sets and a counter for randomness. Loading follows the core's [`Need`]
//! exactly; committing applies [`Effects`] the way the server's group commit does (a token
//! answered twice voids the second step, a new device's kid is enrolled once, holdings are
//! replaced, added to and removed from).

use std::collections::HashMap;
use std::sync::Arc;

use ciborium::Value;
use teep_bench::sim::SimDevice;
use teep_cose::{PrivateKey, PublicKey, Signer, SoftwareSigner};
use teep_proto::Numbering;

use crate::model::*;
use crate::session::{SignerMatch, SignerSearched};
use crate::token::TokenKey;
use crate::{
    Context, CoreConfig, Effects, Enroll, ExchangeResult, Inspected, Need, Outcome, Random,
    Rejection, TamCore,
};

/// A fixed point in time (ms since the epoch), where every test starts.
pub const T0: i64 = 1_800_000_000_000;

/// Deterministic randomness: a counter, so a run replays the same way.
pub struct Counter(pub u8);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// The token key every test TAM shares (processes of one database share theirs).
pub fn token_key() -> TokenKey {
    TokenKey::new(&[0x51; 32])
}

/// The TAM's two TEEP keys, P-256 first, from fixed seeds.
pub fn tam_signers() -> Vec<Arc<dyn Signer>> {
    vec![
        Arc::new(SoftwareSigner::new(
            PrivateKey::from_p256_scalar(&[0x42; 32]).unwrap(),
        )),
        Arc::new(SoftwareSigner::new(
            PrivateKey::from_ed25519_seed(&[0x43; 32]).unwrap(),
        )),
    ]
}

/// A device whose key comes from `seed` (P-256 for even seeds, Ed25519 for odd ones).
pub fn device(seed: u8) -> SimDevice {
    let key = if seed.is_multiple_of(2) {
        PrivateKey::from_p256_scalar(&[seed; 32]).unwrap()
    } else {
        PrivateKey::from_ed25519_seed(&[seed; 32]).unwrap()
    };
    SimDevice::from_key(key)
}

/// `['TEEP-Device', name, 'ta']`: a TC's component id.
pub fn component(name: &str) -> ComponentId {
    vec![
        b"TEEP-Device".to_vec(),
        name.as_bytes().to_vec(),
        b"ta".to_vec(),
    ]
    .into()
}

/// `['TEEP-Device', name, 'suit']`: its manifest component id.
pub fn manifest_component(name: &str) -> ComponentId {
    vec![
        b"TEEP-Device".to_vec(),
        name.as_bytes().to_vec(),
        b"suit".to_vec(),
    ]
    .into()
}

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

fn int(n: i64) -> Value {
    Value::Integer(n.into())
}

fn id_value(id: &ComponentId) -> Value {
    Value::Array(id.iter().map(|p| Value::Bytes(p.clone())).collect())
}

/// The smallest SUIT envelope a device reads as installing TC `name` at `sequence`: the
/// manifest names the component and its manifest component id, under a digest and no
/// signature (the simulated device trusts the Update that carried it; the TAM never looks
/// inside).
pub fn envelope(name: &str, sequence: u64) -> Vec<u8> {
    let common = cbor(&Value::Map(vec![(
        int(2),
        Value::Array(vec![id_value(&component(name))]),
    )]));
    let manifest = cbor(&Value::Map(vec![
        (int(1), int(1)),
        (int(2), int(sequence as i64)),
        (int(3), Value::Bytes(common)),
        (int(5), id_value(&manifest_component(name))),
    ]));
    let digest = teep_cose::sha256(&cbor(&Value::Bytes(manifest.clone())));
    let digest = cbor(&Value::Array(vec![int(-16), Value::Bytes(digest.to_vec())]));
    let authentication = cbor(&Value::Array(vec![Value::Bytes(digest)]));
    cbor(&Value::Map(vec![
        (int(2), Value::Bytes(authentication)),
        (int(3), Value::Bytes(manifest)),
    ]))
}

/// Catalog entry of TC `name` at `sequence`.
pub fn tc(name: &str, sequence: u64) -> TcRecord {
    TcRecord {
        id: 0,
        name: name.into(),
        component_id: component(name).encode(),
        manifest_component_id: Some(manifest_component(name).encode()),
        sequence,
        envelope: envelope(name, sequence),
        manifest_digest: None,
        payload_digest: Some(vec![sequence as u8; 4]),
        signer_kid: None,
        created_at: T0,
        dependencies: Vec::new(),
    }
}

/// What the server's database holds, as maps.
#[derive(Default)]
pub struct Storage {
    /// Device `id` is at index `id - 1`.
    pub devices: Vec<DeviceRecord>,
    pub holdings: HashMap<i64, Vec<InstalledTc>>,
    pub sessions: HashMap<Vec<u8>, SessionRecord>,
    /// Every catalog entry; the core sees the newest of each component.
    pub catalog: Vec<TcRecord>,
    pub assignments: Vec<(Vec<u8>, Target)>,
    pub audit: Vec<AuditEntry>,
}

impl Storage {
    pub fn device_by_kid(&self, kid: &[u8]) -> Option<&DeviceRecord> {
        self.devices.iter().find(|d| d.kid == kid)
    }

    /// Newest catalog entry of each component, as the server's policy snapshot has it.
    fn latest_catalog(&self) -> Vec<TcRecord> {
        let mut out: Vec<TcRecord> = Vec::new();
        for t in &self.catalog {
            match out.iter_mut().find(|o| o.component_id == t.component_id) {
                Some(o) if o.sequence < t.sequence => *o = t.clone(),
                Some(_) => {}
                None => out.push(t.clone()),
            }
        }
        out
    }

    /// Component ids assigned to `device` (`None`: not in storage yet, reached by `all` only).
    fn assigned(&self, device: Option<&DeviceRecord>) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (cid, target) in &self.assignments {
            let hit = match (target, device) {
                (Target::All, _) => true,
                (Target::Device(id), Some(d)) => *id == d.id,
                (Target::Tag(t), Some(d)) => d.tags.contains(t),
                _ => false,
            };
            if hit && !out.contains(cid) {
                out.push(cid.clone());
            }
        }
        out
    }

    fn signer_device(&self, msg: &Inspected) -> Option<DeviceRecord> {
        msg.kids().find_map(|k| self.device_by_kid(k)).cloned()
    }

    /// When no kid names a device: the search the core allows, as the server runs it.
    fn search_signer(&self, core: &TamCore, msg: &Inspected, ctx: &mut Context) {
        let search = core.signer_search(msg);
        let mut done = SignerSearched::default();
        if let Some(ueid) = search.ueid {
            let candidates: Vec<DeviceRecord> = self
                .devices
                .iter()
                .filter(|d| d.ueid.as_ref() == Some(&ueid))
                .cloned()
                .collect();
            done.ueid = Some((ueid, candidates.len()));
            if let Some(i) = core.pick_signer(msg, &candidates) {
                ctx.device = Some(candidates[i].clone());
                done.matched = Some(SignerMatch::Ueid);
            }
        }
        let max = search.try_keys_up_to;
        if ctx.device.is_none() && max > 0 && self.devices.len() <= max {
            done.tried_keys = Some(self.devices.len());
            if let Some(i) = core.pick_signer(msg, &self.devices) {
                ctx.device = Some(self.devices[i].clone());
                done.matched = Some(SignerMatch::TriedKeys);
            }
        }
        ctx.signer_search = Some(done);
    }

    /// The context `need` asks for, and nothing more.
    pub fn load(&self, core: &TamCore, need: Need, msg: &Inspected) -> Context {
        let mut ctx = Context::default();
        match need {
            Need::Nothing => {}
            Need::QueryResponse { session } => {
                ctx.session = Some(session);
                ctx.device = self.signer_device(msg);
                if ctx.device.is_none() {
                    self.search_signer(core, msg, &mut ctx);
                }
                if let Some(d) = &ctx.device {
                    ctx.installed = self.holdings.get(&d.id).cloned().unwrap_or_default();
                }
                ctx.catalog = Arc::new(self.latest_catalog());
                ctx.assigned = self.assigned(ctx.device.as_ref());
            }
            Need::Signer { session } => {
                ctx.session = Some(session);
                ctx.device = self.signer_device(msg);
                if ctx.device.is_none() {
                    self.search_signer(core, msg, &mut ctx);
                }
            }
            Need::StoredSession { catalog } => {
                let token = msg.token().expect("a stored session is asked for by token");
                ctx.session = self.sessions.get(token).cloned();
                ctx.device = self.signer_device(msg).or_else(|| {
                    let bound = ctx.session.as_ref()?.device_kid.as_deref()?;
                    self.device_by_kid(bound).cloned()
                });
                if catalog {
                    ctx.catalog = Arc::new(self.latest_catalog());
                }
            }
        }
        ctx
    }

    /// Commits one step; `false` if its token was already answered (nothing is applied).
    pub fn commit(&mut self, e: Effects) -> bool {
        if let Some(c) = &e.consume {
            match c.kind {
                SessionKind::Query => {
                    if self.sessions.contains_key(&c.token) {
                        return false;
                    }
                    self.sessions.insert(
                        c.token.clone(),
                        SessionRecord {
                            token: c.token.clone(),
                            kind: SessionKind::Query,
                            device_kid: c.device_kid.clone(),
                            challenge: None,
                            numbering: c.numbering.name().into(),
                            pending: None,
                            created_at: e.now,
                            expires_at: c.expires_at,
                            answered: true,
                        },
                    );
                }
                SessionKind::Update => match self.sessions.get_mut(&c.token) {
                    Some(s) if s.kind == SessionKind::Update && !s.answered => s.answered = true,
                    _ => return false,
                },
            }
        }
        let mut device_id = e.device.as_ref().and_then(|u| u.device_id);
        if let Some(nd) = &e.new_device {
            let id = match self.device_by_kid(&nd.kid) {
                Some(d) => d.id,
                None => {
                    let id = self.devices.len() as i64 + 1;
                    self.devices.push(nd.clone().into_record(id, e.now));
                    id
                }
            };
            device_id.get_or_insert(id);
        }
        if let (Some(u), Some(id)) = (&e.device, device_id) {
            let d = &mut self.devices[id as usize - 1];
            if u.writes_row() || e.new_device.is_some() {
                u.apply_row(d, e.now);
            }
            let held = self.holdings.entry(id).or_default();
            if u.replace_installed.is_some() {
                held.clear();
            }
            for tc in u.replace_installed.iter().flatten().chain(&u.add_installed) {
                match held.iter_mut().find(|h| h.component_id == tc.component_id) {
                    Some(h) => {
                        h.sequence = tc.sequence.or(h.sequence);
                        h.digest = tc.digest.clone().or(h.digest.take());
                        h.origin = tc.origin.clone();
                        h.updated_at = e.now;
                    }
                    None => held.push(InstalledTc {
                        updated_at: e.now,
                        ..tc.clone()
                    }),
                }
            }
            held.retain(|h| !u.remove_installed.contains(&h.component_id));
        }
        if let Some(s) = e.new_session {
            self.sessions.insert(s.token.clone(), s);
        }
        if let Some(a) = e.audit {
            self.audit.push(a);
        }
        true
    }
}

/// How a whole session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Exchange {
    /// QueryRequest, QueryResponse, end: nothing to do.
    UpToDate,
    /// QueryRequest, QueryResponse, Update, Success, end.
    Updated,
}

/// The core, its storage and its clock.
pub struct Tam {
    pub core: TamCore,
    pub storage: Storage,
    pub now: i64,
    pub rng: Counter,
    /// The need of the last message inspected.
    pub last_need: Option<Need>,
}

impl Tam {
    pub fn new(enroll: Enroll) -> Tam {
        Tam::with(|c| CoreConfig { enroll, ..c }, Vec::new())
    }

    /// A TAM whose settings `config` derives from the defaults (render_json off, as the
    /// server runs), trusting `verifier_keys`.
    pub fn with(
        config: impl FnOnce(CoreConfig) -> CoreConfig,
        verifier_keys: Vec<PublicKey>,
    ) -> Tam {
        let config = config(CoreConfig {
            render_json: false,
            ..CoreConfig::default()
        });
        Tam {
            core: TamCore::new(tam_signers(), verifier_keys, config, token_key()),
            storage: Storage::default(),
            now: T0,
            rng: Counter(0),
            last_need: None,
        }
    }

    pub fn tam_keys(&self) -> Vec<PublicKey> {
        self.core.signers().iter().map(|s| s.public_key()).collect()
    }

    /// Adds a catalog entry and assigns it to every device.
    pub fn add_assigned(&mut self, name: &str, sequence: u64) -> TcRecord {
        let t = self.add(name, sequence);
        self.storage
            .assignments
            .push((t.component_id.clone(), Target::All));
        t
    }

    /// Adds a catalog entry, assigned to nobody.
    pub fn add(&mut self, name: &str, sequence: u64) -> TcRecord {
        let mut t = tc(name, sequence);
        t.id = self.storage.catalog.len() as i64 + 1;
        self.storage.catalog.push(t.clone());
        t
    }

    /// Registers `dev` (as an administrator would); returns its id.
    pub fn register(&mut self, dev: &SimDevice, tags: &[&str]) -> i64 {
        let id = self.storage.devices.len() as i64 + 1;
        let record = NewDevice {
            name: None,
            kid: dev.kid(),
            teep_key: dev.public_key().to_cose_key(),
            attest_key: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
        .into_record(id, self.now);
        self.storage.devices.push(DeviceRecord {
            last_seen: None,
            ..record
        });
        id
    }

    pub fn device(&self, dev: &SimDevice) -> &DeviceRecord {
        self.storage
            .device_by_kid(&dev.kid())
            .expect("the device is in storage")
    }

    pub fn holdings(&self, dev: &SimDevice) -> Vec<InstalledTc> {
        let id = self.device(dev).id;
        self.storage.holdings.get(&id).cloned().unwrap_or_default()
    }

    /// An empty POST: a new session's QueryRequest.
    pub fn connect(&mut self, n: Numbering) -> Vec<u8> {
        let o = self
            .core
            .handle_connect(n, self.now, &mut self.rng)
            .unwrap();
        assert!(o.effects.is_empty(), "opening a session writes nothing");
        assert_eq!(o.result, ExchangeResult::QueryRequest);
        o.response.unwrap()
    }

    /// Inspects `body` on the path that speaks `n` and loads what it needs.
    pub fn load(&mut self, body: &[u8], n: Numbering) -> Result<(Inspected, Context), Rejection> {
        let mut msg = self.core.inspect(body, n)?;
        let need = msg.take_need();
        self.last_need = Some(need.clone());
        let ctx = self.storage.load(&self.core, need, &msg);
        Ok((msg, ctx))
    }

    /// The core's answer to a loaded message, not yet committed.
    pub fn answer(&mut self, msg: Inspected, ctx: &Context) -> Result<Outcome, Rejection> {
        self.core.handle_message(msg, ctx, self.now, &mut self.rng)
    }

    /// Commits an answer; a token storage finds already answered is the core's refusal.
    pub fn commit(&mut self, outcome: Outcome) -> Result<Outcome, Rejection> {
        if self.storage.commit(outcome.effects.clone()) {
            Ok(outcome)
        } else {
            Err(self.core.handle_replay_at_commit())
        }
    }

    /// A POST of `body` on the path that speaks `n`: inspect, load, answer, commit.
    pub fn post(&mut self, body: &[u8], n: Numbering) -> Result<Outcome, Rejection> {
        let (msg, ctx) = self.load(body, n)?;
        let outcome = self.answer(msg, &ctx)?;
        self.commit(outcome)
    }

    /// The device's QueryResponse to a new QueryRequest.
    pub fn query_response(&mut self, dev: &SimDevice, n: Numbering) -> Vec<u8> {
        let request = self.connect(n);
        let seen = dev
            .read_query_request(&request, n, &self.tam_keys())
            .unwrap();
        dev.query_response(&seen, n).unwrap()
    }

    /// One whole session of `dev` in numbering `n`; the device applies what it is sent.
    pub fn exchange_in(&mut self, dev: &mut SimDevice, n: Numbering) -> Exchange {
        let response = self.query_response(dev, n);
        let answer = self.post(&response, n).unwrap();
        let Some(update) = answer.response else {
            assert_eq!(answer.result, ExchangeResult::NoUpdate);
            return Exchange::UpToDate;
        };
        assert_eq!(answer.result, ExchangeResult::Update);
        let token = dev.read_update_from(&update, n, &self.tam_keys()).unwrap();
        let success = dev.success(token, n).unwrap();
        let end = self.post(&success, n).unwrap();
        assert_eq!((end.response, end.result), (None, ExchangeResult::Success));
        Exchange::Updated
    }

    pub fn exchange(&mut self, dev: &mut SimDevice) -> Exchange {
        self.exchange_in(dev, Numbering::Draft26)
    }
}
