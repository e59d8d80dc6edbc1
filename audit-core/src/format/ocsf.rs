//! OCSF (1.3) API Activity, class 6003 of the Application Activity category: the event AWS
//! Security Lake, Splunk and most OCSF-native SIEMs ingest. What the class has no attribute for
//! goes to `unmapped`, and the canonical line to `raw_data`.
//!
//! Written through structs that borrow from the entry (attributes in sorted order, absent
//! ones skipped), not a `serde_json::Value` tree.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{duration_nanos, epoch_millis, native_line, split_addr, verdict, Verdict};
use crate::entry::{AuditEntry, Chain, GrpcStatus, OperationInfo, Outcome};

/// The OCSF version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.3.0";
/// API Activity.
pub const CLASS_UID: u32 = 6003;
/// Application Activity.
pub const CATEGORY_UID: u32 = 6;

#[derive(Serialize)]
pub(super) struct Event<'a> {
    activity_id: u32,
    activity_name: &'static str,
    actor: Actor<'a>,
    api: Api<'a>,
    category_name: &'static str,
    category_uid: u32,
    class_name: &'static str,
    class_uid: u32,
    duration: i64,
    end_time: i64,
    #[serde(skip_serializing_if = "HttpRequest::is_empty")]
    http_request: HttpRequest<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_response: Option<HttpResponse>,
    message: &'a str,
    metadata: Metadata<'a>,
    raw_data: String,
    severity: &'static str,
    severity_id: u32,
    src_endpoint: SrcEndpoint<'a>,
    start_time: i64,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_detail: Option<&'a str>,
    status_id: u32,
    time: i64,
    /// `time` is whole milliseconds; `time_dt` keeps the entry's microseconds.
    time_dt: String,
    type_name: String,
    type_uid: u32,
    unmapped: Unmapped<'a>,
}

#[derive(Serialize)]
struct Actor<'a> {
    user: Name<'a>,
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Api<'a> {
    operation: &'a str,
    request: ApiRequest<'a>,
    #[serde(skip_serializing_if = "ApiResponse::is_empty")]
    response: ApiResponse<'a>,
}

#[derive(Serialize)]
struct ApiRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    uid: String,
}

#[derive(Serialize)]
struct ApiResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

impl ApiResponse<'_> {
    fn is_empty(&self) -> bool {
        self.code.is_none()
            && self.data.is_none()
            && self.error.is_none()
            && self.error_message.is_none()
            && self.message.is_none()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    name: &'a str,
    value: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
struct HttpRequest<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    http_headers: Vec<Header<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
    #[serde(skip_serializing_if = "Url::is_empty")]
    url: Url<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
}

impl HttpRequest<'_> {
    fn is_empty(&self) -> bool {
        self.http_headers.is_empty()
            && self.http_method.is_none()
            && self.length.is_none()
            && self.uid.is_none()
            && self.url.is_empty()
            && self.user_agent.is_none()
    }
}

#[derive(Serialize)]
struct Url<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url_string: Option<String>,
}

impl Url<'_> {
    fn is_empty(&self) -> bool {
        self.path.is_none() && self.query_string.is_none() && self.url_string.is_none()
    }
}

#[derive(Serialize)]
struct HttpResponse {
    code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_uid: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    labels: &'a [String],
    log_name: &'static str,
    product: Product,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_uid: Option<&'a str>,
    uid: String,
    version: &'static str,
}

#[derive(Serialize)]
struct Product {
    name: &'static str,
    vendor_name: &'static str,
    version: &'static str,
}

/// The client (else the socket peer); a call with neither (a function, a job) came from
/// inside the process: `local`.
#[derive(Serialize)]
struct SrcEndpoint<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

/// The entry's fields that API Activity has no attribute for, under their own names.
#[derive(Serialize)]
struct Unmapped<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    chain: Option<&'a Chain>,
    duration_seconds: f64,
    #[serde(skip_serializing_if = "Map::is_empty")]
    fields: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grpc: Option<&'a GrpcStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a OperationInfo>,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_addr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_encoding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    v: u32,
}

