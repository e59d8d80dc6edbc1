//! `audit stats`: count, error rate, latency percentiles and bytes per group.

use std::collections::BTreeMap;

use serde_json::{json, Value};

#[derive(Default)]
pub struct Group {
    /// Seconds; sorted once [`Stats::rows`] ran.
    pub durations: Vec<f64>,
    pub errors: u64,
    pub bytes: u64,
    /// Start (Unix seconds) and whether it failed, per entry; kept only for `--html`.
    pub times: Vec<(i64, bool)>,
}

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
        group.durations.push(
            entry
                .get("duration_seconds")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        );
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
                group
                    .times
                    .push((start.as_offset_date_time().unix_timestamp(), failed));
            }
        }
        for field in ["request_bytes", "response_bytes"] {
            group.bytes += entry.get(field).and_then(Value::as_u64).unwrap_or(0);
        }
    }

    /// One row per group: name, count, error rate, p50, p95, p99, max (ms), bytes.
    pub fn rows(&mut self) -> Vec<Row> {
        self.groups
            .iter_mut()
            .map(|(name, group)| {
                group.durations.sort_by(f64::total_cmp);
                let ms = |q: f64| percentile(&group.durations, q) * 1000.0;
                let count = group.durations.len() as u64;
                Row {
                    name: name.clone(),
                    count,
                    error_rate: group.errors as f64 / count.max(1) as f64,
                    p50_ms: ms(0.50),
                    p95_ms: ms(0.95),
                    p99_ms: ms(0.99),
                    max_ms: group.durations.last().copied().unwrap_or(0.0) * 1000.0,
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

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), 50.0);
        assert_eq!(percentile(&values, 0.95), 95.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
