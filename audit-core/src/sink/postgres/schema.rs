//! The table: its migrations, and the mapping between entries and rows.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio_postgres::types::{Json, ToSql, Type};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::chain::Chain;
use crate::entry::{AuditEntry, Outcome, Timestamp};

/// The columns, in table order, with their types for binary COPY.
pub(crate) const COLUMNS: &[(&str, Type)] = &[
    ("id", Type::UUID),
    ("ts", Type::TIMESTAMPTZ),
    ("v", Type::INT4),
    ("endpoint", Type::TEXT),
    ("method", Type::TEXT),
    ("route", Type::TEXT),
    ("path", Type::TEXT),
    ("query", Type::TEXT),
    ("user_id", Type::TEXT),
    ("request", Type::JSONB),
    ("response_summary", Type::JSONB),
    ("status_code", Type::INT4),
    ("duration_ms", Type::FLOAT8),
    ("outcome", Type::TEXT),
    ("error", Type::TEXT),
    ("correlation_id", Type::TEXT),
    ("trace_id", Type::TEXT),
    ("span_id", Type::TEXT),
    ("client_addr", Type::TEXT),
    ("peer_addr", Type::TEXT),
    ("user_agent", Type::TEXT),
    ("request_bytes", Type::INT8),
    ("response_bytes", Type::INT8),
    ("headers", Type::JSONB),
    ("fields", Type::JSONB),
    ("duration_seconds", Type::FLOAT8),
    ("chain_id", Type::UUID),
    ("chain_seq", Type::INT8),
    ("chain_prev", Type::TEXT),
    ("chain_hash", Type::TEXT),
    ("grpc", Type::JSONB),
    ("response_encoding", Type::TEXT),
];

/// The table's column names, in order.
pub fn column_names() -> Vec<&'static str> {
    COLUMNS.iter().map(|(name, _)| *name).collect()
}

/// The comma-separated column list.
pub(crate) fn column_list() -> String {
    COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Column definitions of the staging table, written out rather than `LIKE` the audit table,
/// which would need `SELECT` on it.
pub(crate) fn staging_columns() -> String {
    COLUMNS
        .iter()
        .map(|(name, ty)| format!("{name} {}", ty.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column types, for `BinaryCopyInWriter`.
pub(crate) fn column_types() -> Vec<Type> {
    COLUMNS.iter().map(|(_, ty)| ty.clone()).collect()
}

/// An entry's values converted to what the table's columns take, in [`column_names`] order:
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
        }
    }

    /// The values in [`column_names`] order.
    pub fn params(&self) -> [&(dyn ToSql + Sync); 32] {
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
        ]
    }
}

/// Reads an entry back from a row that holds the table's columns ([`column_names`], or `SELECT *`).
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

/// `"schema"."table"`, for identifiers already validated by [`valid_identifier`].
pub(crate) fn qualified(schema: &str, table: &str) -> String {
    format!("\"{schema}\".\"{table}\"")
}

