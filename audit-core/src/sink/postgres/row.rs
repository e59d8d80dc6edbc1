//! An entry as a table row and back: the values `COPY` writes, and the entry a row reads as.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::entry::{AuditEntry, Chain, OperationInfo, Outcome, Relation, Timestamp};

/// An entry's values converted to what the table's columns take, in [`column_names`](super::schema::column_names) order:
/// for tools that write rows themselves (benchmarks, migrations of old logs).
///
/// ```
/// use audit_core::{postgres::RowValues, AuditEntry};
///
/// let entry = AuditEntry::new("x");
/// let row = RowValues::new(&entry);
/// assert_eq!(row.params().len(), audit_core::postgres::column_names().len());
/// ```
pub struct RowValues<'a> {
    entry: &'a AuditEntry,
    ts: OffsetDateTime,
    v: i32,
    outcome: &'static str,
    status: Option<i32>,
    duration_ms: f64,
    request_bytes: Option<i64>,
    response_bytes: Option<i64>,
    request: Option<Json<&'a Value>>,
    response_summary: Option<Json<&'a Value>>,
    headers: Json<&'a Map<String, Value>>,
    fields: Json<&'a Map<String, Value>>,
    chain_id: Option<Uuid>,
    chain_seq: Option<i64>,
    chain_prev: Option<&'a str>,
    chain_hash: Option<&'a str>,
    grpc: Option<Json<&'a crate::GrpcStatus>>,
    tags: Option<&'a [String]>,
    operation_id: Option<Uuid>,
    operation_parent: Option<Uuid>,
    operation_relation: Option<&'static str>,
    operation_stage: Option<&'a str>,
    operation_retryable: Option<bool>,
}

impl<'a> RowValues<'a> {
    /// Converts `entry`.
    pub fn new(entry: &'a AuditEntry) -> Self {
        RowValues {
            entry,
            ts: entry.timestamp.as_offset_date_time(),
            v: i32::try_from(entry.v).unwrap_or(i32::MAX),
            outcome: entry.outcome.as_str(),
            status: entry.status_code.map(i32::from),
            duration_ms: entry.duration_seconds * 1000.0,
            request_bytes: entry
                .request_bytes
                .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            response_bytes: entry
                .response_bytes
                .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            request: entry.request.as_ref().map(Json),
            response_summary: entry.response_summary.as_ref().map(Json),
            headers: Json(&entry.headers),
            fields: Json(&entry.fields),
            chain_id: entry.chain.as_ref().map(|c| c.id),
            chain_seq: entry
                .chain
                .as_ref()
                .map(|c| i64::try_from(c.seq).unwrap_or(i64::MAX)),
            chain_prev: entry.chain.as_ref().map(|c| c.prev.as_str()),
            chain_hash: entry.chain.as_ref().map(|c| c.hash.as_str()),
            grpc: entry.grpc.as_ref().map(Json),
            tags: (!entry.tags.is_empty()).then_some(entry.tags.as_slice()),
            operation_id: entry.operation.as_ref().map(|o| o.id),
            operation_parent: entry.operation.as_ref().and_then(|o| o.parent),
            operation_relation: entry
                .operation
                .as_ref()
                .and_then(|o| o.relation)
                .map(Relation::as_str),
            operation_stage: entry.operation.as_ref().map(|o| o.stage.as_str()),
            operation_retryable: entry.operation.as_ref().and_then(|o| o.retryable),
        }
    }

    /// The values in [`column_names`](super::schema::column_names) order.
    pub fn params(&self) -> [&(dyn ToSql + Sync); 39] {
        let e = self.entry;
        [
            &e.id,
            &self.ts,
            &self.v,
            &e.endpoint,
            &e.method,
            &e.route,
            &e.path,
            &e.query,
            &e.user,
            &self.request,
            &self.response_summary,
            &self.status,
            &self.duration_ms,
            &self.outcome,
            &e.error,
            &e.correlation_id,
            &e.trace_id,
            &e.span_id,
            &e.client_addr,
            &e.peer_addr,
            &e.user_agent,
            &self.request_bytes,
            &self.response_bytes,
            &self.headers,
            &self.fields,
            // Exact, unlike `duration_ms` (a product), so chain hashes can be checked from rows.
            &e.duration_seconds,
            &self.chain_id,
            &self.chain_seq,
            &self.chain_prev,
            &self.chain_hash,
            &self.grpc,
            &e.response_encoding,
            &e.tenant,
            &self.tags,
            &self.operation_id,
            &self.operation_parent,
            &self.operation_relation,
            &self.operation_stage,
            &self.operation_retryable,
        ]
    }
}

