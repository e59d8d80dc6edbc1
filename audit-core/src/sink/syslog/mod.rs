//! The syslog sink, for SIEMs fed by a syslog collector (rsyslog, syslog-ng, Splunk/QRadar/
//! ArcSight connectors): RFC 5424 messages over TCP with octet-counting framing (RFC 6587),
//! over TLS (RFC 5425), over RELP (rsyslog's reliable protocol, plain or TLS), or over UDP
//! where nothing else is offered.
//!
//! Over RELP each message is a transaction the collector answers once it took it: a batch is
//! sent when every answer came, and is sent again whole otherwise; nothing below applies.
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
mod message;
mod relp;
mod spec;

pub use builder::SyslogSinkBuilder;
pub use connection::Transport;
use connection::{Connection, Health};
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

    /// Looks whether the collector closed the connection; batches it surely read are
    /// forgotten, those it may have dropped are handed back to be sent again.
    async fn check(&mut self) -> Vec<AuditEntry> {
        let Some(connection) = self.connection.as_mut() else {
            return Vec::new();
        };
        match connection.health().await {
            Health::Open => {
                let now = Instant::now();
                while self
                    .unconfirmed
                    .front()
                    .is_some_and(|(at, _)| now.duration_since(*at) >= self.confirm_after)
                {
                    self.unconfirmed.pop_front();
                }
                Vec::new()
            }
            // A clean close says the collector read every byte, not that it stored every
            // message it read (rsyslog drops what its queue holds when its shutdown times
            // out): the batches of the last moment are sent again either way.
            Health::Closed => self.lost("the collector closed the connection".into()),
            Health::Reset => self.lost("the collector reset the connection".into()),
        }
    }

    /// The connection is gone and may have taken unread batches with it: they are sent again.
    fn lost(&mut self, why: String) -> Vec<AuditEntry> {
        self.connection = None;
        let again: Vec<AuditEntry> = self
            .unconfirmed
            .drain(..)
            .flat_map(|(_, batch)| batch)
            .collect();
        self.stats
            .inner
            .resent
            .fetch_add(again.len() as u64, Ordering::Relaxed);
        self.failed(why);
        again
    }

    fn failed(&mut self, error: String) {
        let wait = self.backoff.failed(None);
        if self.last_error.as_deref() != Some(error.as_str()) {
            tracing::warn!(target = %self.target(), retry_in = ?wait, error = %error, "the syslog collector cannot take audit entries; spooling them locally");
        }
        self.last_error = Some(error);
    }

    async fn ensure_connected(&mut self) -> bool {
        if self.connection.is_some() {
            return true;
        }
        if !self.backoff.ready() {
            return false;
        }
        let tls = self
            .tls
            .as_ref()
            .map(|(config, name)| (config, name.as_str()));
        match Connection::open(self.transport, &self.address, tls, self.timeout).await {
            Ok(connection) => {
                self.connection = Some(connection);
                self.stats.inner.connects.fetch_add(1, Ordering::Relaxed);
                if self.last_error.take().is_some() {
                    tracing::info!(target = %self.target(), "the syslog collector takes audit entries again");
                }
                self.backoff.succeeded();
                true
            }
            Err(e) => {
                self.failed(format!("cannot connect: {e}"));
                false
            }
        }
    }

    /// Writes `batch` on the connection; on failure the connection is dropped and what it
    /// may have lost (this batch included) is returned.
    async fn send(&mut self, batch: &[AuditEntry]) -> Result<(), Vec<AuditEntry>> {
        let Some(connection) = self.connection.as_mut() else {
            return Err(batch.to_vec());
        };
        let mut buf = std::mem::take(&mut self.buf);
        let mut message = Vec::with_capacity(1024);
        let mut result = Ok(());
        buf.clear();
        let relp = matches!(self.transport, Transport::Relp | Transport::RelpTls);
        let mut messages = Vec::with_capacity(if relp { batch.len() } else { 0 });
        for entry in batch {
            message.clear();
            if message::write(&self.header, entry, &mut message) {
                self.stats.inner.truncated.fetch_add(1, Ordering::Relaxed);
            }
            if relp {
                messages.push(message.clone());
            } else if self.transport == Transport::Udp {
                result = connection.send(&message, self.timeout).await;
                if result.is_err() {
                    break;
                }
            } else {
                message::frame(&message, &mut buf);
            }
        }
        if relp {
            result = connection.send_relp(&messages, self.timeout).await;
        } else if self.transport != Transport::Udp && result.is_ok() {
            result = connection.send(&buf, self.timeout).await;
        }
        self.buf = buf;
        match result {
            Ok(()) => {
                self.stats
                    .inner
                    .sent
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                // TCP and TLS only: UDP cannot tell, RELP already told.
                if matches!(self.transport, Transport::Tcp | Transport::Tls) {
                    self.unconfirmed.push_back((Instant::now(), batch.to_vec()));
                }
                Ok(())
            }
            Err(e) => {
                let mut lost = self.lost(format!("write failed: {e}"));
                lost.extend_from_slice(batch);
                Err(lost)
            }
        }
    }

    fn spool(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let path = self.spool.push(batch)?;
        self.stats
            .inner
            .spooled_batches
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(file = %path.display(), entries = batch.len(), "audit batch spooled until the syslog collector takes it");
        Ok(())
    }

    /// Sends the spooled batches, oldest first, several files at a time (a collector back
    /// after an outage finds thousands of one-entry files); stops at the first send that
    /// fails. What it returns then is what the connection had not confirmed: the chunk that
    /// failed stays in its files.
    async fn replay(&mut self) -> Result<(), Vec<AuditEntry>> {
        const CHUNK: usize = 1024;
        let files = self.spool.files().unwrap_or_default();
        let mut files = files.into_iter().peekable();
        while files.peek().is_some() {
            let mut chunk = Vec::new();
            let mut taken = Vec::new();
            while chunk.len() < CHUNK {
                let Some(file) = files.next() else { break };
                if let Some(batch) = self.spool.take(&file) {
                    taken.push((file, batch.len()));
                    chunk.extend(batch);
                }
            }
            if chunk.is_empty() {
                continue;
            }
            if let Err(mut lost) = self.send(&chunk).await {
                // `send` hands back the chunk after what was unconfirmed; the files keep it.
                lost.truncate(lost.len().saturating_sub(chunk.len()));
                return Err(lost);
            }
            for (file, entries) in &taken {
                self.spool.sent(file, *entries);
            }
            self.stats
                .inner
                .replayed_batches
                .fetch_add(taken.len() as u64, Ordering::Relaxed);
            tracing::info!(
                files = taken.len(),
                entries = chunk.len(),
                "sent spooled audit entries to the syslog collector"
            );
        }
        Ok(())
    }

    /// Sends what the collector may have lost, the spool, then `batch`; spools what cannot go.
    async fn deliver(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        let again = self.check().await;
        if !self.ensure_connected().await {
            self.spool(&again)?;
            return self.spool(batch);
        }
        if !again.is_empty() {
            if let Err(lost) = self.send(&again).await {
                self.spool(&lost)?;
                return self.spool(batch);
            }
        }
        if self.spool.entries() > 0 {
            if let Err(lost) = self.replay().await {
                // Spool files are sent in name (first id, so time) order: these go back in
                // their place.
                self.spool(&lost)?;
                return self.spool(batch);
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        match self.send(batch).await {
            Ok(()) => Ok(()),
            Err(lost) => self.spool(&lost),
        }
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
