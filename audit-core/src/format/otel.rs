//! An OpenTelemetry log record in OTLP/JSON (`LogRecord` of `ExportLogsServiceRequest`), with
//! the HTTP semantic conventions' attribute names; what they do not name goes to `audit.*`
//! attributes, and the canonical line to `log.record.original`.

use serde_json::{json, Value};

use super::{epoch_nanos, native_line, split_addr, Verdict};
use crate::entry::{AuditEntry, Outcome};

/// The record's `eventName`.
const EVENT_NAME: &str = "audited.call";

pub(super) fn record(entry: &AuditEntry) -> Value {
    let (severity_number, severity_text) = severity(entry.outcome);
    let time = epoch_nanos(entry).to_string();
    let mut record = json!({
        "timeUnixNano": time,
        "observedTimeUnixNano": time,
        "severityNumber": severity_number,
        "severityText": severity_text,
        "eventName": EVENT_NAME,
        "body": {"stringValue": entry.endpoint},
        "attributes": attributes(entry),
    });
    // OTLP/JSON writes trace and span ids as hex, not base64.
    if let Some(trace_id) = &entry.trace_id {
        record["traceId"] = Value::from(trace_id.as_str());
    }
    if let Some(span_id) = &entry.span_id {
        record["spanId"] = Value::from(span_id.as_str());
    }
    record
}

/// OpenTelemetry severity numbers: INFO 9, WARN 13, ERROR 17.
fn severity(outcome: Outcome) -> (u8, &'static str) {
    match outcome {
        Outcome::Success | Outcome::Pending => (9, "INFO"),
        Outcome::ClientError | Outcome::Cancelled => (13, "WARN"),
        _ => (17, "ERROR"),
    }
}

/// Key-value list in the order the fields are documented, absent values left out.
#[derive(Default)]
struct Attributes(Vec<Value>);

impl Attributes {
    fn put(&mut self, key: &str, value: Value) {
        self.0.push(json!({"key": key, "value": value}));
    }

    fn string(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.put(key, json!({"stringValue": value}));
        }
    }

    fn int(&mut self, key: &str, value: Option<i64>) {
        if let Some(value) = value {
            // OTLP/JSON writes 64-bit integers as strings.
            self.put(key, json!({"intValue": value.to_string()}));
        }
    }
}

fn attributes(entry: &AuditEntry) -> Vec<Value> {
    let mut a = Attributes::default();
    a.string("http.request.method", entry.method.as_deref());
    a.string("http.route", entry.route.as_deref());
    a.string("url.path", entry.path.as_deref());
    a.string("url.query", entry.query.as_deref());
    a.int(
        "http.response.status_code",
        entry.status_code.map(i64::from),
    );
    if let Some(addr) = &entry.client_addr {
        match split_addr(addr) {
            Some((ip, port)) => {
                a.string("client.address", Some(&ip.to_string()));
                a.int("client.port", port.map(i64::from));
            }
            None => a.string("client.address", Some(addr)),
        }
    }
    if let Some(addr) = &entry.peer_addr {
        match split_addr(addr) {
            Some((ip, port)) => {
                a.string("network.peer.address", Some(&ip.to_string()));
                a.int("network.peer.port", port.map(i64::from));
            }
            None => a.string("network.peer.address", Some(addr)),
        }
    }
    a.string("user_agent.original", entry.user_agent.as_deref());
    a.string("user.id", Some(&entry.user));
    if super::verdict(entry.outcome) == Verdict::Failure {
        let error_type = match entry.status_code {
            Some(status) if status >= 400 => status.to_string(),
            _ => entry.outcome.as_str().to_owned(),
        };
        a.string("error.type", Some(&error_type));
    }
    a.string("error.message", entry.error.as_deref());
    a.int("http.request.body.size", entry.request_bytes.map(clamp));
    a.int("http.response.body.size", entry.response_bytes.map(clamp));
    for (name, value) in &entry.headers {
        let values = match value {
            Value::Array(values) => values.iter().map(any_value).collect(),
            other => vec![any_value(other)],
        };
        a.put(
            &format!("http.request.header.{name}"),
            json!({"arrayValue": {"values": values}}),
        );
    }
    if let Some(grpc) = &entry.grpc {
        a.int("rpc.grpc.status_code", Some(i64::from(grpc.code)));
        a.string("audit.grpc.status", Some(&grpc.status));
        a.string("audit.grpc.message", grpc.message.as_deref());
    }
    a.string("log.record.uid", Some(&entry.id.to_string()));
    a.string("log.record.original", Some(&native_line(entry)));

    a.string("audit.endpoint", Some(&entry.endpoint));
    a.string("audit.outcome", Some(entry.outcome.as_str()));
    a.put(
        "audit.duration_seconds",
        json!({"doubleValue": entry.duration_seconds}),
    );
    a.int("audit.schema_version", Some(i64::from(entry.v)));
    a.string("audit.correlation_id", entry.correlation_id.as_deref());
    a.string("audit.tenant", entry.tenant.as_deref());
    if !entry.tags.is_empty() {
        let tags: Vec<Value> = entry
            .tags
            .iter()
            .map(|t| json!({"stringValue": t}))
            .collect();
        a.put("audit.tags", json!({"arrayValue": {"values": tags}}));
    }
    if let Some(request) = &entry.request {
        a.put("audit.request", any_value(request));
    }
    if let Some(response) = &entry.response_summary {
        a.put("audit.response_summary", any_value(response));
    }
    if !entry.fields.is_empty() {
        a.put(
            "audit.fields",
            any_value(&Value::Object(entry.fields.clone())),
        );
    }
    a.string(
        "audit.response_encoding",
        entry.response_encoding.as_deref(),
    );
    if let Some(operation) = &entry.operation {
        a.string("audit.operation.id", Some(&operation.id.to_string()));
        a.string("audit.operation.stage", Some(&operation.stage));
        a.string(
            "audit.operation.parent",
            operation.parent.map(|p| p.to_string()).as_deref(),
        );
        a.string(
            "audit.operation.relation",
            operation.relation.map(|r| r.as_str()),
        );
        if let Some(retryable) = operation.retryable {
            a.put("audit.operation.retryable", json!({"boolValue": retryable}));
        }
    }
    if let Some(chain) = &entry.chain {
        a.string("audit.chain.id", Some(&chain.id.to_string()));
        a.int("audit.chain.seq", Some(clamp(chain.seq)));
        a.string("audit.chain.prev", Some(&chain.prev));
        if !chain.hash.is_empty() {
            a.string("audit.chain.hash", Some(&chain.hash));
        }
    }
    a.0
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A JSON value as an OTLP `AnyValue`; `null` is the empty `AnyValue`.
fn any_value(value: &Value) -> Value {
    match value {
        Value::Null => json!({}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) => match n.as_i64() {
            Some(i) => json!({"intValue": i.to_string()}),
            None => json!({"doubleValue": n.as_f64().unwrap_or(f64::NAN)}),
        },
        Value::String(s) => json!({"stringValue": s}),
        Value::Array(values) => {
            json!({"arrayValue": {"values": values.iter().map(any_value).collect::<Vec<_>>()}})
        }
        Value::Object(map) => {
            let values: Vec<Value> = map
                .iter()
                .map(|(key, value)| json!({"key": key, "value": any_value(value)}))
                .collect();
            json!({"kvlistValue": {"values": values}})
        }
    }
}
