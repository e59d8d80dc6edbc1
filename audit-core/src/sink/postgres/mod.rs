//! The PostgreSQL sink: binary `COPY` into a typed table, a local spool while the database is
//! away, and deduplication where a retry could repeat a batch.
//!
//! Why tokio-postgres: it is the maintained async driver under most of the ecosystem's
//! PostgreSQL crates, and it exposes the binary `COPY FROM STDIN` protocol
//! (`BinaryCopyInWriter`), the fastest way in: measured here, several times the rate of
//! multi-row `INSERT`s (see BENCHMARKS.md). sqlx does not offer binary COPY.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::backoff::Backoff;
use super::Sink;
use crate::entry::AuditEntry;
use crate::error::SinkError;

mod builder;
mod connection;
mod copy;
mod partitions;
mod reader;
mod row;
mod schema;
mod spec;
mod tls;

use crate::sink::spool::Spool;
pub use builder::PostgresSinkBuilder;
use connection::describe;
#[doc(hidden)]
pub use copy::copy_entries;
pub use partitions::Partitioning;
pub use reader::PostgresReader;
/// The table's row form, for the benchmarks and the round-trip tests: not part of the API.
#[doc(hidden)]
pub use row::{entry_from_row, RowValues};
#[doc(hidden)]
pub use schema::column_names;
pub use spec::PostgresSpec;
use tls::Tls;
pub use tls::TlsProvider;

/// Counters of a [`PostgresSink`]; clones share them.
#[derive(Debug, Clone, Default)]
pub struct PostgresStats {
    inner: Arc<PostgresCounters>,
}

#[derive(Debug, Default)]
struct PostgresCounters {
    copied: AtomicU64,
    deduplicated_batches: AtomicU64,
    spooled_batches: AtomicU64,
    replayed_batches: AtomicU64,
    connects: AtomicU64,
}

impl PostgresStats {
    /// Entries written with a plain binary `COPY`.
    pub fn copied(&self) -> u64 {
        self.inner.copied.load(Ordering::Relaxed)
    }

    /// Batches written through the staging table with `ON CONFLICT (id) DO NOTHING`.
    pub fn deduplicated_batches(&self) -> u64 {
        self.inner.deduplicated_batches.load(Ordering::Relaxed)
    }

    /// Batches written to the local spool.
    pub fn spooled_batches(&self) -> u64 {
        self.inner.spooled_batches.load(Ordering::Relaxed)
    }

    /// Spooled batches replayed into the database.
    pub fn replayed_batches(&self) -> u64 {
        self.inner.replayed_batches.load(Ordering::Relaxed)
    }

    /// Successful connections (1 plus reconnects).
    pub fn connects(&self) -> u64 {
        self.inner.connects.load(Ordering::Relaxed)
    }
}

/// Writes entries into a PostgreSQL table with binary `COPY`.
///
/// - On the first connection it creates the schema, the table (one typed column per entry
///   field) and its indexes, idempotently and under an advisory lock (`docs/postgres.md`).
/// - A batch goes in with one plain binary `COPY`. If that meets an id already stored (a batch
///   retried after a commit whose answer was lost), it goes again through a staging table
///   with `ON CONFLICT (id) DO NOTHING`: deduplication costs only where it is needed.
/// - While the database is unreachable (or refuses a batch), batches are written durably to a
///   local JSONL spool and replayed, oldest first and deduplicated, before the next batch once
///   it is back; reconnection backs off exponentially (100 ms to 30 s) so a dead server costs
///   the writer little.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use audit_core::{postgres::PostgresSink, Auditor};
///
/// let sink = PostgresSink::builder("postgres://app@db/prod")?
///     .schema("audit")
///     .spool_dir("/var/lib/myapp/audit_spool")
///     .open()?;
/// let auditor = Auditor::builder().build(sink)?;
/// # Ok(()) }
/// ```
pub struct PostgresSink {
    config: tokio_postgres::Config,
    tls: Option<Tls>,
    partitioning: Option<Partitioning>,
    retention_days: Option<u32>,
    /// The UTC day partitions were last created and pruned.
    maintained_on: Option<time::Date>,
    schema: String,
    table: String,
    target: String,
    staging: String,
    spool: Spool,
    connect_timeout: Duration,
    write_timeout: Duration,
    client: Option<Client>,
    backoff: Backoff,
    stats: PostgresStats,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSink")
            .field("target", &self.target)
            .field("spool", &self.spool.dir())
            .field("tls", &self.tls.is_some())
            .field(
                "connected",
                &self.client.as_ref().is_some_and(|c| !c.is_closed()),
            )
            .finish()
    }
}

