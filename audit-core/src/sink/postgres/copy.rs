//! Writing rows: one binary `COPY` per batch, through a staging table with
//! `ON CONFLICT (id) DO NOTHING` only when a retry may repeat rows, and NUL characters (which
//! PostgreSQL refuses) replaced.

use std::sync::atomic::Ordering;

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::Client;

use super::row::RowValues;
use super::schema::{self, column_list, column_types};
use super::PostgresSink;
use crate::entry::AuditEntry;

impl PostgresSink {
    pub(super) async fn copy(&mut self, batch: &[AuditEntry]) -> Result<(), tokio_postgres::Error> {
        let Some(client) = self.client.as_ref() else {
            return Ok(());
        };
        let rows = copy_entries(client, &self.target, batch).await?;
        self.stats.inner.copied.fetch_add(rows, Ordering::Relaxed);
        Ok(())
    }

    /// COPY into a staging table, then insert what is not there yet: safe to repeat.
    pub(super) async fn copy_deduplicated(
        &mut self,
        batch: &[AuditEntry],
    ) -> Result<(), tokio_postgres::Error> {
        let Some(client) = self.client.as_mut() else {
            return Ok(());
        };
        let transaction = client.transaction().await?;
        transaction
            .batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS",
                self.staging,
                schema::staging_columns()
            ))
            .await?;
        let statement = format!(
            "COPY {} ({}) FROM STDIN BINARY",
            self.staging,
            column_list()
        );
        write_rows(transaction.copy_in(&statement).await?, batch).await?;
        transaction
            .execute(
                &format!(
                    // Without a conflict target: an insert-only role may not read `id`, which a
                    // target would need; the primary key is the table's only unique constraint.
                    "INSERT INTO {} ({cols}) SELECT {cols} FROM {} ON CONFLICT DO NOTHING",
                    self.target,
                    self.staging,
                    cols = column_list()
                ),
                &[],
            )
            .await?;
        transaction.commit().await?;
        self.stats
            .inner
            .deduplicated_batches
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// One binary `COPY` of `entries` into `table` (a quoted, qualified name such as
/// `"public"."audit_log"`), with no staging and no deduplication: what the sink does on a
/// batch's first attempt. Returns the number of rows.
#[doc(hidden)]
pub async fn copy_entries(
    client: &Client,
    table: &str,
    entries: &[AuditEntry],
) -> Result<u64, tokio_postgres::Error> {
    let statement = format!("COPY {table} ({}) FROM STDIN BINARY", column_list());
    write_rows(client.copy_in(&statement).await?, entries).await
}

/// Streams `entries` as binary rows into a started `COPY … FROM STDIN BINARY`.
async fn write_rows(
    sink: tokio_postgres::CopyInSink<bytes::Bytes>,
    entries: &[AuditEntry],
) -> Result<u64, tokio_postgres::Error> {
    let writer = BinaryCopyInWriter::new(sink, &column_types());
    let mut writer = std::pin::pin!(writer);
    for entry in entries {
        let entry = without_nul(entry);
        let row = RowValues::new(&entry);
        writer.as_mut().write(&row.params()).await?;
    }
    writer.finish().await
}

/// PostgreSQL's `text` and `jsonb` refuse NUL characters, which JSON allows in strings: one
/// such entry would fail its batch on every retry and on every replay of the spool. They are
/// stored as U+FFFD instead (rare; the check walks the entry's strings without allocating).
/// Such a row no longer matches its chain hash, and `audit verify` says so: the database cannot
/// hold the original.
fn without_nul(entry: &AuditEntry) -> std::borrow::Cow<'_, AuditEntry> {
    fn value_has_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(value_has_nul),
            serde_json::Value::Object(map) => map
                .iter()
                .any(|(k, v)| k.contains('\0') || value_has_nul(v)),
            _ => false,
        }
    }
    fn clean_value(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => *s = s.replace('\0', "\u{FFFD}"),
            serde_json::Value::Array(items) => items.iter_mut().for_each(clean_value),
            serde_json::Value::Object(map) => {
                let cleaned: serde_json::Map<String, serde_json::Value> = std::mem::take(map)
                    .into_iter()
                    .map(|(k, mut v)| {
                        clean_value(&mut v);
                        (k.replace('\0', "\u{FFFD}"), v)
                    })
                    .collect();
                *map = cleaned;
            }
            _ => {}
        }
    }
    let texts = [
        Some(&entry.endpoint),
        entry.method.as_ref(),
        entry.route.as_ref(),
        entry.path.as_ref(),
        entry.query.as_ref(),
        Some(&entry.user),
        entry.error.as_ref(),
        entry.correlation_id.as_ref(),
        entry.trace_id.as_ref(),
        entry.span_id.as_ref(),
        entry.client_addr.as_ref(),
        entry.peer_addr.as_ref(),
        entry.user_agent.as_ref(),
    ];
    let json = [entry.request.as_ref(), entry.response_summary.as_ref()];
    let maps = [&entry.headers, &entry.fields];
    let has_nul = texts.iter().flatten().any(|t| t.contains('\0'))
        || json.iter().flatten().any(|v| value_has_nul(v))
        || maps
            .iter()
            .any(|m| m.iter().any(|(k, v)| k.contains('\0') || value_has_nul(v)));
    if !has_nul {
        return std::borrow::Cow::Borrowed(entry);
    }
    tracing::warn!(id = %entry.id, "an audit entry holds NUL characters, which PostgreSQL cannot store: written as U+FFFD");
    let mut clean = entry.clone();
    for text in [
        Some(&mut clean.endpoint),
        clean.method.as_mut(),
        clean.route.as_mut(),
        clean.path.as_mut(),
        clean.query.as_mut(),
        Some(&mut clean.user),
        clean.error.as_mut(),
        clean.correlation_id.as_mut(),
        clean.trace_id.as_mut(),
        clean.span_id.as_mut(),
        clean.client_addr.as_mut(),
        clean.peer_addr.as_mut(),
        clean.user_agent.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        *text = text.replace('\0', "\u{FFFD}");
    }
    for value in [clean.request.as_mut(), clean.response_summary.as_mut()]
        .into_iter()
        .flatten()
    {
        clean_value(value);
    }
    for map in [&mut clean.headers, &mut clean.fields] {
        let mut object = serde_json::Value::Object(std::mem::take(map));
        clean_value(&mut object);
        if let serde_json::Value::Object(cleaned) = object {
            *map = cleaned;
        }
    }
    std::borrow::Cow::Owned(clean)
}
