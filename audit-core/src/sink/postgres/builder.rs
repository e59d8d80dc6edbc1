//! Configuring a [`PostgresSink`]: table, spool, partitions, retention, TLS.

use std::path::PathBuf;
use std::time::Duration;

use super::connection::{INITIAL_BACKOFF, MAX_BACKOFF};
use super::partitions::Partitioning;
use super::schema::{qualified, valid_identifier};
use super::tls::{self, TlsOptions, TlsProvider};
use super::{PostgresSink, PostgresStats};
use crate::error::SinkError;
use crate::redact::url_without_password;
use crate::sink::backoff::Backoff;
use crate::sink::spool::Spool;

/// Configures a [`PostgresSink`]; made by [`PostgresSink::builder`].
#[derive(Debug, Clone)]
pub struct PostgresSinkBuilder {
    pub(super) config: tokio_postgres::Config,
    pub(super) schema: String,
    pub(super) table: String,
    pub(super) spool_dir: Option<PathBuf>,
    pub(super) spool_max_bytes: u64,
    pub(super) connect_timeout: Duration,
    pub(super) write_timeout: Duration,
    pub(super) tls: TlsOptions,
    pub(super) partitioning: Option<Partitioning>,
    pub(super) retention_days: Option<u32>,
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
    /// name (like libpq with `sslrootcert`). Features `postgres-rustls` or `postgres-tls`.
    #[must_use]
    pub fn tls_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.root_cert = Some(path.into());
        self
    }

    /// Whether the server's certificate and host name are verified (default: when a root
    /// certificate is given, as libpq). `false` encrypts without authenticating the server:
    /// only where a man in the middle is ruled out otherwise. Features `postgres-rustls` or
    /// `postgres-tls`.
    #[must_use]
    pub fn tls_verify(mut self, verify: bool) -> Self {
        self.tls.verify = Some(verify);
        self
    }

    /// Which TLS implementation connects, when both are built in (default: rustls when the
    /// `postgres-rustls` feature is on).
    #[must_use]
    pub fn tls_provider(mut self, provider: TlsProvider) -> Self {
        self.tls.provider = Some(provider);
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

    /// Where batches wait while the database is unreachable (default
    /// `./audit_spool/<host>_<port>_<database>_<schema>.<table>`, one per destination).
    #[must_use]
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
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

    /// How long one statement may take (default 10 s): a batch's `COPY`, each spooled batch's
    /// replay, the table's creation; a backlog of many spooled batches is not cut short by it.
    /// A database that stops answering without closing the connection (a network partition, a
    /// frozen server) would otherwise hold the writer until TCP gives up, many minutes later,
    /// while the queue fills; past this time the connection is dropped and the batch spooled
    /// (its replay is deduplicated, so a batch that did reach the table is not stored twice).
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout.max(Duration::from_millis(1));
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
        let spool_dir = match self.spool_dir {
            Some(dir) => dir,
            None => default_spool_dir(&self.config, &self.schema, &self.table),
        };
        let spool = Spool::open(spool_dir, self.spool_max_bytes)?;
        let tls = tls::connector(&self.tls, &self.config)?;
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
            write_timeout: self.write_timeout,
            client: None,
            backoff: Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF),
            stats: PostgresStats::default(),
        })
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
            spool_dir: None,
            spool_max_bytes: 1 << 30,
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
            tls: TlsOptions::default(),
            partitioning: None,
            retention_days: None,
        })
    }
}

/// `./audit_spool/<host>_<port>_<database>_<schema>.<table>`: two databases or tables never
/// share a spool, so neither replays the other's batches.
fn default_spool_dir(config: &tokio_postgres::Config, schema: &str, table: &str) -> PathBuf {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    crate::sink::spool::default_dir(
        "./audit_spool",
        &format!("{host}_{port}_{database}_{schema}.{table}"),
    )
}

#[cfg(test)]
mod tests {
    use super::default_spool_dir;
    use std::path::Path;

    #[test]
    fn each_table_has_its_own_default_spool_without_credentials() {
        let config = "postgres://app:s3cret@db.internal:5433/prod"
            .parse()
            .unwrap();
        assert_eq!(
            default_spool_dir(&config, "audit", "audit_log"),
            Path::new("./audit_spool/db.internal_5433_prod_audit.audit_log")
        );
        assert_ne!(
            default_spool_dir(&config, "audit", "audit_log"),
            default_spool_dir(&config, "billing", "audit_log")
        );
    }
}
