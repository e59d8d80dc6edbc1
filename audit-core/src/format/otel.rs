//! An OpenTelemetry log record in OTLP/JSON (`LogRecord` of `ExportLogsServiceRequest`), with
//! the HTTP semantic conventions' attribute names; what they do not name goes to `audit.*`
//! attributes, and the canonical line to `log.record.original`.
//!
//! Written straight from the entry through borrowed values (no `serde_json::Value` tree):
//! OTLP's nesting (`{"key":…,"value":{"stringValue":…}}` per attribute) made the tree cost
//! about ten allocations per attribute.

use std::borrow::Cow;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::{epoch_nanos, native_line, split_addr, Verdict};
use crate::entry::{AuditEntry, Outcome};

/// The record's `eventName`.
const EVENT_NAME: &str = "audited.call";

/// The record, borrowed from the entry.
pub(super) struct Record<'a> {
    entry: &'a AuditEntry,
    attributes: Vec<(Cow<'a, str>, Any<'a>)>,
}

pub(super) fn record(entry: &AuditEntry) -> Record<'_> {
    Record {
        entry,
        attributes: attributes(entry),
    }
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entry = self.entry;
        let (severity_number, severity_text) = severity(entry.outcome);
        let time = epoch_nanos(entry).to_string();
        let mut record = serializer.serialize_struct("LogRecord", 9)?;
        record.serialize_field("timeUnixNano", &time)?;
        record.serialize_field("observedTimeUnixNano", &time)?;
        record.serialize_field("severityNumber", &severity_number)?;
        record.serialize_field("severityText", severity_text)?;
        record.serialize_field("eventName", EVENT_NAME)?;
        record.serialize_field("body", &Any::Str(Cow::Borrowed(&entry.endpoint)))?;
        record.serialize_field("attributes", &KeyValues(&self.attributes))?;
        // OTLP/JSON writes trace and span ids as hex, not base64.
        if let Some(trace_id) = &entry.trace_id {
            record.serialize_field("traceId", trace_id)?;
        }
        if let Some(span_id) = &entry.span_id {
            record.serialize_field("spanId", span_id)?;
        }
        record.end()
    }
}

/// OpenTelemetry severity numbers: INFO 9, WARN 13, ERROR 17.
fn severity(outcome: Outcome) -> (u8, &'static str) {
    match outcome {
        Outcome::Success | Outcome::Pending => (9, "INFO"),
        Outcome::ClientError | Outcome::Cancelled => (13, "WARN"),
        _ => (17, "ERROR"),
    }
}

/// An OTLP `AnyValue`.
enum Any<'a> {
    Str(Cow<'a, str>),
    /// OTLP/JSON writes 64-bit integers as strings.
    Int(i64),
    Double(f64),
    Bool(bool),
    Strings(&'a [String]),
    /// A JSON value of the entry, in OTLP's forms.
    Json(&'a Value),
    /// A JSON object of the entry, as a key-value list.
    Object(&'a serde_json::Map<String, Value>),
}

impl Serialize for Any<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Any::Json(value) => return Json(value).serialize(serializer),
            Any::Object(map) => return Json::object(map, serializer),
            _ => {}
        }
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Any::Str(s) => map.serialize_entry("stringValue", s)?,
            Any::Int(i) => map.serialize_entry("intValue", &i.to_string())?,
            Any::Double(d) => map.serialize_entry("doubleValue", d)?,
            Any::Bool(b) => map.serialize_entry("boolValue", b)?,
            Any::Strings(items) => map.serialize_entry(
                "arrayValue",
                &Values(items.iter().map(|s| Any::Str(Cow::Borrowed(s.as_str())))),
            )?,
            Any::Json(_) | Any::Object(_) => {}
        }
        map.end()
    }
}

/// `{"values": [...]}` of an `ArrayValue`.
struct Values<I>(I);

impl<'a, I: Iterator<Item = Any<'a>> + Clone> Serialize for Values<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Items<I>(I);
        impl<'a, I: Iterator<Item = Any<'a>> + Clone> Serialize for Items<I> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.clone())
            }
        }
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("values", &Items(self.0.clone()))?;
        map.end()
    }
}

