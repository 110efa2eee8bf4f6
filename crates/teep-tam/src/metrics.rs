//! Prometheus metrics in the text exposition format. Hand-written: a handful of atomic
//! counters and one histogram do not justify a metrics framework on the hot path.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket upper bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    /// Completed steps by result (`query-request`, `update`, `no-update`, `success`, ...).
    results: Mutex<BTreeMap<&'static str, u64>>,
    /// Refused requests by reason (`malformed`, `signature`, `replay`, `storage`, ...).
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Error codes agents reported.
    agent_errors: Mutex<BTreeMap<String, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    pub fn result(&self, r: &'static str) {
        *self
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(r)
            .or_default() += 1;
    }
    pub fn error(&self, code: &'static str) {
        *self
            .errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(code)
            .or_default() += 1;
    }
    pub fn agent_error(&self, name: &str) {
        *self
            .agent_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default() += 1;
    }
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn render(&self, devices: Option<i64>) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP teep_tam_exchanges_total TEEP request steps completed, by result."
        );
        let _ = writeln!(o, "# TYPE teep_tam_exchanges_total counter");
        for (k, v) in self
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(o, "teep_tam_exchanges_total{{result=\"{k}\"}} {v}");
        }
        let _ = writeln!(
            o,
            "# HELP teep_tam_errors_total Requests refused, by reason."
        );
        let _ = writeln!(o, "# TYPE teep_tam_errors_total counter");
        for (k, v) in self.errors.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(o, "teep_tam_errors_total{{code=\"{k}\"}} {v}");
        }
        let _ = writeln!(o, "# HELP teep_tam_agent_errors_total Error messages received from agents, by TEEP error code.");
        let _ = writeln!(o, "# TYPE teep_tam_agent_errors_total counter");
        for (k, v) in self
            .agent_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                o,
                "teep_tam_agent_errors_total{{code=\"{}\"}} {v}",
                k.replace('"', "'")
            );
        }
        let _ = writeln!(
            o,
            "# HELP teep_tam_request_duration_seconds Time to answer a POST to the TEEP endpoint."
        );
        let _ = writeln!(o, "# TYPE teep_tam_request_duration_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "teep_tam_request_duration_seconds_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            o,
            "teep_tam_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            o,
            "teep_tam_request_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(o, "teep_tam_request_duration_seconds_count {count}");
        if let Some(d) = devices {
            let _ = writeln!(o, "# HELP teep_tam_devices Devices known to the TAM.");
            let _ = writeln!(o, "# TYPE teep_tam_devices gauge");
            let _ = writeln!(o, "teep_tam_devices {d}");
        }
        o
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
        assert!(text.contains("teep_tam_exchanges_total{result=\"update\"} 2"));
        assert!(text.contains("teep_tam_errors_total{code=\"malformed\"} 1"));
        assert!(text.contains("teep_tam_request_duration_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("teep_tam_request_duration_seconds_bucket{le=\"0.002\"} 1"));
        assert!(text.contains("teep_tam_devices 3"));
    }
}
