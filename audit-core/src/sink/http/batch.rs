//! A batch as HTTP request bodies: each entry rendered in the chosen format, an entry too
//! large cut down with a marker, records grouped under the entry and byte limits, and each
//! group encoded as NDJSON or a JSON array.

use crate::format::Format;

/// How records are put in one request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// One record per line (`application/x-ndjson`): Vector, Fluent Bit, Splunk HEC `raw`,
    /// Loki-style collectors, Elastic's `_bulk`-less ingest pipelines.
    #[default]
    NdJson,
    /// One JSON array of records (`application/json`): webhooks, Kubernetes-style receivers,
    /// Datadog logs intake.
    JsonArray,
    /// An OTLP/HTTP JSON `ExportLogsServiceRequest` (`/v1/logs` of an OpenTelemetry
    /// Collector, Grafana Loki, most observability backends), the records as its
    /// `logRecords` under a resource whose `service.name` is the sink's service. Takes
    /// [`Format::Otel`] records.
    Otlp,
    /// Splunk HTTP Event Collector events (`/services/collector/event`): each record wrapped
    /// as `{"time":…,"source":"audited","sourcetype":"audited:<format>","event":…}`, one per
    /// line; a CEF record travels as a string.
    SplunkEvent,
}

impl Encoding {
    /// The `Content-Type` of a body.
    pub fn content_type(self, format: Format) -> &'static str {
        match (self, format.is_json()) {
            (Encoding::NdJson, true) => "application/x-ndjson",
            (Encoding::NdJson, false) => "text/plain; charset=utf-8",
            (Encoding::JsonArray | Encoding::Otlp | Encoding::SplunkEvent, _) => "application/json",
        }
    }
}

/// Indexes of `records` grouped so that each group holds at most `max_entries` records and
/// encodes to at most `max_bytes` (a record larger than that alone is a group of one).
pub(super) fn groups(
    records: &[Vec<u8>],
    max_entries: usize,
    max_bytes: usize,
    overhead: usize,
) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut bytes = overhead;
    for (i, record) in records.iter().enumerate() {
        let size = record.len() + 1; // `\n` or `,`
        if i > start && (i - start >= max_entries || bytes + size > max_bytes) {
            groups.push((start, i));
            start = i;
            bytes = overhead;
        }
        bytes += size;
    }
    if start < records.len() {
        groups.push((start, records.len()));
    }
    groups
}

/// A record as a Splunk HEC event of the entry that started at `timestamp`.
pub(super) fn splunk_event(
    record: Vec<u8>,
    format: Format,
    timestamp: time::OffsetDateTime,
) -> Vec<u8> {
    let mut event = Vec::with_capacity(record.len() + 96);
    let micros = timestamp.unix_timestamp_nanos() / 1000;
    event.extend_from_slice(
        format!(
            r#"{{"time":{}.{:06},"source":"audited","sourcetype":"audited:{format}","event":"#,
            micros.div_euclid(1_000_000),
            micros.rem_euclid(1_000_000)
        )
        .as_bytes(),
    );
    if format.is_json() {
        event.extend_from_slice(&record);
    } else {
        let text = String::from_utf8_lossy(&record);
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut event, &text);
    }
    event.push(b'}');
    event
}

/// The bytes an OTLP body wraps its records in, before and after.
fn otlp_envelope(service: &str) -> (Vec<u8>, &'static [u8]) {
    let resource = serde_json::json!({
        "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
    });
    let scope = serde_json::json!({"name": "audited", "version": env!("CARGO_PKG_VERSION")});
    let head = format!(
        r#"{{"resourceLogs":[{{"resource":{resource},"scopeLogs":[{{"scope":{scope},"logRecords":["#
    );
    (head.into_bytes(), b"]}]}]}")
}

