//! What can go wrong in a command, each said in one line with what to do; `main` prints it
//! after `audit: ` and exits 2.

use std::path::PathBuf;

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An argument that does not parse.
    #[error("`{value}` is not {what}: expected {expected}")]
    Argument {
        /// The kind of value (`a time`, `a status`, `a filter`, `a head`).
        what: &'static str,
        /// What was given.
        value: String,
        /// What is accepted, with an example.
        expected: &'static str,
    },
    /// A span back from now reaching before the calendar starts.
    #[error("`{0}` reaches back before year 1: give a shorter span or an RFC 3339 time")]
    TooFarBack(String),
    /// A file or directory that cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Output that cannot be written (a closed pipe is not an error).
    #[error("cannot write{}: {source}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Write {
        /// The file, when not standard output.
        path: Option<PathBuf>,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading the audit table failed.
    #[error(transparent)]
    Database(#[from] audit_core::SinkError),
    /// A configuration value (a PostgreSQL URL, a checkpoint key) is not usable.
    #[error(transparent)]
    Config(#[from] audit_core::ConfigError),
    /// Something this build of `audit` cannot do.
    #[error("this `audit` was built without its `{feature}` feature: cargo install audit-cli --features {feature}")]
    Unsupported {
        /// The Cargo feature that would do it.
        feature: &'static str,
    },
    /// An entry read from the table cannot be written as JSON.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    #[error("entry {id} cannot be written as JSON: {source}")]
    Entry {
        /// The entry.
        id: uuid::Uuid,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// Nothing in the log has the id asked for.
    #[error("no {what} `{id}` in the log: {hint}")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// The id given.
        id: String,
        /// Where to find a right one.
        hint: &'static str,
    },
    /// The runtime for the database client could not start.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl CliError {
    /// Writing to standard output failed.
    pub fn stdout(source: std::io::Error) -> Self {
        CliError::Write { path: None, source }
    }
}
