//! Reading entries back from the audit table, for `audit` and other tools.

use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use super::connection::describe;
use super::row::entry_from_row;
use super::schema::{column_list, qualified, valid_identifier};
use super::tls;
use super::PostgresSinkBuilder;
use crate::entry::AuditEntry;
use crate::error::SinkError;

/// Rows fetched per round trip.
const CHUNK: i32 = 5_000;

/// Reads entries from the audit table; made by [`PostgresSinkBuilder::open_reader`].
///
/// A role with `SELECT` on the table is enough: the reader runs no migration and keeps no spool.
pub struct PostgresReader {
    client: Client,
    target: String,
}

impl PostgresSinkBuilder {
    /// Connects for reading only (same URL, schema, table and TLS settings as the sink).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), audit_core::SinkError> {
    /// use audit_core::postgres::PostgresSink;
    ///
    /// let mut reader = PostgresSink::builder("postgres://auditor@db/app")?.open_reader().await?;
    /// reader
    ///     .for_each("endpoint = $1", &[&"sow_create"], "ts, id", Some(10), |entry| {
    ///         println!("{} {}", entry.timestamp, entry.user);
    ///         true
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn open_reader(self) -> Result<PostgresReader, SinkError> {
        for name in [&self.schema, &self.table] {
            if !valid_identifier(name) {
                return Err(SinkError::Invalid(format!(
                    "`{name}` is not accepted as a PostgreSQL schema or table name: use lower-case letters, digits and _ (at most 48, not starting with a digit)"
                )));
            }
        }
        let target = qualified(&self.schema, &self.table);
        let tls = tls::connector(&self.tls, &self.config)?;
        let connected = tls::connect(&self.config, tls.as_ref(), self.connect_timeout).await;
        let client = connected.map_err(|cause| SinkError::Database {
            action: "connect to read",
            target: target.clone(),
            detail: cause.to_string(),
        })?;
        Ok(PostgresReader { client, target })
    }
}

impl PostgresReader {
    /// `"schema"."table"`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Calls `visit` with the entry of every row that satisfies `condition` (SQL over the
    /// table's columns, `$1`… bound to `params`; `"true"` for all), in `order` (SQL, e.g.
    /// `"ts, id"`), at most `limit`, until `visit` returns `false`.
    ///
    /// `condition` and `order` are put into the statement as they are: build them from column
    /// names, never from user input; values go into `params`. Rows are read through a cursor in
    /// chunks, in one read-only snapshot, so memory stays flat on a table of any size.
    pub async fn for_each(
        &mut self,
        condition: &str,
        params: &[&(dyn ToSql + Sync)],
        order: &str,
        limit: Option<u64>,
        mut visit: impl FnMut(AuditEntry) -> bool,
    ) -> Result<(), SinkError> {
        let limit = limit.map_or_else(String::new, |n| format!(" LIMIT {n}"));
        let sql = format!(
            "SELECT {} FROM {} WHERE {condition} ORDER BY {order}{limit}",
            column_list(),
            self.target
        );
        let failed = |e: tokio_postgres::Error| SinkError::Database {
            action: "read",
            target: self.target.clone(),
            detail: describe(&e),
        };
        let transaction = self
            .client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await
            .map_err(failed)?;
        let statement = transaction.prepare(&sql).await.map_err(failed)?;
        let portal = transaction.bind(&statement, params).await.map_err(failed)?;
        loop {
            let rows = transaction
                .query_portal(&portal, CHUNK)
                .await
                .map_err(failed)?;
            for row in &rows {
                let entry = entry_from_row(row).map_err(failed)?;
                if !visit(entry) {
                    return Ok(());
                }
            }
            if rows.len() < CHUNK as usize {
                return Ok(());
            }
        }
    }
}

impl std::fmt::Debug for PostgresReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresReader")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}
