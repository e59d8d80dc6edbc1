//! `AUDIT_SINK`'s grammar: the list of sinks, each parsed by its own sink's spec, shown
//! without secrets, and opened.

use super::invalid;
use crate::error::ConfigError;
use crate::sink::{Sink, StdoutFormat, StdoutSink};

#[cfg(feature = "http")]
use crate::sink::http::HttpSpec;
#[cfg(feature = "jsonl")]
use crate::sink::jsonl::JsonlSpec;
#[cfg(feature = "nats")]
use crate::sink::nats::NatsSpec;
#[cfg(feature = "postgres")]
use crate::sink::postgres::PostgresSpec;
#[cfg(feature = "syslog")]
use crate::sink::syslog::SyslogSpec;

const SINK_ACCEPTED: &str = "a comma-separated list of `stdout`, `stdout:pretty`, `jsonl:DIR`, \
`jsonl:DIR?sync=never|every_batch|500ms&max_file_bytes=N&compress=gzip|zstd&max_age_days=N&max_files=N` or \
`postgres://user@host/db?audit_schema=S&audit_table=T&audit_spool=DIR&audit_partition=day|month&audit_retention_days=N&audit_write_timeout=10s&sslmode=require&audit_tls_ca=PEM&audit_tls_provider=rustls|native` (feature `postgres`) or \
`nats://host:4222?stream=AUDIT&subject=audit.{service}&servers=h2:4222;h3:4222&replicas=N&creds=FILE&spool=DIR` (feature `nats`) or \
`syslog+tcp://host:514?format=native|otel|ecs|ocsf|cef&facility=local0&app_name=A&spool=DIR`, `syslog+tls://…&tls_ca=PEM&tls_cert=PEM&tls_key=PEM`, `syslog+relp://…`, `syslog+relp+tls://…`, `syslog+udp://…` (feature `syslog`) or \
`https://host/path?format=ecs&encoding=ndjson|array|otlp|splunk&gzip=true&header.Authorization=…&batch_entries=N&batch_bytes=N&spool=DIR` (feature `http`)";

/// One sink named in `AUDIT_SINK`.
///
/// ```
/// use audit_core::SinkSpec;
///
/// let specs = SinkSpec::parse_list("jsonl:./audit_logs?sync=every_batch, stdout:pretty").unwrap();
/// assert_eq!(specs.len(), 2);
/// assert!(SinkSpec::parse_list("kafka://broker").unwrap_err().to_string().contains("accepted"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkSpec {
    /// `stdout` (JSON lines) or `stdout:pretty`.
    Stdout(StdoutFormat),
    /// `jsonl:DIR[?options]`.
    #[cfg(feature = "jsonl")]
    Jsonl(JsonlSpec),
    /// `postgres://…` or `postgresql://…`, with the sink's own options `audit_schema`,
    /// `audit_table` and `audit_spool` taken out of the URL's query.
    #[cfg(feature = "postgres")]
    Postgres(PostgresSpec),
    /// `nats://…`: a JetStream stream (see [`NatsSpec`] for the options).
    #[cfg(feature = "nats")]
    Nats(NatsSpec),
    /// `syslog+tcp://…`, `syslog+tls://…`, `syslog+relp://…`, `syslog+relp+tls://…`,
    /// `syslog+udp://…` (see [`SyslogSpec`]).
    #[cfg(feature = "syslog")]
    Syslog(SyslogSpec),
    /// `http://…` or `https://…` (see [`HttpSpec`]).
    #[cfg(feature = "http")]
    Http(HttpSpec),
}

