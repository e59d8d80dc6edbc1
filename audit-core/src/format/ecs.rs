//! Elastic Common Schema (8.x): the document Elasticsearch, Elastic Security and OpenSearch
//! dashboards expect. Fields without an ECS counterpart go to `labels` (`audit_*`, string
//! values, as ECS asks of labels), and the canonical line to `event.original`.
//!
//! Written through structs that borrow from the entry (fields in sorted order, absent ones
//! skipped), not a `serde_json::Value` tree: a fifth of the allocations.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{duration_nanos, native_line, split_addr, verdict, Verdict};
use crate::entry::AuditEntry;

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.11.0";

/// The `event.dataset` of audit entries.
const DATASET: &str = "audited.audit";

fn is_none_or_empty<T: Empty>(value: &Option<T>) -> bool {
    value.as_ref().is_none_or(Empty::is_empty)
}

trait Empty {
    fn is_empty(&self) -> bool;
}

#[derive(Serialize)]
pub(super) struct Document<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<Endpoint<'a>>,
    ecs: Ecs,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    error: Option<Error<'a>>,
    event: Event<'a>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    http: Option<Http<'a>>,
    labels: BTreeMap<&'static str, Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<Id<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Endpoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span: Option<Id<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<Id<'a>>,
    #[serde(skip_serializing_if = "is_none_or_empty")]
    url: Option<Url<'a>>,
    user: User<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<UserAgent<'a>>,
}

#[derive(Serialize)]
struct Ecs {
    version: &'static str,
}

#[derive(Serialize)]
struct Id<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct User<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct UserAgent<'a> {
    original: &'a str,
}

#[derive(Serialize)]
struct Endpoint<'a> {
    address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

#[derive(Serialize)]
struct Error<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

impl Empty for Error<'_> {
    fn is_empty(&self) -> bool {
        self.message.is_none() && self.kind.is_none()
    }
}

#[derive(Serialize)]
struct Event<'a> {
    action: &'a str,
    category: [&'static str; 1],
    dataset: &'static str,
    duration: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
    id: String,
    kind: &'static str,
    module: &'static str,
    original: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    start: &'a str,
    #[serde(rename = "type")]
    kinds: [&'static str; 1],
}

#[derive(Serialize)]
struct Http<'a> {
    #[serde(skip_serializing_if = "Empty::is_empty")]
    request: Request<'a>,
    #[serde(skip_serializing_if = "Empty::is_empty")]
    response: Response,
}

impl Empty for Http<'_> {
    fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

#[derive(Serialize)]
struct Body {
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
}

impl Empty for Body {
    fn is_empty(&self) -> bool {
        self.bytes.is_none() && self.content.is_none()
    }
}

#[derive(Serialize)]
struct Request<'a> {
    #[serde(skip_serializing_if = "Empty::is_empty")]
    body: Body,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
}

impl Empty for Request<'_> {
    fn is_empty(&self) -> bool {
        self.body.is_empty() && self.id.is_none() && self.method.is_none()
    }
}

#[derive(Serialize)]
struct Response {
    #[serde(skip_serializing_if = "Empty::is_empty")]
    body: Body,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<u16>,
}

impl Empty for Response {
    fn is_empty(&self) -> bool {
        self.body.is_empty() && self.status_code.is_none()
    }
}

#[derive(Serialize)]
struct Url<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    original: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<&'a str>,
}

impl Empty for Url<'_> {
    fn is_empty(&self) -> bool {
        self.original.is_none() && self.path.is_none() && self.query.is_none()
    }
}

pub(super) fn document<'a>(entry: &'a AuditEntry, timestamp: &'a str) -> Document<'a> {
    Document {
        timestamp,
        client: entry.client_addr.as_deref().map(endpoint),
        ecs: Ecs {
            version: ECS_VERSION,
        },
        error: Some(Error {
            message: entry.error.as_deref(),
            kind: entry.error.is_some().then(|| entry.outcome.as_str()),
        }),
        event: event(entry, timestamp),
        http: Some(Http {
            request: Request {
                body: Body {
                    bytes: entry.request_bytes,
                    content: entry.request.as_ref().map(Value::to_string),
                },
                id: entry.correlation_id.as_deref(),
                method: entry.method.as_deref(),
            },
            response: Response {
                body: Body {
                    bytes: entry.response_bytes,
                    content: entry.response_summary.as_ref().map(Value::to_string),
                },
                status_code: entry.status_code,
            },
        }),
        labels: labels(entry),
        organization: entry.tenant.as_deref().map(|id| Id { id }),
        source: entry.peer_addr.as_deref().map(endpoint),
        span: entry.span_id.as_deref().map(|id| Id { id }),
        tags: &entry.tags,
        trace: entry.trace_id.as_deref().map(|id| Id { id }),
        url: Some(Url {
            original: entry.path.as_ref().map(|path| match &entry.query {
                Some(query) => format!("{path}?{query}"),
                None => path.clone(),
            }),
            path: entry.path.as_deref(),
            query: entry.query.as_deref(),
        }),
        user: User { name: &entry.user },
        user_agent: entry
            .user_agent
            .as_deref()
            .map(|original| UserAgent { original }),
    }
}

