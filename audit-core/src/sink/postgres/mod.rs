//! The PostgreSQL sink: binary `COPY` into a typed table, a local spool while the database is
//! away, and deduplication where a retry could repeat a batch.
//!
//! Why tokio-postgres: it is the maintained async driver under most of the ecosystem's
//! PostgreSQL crates, and it exposes the binary `COPY FROM STDIN` protocol
//! (`BinaryCopyInWriter`), the fastest way in: measured here, several times the rate of
//! multi-row `INSERT`s (see BENCHMARKS.md). sqlx does not offer binary COPY.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::Sink;
use crate::entry::AuditEntry;
use crate::error::SinkError;

mod reader;
mod schema;
mod spool;

use crate::redact::url_without_password;
pub use reader::PostgresReader;
pub use schema::Partitioning;
use schema::{column_list, column_types, qualified, valid_identifier};
/// The table's row form, for the benchmarks and the round-trip tests: not part of the API.
#[doc(hidden)]
pub use schema::{column_names, entry_from_row, RowValues};
use spool::Spool;

/// Configures a [`PostgresSink`]; made by [`PostgresSink::builder`].
#[derive(Debug, Clone)]
pub struct PostgresSinkBuilder {
    config: tokio_postgres::Config,
    schema: String,
    table: String,
    spool_dir: PathBuf,
    spool_max_bytes: u64,
    connect_timeout: Duration,
    tls: TlsOptions,
    partitioning: Option<Partitioning>,
    retention_days: Option<u32>,
}

/// TLS settings (feature `postgres-tls`), used as the URL's `sslmode` says (`prefer`, the
/// default, tries TLS first; `require` insists; `disable` never) and verified as libpq does:
/// without a root certificate, the connection is encrypted but the server is not authenticated;
/// with one, its certificate chain and host name are checked.
#[derive(Debug, Clone, Default)]
struct TlsOptions {
    root_cert: Option<PathBuf>,
    verify: Option<bool>,
}

impl PostgresSinkBuilder {
    /// Creates the table partitioned by range of `ts`, one partition per day or month, created
    /// ahead on start and each day, plus a default partition for anything outside them. Decided
    /// when the table is created: an existing table keeps its layout.
    #[must_use]
    pub fn partition_by(mut self, partitioning: Partitioning) -> Self {
        self.partitioning = Some(partitioning);
        self
    }

    /// Drops whole partitions older than `days` days (needs [`partition_by`](Self::partition_by):
    /// rows are never deleted one by one, so the table can stay append-only for the application).
    #[must_use]
    pub fn retention_days(mut self, days: u32) -> Self {
        self.retention_days = Some(days);
        self
    }