/// Reads an entry back from a row that holds the table's columns ([`column_names`](super::schema::column_names), or `SELECT *`).
pub fn entry_from_row(row: &Row) -> Result<AuditEntry, tokio_postgres::Error> {
    let ts: OffsetDateTime = row.try_get("ts")?;
    let mut entry =
        AuditEntry::started_at(row.try_get::<_, String>("endpoint")?, Timestamp::from(ts));
    entry.id = row.try_get::<_, Uuid>("id")?;
    entry.v = u32::try_from(row.try_get::<_, i32>("v")?).unwrap_or(0);
    entry.method = row.try_get("method")?;
    entry.route = row.try_get("route")?;
    entry.path = row.try_get("path")?;
    entry.query = row.try_get("query")?;
    entry.user = row.try_get("user_id")?;
    entry.request = row
        .try_get::<_, Option<Json<Value>>>("request")?
        .map(|j| j.0);
    entry.response_summary = row
        .try_get::<_, Option<Json<Value>>>("response_summary")?
        .map(|j| j.0);
    entry.status_code = row
        .try_get::<_, Option<i32>>("status_code")?
        .and_then(|s| u16::try_from(s).ok());
    // Rows written before migration 2 have `duration_ms` only.
    entry.duration_seconds = match row.try_get::<_, Option<f64>>("duration_seconds") {
        Ok(Some(seconds)) => seconds,
        _ => row.try_get::<_, f64>("duration_ms")? / 1000.0,
    };
    let outcome: String = row.try_get("outcome")?;
    entry.outcome = serde_json::from_value(Value::String(outcome)).unwrap_or(Outcome::Error);
    entry.error = row.try_get("error")?;
    entry.correlation_id = row.try_get("correlation_id")?;
    entry.trace_id = row.try_get("trace_id")?;
    entry.span_id = row.try_get("span_id")?;
    entry.client_addr = row.try_get("client_addr")?;
    entry.peer_addr = row.try_get("peer_addr")?;
    entry.user_agent = row.try_get("user_agent")?;
    let size = |column: &str| -> Result<Option<u64>, tokio_postgres::Error> {
        Ok(row
            .try_get::<_, Option<i64>>(column)?
            .and_then(|b| u64::try_from(b).ok()))
    };
    entry.request_bytes = size("request_bytes")?;
    entry.response_bytes = size("response_bytes")?;
    entry.headers = object(row.try_get::<_, Json<Value>>("headers")?.0);
    entry.fields = object(row.try_get::<_, Json<Value>>("fields")?.0);
    // Rows written before migration 3 have neither column.
    entry.grpc = row
        .try_get::<_, Option<Json<crate::GrpcStatus>>>("grpc")
        .ok()
        .flatten()
        .map(|j| j.0);
    entry.response_encoding = row.try_get("response_encoding").ok().flatten();
    // Rows written before migration 4 have none of these columns.
    entry.tenant = row.try_get("tenant").ok().flatten();
    entry.tags = row
        .try_get::<_, Option<Vec<String>>>("tags")
        .ok()
        .flatten()
        .unwrap_or_default();
    if let Ok(Some(id)) = row.try_get::<_, Option<Uuid>>("operation_id") {
        let stage: Option<String> = row.try_get("operation_stage")?;
        let mut info = OperationInfo::new(id, stage.unwrap_or_default());
        info.parent = row.try_get("operation_parent")?;
        info.relation = row
            .try_get::<_, Option<String>>("operation_relation")?
            .and_then(|r| serde_json::from_value::<Relation>(Value::String(r)).ok());
        info.retryable = row.try_get("operation_retryable")?;
        entry.operation = Some(info);
    }
    if let Ok(Some(id)) = row.try_get::<_, Option<Uuid>>("chain_id") {
        entry.chain = Some(Chain {
            id,
            seq: u64::try_from(row.try_get::<_, i64>("chain_seq")?).unwrap_or(0),
            prev: row.try_get("chain_prev")?,
            hash: row.try_get("chain_hash")?,
        });
    }
    Ok(entry)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
