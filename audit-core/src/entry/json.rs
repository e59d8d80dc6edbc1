//! An entry's JSON line written by hand, field by field in the declared (sorted) order: the
//! same bytes `serde_json` with the canonical formatter writes (a property test holds them
//! equal), at a fraction of the cost (#14). Values and strings are written by
//! [`crate::canonical`], the one JSON writer of the crate.

use serde_json::Value;

use super::{AuditEntry, Chain, GrpcStatus, OperationInfo};
use crate::canonical::{write_f64, write_map, write_str, write_value_as_stored as write_value};

/// Appends `entry` as one canonical JSON object (no newline) to `out`.
pub(crate) fn write_entry(entry: &AuditEntry, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, name: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
    };
    if let Some(chain) = &entry.chain {
        key(out, "chain");
        write_chain(chain, out);
    }
    key(out, "client_addr");
    write_opt_str(entry.client_addr.as_deref(), out);
    key(out, "correlation_id");
    write_opt_str(entry.correlation_id.as_deref(), out);
    key(out, "duration_seconds");
    write_f64(entry.duration_seconds, out);
    key(out, "endpoint");
    write_str(&entry.endpoint, out);
    key(out, "error");
    write_opt_str(entry.error.as_deref(), out);
    key(out, "fields");
    write_map(&entry.fields, out);
    if let Some(grpc) = &entry.grpc {
        key(out, "grpc");
        write_grpc(grpc, out);
    }
    key(out, "headers");
    write_map(&entry.headers, out);
    key(out, "id");
    write_uuid(&entry.id, out);
    key(out, "method");
    write_opt_str(entry.method.as_deref(), out);
    if let Some(operation) = &entry.operation {
        key(out, "operation");
        write_operation(operation, out);
    }
    key(out, "outcome");
    write_str(entry.outcome.as_str(), out);
    key(out, "path");
    write_opt_str(entry.path.as_deref(), out);
    key(out, "peer_addr");
    write_opt_str(entry.peer_addr.as_deref(), out);
    key(out, "query");
    write_opt_str(entry.query.as_deref(), out);
    key(out, "request");
    write_opt_value(entry.request.as_ref(), out);
    key(out, "request_bytes");
    write_opt_u64(entry.request_bytes, out);
    key(out, "response_bytes");
    write_opt_u64(entry.response_bytes, out);
    if let Some(encoding) = &entry.response_encoding {
        key(out, "response_encoding");
        write_str(encoding, out);
    }
    key(out, "response_summary");
    write_opt_value(entry.response_summary.as_ref(), out);
    key(out, "route");
    write_opt_str(entry.route.as_deref(), out);
    key(out, "span_id");
    write_opt_str(entry.span_id.as_deref(), out);
    key(out, "status_code");
    write_opt_u64(entry.status_code.map(u64::from), out);
    if !entry.tags.is_empty() {
        key(out, "tags");
        out.push(b'[');
        for (i, tag) in entry.tags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(tag, out);
        }
        out.push(b']');
    }
    if let Some(tenant) = &entry.tenant {
        key(out, "tenant");
        write_str(tenant, out);
    }
    key(out, "timestamp");
    let mut timestamp = [0u8; 27];
    entry.timestamp.format_into(&mut timestamp);
    out.push(b'"');
    out.extend_from_slice(&timestamp);
    out.push(b'"');
    key(out, "trace_id");
    write_opt_str(entry.trace_id.as_deref(), out);
    key(out, "user");
    write_str(&entry.user, out);
    key(out, "user_agent");
    write_opt_str(entry.user_agent.as_deref(), out);
    key(out, "v");
    write_u64(u64::from(entry.v), out);
    out.push(b'}');
}

fn write_chain(chain: &Chain, out: &mut Vec<u8>) {
    out.push(b'{');
    if !chain.hash.is_empty() {
        out.extend_from_slice(b"\"hash\":");
        write_str(&chain.hash, out);
        out.push(b',');
    }
    out.extend_from_slice(b"\"id\":");
    write_uuid(&chain.id, out);
    out.extend_from_slice(b",\"prev\":");
    write_str(&chain.prev, out);
    out.extend_from_slice(b",\"seq\":");
    write_u64(chain.seq, out);
    out.push(b'}');
}

