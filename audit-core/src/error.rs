//! The errors of this crate: each says what failed and what to do about it.

use std::path::PathBuf;
use std::sync::Arc;

/// A sink could not write, flush or close.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// A file operation failed.
    #[error("audit sink could not {action} {path}: {source} (check that the directory exists, is writable and the disk has room)")]
    Io {
        /// What was being done (`open`, `write`, `sync`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An entry could not be serialised (a custom field holding a non-finite float, for instance).
    #[error("audit entry {id} could not be serialised: {source}")]
    Serialize {
        /// The entry's id.
        id: uuid::Uuid,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The sink was closed and takes no more entries.
    #[error("audit sink {0} is closed and takes no more entries")]
    Closed(&'static str),
    /// Several sinks failed (from [`Fanout`](crate::Fanout) or [`Fallback`](crate::Fallback)).
    #[error("{} audit sinks failed: {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Several(Vec<SinkError>),
    /// A sink's setting is not usable (a name, a URL, a combination of options).
    #[error("audit sink setting not usable: {0}")]
    Invalid(String),
    /// The database refused or failed an operation.
    #[error("PostgreSQL could not {action} {target}: {detail}")]
    Database {
        /// What was being done (`connect to`, `read`, `maintain the partitions of`, …).
        action: &'static str,
        /// The table, `"schema"."table"`.
        target: String,
        /// The server's or the driver's explanation.
        detail: String,
    },
    /// The message broker (NATS JetStream) refused or failed an operation.
    #[error("NATS could not {action} {target}: {detail}")]
    Broker {
        /// What was being done (`connect to`, `create the stream`, `publish to`, …).
        action: &'static str,
        /// The server(s) and stream.
        target: String,
        /// The server's or the client's explanation.
        detail: String,
    },
    /// A remote collector (an HTTP endpoint, a syslog server) refused or failed a batch.
    #[error("{service} {target} could not {action}: {detail}")]
    Remote {
        /// `the HTTP endpoint`, `the syslog collector`.
        service: &'static str,
        /// What was being done (`take a batch`, `connect`, …).
        action: &'static str,
        /// The endpoint, without credentials.
        target: String,
        /// The endpoint's or the client's explanation.
        detail: String,
    },
    /// TLS could not be set up, or was asked for in a build without it.
    #[error("TLS to the audit sink's server (database, collector, endpoint): {0}")]
    Tls(String),
    /// The local spool reached its bound while the database was away.
    #[error("the audit spool {} is full ({used} of {max} bytes): its destination (database, broker) has been unreachable too long; restore it or raise the spool bound", dir.display())]
    SpoolFull {
        /// The spool directory.
        dir: PathBuf,
        /// Bytes spooled.
        used: u64,
        /// The bound.
        max: u64,
    },
    /// A spooled batch could not be read back.
    #[error("spool file {} line {line} is not an entry: {source}", file.display())]
    SpoolCorrupt {
        /// The file (renamed to `.bad` so it does not block the others).
        file: PathBuf,
        /// The line, from 1.
        line: usize,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Another sink, in this process or another, writes this JSONL directory: two writers
    /// would interleave their chains.
    #[error("the audit directory {} is in use by another sink (in this process or another): give each sink its own directory (jsonl:DIR), or stop the other process", dir.display())]
    InUse {
        /// The directory.
        dir: PathBuf,
    },
    /// The sink panicked; the writer caught it and goes on.
    #[error("the audit sink panicked: {0}")]
    Panicked(String),
    /// An error from a sink outside this crate.
    #[error("{0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl SinkError {
    /// Wraps any error of a user's own sink.
    pub fn other(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        SinkError::Other(error.into())
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        SinkError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// [`Auditor::record`](crate::Auditor::record) did not take the entry.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The auditor was shut down.
    #[error("the auditor is shut down: entries recorded after shutdown() are not written")]
    Closed,
    /// The queue was full under [`OverflowPolicy::DropNewest`](crate::OverflowPolicy::DropNewest);
    /// the drop is counted and reported in the log as an `audit.dropped` entry.
    #[error("the audit queue is full (capacity {capacity}): the entry was dropped and counted (raise the capacity or use OverflowPolicy::Block)")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// Under [`OverflowPolicy::Strict`](crate::OverflowPolicy::Strict): the sink did not durably accept the entry.
    #[error("the audit entry was not durably written: {0}")]
    Sink(Arc<SinkError>),
}

/// The configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable (or a configuration string) holds a value that is not accepted.
    #[error("{var}={value:?} is not valid: {reason}; accepted: {accepted}")]
    Invalid {
        /// The variable's name.
        var: String,
        /// The value found.
        value: String,
        /// What is wrong with it.
        reason: String,
        /// What would be accepted.
        accepted: &'static str,
    },
    /// A sink could not be opened.
    #[error("AUDIT_SINK={spec:?}: the audit sink could not be opened: {source}")]
    Sink {
        /// The sink's specification.
        spec: String,
        /// Why.
        #[source]
        source: SinkError,
    },
    /// The checkpoint signing key could not be used (its value is never shown).
    #[error("the checkpoint key is not usable: {0}")]
    CheckpointKey(#[from] KeyError),
    /// The writer's thread or its runtime could not be started.
    #[error("the audit writer thread could not start: {0} (the process may be out of threads or memory)")]
    WriterThread(#[source] std::io::Error),
}

/// Why a checkpoint key was refused; its value is never shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Fewer bytes than HMAC-SHA256's strength.
    #[error(
        "{bytes} bytes is too short: use at least {min} random bytes (e.g. `openssl rand -hex 32`)"
    )]
    TooShort {
        /// The key's length.
        bytes: usize,
        /// The shortest accepted ([`MIN_KEY_BYTES`](crate::chain::MIN_KEY_BYTES)).
        min: usize,
    },
    /// The key file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Neither hex digits nor `file:PATH`.
    #[error("expected hex digits (e.g. from `openssl rand -hex 32`) or file:PATH")]
    NotHex,
}

/// The message of a caught panic (`&str` and `String` payloads; others are "unknown panic").
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
