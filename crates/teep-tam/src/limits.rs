//! The bookkeeping behind the TAM's quotas, shared by the accept loop, the TEEP endpoint and
//! the admin paths: client addresses as the per-address limits count them, token buckets,
//! the sessions open now (per address and in total), and the once-per-interval log line of
//! each limit hit. Pure bookkeeping: callers pass the time in.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::metrics::Limit;

/// The address a per-address limit counts: an IPv6 client gets a /64, so it is one address.
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// The client address of a request, as [`address_key`] counts it; put in the request's
/// extensions by the accept loop (absent for requests served without one, as in tests that
/// drive the router directly).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub(crate) IpAddr);

/// Addresses whose buckets are kept; beyond, full buckets are forgotten, and if that is not
/// enough, all (memory stays bounded; a forgotten address starts with a full bucket).
const BUCKETS_MAX: usize = 65_536;

/// A token bucket per client address.
pub(crate) struct Buckets {
    pub(crate) rate: f64,
    pub(crate) burst: f64,
    map: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Buckets {
    /// `burst` requests at once, then `rate` per second.
    pub(crate) fn new(rate: f64, burst: f64) -> Buckets {
        Buckets {
            rate,
            burst,
            map: Mutex::default(),
        }
    }

    /// Whether `key`'s bucket has a token, without taking it.
    pub(crate) fn peek(&self, key: IpAddr, now: Instant) -> Result<(), u64> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let Some(&(tokens, at)) = map.get(&key) else {
            return Ok(());
        };
        let tokens =
            (tokens + now.saturating_duration_since(at).as_secs_f64() * self.rate).min(self.burst);
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err((((1.0 - tokens) / self.rate).ceil() as u64).max(1))
        }
    }

    /// Takes a token from `key`'s bucket, or says in how many seconds one will be there.
    pub(crate) fn take(&self, key: IpAddr, now: Instant) -> Result<(), u64> {
        let (rate, burst) = (self.rate, self.burst);
        let refill = |tokens: f64, at: Instant| {
            (tokens + now.saturating_duration_since(at).as_secs_f64() * rate).min(burst)
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= BUCKETS_MAX && !map.contains_key(&key) {
            map.retain(|_, (t, at)| refill(*t, *at) < burst);
            if map.len() >= BUCKETS_MAX {
                map.clear();
            }
        }
        let (tokens, at) = map.entry(key).or_insert((burst, now));
        *tokens = refill(*tokens, *at);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - *tokens) / rate).ceil() as u64).max(1))
        }
    }
}

/// A limit hit is logged at most once per this many milliseconds (with the count since).
pub(crate) const LOG_INTERVAL_MS: i64 = 10_000;

/// Per limit: when it may be logged next, and the hits since it was last logged.
#[derive(Default)]
pub(crate) struct LimitLog {
    next_log_ms: [AtomicI64; Limit::ALL.len()],
    unlogged: [AtomicU64; Limit::ALL.len()],
}

impl LimitLog {
    /// Counts a hit of `limit` at `now` (ms); `Some(hits since the last line)` when this one
    /// is to be logged.
    pub(crate) fn hit(&self, limit: Limit, now: i64) -> Option<u64> {
        let i = limit as usize;
        self.unlogged[i].fetch_add(1, Ordering::Relaxed);
        let next = self.next_log_ms[i].load(Ordering::Relaxed);
        if now < next
            || self.next_log_ms[i]
                .compare_exchange(
                    next,
                    now + LOG_INTERVAL_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return None;
        }
        Some(self.unlogged[i].swap(0, Ordering::Relaxed))
    }
}

/// Why a new session was not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionsFull {
    /// `max_sessions` are open in this process (503): the TAM is at capacity.
    Total { retry_secs: u64 },
    /// `max_sessions_per_address` are open from the client's address (429).
    PerAddress { retry_secs: u64 },
}

/// One request of the TAM awaiting the device's answer.
struct Open {
    at: i64,
    addr: Option<IpAddr>,
}

