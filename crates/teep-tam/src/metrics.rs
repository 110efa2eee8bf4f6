//! Prometheus metrics of the TEEP endpoint, written by `prometheus-client` in the text format
//! 0.0.4 that `/metrics` serves.
//!
//! Every label takes its value from a fixed list here, never from what a peer sent, so the
//! number of series cannot grow: an agent's error code outside the IANA registry counts as
//! `unknown`, a result or refusal word missing from the lists as `other`. What a message
//! says (its error code, its deviations) is counted only once its signature and token are
//! verified and its step committed, so an unauthenticated peer moves no such counter. Counting on the hot
//! path is one atomic add on a counter created up front: no lock, no allocation. (The
//! library's own `Family` and `Histogram` take a lock per update, so the two metric kinds here
//! are small [`EncodeMetric`] implementations over atomics.)

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{prometheus_text, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// Latency bucket upper bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

/// `result` of `teep_tam_exchanges_total`: how a step ended (the core's result words). The
/// last value counts any other word.
const RESULTS: &[&str] = &[
    "query-request",
    "no-update",
    "update",
    "attestation-failed",
    "bad-query-response",
    "success",
    "agent-error",
    "other",
];

/// `code` of `teep_tam_errors_total`: why a request was refused, by the core (first group)
/// or by the transport. The last value counts any other code.
const ERRORS: &[&str] = &[
    "malformed",
    "wrong-numbering",
    "unexpected-type",
    "token",
    "replay",
    "expired",
    "signature",
    "unknown-device",
    "attestation",
    "internal",
    "body",
    "body-too-large",
    "not-acceptable",
    "unsupported-media-type",
    "draining",
    "body-timeout",
    "rate",
    "login",
    "admin-rate",
    "sessions",
    "sessions-per-address",
    "storage",
    "deviation",
    "other",
];

/// `code` of `teep_tam_agent_errors_total`: the IANA names of TEEP error codes. The last value
/// counts codes outside the registry, whatever number the agent sent.
const AGENT_ERRORS: &[&str] = &[
    "ERR_PERMANENT_ERROR",
    "ERR_UNSUPPORTED_EXTENSION",
    "ERR_UNSUPPORTED_FRESHNESS_MECHANISMS",
    "ERR_UNSUPPORTED_MSG_VERSION",
    "ERR_UNSUPPORTED_CIPHER_SUITES",
    "ERR_BAD_CERTIFICATE",
    "ERR_ATTESTATION_REQUIRED",
    "ERR_UNSUPPORTED_SUIT_REPORT",
    "ERR_CERTIFICATE_EXPIRED",
    "ERR_TEMPORARY_ERROR",
    "ERR_MANIFEST_PROCESSING_FAILED",
    "unknown",
];

/// `code` of `teep_tam_deviations_total`: every code of the deviation catalog, then `other`
/// (which a code outside the catalog, were one ever noted, would count as).
fn deviation_codes() -> Vec<&'static str> {
    teep_cbor::deviation::catalog::ALL
        .iter()
        .map(|k| k.code)
        .chain(["other"])
        .collect()
}

/// `limit` of `teep_tam_limit_hits_total`: which limit turned a client away or cut it off
/// (see [`Limit`]).
const LIMITS: &[&str] = &[
    "connections",
    "connections-per-address",
    "header-timeout",
    "body-timeout",
    "tls-handshake-timeout",
    "rate",
    "login-rate",
    "sessions",
    "sessions-per-address",
    "admin-rate",
    "write-timeout",
    "other",
];

/// A limit that turned a client away or cut it off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A connection accepted beyond `max_connections`, and closed.
    Connections,
    /// A connection accepted beyond `max_connections_per_address`, and closed.
    ConnectionsPerAddress,
    /// A connection closed by `header_timeout_ms` before its first request's headers were
    /// complete (a keep-alive connection closed by the same timer after an answer is not
    /// counted: that is its normal end).
    HeaderTimeout,
    /// A request body slower than `body_timeout_ms` and `body_min_rate` allow (408).
    BodyTimeout,
    /// A TLS handshake unfinished after its time.
    TlsHandshakeTimeout,
    /// A TEEP request beyond `rate_per_address` and `rate_burst` (429).
    Rate,
    /// A web UI log-in attempt beyond the per-address throttle (429).
    LoginRate,
    /// A new TEEP session beyond `max_sessions` open at once (503).
    Sessions,
    /// A new TEEP session beyond `max_sessions_per_address` (429).
    SessionsPerAddress,
    /// An admin API or web UI request beyond `admin_rate_per_address` (429).
    AdminRate,
    /// A response that made no progress for `write_timeout_ms`: the connection is closed.
    WriteTimeout,
}