/// Lower-case letters, digits and `_`, not starting with a digit, at most 48 characters (so
/// index names derived from it stay under PostgreSQL's 63).
pub(crate) fn valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// The migrations, in order; each runs once, recorded in `<table>_migrations`.
fn migrations(schema: &str, table: &str, partitioning: Option<Partitioning>) -> Vec<(i32, String)> {
    let t = qualified(schema, table);
    // A partitioned table's primary key must hold the partition key; `ts` is fixed per entry,
    // so `(id, ts)` is as unique as `id`.
    let (primary_key, partition_clause) = match partitioning {
        None => ("PRIMARY KEY (id)", ""),
        Some(_) => ("PRIMARY KEY (id, ts)", " PARTITION BY RANGE (ts)"),
    };
    vec![
        (
        1,
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (
                id uuid NOT NULL,
                ts timestamptz NOT NULL,
                v int NOT NULL,
                endpoint text NOT NULL,
                method text,
                route text,
                path text,
                query text,
                user_id text NOT NULL,
                request jsonb,
                response_summary jsonb,
                status_code int,
                duration_ms double precision NOT NULL,
                outcome text NOT NULL,
                error text,
                correlation_id text,
                trace_id text,
                span_id text,
                client_addr text,
                peer_addr text,
                user_agent text,
                request_bytes bigint,
                response_bytes bigint,
                headers jsonb NOT NULL DEFAULT '{{}}',
                fields jsonb NOT NULL DEFAULT '{{}}',
                {primary_key}
            ){partition_clause};
            CREATE INDEX IF NOT EXISTS \"{table}_ts_brin\" ON {t} USING brin (ts) WITH (autosummarize = on);
            CREATE INDEX IF NOT EXISTS \"{table}_endpoint_ts\" ON {t} (endpoint, ts DESC);
            CREATE INDEX IF NOT EXISTS \"{table}_user_ts\" ON {t} (user_id, ts DESC);
            CREATE INDEX IF NOT EXISTS \"{table}_correlation\" ON {t} (correlation_id) WHERE correlation_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS \"{table}_failures\" ON {t} (ts DESC) WHERE outcome <> 'success';"
        ),
    ),
        // The chain, and the duration exactly as the entry holds it (nullable: no table rewrite).
        (
            2,
            format!(
                "ALTER TABLE {t}
                    ADD COLUMN IF NOT EXISTS duration_seconds double precision,
                    ADD COLUMN IF NOT EXISTS chain_id uuid,
                    ADD COLUMN IF NOT EXISTS chain_seq bigint,
                    ADD COLUMN IF NOT EXISTS chain_prev text,
                    ADD COLUMN IF NOT EXISTS chain_hash text;
                CREATE INDEX IF NOT EXISTS \"{table}_chain\" ON {t} (chain_id, chain_seq) WHERE chain_id IS NOT NULL;"
            ),
        ),
        // gRPC status and the response body's encoding (nullable: no table rewrite).
        (
            3,
            format!(
                "ALTER TABLE {t}
                    ADD COLUMN IF NOT EXISTS grpc jsonb,
                    ADD COLUMN IF NOT EXISTS response_encoding text;"
            ),
        ),
    ]
}

/// Serialises schema changes of one table across every instance (migrations, partitions).
/// Transaction-scoped: released at commit or rollback, even if the connection drops.
async fn lock_table(
    transaction: &tokio_postgres::Transaction<'_>,
    schema: &str,
    table: &str,
) -> Result<(), tokio_postgres::Error> {
    let key = format!("audited:{schema}.{table}");
    transaction
        .execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])
        .await
        .map(|_| ())
}

/// Creates the schema, the table and its indexes, under an advisory lock so that several
/// instances starting at once do it once. Returns the migrations applied now.
pub(crate) async fn migrate(
    client: &mut Client,
    schema: &str,
    table: &str,
    partitioning: Option<Partitioning>,
) -> Result<Vec<i32>, tokio_postgres::Error> {
    // Up to date already: no DDL, no lock, so an insert-only role can start (docs/postgres.md).
    let migrations_table = qualified(schema, &format!("{table}_migrations"));
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&migrations_table])
        .await?
        .get(0);
    if exists.is_some() {
        let applied: Vec<i32> = client
            .query(&format!("SELECT version FROM {migrations_table}"), &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if migrations(schema, table, partitioning)
            .iter()
            .all(|(v, _)| applied.contains(v))
        {
            return Ok(Vec::new());
        }
    }
    let transaction = client.transaction().await?;
    lock_table(&transaction, schema, table).await?;
    transaction
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
             CREATE TABLE IF NOT EXISTS {} (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());",
            migrations_table
        ))
        .await?;
    let applied: Vec<i32> = transaction
        .query(&format!("SELECT version FROM {migrations_table}"), &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut now = Vec::new();
    for (version, sql) in migrations(schema, table, partitioning) {
        if applied.contains(&version) {
            continue;
        }
        transaction.batch_execute(&sql).await?;
        transaction
            .execute(
                &format!("INSERT INTO {migrations_table} (version) VALUES ($1)"),
                &[&version],
            )
            .await?;
        now.push(version);
    }
    transaction.commit().await?;
    Ok(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_validated() {
        for good in ["audit_log", "a1", "_x"] {
            assert!(valid_identifier(good), "{good}");
        }
        for bad in ["", "1a", "Audit", "a-b", "a\"b", "a b", &"x".repeat(49)] {
            assert!(!valid_identifier(bad), "{bad}");
        }
    }
}

/// Range partitioning of the table by `ts` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// One partition per day (`<table>_pYYYYMMDD`), created 7 days ahead.
    Daily,
    /// One partition per month (`<table>_pYYYYMM`), created 2 months ahead.
    Monthly,
}

