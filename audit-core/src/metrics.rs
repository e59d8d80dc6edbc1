//! Prometheus-style metrics through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`), so the application picks the exporter (`metrics-exporter-prometheus`, StatsD,
//! OpenTelemetry…). Without a recorder installed, or with [`AuditorBuilder::metrics`](crate::AuditorBuilder::metrics)`(false)`,
//! or without the feature, nothing is measured.
//!
//! Counted by the pipeline's writer, off the request's path, from the entries it receives (so
//! every producer, the layer, `#[audited]`, operations, is counted the same way) and from the
//! counters behind [`Auditor::stats`](crate::Auditor::stats):
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `audit_calls_total` | counter | `endpoint`, `method`, `outcome` | calls recorded (HTTP requests, `#[audited]` calls) |
//! | `audit_call_duration_seconds` | histogram | `endpoint` | their durations ([`CALL_BUCKETS`]) |
//! | `audit_operations_total` | counter | `action`, `outcome` | operations finished ([`crate::operation`]) |
//! | `audit_operation_duration_seconds` | histogram | `action` | their durations ([`OPERATION_BUCKETS`]) |
//! | `audit_entries_recorded_total` | counter | | entries accepted into the queue |
//! | `audit_entries_written_total` | counter | | entries the sink accepted |
//! | `audit_entries_dropped_total` | counter | `reason` (`queue_full`, `sink_failed`) | entries lost, by why |
//! | `audit_sink_errors_total` | counter | | failed sink writes (each retry, each give-up) |
//! | `audit_sink_retries_total` | counter | | retried sink writes |
//! | `audit_write_duration_seconds` | histogram | | one batch's write, retries included ([`WRITE_BUCKETS`]) |
//! | `audit_queue_depth` | gauge | | entries waiting in the queue |
//! | `audit_spooled_entries` | gauge | | entries in the sink's local spool, waiting for their destination |
//! | `audit_chain_seq` | gauge | | the chain's last sequence number written |
//!
//! Counters add up across auditors in one process; the gauges describe the auditor that
//! wrote last (run one auditor per process, or turn metrics off on the others).
//!
//! Label values are bounded: `endpoint` is the route template or the name the code gave, never
//! a raw path (a request no route matched is `unmatched`), `method` one of the standard
//! methods or `other` (`none` for calls that are not HTTP), `outcome` the entry's outcome. Users
//! and ids never become labels. The buckets are not part of the facade: give them to your
//! exporter, e.g. `PrometheusBuilder::set_buckets_for_metric(Matcher::Full(CALLS_DURATION.into()), CALL_BUCKETS)`.

use crate::entry::{AuditEntry, FINISHED};
use crate::stats::Stats;

/// `audit_calls_total`.
pub const CALLS: &str = "audit_calls_total";
/// `audit_call_duration_seconds`.
pub const CALLS_DURATION: &str = "audit_call_duration_seconds";
/// `audit_operations_total`.
pub const OPERATIONS: &str = "audit_operations_total";
/// `audit_operation_duration_seconds`.
pub const OPERATIONS_DURATION: &str = "audit_operation_duration_seconds";
/// `audit_entries_recorded_total`.
pub const RECORDED: &str = "audit_entries_recorded_total";
/// `audit_entries_written_total`.
pub const WRITTEN: &str = "audit_entries_written_total";
/// `audit_entries_dropped_total`.
pub const DROPPED: &str = "audit_entries_dropped_total";
/// `audit_sink_errors_total`.
pub const SINK_ERRORS: &str = "audit_sink_errors_total";
/// `audit_sink_retries_total`.
pub const SINK_RETRIES: &str = "audit_sink_retries_total";
/// `audit_write_duration_seconds`.
pub const WRITE_DURATION: &str = "audit_write_duration_seconds";
/// `audit_queue_depth`.
pub const QUEUE_DEPTH: &str = "audit_queue_depth";
/// `audit_spooled_entries`.
pub const SPOOLED: &str = "audit_spooled_entries";
/// `audit_chain_seq`.
pub const CHAIN_SEQ: &str = "audit_chain_seq";

/// Buckets for request and call durations, in seconds: 1 ms to 10 s.
pub const CALL_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets for operations (jobs, agent runs: seconds to minutes), in seconds: 100 ms to 30 min.
pub const OPERATION_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
/// Buckets for a batch's write, in seconds: 100 µs to 10 s.
pub const WRITE_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