impl Limit {
    pub const ALL: [Limit; 11] = [
        Limit::Connections,
        Limit::ConnectionsPerAddress,
        Limit::HeaderTimeout,
        Limit::BodyTimeout,
        Limit::TlsHandshakeTimeout,
        Limit::Rate,
        Limit::LoginRate,
        Limit::Sessions,
        Limit::SessionsPerAddress,
        Limit::AdminRate,
        Limit::WriteTimeout,
    ];

    /// The label value, as in [`LIMITS`].
    pub fn as_str(self) -> &'static str {
        LIMITS[self as usize]
    }
}

/// `result` of `teep_tam_device_cache_lookups_total`.
const CACHE_LOOKUPS: &[&str] = &["hit", "miss"];

/// Counters of one family whose label takes one of a fixed list of values; clones share the
/// counts. Every value is written, zero or not.
#[derive(Clone, Debug)]
struct FixedFamily {
    label: &'static str,
    values: Arc<[&'static str]>,
    counts: Arc<[AtomicU64]>,
}

impl FixedFamily {
    fn new(label: &'static str, values: &[&'static str]) -> Self {
        FixedFamily {
            label,
            values: values.into(),
            counts: values.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts `value`, or the list's last value if `value` is not in the list.
    fn inc(&self, value: &str) {
        let last = self.values.len() - 1;
        let i = self.values[..last]
            .iter()
            .position(|v| *v == value)
            .unwrap_or(last);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A family with the given counts, one per value (a snapshot taken at scrape time).
    fn with_counts(label: &'static str, values: &[&'static str], counts: &[u64]) -> Self {
        let family = FixedFamily::new(label, values);
        for (c, v) in family.counts.iter().zip(counts) {
            c.store(*v, Ordering::Relaxed);
        }
        family
    }
}

impl EncodeMetric for FixedFamily {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        for (value, count) in self.values.iter().zip(self.counts.iter()) {
            encoder
                .encode_family(&[(self.label, *value)])?
                .encode_counter::<NoLabelSet, _, u64>(&count.load(Ordering::Relaxed), None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// A latency histogram over [`BUCKETS`]; clones share the counts. An observation adds to one
/// bucket (the encoder accumulates them), and the count is the buckets' total, so a scrape
/// never shows a bucket above `+Inf`.
#[derive(Clone, Debug)]
struct LatencyHistogram {
    /// Observations per bucket; the last entry holds those above the largest bound.
    buckets: Arc<[AtomicU64; BUCKETS.len() + 1]>,
    sum_micros: Arc<AtomicU64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
            sum_micros: Arc::default(),
        }
    }
}

impl LatencyHistogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> fmt::Result {
        let counts: [u64; BUCKETS.len() + 1] =
            std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed));
        let bounded: [(f64, u64); BUCKETS.len()] = std::array::from_fn(|i| (BUCKETS[i], counts[i]));
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        encoder.encode_histogram::<NoLabelSet>(sum, counts.iter().sum(), &bounded, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// What storage reports at scrape time, for [`Metrics::render_with_storage`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageFacts {
    /// Devices known to the TAM (`None`: the count failed; the gauge is left out).
    pub devices: Option<i64>,
    /// Group-commit transactions and the TEEP steps they committed.
    pub commit_transactions: u64,
    pub committed_steps: u64,
    /// Device-cache hits and misses (`None`: no device cache, as with PostgreSQL).
    pub device_cache: Option<(u64, u64)>,
}

/// The TAM's metrics. Counting methods take `&self` and are safe from any task.
pub struct Metrics {
    results: FixedFamily,
    errors: FixedFamily,
    agent_errors: FixedFamily,
    deviations: FixedFamily,
    limits: FixedFamily,
    connections: Gauge,
    duration: LatencyHistogram,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let results = FixedFamily::new("result", RESULTS);
        let errors = FixedFamily::new("code", ERRORS);
        let agent_errors = FixedFamily::new("code", AGENT_ERRORS);
        let deviations = FixedFamily::new("code", &deviation_codes());
        let limits = FixedFamily::new("limit", LIMITS);
        let connections = Gauge::default();
        let duration = LatencyHistogram::default();
        let mut registry = Registry::default();
        registry.register(
            "teep_tam_exchanges",
            "TEEP request steps completed, by result",
            results.clone(),
        );
        registry.register(
            "teep_tam_errors",
            "Requests refused, by reason",
            errors.clone(),
        );
        registry.register(
            "teep_tam_agent_errors",
            "Error messages received from agents, by TEEP error code",
            agent_errors.clone(),
        );
        registry.register(
            "teep_tam_deviations",
            "Deviations from the drafts accepted in received messages, by code",
            deviations.clone(),
        );
        registry.register(
            "teep_tam_limit_hits",
            "Clients turned away or cut off by a connection limit, by limit",
            limits.clone(),
        );
        registry.register(
            "teep_tam_connections_open",
            "HTTP connections open now",
            connections.clone(),
        );
        registry.register(
            "teep_tam_request_duration_seconds",
            "Time to answer a POST to the TEEP endpoint",
            duration.clone(),
        );
        Metrics {
            results,
            errors,
            agent_errors,
            deviations,
            limits,
            connections,
            duration,
            registry,
        }
    }
}

impl Metrics {
    /// A completed step, by the core's result word (`update`, `no-update`, `success`, ...).
    pub fn result(&self, r: &'static str) {
        self.results.inc(r);
    }