impl Partitioning {
    /// The partition holding `date`: its name suffix, first day and the first day after it.
    fn range(self, date: time::Date) -> (String, time::Date, time::Date) {
        match self {
            Partitioning::Daily => {
                let next = date.next_day().unwrap_or(date);
                let name = format!(
                    "{:04}{:02}{:02}",
                    date.year(),
                    u8::from(date.month()),
                    date.day()
                );
                (name, date, next)
            }
            Partitioning::Monthly => {
                let first = date.replace_day(1).unwrap_or(date);
                let next = match first.month() {
                    time::Month::December => {
                        time::Date::from_calendar_date(first.year() + 1, time::Month::January, 1)
                    }
                    month => time::Date::from_calendar_date(first.year(), month.next(), 1),
                }
                .unwrap_or(first);
                (
                    format!("{:04}{:02}", first.year(), u8::from(first.month())),
                    first,
                    next,
                )
            }
        }
    }

    /// How many partitions are created ahead of today's.
    fn ahead(self) -> usize {
        match self {
            Partitioning::Daily => 7,
            Partitioning::Monthly => 2,
        }
    }

    /// Parses a suffix written by [`Partitioning::range`] back to its range.
    fn parse(self, suffix: &str) -> Option<(time::Date, time::Date)> {
        let digits = |range: std::ops::Range<usize>| suffix.get(range)?.parse::<i32>().ok();
        let date = match self {
            Partitioning::Daily if suffix.len() == 8 => time::Date::from_calendar_date(
                digits(0..4)?,
                time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?,
                u8::try_from(digits(6..8)?).ok()?,
            )
            .ok()?,
            Partitioning::Monthly if suffix.len() == 6 => time::Date::from_calendar_date(
                digits(0..4)?,
                time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?,
                1,
            )
            .ok()?,
            _ => return None,
        };
        let (_, first, next) = self.range(date);
        Some((first, next))
    }
}

/// Creates the partitions from the one before today's to [`Partitioning::ahead`] after it, and a
/// default partition for anything outside them; drops partitions whose whole range is older than
/// `retention_days`. Returns the partitions dropped.
pub(crate) async fn maintain_partitions(
    client: &mut Client,
    schema: &str,
    table: &str,
    partitioning: Partitioning,
    retention_days: Option<u32>,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let parent = qualified(schema, table);
    let today = OffsetDateTime::now_utc().date();
    let transaction = client.transaction().await?;
    lock_table(&transaction, schema, table).await?;
    let mut date = partitioning.range(today.previous_day().unwrap_or(today)).1;
    for _ in 0..partitioning.ahead() + 2 {
        let (suffix, first, next) = partitioning.range(date);
        transaction
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {parent} FOR VALUES FROM ('{first} 00:00:00+00') TO ('{next} 00:00:00+00')",
                qualified(schema, &format!("{table}_p{suffix}"))
            ))
            .await?;
        date = next;
    }
    transaction
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {parent} DEFAULT",
            qualified(schema, &format!("{table}_pdefault"))
        ))
        .await?;
    let mut dropped = Vec::new();
    if let Some(days) = retention_days {
        let oldest_kept = today - time::Duration::days(i64::from(days));
        let partitions = transaction
            .query(
                "SELECT c.relname::text FROM pg_inherits i
                 JOIN pg_class c ON c.oid = i.inhrelid
                 JOIN pg_class p ON p.oid = i.inhparent
                 JOIN pg_namespace n ON n.oid = p.relnamespace
                 WHERE n.nspname = $1 AND p.relname = $2",
                &[&schema, &table],
            )
            .await?;
        let prefix = format!("{table}_p");
        for row in partitions {
            let name: String = row.get(0);
            let Some((_, next)) = name
                .strip_prefix(&prefix)
                .and_then(|suffix| partitioning.parse(suffix))
            else {
                continue;
            };
            if next <= oldest_kept {
                transaction
                    .batch_execute(&format!("DROP TABLE {}", qualified(schema, &name)))
                    .await?;
                dropped.push(name);
            }
        }
    }
    transaction.commit().await?;
    Ok(dropped)
}
