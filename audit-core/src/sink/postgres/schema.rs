//! The table: its columns, identifiers and migrations.

use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::partitions::Partitioning;

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
    ("tenant", Type::TEXT),
    ("tags", Type::TEXT_ARRAY),
    ("operation_id", Type::UUID),
    ("operation_parent", Type::UUID),
    ("operation_relation", Type::TEXT),
    ("operation_stage", Type::TEXT),
    ("operation_retryable", Type::BOOL),
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
        // Tenants, tags and operations (#15); nullable, so no table rewrite. The operation's
        // lineage is indexed both ways: its own entries, and what follows from it.
        (
            4,
            format!(
                "ALTER TABLE {t}
                    ADD COLUMN IF NOT EXISTS tenant text,
                    ADD COLUMN IF NOT EXISTS tags text[],
                    ADD COLUMN IF NOT EXISTS operation_id uuid,
                    ADD COLUMN IF NOT EXISTS operation_parent uuid,
                    ADD COLUMN IF NOT EXISTS operation_relation text,
                    ADD COLUMN IF NOT EXISTS operation_stage text,
                    ADD COLUMN IF NOT EXISTS operation_retryable boolean;
                CREATE INDEX IF NOT EXISTS \"{table}_tenant_ts\" ON {t} (tenant, ts DESC) WHERE tenant IS NOT NULL;
                CREATE INDEX IF NOT EXISTS \"{table}_tags\" ON {t} USING gin (tags) WHERE tags IS NOT NULL;
                CREATE INDEX IF NOT EXISTS \"{table}_operation\" ON {t} (operation_id) WHERE operation_id IS NOT NULL;
                CREATE INDEX IF NOT EXISTS \"{table}_operation_parent\" ON {t} (operation_parent) WHERE operation_parent IS NOT NULL;"
            ),
        ),
    ]
}

/// Serialises schema changes of one table across every instance (migrations, partitions).
/// Transaction-scoped: released at commit or rollback, even if the connection drops.
pub(super) async fn lock_table(
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