/// A list of `{"key":…,"value":…}`.
struct KeyValues<'s, 'a>(&'s [(Cow<'a, str>, Any<'a>)]);

impl Serialize for KeyValues<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (key, value) in self.0 {
            seq.serialize_element(&KeyValue(key, value))?;
        }
        seq.end()
    }
}

struct KeyValue<'s, 'a>(&'s str, &'s Any<'a>);

impl Serialize for KeyValue<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("key", self.0)?;
        map.serialize_entry("value", self.1)?;
        map.end()
    }
}

/// A JSON value as an OTLP `AnyValue`; `null` is the empty `AnyValue`.
struct Json<'a>(&'a Value);

impl Json<'_> {
    fn object<S: Serializer>(
        map: &serde_json::Map<String, Value>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        struct Entries<'a>(&'a serde_json::Map<String, Value>);
        impl Serialize for Entries<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for (key, value) in self.0 {
                    seq.serialize_element(&JsonKeyValue(key, value))?;
                }
                seq.end()
            }
        }
        struct Outer<'a>(&'a serde_json::Map<String, Value>);
        impl Serialize for Outer<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("values", &Entries(self.0))?;
                map.end()
            }
        }
        let mut outer = serializer.serialize_map(Some(1))?;
        outer.serialize_entry("kvlistValue", &Outer(map))?;
        outer.end()
    }
}

struct JsonKeyValue<'a>(&'a str, &'a Value);

impl Serialize for JsonKeyValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("key", self.0)?;
        map.serialize_entry("value", &Json(self.1))?;
        map.end()
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => Json::object(map, serializer),
            Value::Array(items) => {
                struct Items<'a>(&'a [Value]);
                impl Serialize for Items<'_> {
                    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                        serializer.collect_seq(self.0.iter().map(Json))
                    }
                }
                struct Outer<'a>(&'a [Value]);
                impl Serialize for Outer<'_> {
                    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                        let mut map = serializer.serialize_map(Some(1))?;
                        map.serialize_entry("values", &Items(self.0))?;
                        map.end()
                    }
                }
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("arrayValue", &Outer(items))?;
                map.end()
            }
            Value::Null => serializer.serialize_map(Some(0))?.end(),
            Value::Bool(b) => Any::Bool(*b).serialize(serializer),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Any::Int(i).serialize(serializer),
                None => Any::Double(n.as_f64().unwrap_or(f64::NAN)).serialize(serializer),
            },
            Value::String(s) => Any::Str(Cow::Borrowed(s)).serialize(serializer),
        }
    }
}

