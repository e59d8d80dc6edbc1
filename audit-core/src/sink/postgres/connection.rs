//! Connecting: a bounded wait (TLS as `tls.rs` sets it up), the table created on the first
//! connection, and reconnection with exponential backoff while the database is away.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_postgres::Client;

use super::{schema, tls, PostgresSink};
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
        if !self.backoff.ready() {
            return false;
        }
        match self.try_connect().await {
            Ok(client) => {
                self.connected(client);
                true
            }
            Err(e) => {
                let wait = self.backoff.failed(None);
                tracing::warn!(table = %self.target, retry_in = ?wait, error = %e, "cannot reach PostgreSQL; spooling audit batches locally");
                false
            }
        }
    }

    fn connected(&mut self, client: Client) {
        self.client = Some(client);
        self.backoff.succeeded();
        self.stats.inner.connects.fetch_add(1, Ordering::Relaxed);
    }

    async fn try_connect(&self) -> Result<Client, String> {
        let mut client =
            tls::connect(&self.config, self.tls.as_ref(), self.connect_timeout).await?;
        let migrating = schema::migrate(&mut client, &self.schema, &self.table, self.partitioning);
        let applied = super::bounded(self.write_timeout, migrating)
            .await
            .map_err(|e| format!("creating the audit table failed: {e}"))?;
        if !applied.is_empty() {
            tracing::info!(table = %self.target, migrations = ?applied, "created the audit table");
        }
        Ok(client)
    }
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
