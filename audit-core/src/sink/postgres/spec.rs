//! `postgres://…`: the PostgreSQL sink's part of `AUDIT_SINK`: the driver's URL, with the
//! sink's own `audit_*` options taken out of its query.

use super::{Partitioning, PostgresSink, PostgresSinkBuilder, TlsProvider};
use crate::error::SinkError;
use crate::redact::url_without_password;

/// The PostgreSQL sink's settings from `postgres://…`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresSpec {
    /// The connection URL, without the sink's own options.
    pub url: String,
    /// `audit_schema=` (default `public`).
    pub schema: Option<String>,
    /// `audit_table=` (default `audit_log`).
    pub table: Option<String>,
    /// `audit_spool=` (default `./audit_spool/<host>_<port>_<database>_<schema>.<table>`).
    pub spool_dir: Option<std::path::PathBuf>,
    /// `audit_tls_ca=PATH`: a PEM certificate to trust (feature `postgres-tls`).
    pub tls_root_cert: Option<std::path::PathBuf>,
    /// `audit_tls_verify=true|false`: whether the server's certificate is checked (default:
    /// when `audit_tls_ca` is given).
    pub tls_verify: Option<bool>,
    /// `audit_tls_provider=rustls|native`: which TLS implementation, when both are built in.
    pub tls_provider: Option<TlsProvider>,
    /// `audit_partition=day|month`.
    pub partitioning: Option<Partitioning>,
    /// `audit_retention_days=N` (with `audit_partition`).
    pub retention_days: Option<u32>,
    /// `audit_write_timeout=10s`: how long one batch's statement may take before the batch is
    /// spooled.
    pub write_timeout: Option<std::time::Duration>,
}

impl PostgresSpec {
    /// A sink builder with these settings (also for [`PostgresSinkBuilder::open_reader`](PostgresSinkBuilder::open_reader)).
    pub fn builder(&self) -> Result<PostgresSinkBuilder, SinkError> {
        let mut builder = PostgresSink::builder(&self.url)?;
        if let Some(schema) = &self.schema {
            builder = builder.schema(schema);
        }
        if let Some(table) = &self.table {
            builder = builder.table(table);
        }
        if let Some(dir) = &self.spool_dir {
            builder = builder.spool_dir(dir);
        }
        if let Some(path) = &self.tls_root_cert {
            builder = builder.tls_root_cert(path);
        }
        if let Some(verify) = self.tls_verify {
            builder = builder.tls_verify(verify);
        }
        if let Some(provider) = self.tls_provider {
            builder = builder.tls_provider(provider);
        }
        if let Some(partitioning) = self.partitioning {
            builder = builder.partition_by(partitioning);
        }
        if let Some(days) = self.retention_days {
            builder = builder.retention_days(days);
        }
        if let Some(timeout) = self.write_timeout {
            builder = builder.write_timeout(timeout);
        }
        Ok(builder)
    }
}

impl std::fmt::Debug for PostgresSpec {
    /// Shows the URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSpec")
            .field("url", &url_without_password(&self.url))
            .field("schema", &self.schema)
            .field("table", &self.table)
            .field("spool_dir", &self.spool_dir)
            .field("tls_root_cert", &self.tls_root_cert)
            .field("tls_verify", &self.tls_verify)
            .field("tls_provider", &self.tls_provider)
            .field("partitioning", &self.partitioning)
            .field("retention_days", &self.retention_days)
            .field("write_timeout", &self.write_timeout)
            .finish()
    }
}

impl PostgresSpec {
    /// Parses a `postgres://` URL; the error says which option is wrong and what it takes.
    pub(crate) fn parse(spec: &str) -> Result<PostgresSpec, String> {
        let (base, query) = spec.split_once('?').unwrap_or((spec, ""));
        let mut out = PostgresSpec {
            url: String::new(),
            schema: None,
            table: None,
            spool_dir: None,
            tls_root_cert: None,
            tls_verify: None,
            tls_provider: None,
            partitioning: None,
            retention_days: None,
            write_timeout: None,
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("audit_schema", v)) => out.schema = Some(v.to_owned()),
                Some(("audit_table", v)) => out.table = Some(v.to_owned()),
                Some(("audit_spool", v)) => out.spool_dir = Some(v.into()),
                Some(("audit_tls_ca", v)) => out.tls_root_cert = Some(v.into()),
                Some(("audit_tls_verify", v)) => out.tls_verify = Some(v != "false"),
                Some(("audit_tls_provider", v)) => {
                    out.tls_provider = Some(match v {
                        "rustls" => TlsProvider::Rustls,
                        "native" => TlsProvider::Native,
                        _ => {
                            return Err(format!(
                                "option `audit_tls_provider` takes rustls or native, not `{v}`"
                            ))
                        }
                    })
                }
                Some(("audit_partition", v)) => {
                    out.partitioning = Some(match v {
                        "day" => Partitioning::Daily,
                        "month" => Partitioning::Monthly,
                        _ => {
                            return Err(format!(
                                "option `audit_partition` takes day or month, not `{v}`"
                            ))
                        }
                    })
                }
                Some(("audit_retention_days", v)) => {
                    out.retention_days = Some(v.parse().map_err(|_| {
                        format!("option `audit_retention_days` takes a whole number, not `{v}`")
                    })?)
                }
                Some(("audit_write_timeout", v)) => {
                    out.write_timeout = Some(humantime::parse_duration(v).map_err(|_| {
                        format!("option `audit_write_timeout` takes a duration (`10s`, `500ms`), not `{v}`")
                    })?)
                }
                _ => kept.push(pair),
            }
        }
        out.url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(out)
    }
}
