//! The audit entry (schema version 1), documented field by field in `docs/schema.md`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

mod grpc;
mod json;
mod operation;
pub use grpc::GrpcStatus;
pub use operation::{OperationInfo, Relation, FINISHED, RECEIVED, STARTED};

/// The schema version written in every entry's `v` field.
pub const SCHEMA_VERSION: u32 = 1;

/// The `user` written when the acting identity is unknown.
pub const ANONYMOUS: &str = "anonymous";

/// `user` of the entries the library writes about itself: checkpoints (`audit.checkpoint`)
/// and reports of lost entries (`audit.dropped`).
pub const SYSTEM_USER: &str = "audit";

/// One audited call: who, what endpoint, the request, a summarised response, duration, status, outcome.
///
/// Field names are part of the contract (see `docs/schema.md`): JSONL readers and `jq` queries
/// depend on them. Readers ignore fields they do not know, so later versions can add fields.
///
/// Fields are declared in sorted order, so an entry serialises in the canonical form its chain
/// hash covers (see [`crate::canonical`]) without sorting at run time.
///
/// ```
/// use audit_core::{AuditEntry, Outcome};
///
/// let mut entry = AuditEntry::new("sow_create");
/// entry.method = Some("POST".into());
/// entry.status_code = Some(200);
/// entry.outcome = Outcome::from_status(200);
/// entry.fields.insert("cost_usd".into(), 0.23.into());
/// let line = serde_json::to_string(&entry).unwrap();
/// assert!(line.contains(r#""endpoint":"sow_create""#));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// The tamper-evident chain link (`id`, `seq`, `prev`, `hash`), when the pipeline chains
    /// entries; see [`crate::chain`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    /// The client as configured (a trusted forwarded header).
    pub client_addr: Option<String>,
    /// Request id shared across services (`x-request-id`).
    pub correlation_id: Option<String>,
    /// Seconds from the start of the call until the response is complete.
    pub duration_seconds: f64,
    /// Logical name (`sow_create`); falls back to the route template, then the path.
    pub endpoint: String,
    /// Error or panic message.
    pub error: Option<String>,
    /// Custom fields added by the handler or the macro.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// The gRPC status (`grpc-status`, `grpc-message`) of a gRPC call; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcStatus>,
    /// Request headers kept by policy, sensitive ones redacted.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// UUIDv7 (time-ordered), unique per entry.
    pub id: Uuid,
    /// HTTP method; `None` for non-HTTP calls.
    pub method: Option<String>,
    /// The operation this entry is a step of (its id, stage and lineage); absent for a plain
    /// call. See [`crate::operation`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationInfo>,
    /// How the call ended.
    pub outcome: Outcome,
    /// Raw request path.
    pub path: Option<String>,
    /// The socket peer (never spoofable).
    pub peer_addr: Option<String>,
    /// Query string, with sensitive parameters redacted.
    pub query: Option<String>,
    /// The request data (JSON body or recorded arguments), redacted and summarised; always an object.
    pub request: Option<Value>,
    /// Full request body size in bytes, even where the captured part was cut.
    pub request_bytes: Option<u64>,
    /// Full response body size in bytes, even where the captured part was cut.
    pub response_bytes: Option<u64>,
    /// How the response body the layer saw was encoded (`content-encoding`, or `grpc-encoding`
    /// for gRPC messages); absent when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_encoding: Option<String>,
    /// The response, redacted and summarised; always an object.
    pub response_summary: Option<Value>,
    /// Matched route template (`/api/v1/sow/{id}`).
    pub route: Option<String>,
    /// W3C parent span id from a `traceparent` header.
    pub span_id: Option<String>,
    /// HTTP status code.
    pub status_code: Option<u16>,
    /// Labels for grouping and search (`billing`, `llm`), in the order given, without repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The tenant (customer, company, workspace) the call acted for, for tenant-scoped queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// When the call started.
    pub timestamp: Timestamp,
    /// W3C trace id from a `traceparent` header.
    pub trace_id: Option<String>,
    /// Acting identity, [`ANONYMOUS`] when unknown.
    pub user: String,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// Schema version, [`SCHEMA_VERSION`].
    pub v: u32,
}

