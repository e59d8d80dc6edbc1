//! `audit stats`: count, error rate, latency percentiles and bytes per group.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// One group's figures, in memory bounded by the spread of values, not the number of entries.
pub struct Group {
    /// Durations in microseconds, to 3 significant digits (1 µs to an hour exactly enough;
    /// longer calls saturate at the top): percentiles without keeping every sample.
    pub durations: Histogram<u64>,
    pub errors: u64,
    pub bytes: u64,
    /// Calls and failed calls per start second (Unix); kept only for `--html`.
    pub times: BTreeMap<i64, [u64; 2]>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            // Bounds that are valid by construction: 1 ≤ low, high ≥ 2·low, 3 digits.
            durations: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!())),
            errors: 0,
            bytes: 0,
            times: BTreeMap::new(),
        }
    }
}

/// The longest duration told apart: one hour, in microseconds.
const MAX_MICROS: u64 = 3_600_000_000;

/// Entries grouped by a key.
#[derive(Default)]
pub struct Stats {
    groups: BTreeMap<String, Group>,
    track_times: bool,
}

/// What `--by` groups on.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum By {
    Endpoint,
    User,
    Status,
    Day,
}

impl Stats {
    /// With `track_times`, each entry's start is kept too (for the calls-over-time chart).
    pub fn new(track_times: bool) -> Self {
        Stats {
            groups: BTreeMap::new(),
            track_times,
        }
    }

    /// The groups, by key.
    pub fn groups(&self) -> impl Iterator<Item = (&str, &Group)> {
        self.groups.iter().map(|(k, g)| (k.as_str(), g))
    }

    pub fn add(&mut self, by: By, entry: &Value) {
        let key = match by {
            By::Endpoint => entry
                .get("endpoint")
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned(),
            By::User => entry
                .get("user")
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned(),
            By::Status => entry
                .get("status_code")
                .and_then(Value::as_u64)
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            By::Day => entry
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.get(..10))
                .unwrap_or("-")
                .to_owned(),
        };
        let group = self.groups.entry(key).or_default();
        let seconds = entry
            .get("duration_seconds")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        // Saturating: a negative or huge duration lands at an end, never out of range.
        let micros = (seconds * 1e6).round().clamp(1.0, MAX_MICROS as f64) as u64;
        group.durations.saturating_record(micros);
        let failed = entry.get("outcome").and_then(Value::as_str) != Some("success");
        if failed {
            group.errors += 1;
        }
        if self.track_times {
            let start = entry
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<audit_core::Timestamp>().ok());
            if let Some(start) = start {
                let second = start.as_offset_date_time().unix_timestamp();
                group.times.entry(second).or_default()[usize::from(failed)] += 1;
            }
        }
        for field in ["request_bytes", "response_bytes"] {
            group.bytes += entry.get(field).and_then(Value::as_u64).unwrap_or(0);
        }
    }

    /// One row per group: name, count, error rate, p50, p95, p99, max (ms), bytes.
    pub fn rows(&self) -> Vec<Row> {
        self.groups
            .iter()
            .map(|(name, group)| {
                // The lowest value of the bucket: a recorded value reads back as itself when it
                // starts its bucket, and never higher than the call took.
                let h = &group.durations;
                let ms = |micros: u64| h.lowest_equivalent(micros) as f64 / 1000.0;
                let count = group.durations.len();
                Row {
                    name: name.clone(),
                    count,
                    error_rate: group.errors as f64 / count.max(1) as f64,
                    p50_ms: ms(h.value_at_quantile(0.50)),
                    p95_ms: ms(h.value_at_quantile(0.95)),
                    p99_ms: ms(h.value_at_quantile(0.99)),
                    max_ms: ms(h.max()),
                    bytes: group.bytes,
                }
            })
            .collect()
    }
}

pub struct Row {
    pub name: String,
    pub count: u64,
    pub error_rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub bytes: u64,
}

impl Row {
    pub fn to_json(&self) -> Value {
        json!({
            "key": self.name, "count": self.count, "error_rate": self.error_rate,
            "p50_ms": self.p50_ms, "p95_ms": self.p95_ms, "p99_ms": self.p99_ms,
            "max_ms": self.max_ms, "bytes": self.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_within_the_histogram_precision() {
        let mut stats = Stats::new(false);
        for ms in 1..=100 {
            stats.add(
                By::Endpoint,
                &json!({"endpoint": "a", "duration_seconds": f64::from(ms) / 1000.0, "outcome": "success"}),
            );
        }
        let row = &stats.rows()[0];
        assert_eq!(row.count, 100);
        for (got, want) in [
            (row.p50_ms, 50.0),
            (row.p95_ms, 95.0),
            (row.p99_ms, 99.0),
            (row.max_ms, 100.0),
        ] {
            assert!((got - want).abs() <= want * 0.001, "{got} vs {want}");
        }
    }

    #[test]
    fn memory_does_not_grow_with_the_entries() {
        let mut stats = Stats::new(true);
        let entry = json!({"endpoint": "a", "duration_seconds": 0.004, "outcome": "success",
                           "timestamp": "2026-02-05T10:00:00.000000Z"});
        for _ in 0..100_000 {
            stats.add(By::Endpoint, &entry);
        }
        let (_, group) = stats.groups().next().unwrap();
        assert_eq!(group.times.len(), 1);
        assert_eq!(group.durations.len(), 100_000);
        // Out-of-range durations are clamped, not lost.
        stats.add(
            By::Endpoint,
            &json!({"endpoint": "a", "duration_seconds": -1.0}),
        );
        stats.add(
            By::Endpoint,
            &json!({"endpoint": "a", "duration_seconds": 1e12}),
        );
        assert_eq!(stats.rows()[0].count, 100_002);
    }
}
