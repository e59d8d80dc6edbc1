//! The command line: commands, their arguments, and the filters they share.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::CliError;
use crate::{filter, source, stats, verify};

#[derive(Parser)]
#[command(
    name = "audit",
    version,
    about = "Query, summarise and follow audit logs written by audited"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Entries that match the filters.
    Query {
        #[command(flatten)]
        select: Select,
        /// Output format: the stored lines, a table, CSV, or the entries in a SIEM's schema
        /// (otel, ecs, ocsf, cef; see docs/schema.md).
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Count, error rate, p50/p95/p99/max duration and bytes per group.
    Stats {
        #[command(flatten)]
        select: Select,
        /// What to group by.
        #[arg(long, value_enum, default_value = "endpoint")]
        by: stats::By,
        /// JSON instead of an aligned table.
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML page with a latency histogram and a calls-over-time
        /// chart per group, for people who would rather look than read.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Checks the tamper-evident chains: edited, deleted, reordered or added entries, torn
    /// lines, checkpoints and a cut-off tail. Exit status 0 only when the log is intact.
    Verify {
        /// A JSONL file or a directory of them.
        source: PathBuf,
        /// The checkpoint key (hex digits or raw bytes in a file); default: the
        /// AUDIT_CHECKPOINT_KEY variable. With a key, checkpoints must be signed with it.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Accept chains without their final checkpoint (a log still being written).
        #[arg(long)]
        allow_open: bool,
        /// A head published earlier (CHAIN:SEQ:HASH, from --heads) that must still be there,
        /// unchanged; repeatable.
        #[arg(long = "expect", value_name = "CHAIN:SEQ:HASH")]
        expect: Vec<verify::Head>,
        /// Print each chain's head (CHAIN:SEQ:HASH) to publish outside the log.
        #[arg(long)]
        heads: bool,
    },
    /// An operation's whole lifecycle: its stages, retries, compensations and saga steps, with
    /// durations and outcomes, from the first operation of its lineage.
    Show {
        /// A JSONL file or a directory of them, or a postgres:// URL.
        source: PathBuf,
        /// An operation id (`operation.id`), or the id of one of its entries.
        operation_id: String,
        /// The entries as JSON lines instead of a tree.
        #[arg(long)]
        json: bool,
    },
    /// The operations in the log; with --retryable, failures marked retryable that no retry
    /// has made good yet; with --compensated, successful actions that were compensated.
    Operations {
        #[command(flatten)]
        select: Select,
        /// Retryable failures without a successful retry (one per retry chain).
        #[arg(long, conflicts_with = "compensated")]
        retryable: bool,
        /// Successful actions that were compensated, with their compensations.
        #[arg(long)]
        compensated: bool,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Moves entries from a NATS JetStream stream into a sink, acking each batch only after
    /// the sink stored it (feature `nats`). Several collectors on one consumer share the work.
    Collect {
        /// The stream: nats://host:4222?stream=AUDIT&consumer=NAME (the sink's grammar).
        source: PathBuf,
        /// Where entries go: any AUDIT_SINK (postgres://…, jsonl:DIR).
        #[arg(long)]
        to: String,
        /// The most entries written at once.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// How long a fetch waits for a batch to fill (500ms, 2s).
        #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
        max_wait: std::time::Duration,
        /// Stop once no entry came for this long (for batch runs; default: run until SIGTERM).
        #[arg(long, value_parser = humantime::parse_duration)]
        idle_exit: Option<std::time::Duration>,
        /// How long the server waits for a collector's ack before another gets the message
        /// (set when the durable consumer is created).
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        ack_wait: std::time::Duration,
    },
    /// The last entries as one human line each; with --follow, new ones as they are written.
    Tail {
        /// A JSONL file or a directory of them.
        source: PathBuf,
        /// How many of the last entries to show first.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
        /// Keep watching for new entries (Ctrl-C to stop).
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(Args)]
pub struct Select {
    /// A JSONL file or a directory of them.
    pub source: PathBuf,
    /// From this time on: RFC 3339, or a span back from now (30m, 2h, 7d).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long)]
    pub endpoint: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// A status (404) or a class (5xx).
    #[arg(long)]
    pub status: Option<String>,
    /// success, client_error, server_error, error, panic, cancelled or pending.
    #[arg(long)]
    pub outcome: Option<String>,
    #[arg(long)]
    pub correlation_id: Option<String>,
    /// Only this tenant's entries.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Entries with this tag; repeatable, all must be there.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// PATH=VALUE on the entry's JSON, dotted (request.client_id=CLIENT-001); repeatable, all must hold.
    #[arg(long = "where")]
    pub wheres: Vec<String>,
}

/// Which operations `audit operations` lists.
#[derive(Clone, Copy)]
pub enum OperationsView {
    All,
    Retryable,
    Compensated,
}

impl OperationsView {
    pub fn of(retryable: bool, compensated: bool) -> Self {
        match (retryable, compensated) {
            (true, _) => OperationsView::Retryable,
            (_, true) => OperationsView::Compensated,
            _ => OperationsView::All,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    /// The entries' own JSON lines, as stored.
    Jsonl,
    /// An aligned table of the main columns.
    Table,
    /// CSV of the main columns.
    Csv,
    /// OpenTelemetry log records (OTLP/JSON), one per line.
    Otel,
    /// Elastic Common Schema documents, one per line.
    Ecs,
    /// OCSF API Activity (class 6003) events, one per line.
    Ocsf,
    /// ArcSight CEF lines.
    Cef,
}

impl Select {
    pub fn filter(&self) -> Result<filter::Filter, CliError> {
        let now = time::OffsetDateTime::now_utc();
        Ok(filter::Filter {
            since: self
                .since
                .as_deref()
                .map(|t| filter::parse_time(t, now))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| filter::parse_time(t, now))
                .transpose()?,
            endpoint: self.endpoint.clone(),
            user: self.user.clone(),
            status: self
                .status
                .as_deref()
                .map(filter::parse_status)
                .transpose()?,
            outcome: self.outcome.clone(),
            correlation_id: self.correlation_id.clone(),
            tenant: self.tenant.clone(),
            tags: self.tags.clone(),
            wheres: self
                .wheres
                .iter()
                .map(|w| filter::parse_where(w))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The filters in words, for the HTML report's header.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                parts.push(format!("{name} {value}"));
            }
        };
        add("since", &self.since);
        add("until", &self.until);
        add("endpoint", &self.endpoint);
        add("user", &self.user);
        add("status", &self.status);
        add("outcome", &self.outcome);
        add("correlation id", &self.correlation_id);
        add("tenant", &self.tenant);
        for tag in &self.tags {
            parts.push(format!("tag {tag}"));
        }
        for clause in &self.wheres {
            parts.push(format!("where {clause}"));
        }
        if parts.is_empty() {
            "no filters".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// The SOURCE, and how to read it: for PostgreSQL, the filters as SQL (and the limit,
    /// when SQL holds every filter).
    pub fn open(
        &self,
        limit: Option<usize>,
    ) -> Result<(source::Source, source::SqlQuery), CliError> {
        let source = source::Source::open(&self.source)?;
        let sql = self.filter()?.to_sql();
        let query = source::SqlQuery {
            limit: limit.filter(|_| sql.complete).map(|n| n as u64),
            condition: sql.condition,
            params: sql.params,
            order: "ts, id",
        };
        Ok((source, query))
    }
}