impl AuditEntry {
    /// A new entry for `endpoint`, started now, with a fresh UUIDv7 and every optional field empty.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self::started_at(endpoint, Timestamp::now())
    }

    /// An entry the library writes about itself, by [`SYSTEM_USER`].
    pub(crate) fn system(endpoint: &str, timestamp: Timestamp, outcome: Outcome) -> Self {
        let mut entry = Self::started_at(endpoint, timestamp);
        entry.user = SYSTEM_USER.to_owned();
        entry.outcome = outcome;
        entry
    }

    /// A new entry for `endpoint` that started at `timestamp`.
    pub fn started_at(endpoint: impl Into<String>, timestamp: Timestamp) -> Self {
        AuditEntry {
            v: SCHEMA_VERSION,
            id: Uuid::now_v7(),
            timestamp,
            endpoint: endpoint.into(),
            method: None,
            route: None,
            path: None,
            query: None,
            user: ANONYMOUS.to_owned(),
            request: None,
            response_summary: None,
            status_code: None,
            duration_seconds: 0.0,
            outcome: Outcome::Success,
            error: None,
            correlation_id: None,
            trace_id: None,
            span_id: None,
            client_addr: None,
            peer_addr: None,
            user_agent: None,
            request_bytes: None,
            response_bytes: None,
            headers: Map::new(),
            fields: Map::new(),
            grpc: None,
            response_encoding: None,
            chain: None,
            operation: None,
            tags: Vec::new(),
            tenant: None,
        }
    }

    /// Serialises the entry as one JSON line (with the trailing `\n`) onto `buf`, in the
    /// canonical form (sorted keys, no whitespace; see [`crate::canonical`]).
    pub fn write_json_line(&self, buf: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        json::write_entry(self, buf);
        buf.push(b'\n');
        Ok(())
    }

    /// Appends the entry's canonical JSON object (no newline): the bytes
    /// `canonical::write_sorted` would write, written by hand (`json.rs`).
    pub(crate) fn write_canonical(&self, buf: &mut Vec<u8>) {
        json::write_entry(self, buf);
    }
}

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Status 1xx to 3xx, or a function that returned normally.
    Success,
    /// Status 4xx.
    ClientError,
    /// Status 5xx.
    ServerError,
    /// The call failed without a status (an `Err` return, a body error).
    Error,
    /// The handler panicked.
    Panic,
    /// The caller went away before the response was complete, or an operation was abandoned.
    Cancelled,
    /// Not finished when written: an operation's start or stage entry, or a request's
    /// `received` entry. Its outcome comes in a later entry of the same operation.
    Pending,
}

impl Outcome {
    /// The outcome an HTTP status implies: `success` for 1xx–3xx, `client_error` for 4xx,
    /// `server_error` for 5xx (and anything out of range).
    pub fn from_status(status: u16) -> Self {
        match status {
            100..=399 => Outcome::Success,
            400..=499 => Outcome::ClientError,
            _ => Outcome::ServerError,
        }
    }

    /// The name written in the log (`success`, `client_error`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ClientError => "client_error",
            Outcome::ServerError => "server_error",
            Outcome::Error => "error",
            Outcome::Panic => "panic",
            Outcome::Cancelled => "cancelled",
            Outcome::Pending => "pending",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A UTC instant, written as RFC 3339 with microseconds and `Z` (`2026-02-07T08:30:45.123456Z`).
///
/// The fixed width keeps lexicographic order equal to time order, so `sort` and string
/// comparisons in `jq` work on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp::from(OffsetDateTime::now_utc())
    }

    /// The instant as a `time::OffsetDateTime` in UTC.
    pub fn as_offset_date_time(self) -> OffsetDateTime {
        self.0
    }

    /// The UTC calendar date, used for daily file names.
    pub fn date(self) -> time::Date {
        self.0.date()
    }

    /// Writes the fixed-width RFC 3339 form into a stack buffer.
    fn format_into(self, out: &mut [u8; 27]) {
        fn put(out: &mut [u8], mut value: u32) {
            for slot in out.iter_mut().rev() {
                *slot = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        let t = self.0;
        // Years outside 0..=9999 cannot come from a clock; clamp rather than write a wider field.
        put(&mut out[0..4], t.year().clamp(0, 9999) as u32);
        out[4] = b'-';
        put(&mut out[5..7], u8::from(t.month()) as u32);
        out[7] = b'-';
        put(&mut out[8..10], t.day() as u32);
        out[10] = b'T';
        put(&mut out[11..13], t.hour() as u32);
        out[13] = b':';
        put(&mut out[14..16], t.minute() as u32);
        out[16] = b':';
        put(&mut out[17..19], t.second() as u32);
        out[19] = b'.';
        put(&mut out[20..26], t.microsecond());
        out[26] = b'Z';
    }
}

impl From<OffsetDateTime> for Timestamp {
    /// Converts to UTC and truncates to whole microseconds, the precision written to the log.
    fn from(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(time::UtcOffset::UTC);
        let micros = utc.nanosecond() / 1000 * 1000;
        Timestamp(utc.replace_nanosecond(micros).unwrap_or(utc))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 27];
        self.format_into(&mut buf);
        // The buffer holds ASCII digits and separators only.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 27];
        self.format_into(&mut buf);
        let text = std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = time::error::Parse;

    /// Parses any RFC 3339 timestamp (other offsets are converted to UTC).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(Timestamp::from)
    }
}