#[derive(Default)]
struct Table {
    /// By a hash of the token the TAM sent (tokens are the TAM's own, so there is nothing for
    /// a peer to collide with; a collision would only miscount one session).
    by_token: HashMap<u64, Open>,
    /// Tokens in the order they were opened, for expiry; an entry answered early stays here
    /// until it expires or the queue is compacted.
    order: VecDeque<(i64, u64)>,
    by_address: HashMap<IpAddr, u32>,
}

/// The sessions this process is waiting on: a request it sent (QueryRequest or Update) whose
/// answer has not come. A session counts from the request until its answer, or for at most
/// `hold_ms`: the token stays valid for the whole session TTL (hours), but a client that
/// opens sessions and never answers must not hold capacity that long. Bounds the memory an
/// empty-POST flood can take, and gives graceful shutdown the sessions still in flight.
pub(crate) struct OpenSessions {
    max: usize,
    per_address: u32,
    hold_ms: i64,
    table: Mutex<Table>,
}

fn token_key(token: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut h);
    h.finish()
}

impl Table {
    /// Forgets sessions opened before `cutoff`.
    fn expire(&mut self, cutoff: i64) {
        while let Some(&(at, key)) = self.order.front() {
            if at >= cutoff {
                break;
            }
            self.order.pop_front();
            if self.by_token.get(&key).is_some_and(|o| o.at == at) {
                self.remove(key);
            }
        }
    }

    fn remove(&mut self, key: u64) {
        let Some(open) = self.by_token.remove(&key) else {
            return;
        };
        if let Some(addr) = open.addr {
            if let Some(n) = self.by_address.get_mut(&addr) {
                *n -= 1;
                if *n == 0 {
                    self.by_address.remove(&addr);
                }
            }
        }
    }
}