fn attributes(entry: &AuditEntry) -> Vec<(Cow<'_, str>, Any<'_>)> {
    let mut a: Vec<(Cow<'_, str>, Any<'_>)> = Vec::with_capacity(40);
    let string = |a: &mut Vec<(Cow<'_, str>, Any<'_>)>, key: &'static str, value: Option<&str>| {
        if let Some(value) = value {
            a.push((Cow::Borrowed(key), Any::Str(Cow::Owned(value.to_owned()))));
        }
    };
    // Borrowed strings need no copy; the closure above is for computed ones.
    macro_rules! borrowed {
        ($key:expr, $value:expr) => {
            if let Some(value) = $value {
                a.push((Cow::Borrowed($key), Any::Str(Cow::Borrowed(value))));
            }
        };
    }
    macro_rules! int {
        ($key:expr, $value:expr) => {
            if let Some(value) = $value {
                a.push((Cow::Borrowed($key), Any::Int(value)));
            }
        };
    }
    borrowed!("http.request.method", entry.method.as_deref());
    borrowed!("http.route", entry.route.as_deref());
    borrowed!("url.path", entry.path.as_deref());
    borrowed!("url.query", entry.query.as_deref());
    int!(
        "http.response.status_code",
        entry.status_code.map(i64::from)
    );
    for (addr, host, port) in [
        (&entry.client_addr, "client.address", "client.port"),
        (
            &entry.peer_addr,
            "network.peer.address",
            "network.peer.port",
        ),
    ] {
        if let Some(addr) = addr {
            match split_addr(addr) {
                Some((ip, p)) => {
                    string(&mut a, host, Some(&ip.to_string()));
                    int!(port, p.map(i64::from));
                }
                None => borrowed!(host, Some(addr.as_str())),
            }
        }
    }
    borrowed!("user_agent.original", entry.user_agent.as_deref());
    borrowed!("user.id", Some(entry.user.as_str()));
    if super::verdict(entry.outcome) == Verdict::Failure {
        let error_type = match entry.status_code {
            Some(status) if status >= 400 => status.to_string(),
            _ => entry.outcome.as_str().to_owned(),
        };
        string(&mut a, "error.type", Some(&error_type));
    }
    borrowed!("error.message", entry.error.as_deref());
    int!("http.request.body.size", entry.request_bytes.map(clamp));
    int!("http.response.body.size", entry.response_bytes.map(clamp));
    for (name, value) in &entry.headers {
        let key = Cow::Owned(format!("http.request.header.{name}"));
        // Semantic conventions: header values are string arrays.
        a.push((
            key,
            match value {
                Value::Array(_) => Any::Json(value),
                Value::String(s) => Any::Strings(std::slice::from_ref(s)),
                other => Any::Json(other),
            },
        ));
    }
    if let Some(grpc) = &entry.grpc {
        int!("rpc.grpc.status_code", Some(i64::from(grpc.code)));
        borrowed!("audit.grpc.status", Some(grpc.status.as_str()));
        borrowed!("audit.grpc.message", grpc.message.as_deref());
    }
    string(&mut a, "log.record.uid", Some(&entry.id.to_string()));
    a.push((
        Cow::Borrowed("log.record.original"),
        Any::Str(Cow::Owned(native_line(entry))),
    ));

    borrowed!("audit.endpoint", Some(entry.endpoint.as_str()));
    borrowed!("audit.outcome", Some(entry.outcome.as_str()));
    a.push((
        Cow::Borrowed("audit.duration_seconds"),
        Any::Double(entry.duration_seconds),
    ));
    int!("audit.schema_version", Some(i64::from(entry.v)));
    borrowed!("audit.correlation_id", entry.correlation_id.as_deref());
    borrowed!("audit.tenant", entry.tenant.as_deref());
    if !entry.tags.is_empty() {
        a.push((Cow::Borrowed("audit.tags"), Any::Strings(&entry.tags)));
    }
    if let Some(request) = &entry.request {
        a.push((Cow::Borrowed("audit.request"), Any::Json(request)));
    }
    if let Some(response) = &entry.response_summary {
        a.push((Cow::Borrowed("audit.response_summary"), Any::Json(response)));
    }
    if !entry.fields.is_empty() {
        a.push((Cow::Borrowed("audit.fields"), Any::Object(&entry.fields)));
    }
    borrowed!(
        "audit.response_encoding",
        entry.response_encoding.as_deref()
    );
    if let Some(operation) = &entry.operation {
        string(
            &mut a,
            "audit.operation.id",
            Some(&operation.id.to_string()),
        );
        borrowed!("audit.operation.stage", Some(operation.stage.as_str()));
        string(
            &mut a,
            "audit.operation.parent",
            operation.parent.map(|p| p.to_string()).as_deref(),
        );
        borrowed!(
            "audit.operation.relation",
            operation.relation.map(|r| r.as_str())
        );
        if let Some(retryable) = operation.retryable {
            a.push((
                Cow::Borrowed("audit.operation.retryable"),
                Any::Bool(retryable),
            ));
        }
    }
    if let Some(chain) = &entry.chain {
        string(&mut a, "audit.chain.id", Some(&chain.id.to_string()));
        int!("audit.chain.seq", Some(clamp(chain.seq)));
        borrowed!("audit.chain.prev", Some(chain.prev.as_str()));
        if !chain.hash.is_empty() {
            borrowed!("audit.chain.hash", Some(chain.hash.as_str()));
        }
    }
    a
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