    /// A refused request, by code (`malformed`, `signature`, `replay`, `storage`, ...).
    pub fn error(&self, code: &'static str) {
        self.errors.inc(code);
    }

    /// A verified Error message from an agent, by the name of its code (`ERR_...`; any other
    /// text counts as `unknown`).
    pub fn agent_error(&self, name: &str) {
        self.agent_errors.inc(name);
    }

    /// A deviation accepted in a verified message, by its catalog code.
    pub fn deviation(&self, code: &str) {
        self.deviations.inc(code);
    }

    /// A limit hit.
    pub fn limit_hit(&self, limit: Limit) {
        self.limits.counts[limit as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connections(&self, delta: i64) {
        self.connections.inc_by(delta);
    }

    /// The time one POST to the TEEP endpoint took.
    pub fn observe(&self, d: Duration) {
        self.duration.observe(d);
    }

    /// The counters and, given a device count, the `teep_tam_devices` gauge.
    pub fn render(&self, devices: Option<i64>) -> String {
        let mut text = String::new();
        // Writing to a String does not fail, and every metric here encodes infallibly.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        if let Some(d) = devices {
            let mut scrape = Registry::default();
            scrape.register(
                "teep_tam_devices",
                "Devices known to the TAM",
                ConstGauge::new(d),
            );
            let _ = prometheus_text::encode(&mut text, &scrape);
        }
        text
    }

    /// [`Self::render`] followed by what storage reports: commit batching and device-cache
    /// lookups.
    pub fn render_with_storage(&self, facts: &StorageFacts) -> String {
        let mut text = self.render(facts.devices);
        let mut scrape = Registry::default();
        scrape.register(
            "teep_tam_commit_transactions",
            "Group-commit transactions",
            ConstCounter::new(facts.commit_transactions),
        );
        scrape.register(
            "teep_tam_committed_steps",
            "TEEP steps committed (steps / transactions = mean batch)",
            ConstCounter::new(facts.committed_steps),
        );
        if let Some((hits, misses)) = facts.device_cache {
            scrape.register(
                "teep_tam_device_cache_lookups",
                "QueryResponse device contexts, by where they came from",
                FixedFamily::with_counts("result", CACHE_LOOKUPS, &[hits, misses]),
            );
        }
        let _ = prometheus_text::encode(&mut text, &scrape);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.result("update");
        m.result("update");
        m.error("malformed");
        m.observe(Duration::from_micros(1500));
        let text = m.render(Some(3));
        assert!(
            text.contains("# TYPE teep_tam_exchanges_total counter\n"),
            "{text}"
        );
        assert!(text.contains("teep_tam_exchanges_total{result=\"update\"} 2"));
        assert!(text.contains("teep_tam_errors_total{code=\"malformed\"} 1"));
        assert!(text.contains("teep_tam_request_duration_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("teep_tam_request_duration_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("teep_tam_request_duration_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("teep_tam_request_duration_seconds_count 1"));
        assert!(text.contains("teep_tam_devices 3"));
        assert!(!m.render(None).contains("teep_tam_devices"));
    }

    #[test]
    fn label_values_come_from_fixed_lists_only() {
        let m = Metrics::default();
        m.agent_error("ERR_TEMPORARY_ERROR");
        m.agent_error("unknown error code 99");
        m.agent_error("unknown error code 12345");
        m.error("a-code-nobody-listed");
        m.result("a-result-nobody-listed");
        let text = m.render(None);
        assert!(text.contains("teep_tam_agent_errors_total{code=\"ERR_TEMPORARY_ERROR\"} 1"));
        assert!(
            text.contains("teep_tam_agent_errors_total{code=\"unknown\"} 2"),
            "{text}"
        );
        assert!(text.contains("teep_tam_errors_total{code=\"other\"} 1"));
        assert!(text.contains("teep_tam_exchanges_total{result=\"other\"} 1"));
        assert!(!text.contains("nobody") && !text.contains("99"), "{text}");
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(
            series,
            RESULTS.len()
                + ERRORS.len()
                + AGENT_ERRORS.len()
                + deviation_codes().len()
                + LIMITS.len()
                + 1
                + BUCKETS.len()
                + 3
        );
    }

    /// The deviation counter's label set is the catalog (and `other`), whatever is noted.
    #[test]
    fn deviations_count_by_catalog_code_only() {
        let m = Metrics::default();
        m.deviation("teep.tc-list-empty");
        m.deviation("teep.tc-list-empty");
        m.deviation("made.up");
        let text = m.render(None);
        assert!(text.contains("teep_tam_deviations_total{code=\"teep.tc-list-empty\"} 2"));
        assert!(text.contains("teep_tam_deviations_total{code=\"other\"} 1"));
        assert!(!text.contains("made.up"));
        for k in teep_cbor::deviation::catalog::ALL {
            assert!(
                text.contains(&format!("teep_tam_deviations_total{{code=\"{}\"}}", k.code)),
                "{}",
                k.code
            );
        }
    }

    #[test]
    fn agent_error_names_are_the_teep_registry() {
        let (known, fallback) = AGENT_ERRORS.split_at(AGENT_ERRORS.len() - 1);
        for name in known {
            let code = teep_proto::ErrorCode::from_name(name).expect(name);
            assert_eq!(code.to_string(), *name);
        }
        assert_eq!(fallback, ["unknown"]);
    }

    #[test]
    fn limits_are_labelled_by_their_names() {
        let m = Metrics::default();
        for (i, l) in Limit::ALL.iter().enumerate() {
            for _ in 0..=i {
                m.limit_hit(*l);
            }
        }
        m.connections(3);
        m.connections(-1);
        let text = m.render(None);
        for (i, l) in Limit::ALL.iter().enumerate() {
            let line = format!(
                "teep_tam_limit_hits_total{{limit=\"{}\"}} {}\n",
                l.as_str(),
                i + 1
            );
            assert!(text.contains(&line), "{line}: {text}");
        }
        assert!(text.contains("teep_tam_limit_hits_total{limit=\"other\"} 0\n"));
        assert!(text.contains("teep_tam_connections_open 2\n"), "{text}");
    }

    #[test]
    fn slow_requests_count_only_in_inf() {
        let m = Metrics::default();
        m.observe(Duration::from_secs(7));
        let text = m.render(None);
        assert!(
            text.contains("teep_tam_request_duration_seconds_bucket{le=\"5\"} 0"),
            "{text}"
        );
        assert!(text.contains("teep_tam_request_duration_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(
            text.contains("teep_tam_request_duration_seconds_sum 7"),
            "{text}"
        );
    }

    #[test]
    fn storage_facts_render_as_before() {
        let m = Metrics::default();
        let facts = StorageFacts {
            devices: Some(2),
            commit_transactions: 5,
            committed_steps: 9,
            device_cache: Some((4, 1)),
        };
        let text = m.render_with_storage(&facts);
        for line in [
            "teep_tam_devices 2\n",
            "# TYPE teep_tam_commit_transactions_total counter\n",
            "teep_tam_commit_transactions_total 5\n",
            "teep_tam_committed_steps_total 9\n",
            "teep_tam_device_cache_lookups_total{result=\"hit\"} 4\n",
            "teep_tam_device_cache_lookups_total{result=\"miss\"} 1\n",
        ] {
            assert!(text.contains(line), "{line}: {text}");
        }
        let without_cache = StorageFacts {
            device_cache: None,
            ..facts
        };
        assert!(!m
            .render_with_storage(&without_cache)
            .contains("device_cache"));
    }
}
