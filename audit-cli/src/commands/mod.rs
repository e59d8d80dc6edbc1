//! One module per command; each `run` returns what `main` turns into an exit status.

#[cfg(feature = "nats")]
pub mod collect;
pub mod operations;
pub mod query;
pub mod show;
pub mod stats;
pub mod tail;
pub mod verify;

/// `audit collect`'s arguments (the command itself needs the `nats` feature).
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub struct CollectArgs<'a> {
    pub source: &'a std::path::Path,
    pub to: &'a str,
    pub batch: usize,
    pub max_wait: std::time::Duration,
    pub idle_exit: Option<std::time::Duration>,
    pub ack_wait: std::time::Duration,
}