impl PostgresSink {
    /// The counters of this sink.
    pub fn stats(&self) -> PostgresStats {
        self.stats.clone()
    }

    /// `"schema"."table"`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Replays the spool, oldest first; stops at the first batch that fails. Each batch is
    /// bounded by `write_timeout`, not the whole spool: a long backlog keeps going.
    async fn replay(&mut self) -> Result<(), WriteError> {
        let files = match self.spool.files() {
            Ok(files) => files,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the PostgreSQL spool");
                return Ok(());
            }
        };
        for file in files {
            let Some(batch) = self.spool.take(&file) else {
                continue;
            };
            let timeout = self.write_timeout;
            bounded(timeout, self.copy_deduplicated(&batch)).await?;
            self.spool.sent(&file, batch.len());
            self.stats
                .inner
                .replayed_batches
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(file = %file.display(), entries = batch.len(), "replayed spooled audit batch");
        }
        Ok(())
    }

    /// Creates upcoming partitions and drops expired ones, once per UTC day. Failures (an
    /// insert-only role cannot create tables) are logged: the default partition takes the rows.
    pub async fn maintain(&mut self) -> Result<Vec<String>, SinkError> {
        let Some(partitioning) = self.partitioning else {
            return Ok(Vec::new());
        };
        let Some(client) = self.client.as_mut() else {
            return Ok(Vec::new());
        };
        let dropped = partitions::maintain_partitions(
            client,
            &self.schema,
            &self.table,
            partitioning,
            self.retention_days,
        )
        .await
        .map_err(|e| SinkError::Database {
            action: "maintain the partitions of",
            target: self.target.clone(),
            detail: describe(&e),
        })?;
        self.maintained_on = Some(time::OffsetDateTime::now_utc().date());
        if !dropped.is_empty() {
            tracing::info!(table = %self.target, partitions = ?dropped, "dropped audit partitions past retention");
        }
        Ok(dropped)
    }

    async fn write_connected(&mut self, batch: &[AuditEntry]) -> Result<(), WriteError> {
        let timeout = self.write_timeout;
        let today = Some(time::OffsetDateTime::now_utc().date());
        if self.partitioning.is_some() && self.maintained_on != today {
            let failed = match tokio::time::timeout(timeout, self.maintain()).await {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("no answer within {timeout:?}")),
            };
            if let Some(error) = failed {
                tracing::warn!(error = %error, "audit partitions not maintained; rows outside them go to the default partition");
                self.maintained_on = today;
            }
        }
        self.replay().await?;
        match bounded(timeout, self.copy(batch)).await {
            Err(WriteError::Db(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tracing::info!(table = %self.target, entries = batch.len(), "batch partly stored already (a retry); writing it deduplicated");
                bounded(timeout, self.copy_deduplicated(batch)).await
            }
            other => other,
        }
    }

    fn spool(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        let path = self.spool.push(batch)?;
        self.stats
            .inner
            .spooled_batches
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(file = %path.display(), entries = batch.len(), "audit batch spooled locally until PostgreSQL takes it");
        Ok(())
    }
}