    /// Trusts this PEM certificate (a private CA, or the server's own self-signed certificate)
    /// besides the system's roots, and from then on verifies the server's certificate and host
    /// name (like libpq with `sslrootcert`). Feature `postgres-tls`.
    #[must_use]
    pub fn tls_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.root_cert = Some(path.into());
        self
    }

    /// Whether the server's certificate and host name are verified (default: when a root
    /// certificate is given, as libpq). `false` encrypts without authenticating the server:
    /// only where a man in the middle is ruled out otherwise. Feature `postgres-tls`.
    #[must_use]
    pub fn tls_verify(mut self, verify: bool) -> Self {
        self.tls.verify = Some(verify);
        self
    }

    /// The schema of the table (default `public`); created if missing.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The table (default `audit_log`).
    #[must_use]
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Where batches wait while the database is unreachable (default `./audit_spool`).
    #[must_use]
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = dir.into();
        self
    }

    /// The most the spool may hold (default 1 GiB); past it, writes fail and the pipeline's
    /// retry and overflow policies take over.
    #[must_use]
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.spool_max_bytes = bytes;
        self
    }

    /// How long one connection attempt may take (default 5 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Checks the settings and opens the spool. The connection is made on the first write (and
    /// the table created then), so an application starts even while the database is down.
    pub fn open(self) -> Result<PostgresSink, SinkError> {
        for name in [&self.schema, &self.table] {
            if !valid_identifier(name) {
                return Err(SinkError::Invalid(format!(
                    "`{name}` is not accepted as a PostgreSQL schema or table name: use lower-case letters, digits and _ (at most 48, not starting with a digit)"
                )));
            }
        }
        if self.retention_days.is_some() && self.partitioning.is_none() {
            return Err(SinkError::Invalid(
                "retention drops whole partitions: set partition_by (audit_partition=day|month) with retention_days".into(),
            ));
        }
        let spool = Spool::open(self.spool_dir, self.spool_max_bytes)?;
        let tls = tls_connector(&self.tls, &self.config)?;
        Ok(PostgresSink {
            tls,
            partitioning: self.partitioning,
            retention_days: self.retention_days,
            maintained_on: None,
            config: self.config,
            target: qualified(&self.schema, &self.table),
            staging: format!("\"{}_staging\"", self.table),
            schema: self.schema,
            table: self.table,
            spool,
            connect_timeout: self.connect_timeout,
            client: None,
            next_connect: Instant::now(),
            backoff: INITIAL_BACKOFF,
            stats: PostgresStats::default(),
        })
    }
}

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

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
    client: Option<Client>,
    next_connect: Instant,
    backoff: Duration,
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
    /// A builder for a sink writing to the database at `url`
    /// (`postgres://user:password@host:port/database`).
    pub fn builder(url: &str) -> Result<PostgresSinkBuilder, SinkError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            SinkError::Invalid(format!(
                "`{}` is not a PostgreSQL URL ({e}); expected postgres://user:password@host:port/database",
                url_without_password(url)
            ))
        })?;
        Ok(PostgresSinkBuilder {
            config,
            schema: "public".into(),
            table: "audit_log".into(),
            spool_dir: PathBuf::from("./audit_spool"),
            spool_max_bytes: 1 << 30,
            connect_timeout: Duration::from_secs(5),
            tls: TlsOptions::default(),
            partitioning: None,
            retention_days: None,
        })
    }

    /// The counters of this sink.
    pub fn stats(&self) -> PostgresStats {
        self.stats.clone()
    }

    /// `"schema"."table"`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Connects now (and creates the table), instead of on the first write: fails fast when
    /// the database is unreachable or the role lacks rights.
    pub async fn connect(&mut self) -> Result<(), SinkError> {
        if self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(());
        }
        match self.try_connect().await {
            Ok(client) => {
                self.connected(client);
                Ok(())
            }
            Err(cause) => Err(SinkError::Database {
                action: "connect for",
                target: self.target.clone(),
                detail: cause.to_string(),
            }),
        }
    }

    /// Whether a live connection exists, connecting (at most as often as the backoff allows).
    async fn ensure_connected(&mut self) -> bool {
        if self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return true;
        }
        if self.client.take().is_some() {
            tracing::warn!(table = %self.target, "the PostgreSQL connection was lost; reconnecting");
        }
        if Instant::now() < self.next_connect {
            return false;
        }
        match self.try_connect().await {
            Ok(client) => {
                self.connected(client);
                true
            }
            Err(e) => {
                self.next_connect = Instant::now() + self.backoff;
                tracing::warn!(table = %self.target, retry_in = ?self.backoff, error = %e, "cannot reach PostgreSQL; spooling audit batches locally");
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                false
            }
        }
    }

    fn connected(&mut self, client: Client) {
        self.client = Some(client);
        self.backoff = INITIAL_BACKOFF;
        self.stats.inner.connects.fetch_add(1, Ordering::Relaxed);
    }

    async fn try_connect(&self) -> Result<Client, String> {
        let mut client = match &self.tls {
            #[cfg(feature = "postgres-tls")]
            Some(tls) => {
                open_connection(self.config.connect(tls.clone()), self.connect_timeout).await?
            }
            _ => open_connection(self.config.connect(NoTls), self.connect_timeout).await?,
        };
        let applied = schema::migrate(&mut client, &self.schema, &self.table, self.partitioning)
            .await
            .map_err(|e| format!("creating the audit table failed: {}", describe(&e)))?;
        if !applied.is_empty() {
            tracing::info!(table = %self.target, migrations = ?applied, "created the audit table");
        }
        Ok(client)
    }

    /// Replays the spool, oldest first; stops at the first batch that fails.
    async fn replay(&mut self) -> Result<(), tokio_postgres::Error> {
        let files = match self.spool.files() {
            Ok(files) => files,
            Err(e) => {
                tracing::error!(error = %e, "cannot list the PostgreSQL spool");
                return Ok(());
            }
        };
        for file in files {
            let batch = match self.spool.read(&file) {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::error!(error = %e, "unreadable spool file set aside (renamed to .bad)");
                    self.spool.quarantine(&file);
                    continue;
                }
            };
            self.copy_deduplicated(&batch).await?;
            if let Err(e) = self.spool.remove(&file, batch.len()) {
                // It would be replayed again: harmless, deduplicated.
                tracing::error!(error = %e, "could not remove a replayed spool file");
            }
            self.stats
                .inner
                .replayed_batches
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(file = %file.display(), entries = batch.len(), "replayed spooled audit batch");
        }
        Ok(())
    }

    async fn copy(&mut self, batch: &[AuditEntry]) -> Result<(), tokio_postgres::Error> {
        let Some(client) = self.client.as_ref() else {
            return Ok(());
        };
        let rows = copy_entries(client, &self.target, batch).await?;
        self.stats.inner.copied.fetch_add(rows, Ordering::Relaxed);
        Ok(())
    }

    /// COPY into a staging table, then insert what is not there yet: safe to repeat.
    async fn copy_deduplicated(
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

    /// Creates upcoming partitions and drops expired ones, once per UTC day. Failures (an
    /// insert-only role cannot create tables) are logged: the default partition takes the rows.
    pub async fn maintain(&mut self) -> Result<Vec<String>, SinkError> {
        let Some(partitioning) = self.partitioning else {
            return Ok(Vec::new());
        };
        let Some(client) = self.client.as_mut() else {
            return Ok(Vec::new());
        };
        let dropped = schema::maintain_partitions(
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

    async fn write_connected(&mut self, batch: &[AuditEntry]) -> Result<(), tokio_postgres::Error> {
        let today = Some(time::OffsetDateTime::now_utc().date());
        if self.partitioning.is_some() && self.maintained_on != today {
            if let Err(e) = self.maintain().await {
                tracing::warn!(error = %e, "audit partitions not maintained; rows outside them go to the default partition");
                self.maintained_on = today;
            }
        }
        self.replay().await?;
        match self.copy(batch).await {
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tracing::info!(table = %self.target, entries = batch.len(), "batch partly stored already (a retry); writing it deduplicated");
                self.copy_deduplicated(batch).await
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
                tracing::error!(table = %self.target, error = %describe(&e), "PostgreSQL refused an audit batch");
                if self.client.as_ref().is_none_or(|c| c.is_closed()) || e.as_db_error().is_none() {
                    self.client = None;
                }
                // A refused batch may have reached the server: its replay is deduplicated.
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
        self.replay().await.map_err(|e| SinkError::Database {
            action: "replay the spool into",
            target: self.target.clone(),
            detail: describe(&e),
        })
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        let pending = self.spool.files().map(|f| f.len()).unwrap_or(0);
        if pending > 0 {
            // One last attempt, whatever the backoff says: the process is about to stop.
            self.next_connect = Instant::now();
        }
        if pending > 0 && self.ensure_connected().await {
            if let Err(e) = self.replay().await {
                tracing::warn!(error = %describe(&e), "spooled audit batches stay in the spool until the next start");
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

#[cfg(feature = "postgres-tls")]
type Tls = postgres_native_tls::MakeTlsConnector;
#[cfg(not(feature = "postgres-tls"))]
type Tls = std::convert::Infallible;

/// The TLS connector the settings and the URL's `sslmode` call for (`None`: plain TCP).
#[cfg(feature = "postgres-tls")]
fn tls_connector(
    options: &TlsOptions,
    config: &tokio_postgres::Config,
) -> Result<Option<Tls>, SinkError> {
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Disable {
        return Ok(None);
    }
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &options.root_cert {
        let pem = std::fs::read(path)
            .map_err(|e| SinkError::io("read the TLS root certificate", path, e))?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            SinkError::Tls(format!("{} is not a PEM certificate: {e}", path.display()))
        })?;
        builder.add_root_certificate(cert);
    }
    let verify = options.verify.unwrap_or(options.root_cert.is_some());
    builder.danger_accept_invalid_certs(!verify);
    builder.danger_accept_invalid_hostnames(!verify);
    let connector = builder
        .build()
        .map_err(|e| SinkError::Tls(format!("could not be set up: {e}")))?;
    Ok(Some(postgres_native_tls::MakeTlsConnector::new(connector)))
}

#[cfg(not(feature = "postgres-tls"))]
fn tls_connector(
    options: &TlsOptions,
    config: &tokio_postgres::Config,
) -> Result<Option<Tls>, SinkError> {
    let asks_tls = config.get_ssl_mode() == tokio_postgres::config::SslMode::Require
        || options.root_cert.is_some()
        || options.verify.is_some();
    if asks_tls {
        return Err(SinkError::Tls(
            "asked for (sslmode=require or a TLS option), but audit-core was built without its `postgres-tls` feature: enable it".into(),
        ));
    }
    Ok(None)
}

/// Waits for a connection (at most `timeout`) and drives it on its own task.
async fn open_connection<S, T>(
    connecting: impl std::future::Future<
        Output = Result<(Client, tokio_postgres::Connection<S, T>), tokio_postgres::Error>,
    >,
    timeout: Duration,
) -> Result<Client, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
        .map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// The error with the server's message, detail and SQLSTATE, which `Display` leaves out.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(": ");
                text.push_str(detail);
            }
            text
        }
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
