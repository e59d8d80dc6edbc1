//! OCSF (1.3) API Activity, class 6003 of the Application Activity category: the event AWS
//! Security Lake, Splunk and most OCSF-native SIEMs ingest. What the class has no attribute for
//! goes to `unmapped`, and the canonical line to `raw_data`.

use serde_json::{json, Map, Value};

use super::{duration_nanos, epoch_millis, native_line, split_addr, verdict, Object, Verdict};
use crate::entry::{AuditEntry, Outcome};

/// The OCSF version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.3.0";
/// API Activity.
pub const CLASS_UID: u32 = 6003;
/// Application Activity.
pub const CATEGORY_UID: u32 = 6;

pub(super) fn event(entry: &AuditEntry) -> Value {
    let (activity_id, activity_name) = activity(entry.method.as_deref());
    let (severity_id, severity) = severity(entry.outcome);
    let (status_id, status) = match verdict(entry.outcome) {
        Verdict::Success => (1, "Success"),
        Verdict::Failure => (2, "Failure"),
        Verdict::Unknown => (0, "Unknown"),
    };
    let time = epoch_millis(entry);
    let duration_ms = (duration_nanos(entry) / 1_000_000) as i64;

    let mut event = Object::default();
    event
        .put("class_uid", CLASS_UID)
        .put("class_name", "API Activity")
        .put("category_uid", CATEGORY_UID)
        .put("category_name", "Application Activity")
        .put("activity_id", activity_id)
        .put("activity_name", activity_name)
        .put("type_uid", CLASS_UID * 100 + activity_id)
        .put("type_name", format!("API Activity: {activity_name}"))
        .put("severity_id", severity_id)
        .put("severity", severity)
        .put("status_id", status_id)
        .put("status", status)
        .opt("status_code", entry.status_code.map(|s| s.to_string()))
        .opt("status_detail", entry.error.clone())
        .put("time", time)
        // `time` is whole milliseconds; `time_dt` keeps the entry's microseconds.
        .put("time_dt", entry.timestamp.to_string())
        .put("start_time", time)
        .put("end_time", time + duration_ms)
        .put("duration", duration_ms)
        .put("message", entry.endpoint.clone())
        .put("metadata", metadata(entry))
        .put("actor", json!({"user": {"name": entry.user}}))
        .put("api", api(entry))
        .nested("http_request", http_request(entry))
        .put("src_endpoint", src_endpoint(entry))
        .put("unmapped", unmapped(entry))
        .put("raw_data", native_line(entry));
    if let Some(status) = entry.status_code {
        let mut response = Object::default();
        response
            .put("code", status)
            .opt("length", entry.response_bytes);
        event.nested("http_response", response);
    }
    event.into_value()
}

/// CRUD by method: POST creates, GET/HEAD read, PUT/PATCH update, DELETE deletes; anything
/// else is Other (99), and a call without a method Unknown (0).
fn activity(method: Option<&str>) -> (u32, &'static str) {
    match method.map(str::to_ascii_uppercase).as_deref() {
        None => (0, "Unknown"),
        Some("POST") => (1, "Create"),
        Some("GET" | "HEAD") => (2, "Read"),
        Some("PUT" | "PATCH") => (3, "Update"),
        Some("DELETE") => (4, "Delete"),
        Some(_) => (99, "Other"),
    }
}

fn severity(outcome: Outcome) -> (u32, &'static str) {
    match outcome {
        Outcome::Success | Outcome::Pending => (1, "Informational"),
        Outcome::ClientError | Outcome::Cancelled => (2, "Low"),
        Outcome::Panic => (4, "High"),
        _ => (3, "Medium"),
    }
}

fn metadata(entry: &AuditEntry) -> Value {
    let mut metadata = Object::default();
    metadata
        .put("version", OCSF_VERSION)
        .put(
            "product",
            json!({
                "name": super::PRODUCT,
                "vendor_name": super::PRODUCT,
                "version": env!("CARGO_PKG_VERSION"),
            }),
        )
        .put("uid", entry.id.to_string())
        .put("log_name", "audit")
        .opt("correlation_uid", entry.correlation_id.clone())
        .opt("tenant_uid", entry.tenant.clone());
    if !entry.tags.is_empty() {
        metadata.put("labels", entry.tags.clone());
    }
    if let Some(chain) = &entry.chain {
        metadata.put("sequence", chain.seq);
    }
    metadata.into_value()
}

fn api(entry: &AuditEntry) -> Value {
    let mut request = Object::default();
    request
        .put("uid", entry.id.to_string())
        .opt("data", entry.request.clone());
    let mut response = Object::default();
    response
        .opt("code", entry.status_code)
        .opt("error", entry.grpc.as_ref().map(|g| g.status.clone()))
        .opt("error_message", entry.error.clone())
        .opt(
            "message",
            entry.grpc.as_ref().and_then(|g| g.message.clone()),
        )
        .opt("data", entry.response_summary.clone());
    let mut api = Object::default();
    api.put("operation", entry.endpoint.clone())
        .put("request", request.into_value())
        .nested("response", response);
    api.into_value()
}

fn http_request(entry: &AuditEntry) -> Object {
    let mut http = Object::default();
    let mut url = Object::default();
    url.opt("path", entry.path.clone())
        .opt("query_string", entry.query.clone());
    if let Some(path) = &entry.path {
        url.put(
            "url_string",
            match &entry.query {
                Some(query) => format!("{path}?{query}"),
                None => path.clone(),
            },
        );
    }
    let headers: Vec<Value> = entry
        .headers
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            json!({"name": name, "value": value})
        })
        .collect();
    http.opt("http_method", entry.method.clone())
        .nested("url", url)
        .opt("user_agent", entry.user_agent.clone())
        .opt("uid", entry.correlation_id.clone())
        .opt("length", entry.request_bytes);
    if !headers.is_empty() {
        http.put("http_headers", headers);
    }
    http
}

/// The client (else the socket peer); a call with neither (a function, a job) came from
/// inside the process: `local`.
fn src_endpoint(entry: &AuditEntry) -> Value {
    let mut endpoint = Object::default();
    match entry.client_addr.as_deref().or(entry.peer_addr.as_deref()) {
        Some(addr) => match split_addr(addr) {
            Some((ip, port)) => {
                endpoint.put("ip", ip.to_string()).opt("port", port);
            }
            None => {
                endpoint.put("name", addr);
            }
        },
        None => {
            endpoint.put("name", "local");
        }
    }
    endpoint.into_value()
}

/// The entry's fields that API Activity has no attribute for, under their own names.
fn unmapped(entry: &AuditEntry) -> Value {
    let mut unmapped = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            unmapped.insert(key.to_owned(), value);
        }
    };
    put("v", json!(entry.v));
    put("outcome", json!(entry.outcome));
    put("duration_seconds", json!(entry.duration_seconds));
    put("route", json!(entry.route));
    if entry.client_addr.is_some() {
        put("peer_addr", json!(entry.peer_addr));
    }
    put("trace_id", json!(entry.trace_id));
    put("span_id", json!(entry.span_id));
    if !entry.fields.is_empty() {
        put("fields", Value::Object(entry.fields.clone()));
    }
    put("response_encoding", json!(entry.response_encoding));
    if let Some(grpc) = &entry.grpc {
        put("grpc", json!(grpc));
    }
    if let Some(operation) = &entry.operation {
        put("operation", json!(operation));
    }
    if let Some(chain) = &entry.chain {
        put("chain", json!(chain));
    }
    Value::Object(unmapped)
}