fn event<'a>(entry: &'a AuditEntry, timestamp: &'a str) -> Event<'a> {
    Event {
        action: &entry.endpoint,
        category: [if entry.method.is_some() { "web" } else { "api" }],
        dataset: DATASET,
        duration: duration_nanos(entry),
        hash: entry
            .chain
            .as_ref()
            .map(|c| c.hash.as_str())
            .filter(|h| !h.is_empty()),
        id: entry.id.to_string(),
        kind: "event",
        module: super::PRODUCT,
        original: native_line(entry),
        outcome: match verdict(entry.outcome) {
            Verdict::Success => "success",
            Verdict::Failure => "failure",
            Verdict::Unknown => "unknown",
        },
        sequence: entry.chain.as_ref().map(|c| c.seq),
        start: timestamp,
        kinds: ["access"],
    }
}

/// `client`/`source`: `ip` and `port` when the address parses, else `address` only.
fn endpoint(addr: &str) -> Endpoint<'_> {
    let parsed = split_addr(addr);
    Endpoint {
        address: addr,
        ip: parsed.map(|(ip, _)| ip.to_string()),
        port: parsed.and_then(|(_, port)| port),
    }
}

/// What ECS has no field for, as `audit_*` labels with string values.
fn labels<'a>(entry: &'a AuditEntry) -> BTreeMap<&'static str, Cow<'a, str>> {
    fn borrowed(value: Option<&str>) -> Option<Cow<'_, str>> {
        value.map(Cow::Borrowed)
    }
    let mut labels: BTreeMap<&'static str, Cow<'a, str>> = BTreeMap::new();
    let mut put = |key: &'static str, value: Option<Cow<'a, str>>| {
        if let Some(value) = value {
            labels.insert(key, value);
        }
    };
    put(
        "audit_schema_version",
        Some(Cow::Owned(entry.v.to_string())),
    );
    put("audit_outcome", Some(Cow::Borrowed(entry.outcome.as_str())));
    put("audit_route", borrowed(entry.route.as_deref()));
    if !entry.headers.is_empty() {
        put(
            "audit_headers",
            serde_json::to_string(&entry.headers).ok().map(Cow::Owned),
        );
    }
    if !entry.fields.is_empty() {
        put(
            "audit_fields",
            serde_json::to_string(&entry.fields).ok().map(Cow::Owned),
        );
    }
    put(
        "audit_response_encoding",
        borrowed(entry.response_encoding.as_deref()),
    );
    if let Some(grpc) = &entry.grpc {
        put("audit_grpc_code", Some(Cow::Owned(grpc.code.to_string())));
        put("audit_grpc_status", Some(Cow::Borrowed(&grpc.status)));
        put("audit_grpc_message", borrowed(grpc.message.as_deref()));
    }
    if let Some(operation) = &entry.operation {
        put(
            "audit_operation_id",
            Some(Cow::Owned(operation.id.to_string())),
        );
        put(
            "audit_operation_stage",
            Some(Cow::Borrowed(&operation.stage)),
        );
        put(
            "audit_operation_parent",
            operation.parent.map(|p| Cow::Owned(p.to_string())),
        );
        put(
            "audit_operation_relation",
            operation.relation.map(|r| Cow::Borrowed(r.as_str())),
        );
        put(
            "audit_operation_retryable",
            operation.retryable.map(|r| Cow::Owned(r.to_string())),
        );
    }
    if let Some(chain) = &entry.chain {
        put("audit_chain_id", Some(Cow::Owned(chain.id.to_string())));
        put("audit_chain_prev", Some(Cow::Borrowed(&chain.prev)));
    }
    labels
}