impl SinkSpec {
    /// Parses a comma-separated list, as in `AUDIT_SINK`.
    pub fn parse_list(list: &str) -> Result<Vec<SinkSpec>, ConfigError> {
        let specs: Vec<SinkSpec> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SinkSpec::parse)
            .collect::<Result<_, _>>()?;
        if specs.is_empty() {
            return Err(invalid("AUDIT_SINK", list, "no sink named", SINK_ACCEPTED));
        }
        Ok(specs)
    }

    /// Parses one sink.
    pub fn parse(spec: &str) -> Result<SinkSpec, ConfigError> {
        let fail = |reason: String| invalid("AUDIT_SINK", &shown(spec), reason, SINK_ACCEPTED);
        match spec {
            "stdout" | "stdout:json" => return Ok(SinkSpec::Stdout(StdoutFormat::Json)),
            "stdout:pretty" => return Ok(SinkSpec::Stdout(StdoutFormat::Pretty)),
            _ => {}
        }
        if let Some(rest) = spec.strip_prefix("jsonl:") {
            #[cfg(feature = "jsonl")]
            return JsonlSpec::parse(rest).map(SinkSpec::Jsonl).map_err(fail);
            #[cfg(not(feature = "jsonl"))]
            {
                let _ = rest;
                return Err(fail(
                    "the `jsonl` feature of audit-core is not enabled".into(),
                ));
            }
        }
        if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return PostgresSpec::parse(spec)
                .map(SinkSpec::Postgres)
                .map_err(fail);
            #[cfg(not(feature = "postgres"))]
            return Err(fail(
                "the `postgres` feature of audit-core is not enabled".into(),
            ));
        }
        if spec.starts_with("nats://") {
            #[cfg(feature = "nats")]
            return NatsSpec::parse(spec).map(SinkSpec::Nats).map_err(fail);
            #[cfg(not(feature = "nats"))]
            return Err(fail(
                "the `nats` feature of audit-core is not enabled".into(),
            ));
        }
        if spec.starts_with("syslog+") || spec.starts_with("syslog:") {
            #[cfg(feature = "syslog")]
            return SyslogSpec::parse(spec).map(SinkSpec::Syslog).map_err(fail);
            #[cfg(not(feature = "syslog"))]
            return Err(fail(
                "the `syslog` feature of audit-core is not enabled".into(),
            ));
        }
        if spec.starts_with("http://") || spec.starts_with("https://") {
            #[cfg(feature = "http")]
            return HttpSpec::parse(spec).map(SinkSpec::Http).map_err(fail);
            #[cfg(not(feature = "http"))]
            return Err(fail(
                "the `http` feature of audit-core is not enabled".into(),
            ));
        }
        let scheme = spec.split(':').next().unwrap_or(spec);
        Err(fail(format!("unknown sink `{scheme}`")))
    }

    /// Opens the sink.
    pub fn open(&self) -> Result<Box<dyn Sink>, ConfigError> {
        match self {
            SinkSpec::Stdout(format) => Ok(Box::new(StdoutSink::new(*format))),
            #[cfg(feature = "jsonl")]
            SinkSpec::Jsonl(spec) => {
                let sink = spec.open().map_err(|source| ConfigError::Sink {
                    spec: format!("jsonl:{}", spec.dir.display()),
                    source,
                })?;
                Ok(Box::new(sink))
            }
            #[cfg(feature = "postgres")]
            SinkSpec::Postgres(spec) => {
                let failed = |source| ConfigError::Sink {
                    spec: crate::redact::url_without_password(&spec.url),
                    source,
                };
                let builder = spec.builder().map_err(failed)?;
                Ok(Box::new(builder.open().map_err(failed)?))
            }
            #[cfg(feature = "nats")]
            SinkSpec::Nats(spec) => {
                let failed = |source| ConfigError::Sink {
                    spec: spec.describe_servers(),
                    source,
                };
                let builder = spec
                    .builder()
                    .map_err(|e| failed(crate::SinkError::Invalid(e)))?;
                Ok(Box::new(builder.open().map_err(failed)?))
            }
            #[cfg(feature = "syslog")]
            SinkSpec::Syslog(spec) => {
                let failed = |source| ConfigError::Sink {
                    spec: spec.target(),
                    source,
                };
                Ok(Box::new(spec.builder().open().map_err(failed)?))
            }
            #[cfg(feature = "http")]
            SinkSpec::Http(spec) => {
                let failed = |source| ConfigError::Sink {
                    spec: spec.target(),
                    source,
                };
                let builder = spec.builder().map_err(failed)?;
                Ok(Box::new(builder.open().map_err(failed)?))
            }
        }
    }
}

/// A sink as errors show it: no password in the URL, no header values (tokens).
fn shown(spec: &str) -> String {
    let (base, query) = spec.split_once('?').unwrap_or((spec, ""));
    let base = crate::redact::url_without_password(base);
    if query.is_empty() {
        return base;
    }
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.starts_with("header.") => {
                format!("{key}={}", crate::redact::REDACTED)
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

impl std::fmt::Display for SinkSpec {
    /// A short human description: `JSONL files in ./audit_logs`, `stdout (pretty)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkSpec::Stdout(StdoutFormat::Json) => f.write_str("stdout (JSON lines)"),
            SinkSpec::Stdout(StdoutFormat::Pretty) => f.write_str("stdout (pretty)"),
            #[cfg(feature = "jsonl")]
            SinkSpec::Jsonl(spec) => write!(f, "JSONL files in {}", spec.dir.display()),
            #[cfg(feature = "postgres")]
            SinkSpec::Postgres(spec) => write!(
                f,
                "PostgreSQL {} (table {}.{})",
                crate::redact::url_without_password(&spec.url),
                spec.schema.as_deref().unwrap_or("public"),
                spec.table.as_deref().unwrap_or("audit_log")
            ),
            #[cfg(feature = "nats")]
            SinkSpec::Nats(spec) => write!(
                f,
                "NATS JetStream {} (stream {})",
                spec.describe_servers(),
                spec.stream_name()
            ),
            #[cfg(feature = "syslog")]
            SinkSpec::Syslog(spec) => spec.fmt(f),
            #[cfg(feature = "http")]
            SinkSpec::Http(spec) => spec.fmt(f),
        }
    }
}