impl OpenSessions {
    /// `max`: sessions open at once (0: no cap); `per_address`: from one client address (0:
    /// no cap); `hold_ms`: how long an unanswered session counts.
    pub(crate) fn new(max: usize, per_address: u32, hold_ms: i64) -> OpenSessions {
        OpenSessions {
            max,
            per_address,
            hold_ms: hold_ms.max(1),
            table: Mutex::default(),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a new session from `addr` fits at `now`; changes nothing.
    pub(crate) fn admit(&self, addr: Option<IpAddr>, now: i64) -> Result<(), SessionsFull> {
        let mut t = self.table();
        t.expire(now - self.hold_ms);
        // When the oldest session counted stops counting: a hint, for both caps.
        let retry_secs = || {
            let oldest = t.order.front().map_or(now, |&(at, _)| at);
            ((oldest + self.hold_ms - now).max(0) as u64)
                .div_ceil(1000)
                .max(1)
        };
        if self.max > 0 && t.by_token.len() >= self.max {
            return Err(SessionsFull::Total {
                retry_secs: retry_secs(),
            });
        }
        if let (true, Some(a)) = (self.per_address > 0, addr) {
            if t.by_address.get(&a).copied().unwrap_or(0) >= self.per_address {
                return Err(SessionsFull::PerAddress {
                    retry_secs: retry_secs(),
                });
            }
        }
        Ok(())
    }

    /// The TAM sent a request with `token` to `addr` and awaits its answer; `answered`: the
    /// token of the request that this one follows (its session step is over).
    pub(crate) fn step(
        &self,
        answered: Option<&[u8]>,
        opened: Option<&[u8]>,
        addr: Option<IpAddr>,
        now: i64,
    ) {
        let mut t = self.table();
        if let Some(a) = answered {
            t.remove(token_key(a));
        }
        let Some(token) = opened else {
            return;
        };
        let key = token_key(token);
        t.remove(key);
        t.by_token.insert(key, Open { at: now, addr });
        if let Some(a) = addr {
            *t.by_address.entry(a).or_insert(0) += 1;
        }
        t.order.push_back((now, key));
        // Answered sessions stay queued until they expire: past a bound, drop them at once
        // so the queue stays proportional to the sessions open.
        if t.order.len() > 4 * t.by_token.len().max(1024) {
            let Table {
                order, by_token, ..
            } = &mut *t;
            order.retain(|(at, k)| by_token.get(k).is_some_and(|o| o.at == *at));
        }
    }

    /// Sessions awaiting an answer whose last request was sent at or after `since` (ms).
    pub(crate) fn in_flight(&self, since: i64) -> usize {
        self.table()
            .by_token
            .values()
            .filter(|o| o.at >= since)
            .count()
    }

    /// Forgets sessions whose hold passed.
    pub(crate) fn purge(&self, now: i64) {
        self.table().expire(now - self.hold_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_ipv6_client_counts_by_its_slash_64() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = address_key("::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(mapped, "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_bucket_allows_the_burst_then_the_rate() {
        let b = Buckets::new(2.0, 3.0);
        let key = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.take(key, t0), Ok(()));
        }
        assert_eq!(b.take(key, t0), Err(1));
        assert_eq!(b.take("192.0.2.2".parse().unwrap(), t0), Ok(()));
        assert_eq!(
            b.take(key, t0 + std::time::Duration::from_millis(500)),
            Ok(())
        );
        assert_eq!(
            b.take(key, t0 + std::time::Duration::from_millis(500)),
            Err(1)
        );
        // Peeking takes nothing.
        let later = t0 + std::time::Duration::from_millis(1000);
        assert_eq!(b.peek(key, later), Ok(()));
        assert_eq!(b.peek(key, later), Ok(()));
        assert_eq!(b.take(key, later), Ok(()));
        assert_eq!(b.peek(key, later), Err(1));
    }

    #[test]
    fn sessions_are_capped_per_address_and_in_total_until_answered_or_held_out() {
        let s = OpenSessions::new(3, 2, 60_000);
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        s.step(None, Some(b"t1"), a, 0);
        s.step(None, Some(b"t2"), a, 1);
        assert!(matches!(
            s.admit(a, 2),
            Err(SessionsFull::PerAddress { retry_secs: 60 })
        ));
        assert_eq!(s.admit(b, 2), Ok(()));
        s.step(None, Some(b"t3"), b, 2);
        assert!(matches!(
            s.admit(ip("192.0.2.3"), 3),
            Err(SessionsFull::Total { .. })
        ));
        // t1 answered by an Update (u1): still one session, from the same address.
        s.step(Some(b"t1"), Some(b"u1"), a, 4);
        assert!(s.admit(a, 5).is_err());
        // u1 answered (Success): the session is over.
        s.step(Some(b"u1"), None, None, 6);
        assert_eq!(s.admit(a, 7), Ok(()));
        assert_eq!(s.in_flight(0), 2);
        // Unanswered, t2 and t3 stop counting once held for 60 s.
        assert_eq!(s.in_flight(2), 1);
        assert_eq!(s.admit(a, 60_002), Ok(()));
        s.purge(60_003);
        assert_eq!(s.in_flight(0), 0);
    }

    #[test]
    fn the_order_queue_stays_bounded_when_sessions_end_early() {
        let s = OpenSessions::new(0, 0, 60_000);
        for i in 0..100_000u32 {
            let t = i.to_be_bytes();
            s.step(None, Some(&t), None, i64::from(i));
            s.step(Some(&t), None, None, i64::from(i));
        }
        assert!(s.table().order.len() <= 4 * 1024 + 1);
        assert_eq!(s.in_flight(0), 0);
    }

    #[test]
    fn a_limit_is_logged_once_per_interval_with_its_count() {
        let l = LimitLog::default();
        assert_eq!(l.hit(Limit::Rate, 1_000), Some(1));
        assert_eq!(l.hit(Limit::Rate, 2_000), None);
        assert_eq!(l.hit(Limit::Rate, 3_000), None);
        assert_eq!(l.hit(Limit::Connections, 3_000), Some(1));
        assert_eq!(l.hit(Limit::Rate, 1_000 + LOG_INTERVAL_MS), Some(3));
    }
}
