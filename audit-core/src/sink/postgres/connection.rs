//! Connecting: TLS as the URL and settings ask, a bounded wait, the table created on the first
//! connection, and reconnection with exponential backoff while the database is away.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

use super::builder::TlsOptions;
use super::{schema, PostgresSink};
use crate::error::SinkError;

pub(super) const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl PostgresSink {
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
    pub(super) async fn ensure_connected(&mut self) -> bool {
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
}

#[cfg(feature = "postgres-tls")]
pub(super) type Tls = postgres_native_tls::MakeTlsConnector;
#[cfg(not(feature = "postgres-tls"))]
pub(super) type Tls = std::convert::Infallible;

/// The TLS connector the settings and the URL's `sslmode` call for (`None`: plain TCP).
#[cfg(feature = "postgres-tls")]
pub(super) fn tls_connector(
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
pub(super) fn tls_connector(
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
pub(super) async fn open_connection<S, T>(
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