/// What kind of thing an entry reports, for the metrics.
enum Kind {
    /// A call: an HTTP request or an `#[audited]` call (not a stage entry).
    Call,
    /// The end of an operation.
    Operation,
    /// Neither: a start or stage entry, or the library's own.
    Other,
}

fn kind(entry: &AuditEntry) -> Kind {
    if entry.endpoint.starts_with("audit.") && entry.user == crate::SYSTEM_USER {
        return Kind::Other;
    }
    match &entry.operation {
        None => Kind::Call,
        // The layer's request with a `received` entry before it is still an HTTP call.
        Some(info) if info.stage == FINISHED && entry.method.is_some() => Kind::Call,
        Some(info) if info.stage == FINISHED => Kind::Operation,
        Some(_) => Kind::Other,
    }
}

/// The `endpoint` label: a route template or a name the code gave; never a raw path.
fn endpoint_label(entry: &AuditEntry) -> &str {
    let raw_path = entry.route.is_none() && entry.path.as_deref() == Some(entry.endpoint.as_str());
    if raw_path {
        "unmatched"
    } else {
        &entry.endpoint
    }
}

fn method_label(entry: &AuditEntry) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    match entry.method.as_deref() {
        None => "none",
        Some(method) => KNOWN
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other"),
    }
}

/// The writer's side of the metrics: switched on or off once, at build.
#[derive(Debug, Clone)]
pub(crate) struct PipelineMetrics {
    enabled: bool,
    /// The counters as last published: counters go up by the difference, so several
    /// auditors in one process add up instead of overwriting each other.
    published: [u64; 6],
}

impl PipelineMetrics {
    pub(crate) fn new(enabled: bool) -> Self {
        let metrics = PipelineMetrics {
            enabled: enabled && cfg!(feature = "metrics"),
            published: [0; 6],
        };
        if metrics.enabled {
            describe();
        }
        metrics
    }

    /// Counts the calls and operations among entries the callers recorded.
    pub(crate) fn observe(&self, entries: &[AuditEntry]) {
        if !self.enabled {
            return;
        }
        for entry in entries {
            observe_entry(entry);
        }
    }

    /// One batch written (or given up) after `seconds`.
    pub(crate) fn batch_written(&self, seconds: f64) {
        if self.enabled {
            histogram(WRITE_DURATION, seconds);
        }
    }

    /// Publishes the pipeline's counters, and the chain's last sequence number written.
    pub(crate) fn publish(&mut self, s: &Stats, chain_seq: Option<u64>) {
        if !self.enabled {
            return;
        }
        // Every failed write is followed by a retry or, the last time, by giving up.
        let now = [
            s.recorded,
            s.written,
            s.dropped,
            s.failed_entries,
            s.retries + s.failed_batches,
            s.retries,
        ];
        let mut added = [0; 6];
        for ((added, now), before) in added.iter_mut().zip(now).zip(&mut self.published) {
            *added = now.saturating_sub(*before);
            *before = now;
        }
        publish(&added, s, chain_seq);
    }
}

#[cfg(feature = "metrics")]
fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(CALLS, "Calls recorded (HTTP requests, #[audited] calls).");
    describe_histogram!(
        CALLS_DURATION,
        Unit::Seconds,
        "Durations of the calls recorded."
    );
    describe_counter!(OPERATIONS, "Operations finished, by action and outcome.");
    describe_histogram!(
        OPERATIONS_DURATION,
        Unit::Seconds,
        "Durations of the operations finished."
    );
    describe_counter!(RECORDED, "Audit entries accepted into the queue.");
    describe_counter!(WRITTEN, "Audit entries the sink accepted.");
    describe_counter!(DROPPED, "Audit entries lost, by reason.");
    describe_counter!(SINK_ERRORS, "Failed audit sink writes.");
    describe_counter!(SINK_RETRIES, "Retried audit sink writes.");
    describe_histogram!(
        WRITE_DURATION,
        Unit::Seconds,
        "Time to write one batch, retries included."
    );
    describe_gauge!(QUEUE_DEPTH, "Audit entries waiting in the queue.");
    describe_gauge!(SPOOLED, "Audit entries in the sink's local spool.");
    describe_gauge!(CHAIN_SEQ, "The audit chain's last sequence number written.");
}