pub(super) fn event(entry: &AuditEntry) -> Event<'_> {
    let (activity_id, activity_name) = activity(entry.method.as_deref());
    let (severity_id, severity) = severity(entry.outcome);
    let (status_id, status) = match verdict(entry.outcome) {
        Verdict::Success => (1, "Success"),
        Verdict::Failure => (2, "Failure"),
        Verdict::Unknown => (0, "Unknown"),
    };
    let time = epoch_millis(entry);
    let duration_ms = (duration_nanos(entry) / 1_000_000) as i64;
    Event {
        activity_id,
        activity_name,
        actor: Actor {
            user: Name { name: &entry.user },
        },
        api: Api {
            operation: &entry.endpoint,
            request: ApiRequest {
                data: entry.request.as_ref(),
                uid: entry.id.to_string(),
            },
            response: ApiResponse {
                code: entry.status_code,
                data: entry.response_summary.as_ref(),
                error: entry.grpc.as_ref().map(|g| g.status.as_str()),
                error_message: entry.error.as_deref(),
                message: entry.grpc.as_ref().and_then(|g| g.message.as_deref()),
            },
        },
        category_name: "Application Activity",
        category_uid: CATEGORY_UID,
        class_name: "API Activity",
        class_uid: CLASS_UID,
        duration: duration_ms,
        end_time: time + duration_ms,
        http_request: http_request(entry),
        http_response: entry.status_code.map(|code| HttpResponse {
            code,
            length: entry.response_bytes,
        }),
        message: &entry.endpoint,
        metadata: Metadata {
            correlation_uid: entry.correlation_id.as_deref(),
            labels: &entry.tags,
            log_name: "audit",
            product: Product {
                name: super::PRODUCT,
                vendor_name: super::PRODUCT,
                version: env!("CARGO_PKG_VERSION"),
            },
            sequence: entry.chain.as_ref().map(|c| c.seq),
            tenant_uid: entry.tenant.as_deref(),
            uid: entry.id.to_string(),
            version: OCSF_VERSION,
        },
        raw_data: native_line(entry),
        severity,
        severity_id,
        src_endpoint: src_endpoint(entry),
        start_time: time,
        status,
        status_code: entry.status_code.map(|s| s.to_string()),
        status_detail: entry.error.as_deref(),
        status_id,
        time,
        time_dt: entry.timestamp.to_string(),
        type_name: format!("API Activity: {activity_name}"),
        type_uid: CLASS_UID * 100 + activity_id,
        unmapped: Unmapped {
            chain: entry.chain.as_ref(),
            duration_seconds: entry.duration_seconds,
            fields: &entry.fields,
            grpc: entry.grpc.as_ref(),
            operation: entry.operation.as_ref(),
            outcome: entry.outcome,
            peer_addr: entry.client_addr.as_ref().and(entry.peer_addr.as_deref()),
            response_encoding: entry.response_encoding.as_deref(),
            route: entry.route.as_deref(),
            span_id: entry.span_id.as_deref(),
            trace_id: entry.trace_id.as_deref(),
            v: entry.v,
        },
    }
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

fn http_request(entry: &AuditEntry) -> HttpRequest<'_> {
    HttpRequest {
        http_headers: entry
            .headers
            .iter()
            .map(|(name, value)| Header {
                name,
                value: match value {
                    Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                    other => std::borrow::Cow::Owned(other.to_string()),
                },
            })
            .collect(),
        http_method: entry.method.as_deref(),
        length: entry.request_bytes,
        uid: entry.correlation_id.as_deref(),
        url: Url {
            path: entry.path.as_deref(),
            query_string: entry.query.as_deref(),
            url_string: entry.path.as_ref().map(|path| match &entry.query {
                Some(query) => format!("{path}?{query}"),
                None => path.clone(),
            }),
        },
        user_agent: entry.user_agent.as_deref(),
    }
}

fn src_endpoint(entry: &AuditEntry) -> SrcEndpoint<'_> {
    match entry.client_addr.as_deref().or(entry.peer_addr.as_deref()) {
        Some(addr) => match split_addr(addr) {
            Some((ip, port)) => SrcEndpoint {
                ip: Some(ip.to_string()),
                name: None,
                port,
            },
            None => SrcEndpoint {
                ip: None,
                name: Some(addr),
                port: None,
            },
        },
        None => SrcEndpoint {
            ip: None,
            name: Some("local"),
            port: None,
        },
    }
}