#[async_trait]
impl Sink for PostgresSink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.ensure_connected().await {
            return self.spool(batch);
        }
        match self.write_connected(batch).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(table = %self.target, error = %e, "PostgreSQL did not take an audit batch");
                if e.connection_suspect() || self.client.as_ref().is_none_or(|c| c.is_closed()) {
                    self.client = None;
                }
                // A batch that failed may have reached the server: its replay is deduplicated.
                self.spool(batch)
            }
        }
    }

    /// Replays the spool (what an earlier run left, or batches spooled while the database was
    /// away) as soon as the database answers, at start and whenever the writer is idle, not
    /// only before the next batch.
    async fn start(&mut self) -> Result<(), SinkError> {
        let pending = self.spool.files().map(|f| f.len()).unwrap_or(0);
        if pending == 0 || !self.ensure_connected().await {
            return Ok(());
        }
        tracing::info!(batches = pending, "replaying the PostgreSQL spool");
        self.replay().await.map_err(|e| {
            if e.connection_suspect() {
                self.client = None;
            }
            SinkError::Database {
                action: "replay the spool into",
                target: self.target.clone(),
                detail: e.to_string(),
            }
        })
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        let pending = self.spool.files().map(|f| f.len()).unwrap_or(0);
        if pending > 0 {
            // One last attempt, whatever the backoff says: the process is about to stop.
            self.backoff.expire();
        }
        if pending > 0 && self.ensure_connected().await {
            if let Err(e) = self.replay().await {
                tracing::warn!(error = %e, "spooled audit batches stay in the spool until the next start");
            }
        }
        let left = self.spool.files().map(|f| f.len()).unwrap_or(0);
        if left > 0 {
            tracing::warn!(dir = %self.spool.dir().display(), batches = left, "audit batches remain in the PostgreSQL spool; they are replayed on the next start");
        }
        self.client = None;
        Ok(())
    }

    fn spooled(&self) -> u64 {
        self.spool.entries()
    }

    fn name(&self) -> &str {
        "postgres"
    }
}

/// Why a batch did not go in: the server's error, or no answer within `write_timeout`.
#[derive(Debug)]
pub(super) enum WriteError {
    Db(tokio_postgres::Error),
    TimedOut(Duration),
}

impl WriteError {
    /// Whether the connection itself may be broken (no answer, or not a refusal by the
    /// server), so that the next attempt connects again.
    fn connection_suspect(&self) -> bool {
        match self {
            WriteError::Db(e) => e.as_db_error().is_none(),
            WriteError::TimedOut(_) => true,
        }
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Db(e) => f.write_str(&describe(e)),
            WriteError::TimedOut(timeout) => {
                write!(f, "no answer within {timeout:?} (audit_write_timeout)")
            }
        }
    }
}

/// One statement (a COPY, a deduplicated insert, the migrations) bounded by `timeout`: a database behind a
/// partition neither answers nor closes, and would hold the writer until TCP gives up.
pub(super) async fn bounded<T>(
    timeout: Duration,
    statement: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, WriteError> {
    match tokio::time::timeout(timeout, statement).await {
        Ok(result) => result.map_err(WriteError::Db),
        Err(_) => Err(WriteError::TimedOut(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::url_without_password;

    #[test]
    fn urls_are_shown_without_password() {
        assert_eq!(
            url_without_password("postgres://u:secret@h:5432/db"),
            "postgres://u:[REDACTED]@h:5432/db"
        );
        assert_eq!(
            url_without_password("postgres://u@h/db"),
            "postgres://u@h/db"
        );
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let err = PostgresSink::builder("postgres://u@h/db")
            .unwrap()
            .table("Audit-Log")
            .open()
            .unwrap_err();
        assert!(err.to_string().contains("lower-case letters"), "{err}");
        let err = PostgresSink::builder("postgres://u:pw@h:notaport/db").unwrap_err();
        assert!(
            err.to_string().contains("[REDACTED]") && !err.to_string().contains("pw@"),
            "{err}"
        );
    }
}
