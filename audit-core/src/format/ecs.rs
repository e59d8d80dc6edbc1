//! Elastic Common Schema (8.x): the document Elasticsearch, Elastic Security and OpenSearch
//! dashboards expect. Fields without an ECS counterpart go to `labels` (`audit_*`, string
//! values, as ECS asks of labels), and the canonical line to `event.original`.

use serde_json::Value;

use super::{duration_nanos, native_line, split_addr, verdict, Object, Verdict};
use crate::entry::AuditEntry;

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.11.0";

/// The `event.dataset` of audit entries.
const DATASET: &str = "audited.audit";

pub(super) fn document(entry: &AuditEntry) -> Value {
    let mut doc = Object::default();
    let timestamp = entry.timestamp.to_string();
    doc.put("@timestamp", timestamp.clone());
    doc.nested("ecs", {
        let mut ecs = Object::default();
        ecs.put("version", ECS_VERSION);
        ecs
    });
    doc.nested("event", event(entry, timestamp));
    doc.nested("http", http(entry));
    doc.nested("url", url(entry));
    doc.nested("user", {
        let mut user = Object::default();
        user.put("name", entry.user.clone());
        user
    });
    if let Some(addr) = &entry.client_addr {
        doc.nested("client", endpoint(addr));
    }
    if let Some(addr) = &entry.peer_addr {
        doc.nested("source", endpoint(addr));
    }
    doc.nested("user_agent", {
        let mut agent = Object::default();
        agent.opt("original", entry.user_agent.clone());
        agent
    });
    doc.nested("trace", id_of(entry.trace_id.as_deref()));
    doc.nested("span", id_of(entry.span_id.as_deref()));
    doc.nested("error", {
        let mut error = Object::default();
        error.opt("message", entry.error.clone());
        if entry.error.is_some() {
            error.put("type", entry.outcome.as_str());
        }
        error
    });
    doc.nested("organization", {
        let mut organization = Object::default();
        organization.opt("id", entry.tenant.clone());
        organization
    });
    if !entry.tags.is_empty() {
        doc.put("tags", entry.tags.clone());
    }
    doc.nested("labels", labels(entry));
    doc.into_value()
}

fn event(entry: &AuditEntry, timestamp: String) -> Object {
    let mut event = Object::default();
    event
        .put("kind", "event")
        .put(
            "category",
            vec![if entry.method.is_some() { "web" } else { "api" }],
        )
        .put("type", vec!["access"])
        .put("action", entry.endpoint.clone())
        .put("id", entry.id.to_string())
        .put(
            "outcome",
            match verdict(entry.outcome) {
                Verdict::Success => "success",
                Verdict::Failure => "failure",
                Verdict::Unknown => "unknown",
            },
        )
        .put("duration", duration_nanos(entry))
        .put("start", timestamp)
        .put("dataset", DATASET)
        .put("module", super::PRODUCT)
        .put("original", native_line(entry));
    if let Some(chain) = &entry.chain {
        event.put("sequence", chain.seq);
        if !chain.hash.is_empty() {
            event.put("hash", chain.hash.clone());
        }
    }
    event
}

fn http(entry: &AuditEntry) -> Object {
    let mut request = Object::default();
    request.opt("method", entry.method.clone());
    request.opt("id", entry.correlation_id.clone());
    let mut body = Object::default();
    body.opt("bytes", entry.request_bytes);
    body.opt("content", entry.request.as_ref().map(Value::to_string));
    request.nested("body", body);

    let mut response = Object::default();
    response.opt("status_code", entry.status_code);
    let mut body = Object::default();
    body.opt("bytes", entry.response_bytes);
    body.opt(
        "content",
        entry.response_summary.as_ref().map(Value::to_string),
    );
    response.nested("body", body);

    let mut http = Object::default();
    http.nested("request", request);
    http.nested("response", response);
    http
}

fn url(entry: &AuditEntry) -> Object {
    let mut url = Object::default();
    url.opt("path", entry.path.clone());
    url.opt("query", entry.query.clone());
    if let Some(path) = &entry.path {
        url.put(
            "original",
            match &entry.query {
                Some(query) => format!("{path}?{query}"),
                None => path.clone(),
            },
        );
    }
    url
}

/// `client`/`source`: `ip` and `port` when the address parses, else `address` only.
fn endpoint(addr: &str) -> Object {
    let mut endpoint = Object::default();
    endpoint.put("address", addr);
    if let Some((ip, port)) = split_addr(addr) {
        endpoint.put("ip", ip.to_string());
        endpoint.opt("port", port);
    }
    endpoint
}

fn id_of(id: Option<&str>) -> Object {
    let mut object = Object::default();
    object.opt("id", id.map(str::to_owned));
    object
}

/// What ECS has no field for, as `audit_*` labels with string values.
fn labels(entry: &AuditEntry) -> Object {
    let mut labels = Object::default();
    labels.put("audit_schema_version", entry.v.to_string());
    labels.put("audit_outcome", entry.outcome.as_str());
    labels.opt("audit_route", entry.route.clone());
    if !entry.headers.is_empty() {
        labels.put(
            "audit_headers",
            Value::Object(entry.headers.clone()).to_string(),
        );
    }
    if !entry.fields.is_empty() {
        labels.put(
            "audit_fields",
            Value::Object(entry.fields.clone()).to_string(),
        );
    }
    labels.opt("audit_response_encoding", entry.response_encoding.clone());
    if let Some(grpc) = &entry.grpc {
        labels.put("audit_grpc_code", grpc.code.to_string());
        labels.put("audit_grpc_status", grpc.status.clone());
        labels.opt("audit_grpc_message", grpc.message.clone());
    }
    if let Some(operation) = &entry.operation {
        labels.put("audit_operation_id", operation.id.to_string());
        labels.put("audit_operation_stage", operation.stage.clone());
        labels.opt(
            "audit_operation_parent",
            operation.parent.map(|p| p.to_string()),
        );
        labels.opt(
            "audit_operation_relation",
            operation.relation.map(|r| r.as_str()),
        );
        labels.opt(
            "audit_operation_retryable",
            operation.retryable.map(|r| r.to_string()),
        );
    }
    if let Some(chain) = &entry.chain {
        labels.put("audit_chain_id", chain.id.to_string());
        labels.put("audit_chain_prev", chain.prev.clone());
    }
    labels
}