fn write_operation(operation: &OperationInfo, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    write_uuid(&operation.id, out);
    if let Some(parent) = &operation.parent {
        out.extend_from_slice(b",\"parent\":");
        write_uuid(parent, out);
    }
    if let Some(relation) = operation.relation {
        out.extend_from_slice(b",\"relation\":");
        write_str(relation.as_str(), out);
    }
    if let Some(retryable) = operation.retryable {
        out.extend_from_slice(if retryable {
            b",\"retryable\":true"
        } else {
            b",\"retryable\":false"
        });
    }
    out.extend_from_slice(b",\"stage\":");
    write_str(&operation.stage, out);
    out.push(b'}');
}

fn write_grpc(grpc: &GrpcStatus, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"code\":");
    write_u64(u64::from(grpc.code), out);
    if let Some(message) = &grpc.message {
        out.extend_from_slice(b",\"message\":");
        write_str(message, out);
    }
    out.extend_from_slice(b",\"status\":");
    write_str(&grpc.status, out);
    out.push(b'}');
}

fn write_opt_str(text: Option<&str>, out: &mut Vec<u8>) {
    match text {
        Some(text) => write_str(text, out),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_opt_u64(n: Option<u64>, out: &mut Vec<u8>) {
    match n {
        Some(n) => write_u64(n, out),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_opt_value(value: Option<&Value>, out: &mut Vec<u8>) {
    match value {
        Some(value) => write_value(value, out),
        None => out.extend_from_slice(b"null"),
    }
}

/// A UUID as a JSON string, hyphenated and lower-case, as serde writes it.
fn write_uuid(id: &uuid::Uuid, out: &mut Vec<u8>) {
    let mut text = [0u8; 36];
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut text).as_bytes());
    out.push(b'"');
}

fn write_u64(n: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;
    use serde_json::Map;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z0-9 _./-]{0,40}",
            "[\\\\\"\u{0}-\u{1f}\u{7f}é𝄞a]{0,20}",
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn map() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map(text(), value(), 0..5).prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        /// Whatever an entry holds, the hand-written line is the bytes serde_json writes.
        #[test]
        fn entries_are_written_as_serde_json_writes_them(
            strings in prop::collection::vec(prop::option::of(text()), 12),
            endpoint in text(),
            user in text(),
            fields in map(),
            headers in map(),
            request in prop::option::of(value()),
            response in prop::option::of(value()),
            numbers in (any::<f64>(), prop::option::of(any::<u64>()), prop::option::of(any::<u16>())),
            chained in any::<bool>(),
            grpc in prop::option::of((any::<u32>(), prop::option::of(text()))),
            operation in prop::option::of((text(), any::<bool>(), prop::option::of(any::<bool>()))),
            tags in prop::collection::vec(text(), 0..4),
            tenant in prop::option::of(text()),
        ) {
            let mut entry = AuditEntry::new(endpoint);
            entry.user = user;
            entry.fields = fields;
            entry.headers = headers;
            entry.request = request;
            entry.response_summary = response;
            entry.duration_seconds = numbers.0;
            entry.request_bytes = numbers.1;
            entry.status_code = numbers.2;
            let [a, b, c, d, e, f, g, h, i, j, k, _l] = <[Option<String>; 12]>::try_from(strings).unwrap();
            entry.client_addr = a;
            entry.correlation_id = b;
            entry.error = c;
            entry.method = d;
            entry.path = e;
            entry.peer_addr = f;
            entry.query = g;
            entry.response_encoding = h;
            entry.route = i;
            entry.span_id = j;
            entry.trace_id = k.clone();
            entry.user_agent = k;
            if chained {
                entry.chain = Some(Chain {
                    hash: String::new(),
                    id: uuid::Uuid::now_v7(),
                    prev: "ab".repeat(32),
                    seq: 7,
                });
            }
            entry.grpc = grpc.map(|(code, message)| GrpcStatus::new(code, message));
            entry.operation = operation.map(|(stage, linked, retryable)| {
                let mut info = OperationInfo::new(uuid::Uuid::now_v7(), stage);
                if linked {
                    info = info.with_parent(uuid::Uuid::now_v7(), super::super::Relation::Compensation);
                }
                info.retryable = retryable;
                info
            });
            entry.tags = tags;
            entry.tenant = tenant;
            let mut fast = Vec::new();
            write_entry(&entry, &mut fast);
            let mut reference = Vec::new();
            crate::canonical::write_sorted(&entry, &mut reference).unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&reference));
        }
    }
}