/// How the bodies of one sink frame their records: one per line, or joined by commas inside
/// an envelope (a JSON array's brackets, OTLP's resource and scope), made once for the sink.
#[derive(Debug)]
pub(super) struct Framing {
    envelope: Option<(Vec<u8>, &'static [u8])>,
}

impl Framing {
    pub fn new(encoding: Encoding, service: &str) -> Self {
        let envelope = match encoding {
            Encoding::NdJson | Encoding::SplunkEvent => None,
            Encoding::JsonArray => Some((b"[".to_vec(), &b"]"[..])),
            Encoding::Otlp => Some(otlp_envelope(service)),
        };
        Framing { envelope }
    }

    /// The bytes a body adds around its records (for the byte limit).
    pub fn overhead(&self) -> usize {
        match &self.envelope {
            None => 2,
            Some((head, tail)) => head.len() + tail.len(),
        }
    }

    /// One request body of `records`.
    pub fn encode(&self, records: &[Vec<u8>]) -> Vec<u8> {
        let size: usize = records.iter().map(|r| r.len() + 1).sum();
        let mut body = Vec::with_capacity(size + self.overhead());
        match &self.envelope {
            None => {
                for record in records {
                    body.extend_from_slice(record);
                    body.push(b'\n');
                }
            }
            Some((head, tail)) => {
                body.extend_from_slice(head);
                for (i, record) in records.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(record);
                }
                body.extend_from_slice(tail);
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_respect_both_limits() {
        let records: Vec<Vec<u8>> = (0..10).map(|_| vec![b'x'; 99]).collect();
        // 100 bytes a record: 3 fit in 302.
        assert_eq!(
            groups(&records, 100, 302, 2),
            vec![(0, 3), (3, 6), (6, 9), (9, 10)]
        );
        assert_eq!(
            groups(&records, 4, 1 << 20, 2),
            vec![(0, 4), (4, 8), (8, 10)]
        );
        // A record larger than the limit goes alone.
        let big = vec![vec![b'x'; 10], vec![b'x'; 500], vec![b'x'; 10]];
        assert_eq!(groups(&big, 100, 100, 2), vec![(0, 1), (1, 2), (2, 3)]);
        assert!(groups(&[], 10, 10, 2).is_empty());
    }

    #[test]
    fn encodings_frame_records() {
        let records = vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()];
        assert_eq!(
            Framing::new(Encoding::NdJson, "svc").encode(&records),
            b"{\"a\":1}\n{\"b\":2}\n"
        );
        let array = Framing::new(Encoding::JsonArray, "svc").encode(&records);
        let value: serde_json::Value = serde_json::from_slice(&array).unwrap();
        assert_eq!(value, json!([{"a": 1}, {"b": 2}]));
        let framing = Framing::new(Encoding::Otlp, "billing");
        let otlp = framing.encode(&records);
        assert_eq!(otlp.len() - 15, framing.overhead());
        let value: serde_json::Value = serde_json::from_slice(&otlp).unwrap();
        let logs = &value["resourceLogs"][0];
        assert_eq!(
            logs["resource"]["attributes"][0]["value"]["stringValue"],
            "billing"
        );
        assert_eq!(
            logs["scopeLogs"][0]["logRecords"],
            json!([{"a": 1}, {"b": 2}])
        );
    }

    #[test]
    fn splunk_events_wrap_json_and_text_records() {
        let at = time::macros::datetime!(2026-02-07 08:30:45.123456 UTC);
        let event = splunk_event(b"{\"a\":1}".to_vec(), Format::Ecs, at);
        let value: serde_json::Value = serde_json::from_slice(&event).unwrap();
        assert_eq!(
            value,
            json!({"time": 1770453045.123456, "source": "audited", "sourcetype": "audited:ecs", "event": {"a": 1}})
        );
        let event = splunk_event(b"CEF:0|a|b".to_vec(), Format::Cef, at);
        let value: serde_json::Value = serde_json::from_slice(&event).unwrap();
        assert_eq!(value["event"], "CEF:0|a|b");
    }
}