#[cfg(not(feature = "metrics"))]
fn describe() {}

#[cfg(feature = "metrics")]
fn observe_entry(entry: &AuditEntry) {
    let outcome = entry.outcome.as_str();
    match kind(entry) {
        Kind::Call => {
            let endpoint = endpoint_label(entry).to_owned();
            ::metrics::counter!(CALLS, "endpoint" => endpoint.clone(), "method" => method_label(entry), "outcome" => outcome)
                .increment(1);
            ::metrics::histogram!(CALLS_DURATION, "endpoint" => endpoint)
                .record(entry.duration_seconds);
        }
        Kind::Operation => {
            let action = entry.endpoint.clone();
            ::metrics::counter!(OPERATIONS, "action" => action.clone(), "outcome" => outcome)
                .increment(1);
            ::metrics::histogram!(OPERATIONS_DURATION, "action" => action)
                .record(entry.duration_seconds);
        }
        Kind::Other => {}
    }
}

#[cfg(not(feature = "metrics"))]
fn observe_entry(entry: &AuditEntry) {
    let _ = (kind(entry), endpoint_label(entry), method_label(entry));
}

#[cfg(feature = "metrics")]
fn histogram(name: &'static str, value: f64) {
    ::metrics::histogram!(name).record(value);
}

#[cfg(not(feature = "metrics"))]
fn histogram(_name: &'static str, _value: f64) {}

/// `added`: what the counters gained since the last publish, in [`PipelineMetrics::publish`]'s order.
#[cfg(feature = "metrics")]
fn publish(added: &[u64; 6], s: &Stats, chain_seq: Option<u64>) {
    use ::metrics::{counter, gauge};
    let [recorded, written, dropped, failed, errors, retries] = *added;
    counter!(RECORDED).increment(recorded);
    counter!(WRITTEN).increment(written);
    counter!(DROPPED, "reason" => "queue_full").increment(dropped);
    counter!(DROPPED, "reason" => "sink_failed").increment(failed);
    counter!(SINK_ERRORS).increment(errors);
    counter!(SINK_RETRIES).increment(retries);
    gauge!(QUEUE_DEPTH).set(s.queue_depth as f64);
    gauge!(SPOOLED).set(s.spooled as f64);
    if let Some(seq) = chain_seq {
        gauge!(CHAIN_SEQ).set(seq as f64);
    }
}

#[cfg(not(feature = "metrics"))]
fn publish(_added: &[u64; 6], _s: &Stats, _chain_seq: Option<u64>) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::OperationInfo;

    #[test]
    fn labels_are_bounded() {
        let mut request = AuditEntry::new("/users/12345");
        request.path = Some("/users/12345".into());
        request.method = Some("BREW".into());
        assert_eq!(endpoint_label(&request), "unmatched");
        assert_eq!(method_label(&request), "other");
        request.route = Some("/users/{id}".into());
        request.endpoint = "/users/{id}".into();
        request.method = Some("GET".into());
        assert_eq!(endpoint_label(&request), "/users/{id}");
        assert_eq!(method_label(&request), "GET");
        let job = AuditEntry::new("nightly_export");
        assert_eq!(endpoint_label(&job), "nightly_export");
        assert_eq!(method_label(&job), "none");
    }

    #[test]
    fn stages_are_not_counted_and_finished_operations_are() {
        let mut entry = AuditEntry::new("agent_run");
        assert!(matches!(kind(&entry), Kind::Call));
        entry.operation = Some(OperationInfo::new(uuid::Uuid::now_v7(), "started"));
        assert!(matches!(kind(&entry), Kind::Other));
        entry.operation = Some(OperationInfo::new(uuid::Uuid::now_v7(), FINISHED));
        assert!(matches!(kind(&entry), Kind::Operation));
        entry.method = Some("POST".into());
        assert!(matches!(kind(&entry), Kind::Call));
        let checkpoint = AuditEntry::system(
            crate::chain::CHECKPOINT_ENDPOINT,
            crate::Timestamp::now(),
            crate::Outcome::Success,
        );
        assert!(matches!(kind(&checkpoint), Kind::Other));
    }
}