/// The `chain` object of an entry: its place in the tamper-evident chain
/// ([`crate::chain`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Chain {
    /// SHA-256 (lowercase hex) of the entry's canonical form without this field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    /// The chain: one per `Auditor` instance.
    pub id: Uuid,
    /// The previous entry's `hash` ([`GENESIS`](crate::chain::GENESIS) for the first).
    pub prev: String,
    /// Position in the chain, from 1.
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_fixed_width_utc_with_micros() {
        let t: Timestamp = "2026-02-07T09:30:45.1234567+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-02-07T08:30:45.123456Z");
        let t: Timestamp = "2026-02-07T08:30:45Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-02-07T08:30:45.000000Z");
    }

    #[test]
    fn field_names_are_exactly_the_contract() {
        let entry = AuditEntry::new("sow_create");
        let value = serde_json::to_value(&entry).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "v",
            "id",
            "timestamp",
            "endpoint",
            "method",
            "route",
            "path",
            "query",
            "user",
            "request",
            "response_summary",
            "status_code",
            "duration_seconds",
            "outcome",
            "error",
            "correlation_id",
            "trace_id",
            "span_id",
            "client_addr",
            "peer_addr",
            "user_agent",
            "request_bytes",
            "response_bytes",
            "headers",
            "fields",
        ];
        // `chain` is written only by a chaining pipeline.
        let mut got = keys.clone();
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(got, expected);
        assert_eq!(value["v"], 1);
        assert_eq!(value["user"], "anonymous");
        assert_eq!(value["outcome"], "success");
        assert!(value["method"].is_null());
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let mut entry = AuditEntry::new("sow_create");
        entry.method = Some("POST".into());
        entry.route = Some("/api/v1/sow/{id}".into());
        entry.path = Some("/api/v1/sow/7".into());
        entry.query = Some("token=[REDACTED]&x=1".into());
        entry.user = "alice".into();
        entry.request = Some(serde_json::json!({"client_id": "CLIENT-001"}));
        entry.response_summary = Some(serde_json::json!({"sow_text": "<5234 characters>"}));
        entry.status_code = Some(201);
        entry.duration_seconds = 0.0345;
        entry.outcome = Outcome::ClientError;
        entry.error = Some("boom".into());
        entry.correlation_id = Some("req-1".into());
        entry.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        entry.span_id = Some("00f067aa0ba902b7".into());
        entry.client_addr = Some("203.0.113.9".into());
        entry.peer_addr = Some("127.0.0.1:5000".into());
        entry.user_agent = Some("curl/8".into());
        entry.request_bytes = Some(12);
        entry.response_bytes = Some(5300);
        entry
            .headers
            .insert("authorization".into(), "[REDACTED]".into());
        entry.fields.insert("cost_usd".into(), 0.23.into());
        let line = serde_json::to_string(&entry).unwrap();
        let back: AuditEntry = serde_json::from_str(&line).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn old_readers_ignore_unknown_fields() {
        let entry = AuditEntry::new("x");
        let mut value = serde_json::to_value(&entry).unwrap();
        value["added_in_v2"] = serde_json::json!({"seq": 1});
        let back: AuditEntry = serde_json::from_value(value).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn outcome_follows_status() {
        assert_eq!(Outcome::from_status(204), Outcome::Success);
        assert_eq!(Outcome::from_status(302), Outcome::Success);
        assert_eq!(Outcome::from_status(404), Outcome::ClientError);
        assert_eq!(Outcome::from_status(503), Outcome::ServerError);
        assert_eq!(
            serde_json::to_value(Outcome::ClientError).unwrap(),
            "client_error"
        );
    }
}
