//! The syslog sink, for SIEMs fed by a syslog collector (rsyslog, syslog-ng, Splunk/QRadar/
//! ArcSight connectors): RFC 5424 messages over TCP with octet-counting framing (RFC 6587),
//! over TLS (RFC 5425), over RELP (rsyslog's reliable protocol, plain or TLS), or over UDP
//! where nothing else is offered.
//!
//! Over RELP each message is a transaction the collector answers once it took it: a batch is
//! sent when every answer came, and what was not answered is sent again; nothing below applies.
//!
//! Each message carries the entry's id, outcome and endpoint as structured data
//! (`[audit@32473 id=… outcome=… endpoint=…]`) and the entry in the chosen [`Format`](crate::format::Format) as its
//! text (CEF for ArcSight-style parsers, JSON for the others); facility as configured,
//! severity by outcome ([`severity`]).
//!
//! Plain TCP acknowledges bytes, not messages: a collector that stops drops what it had not read,
//! and may drop what it read but had not stored yet. So the sink keeps each batch it wrote on
//! a connection for a moment ([`confirm_after`](SyslogSinkBuilder::confirm_after), 250 ms),
//! and before each write looks whether the collector closed the connection (cleanly or with a
//! reset): the batches of that moment are then sent again after reconnecting, so across a
//! collector restart an entry may arrive twice (same `id` in the structured data, to
//! deduplicate on), never not at all. While the collector is away, batches go to a local
//! spool, sent first, in order, once it is back; reconnection backs off up to 30 s.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::backoff::Backoff;
use super::spool::Spool;
use super::Sink;
use crate::entry::AuditEntry;
use crate::error::SinkError;

mod builder;
mod connection;
mod delivery;
mod message;
mod relp;
mod spec;

pub use builder::SyslogSinkBuilder;
use connection::Connection;
pub use connection::Transport;
pub use message::{severity, Facility, SD_ID};
pub use spec::SyslogSpec;

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the sink did, for operators and tests.
#[derive(Debug, Clone, Default)]
pub struct SyslogStats {
    inner: Arc<SyslogCounters>,
}

#[derive(Debug, Default)]
struct SyslogCounters {
    sent: AtomicU64,
    connects: AtomicU64,
    resent: AtomicU64,
    truncated: AtomicU64,
    spooled_batches: AtomicU64,
    replayed_batches: AtomicU64,
}

impl SyslogStats {
    /// Messages written to a connection (those sent again included).
    pub fn sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }
    /// Connections made.
    pub fn connects(&self) -> u64 {
        self.inner.connects.load(Ordering::Relaxed)
    }
    /// Messages sent again because the collector reset a connection before confirming them.
    pub fn resent(&self) -> u64 {
        self.inner.resent.load(Ordering::Relaxed)
    }
    /// Entries cut down to the collector's message size.
    pub fn truncated(&self) -> u64 {
        self.inner.truncated.load(Ordering::Relaxed)
    }
    /// Batches put in the local spool.
    pub fn spooled_batches(&self) -> u64 {
        self.inner.spooled_batches.load(Ordering::Relaxed)
    }
    /// Spooled batches sent since.
    pub fn replayed_batches(&self) -> u64 {
        self.inner.replayed_batches.load(Ordering::Relaxed)
    }
}

/// Sends entries to a syslog collector; see the [module](self).
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use audit_core::format::Format;
/// use audit_core::syslog::{SyslogSink, Transport};
/// use audit_core::Auditor;
///
/// let sink = SyslogSink::builder(Transport::Tls, "siem.example.com:6514")
///     .format(Format::Cef)
///     .app_name("billing")
///     .open()?;
/// let auditor = Auditor::builder().build(sink)?;
/// # Ok(()) }
/// ```
pub struct SyslogSink {
    transport: Transport,
    address: String,
    tls: Option<(Arc<rustls::ClientConfig>, String)>,
    header: message::Header,
    connection: Option<Connection>,
    /// Batches written on this connection, not yet known to be read.
    unconfirmed: VecDeque<(Instant, Vec<AuditEntry>)>,
    confirm_after: Duration,
    timeout: Duration,
    spool: Spool,
    backoff: Backoff,
    last_error: Option<String>,
    stats: SyslogStats,
    buf: Vec<u8>,
}

impl std::fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSink")
            .field("transport", &self.transport)
            .field("address", &self.address)
            .field("format", &self.header.format)
            .field("spool", &self.spool.dir())
            .finish_non_exhaustive()
    }
}

impl SyslogSink {
    /// A builder for a collector at `address` (`host:port`, or `host` for the transport's
    /// default port).
    pub fn builder(transport: Transport, address: impl Into<String>) -> SyslogSinkBuilder {
        SyslogSinkBuilder::new(transport, address.into())
    }

    /// The sink's counters (shared: read them while the pipeline owns the sink).
    pub fn stats(&self) -> SyslogStats {
        self.stats.clone()
    }

    fn target(&self) -> String {
        format!(
            "syslog+{}://{}",
            transport_name(self.transport),
            self.address
        )
    }
}

fn transport_name(transport: Transport) -> &'static str {
    match transport {
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
        Transport::Udp => "udp",
        Transport::Relp => "relp",
        Transport::RelpTls => "relp+tls",
    }
}

#[async_trait]
impl Sink for SyslogSink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.deliver(batch).await
    }

    async fn start(&mut self) -> Result<(), SinkError> {
        if self.spool.entries() == 0 && self.unconfirmed.is_empty() {
            return Ok(());
        }
        self.deliver(&[]).await
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        self.backoff.expire();
        let _ = self.deliver(&[]).await;
        // Give the collector a moment to read the last batches, then look once more.
        if !self.unconfirmed.is_empty() {
            tokio::time::sleep(self.confirm_after).await;
            let again = self.check().await;
            if !again.is_empty() {
                self.backoff.expire();
                let _ = self.deliver(&again).await;
            }
        }
        if let Some(connection) = self.connection.as_mut() {
            connection.close(self.timeout).await;
        }
        self.connection = None;
        if self.spool.entries() > 0 {
            tracing::warn!(entries = self.spool.entries(), spool = %self.spool.dir().display(), "audit entries wait in the syslog sink's spool; they are sent at the next start");
        }
        Ok(())
    }

    fn spooled(&self) -> u64 {
        self.spool.entries()
    }

    fn name(&self) -> &str {
        "syslog"
    }
}
