//! The NATS JetStream sink, for fleets: each entry one message on a durable, replicated
//! stream, which collectors (`audit collect`, [`Collector`]) move into storage.
//!
//! Each message carries `Nats-Msg-Id` = the entry's id, so a batch published again (a retry, a
//! replayed spool) inside the stream's duplicate window is stored once. A batch's messages are
//! published back to back and the batch counts as written only when every publish
//! acknowledgement arrived: stored, and replicated as the stream says. When the servers are
//! unreachable, or an acknowledgement does not come, the batch goes to a local spool and is
//! published again, in order, before anything newer.
//!
//! Why async-nats: it is the official client, maintained with the server; JetStream's
//! publish acknowledgements and pull consumers are part of it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_trait::async_trait;
use bytes::Bytes;

use super::backoff::Backoff;
use super::spool::Spool;
use super::{write_line, JsonLines, Sink};
use crate::entry::AuditEntry;
use crate::error::SinkError;

mod builder;
mod collect;
mod gaps;
mod spec;

pub use builder::{NatsConnection, NatsSinkBuilder, StreamSettings};
pub use collect::{CollectStats, Collector, CollectorBuilder, GAP_ENDPOINT};
pub use spec::NatsSpec;

const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the sink did, for operators and tests.
#[derive(Debug, Clone, Default)]
pub struct NatsStats {
    inner: Arc<NatsCounters>,
}

#[derive(Debug, Default)]
struct NatsCounters {
    published: AtomicU64,
    duplicates: AtomicU64,
    spooled_batches: AtomicU64,
    replayed_batches: AtomicU64,
    connects: AtomicU64,
}

impl NatsStats {
    /// Messages the stream acknowledged.
    pub fn published(&self) -> u64 {
        self.inner.published.load(Ordering::Relaxed)
    }

    /// Of those, messages the stream had already (a retried or replayed batch).
    pub fn duplicates(&self) -> u64 {
        self.inner.duplicates.load(Ordering::Relaxed)
    }

    /// Batches put in the local spool.
    pub fn spooled_batches(&self) -> u64 {
        self.inner.spooled_batches.load(Ordering::Relaxed)
    }

    /// Spooled batches published since.
    pub fn replayed_batches(&self) -> u64 {
        self.inner.replayed_batches.load(Ordering::Relaxed)
    }

    /// Connections made.
    pub fn connects(&self) -> u64 {
        self.inner.connects.load(Ordering::Relaxed)
    }
}

/// Publishes entries to a JetStream stream; see the [module](self) and `docs/fleet.md`.
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use audit_core::nats::NatsSink;
/// use audit_core::Auditor;
///
/// let sink = NatsSink::builder("nats://127.0.0.1:4222").service("billing").open()?;
/// let auditor = Auditor::builder().build(sink)?;
/// # Ok(()) }
/// ```
pub struct NatsSink {
    connection: NatsConnection,
    stream: StreamSettings,
    subjects: Vec<String>,
    subject: async_nats::Subject,
    spool: Spool,
    ack_timeout: Duration,
    client: Option<(async_nats::Client, jetstream::Context)>,
    /// Whether the stream was found or created on the server (checked once).
    stream_ready: bool,
    last_error: Option<String>,
    backoff: Backoff,
    stats: NatsStats,
    target: String,
    buf: Vec<u8>,
}

impl std::fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSink")
            .field("target", &self.target)
            .field("subject", &self.subject.as_str())
            .field("spool", &self.spool.dir())
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl NatsSink {
    /// The sink's counters (shared: read them while the pipeline owns the sink).
    pub fn stats(&self) -> NatsStats {
        self.stats.clone()
    }

    /// Connects now and makes sure the stream exists, instead of on the first write: fails
    /// fast when the servers are unreachable or the stream cannot be created.
    pub async fn connect(&mut self) -> Result<(), SinkError> {
        let deadline = Instant::now()
            + self
                .connection
                .connect_timeout
                .unwrap_or(Duration::from_secs(5));
        loop {
            if self.ensure_connected().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(SinkError::Broker {
                    action: "connect to",
                    target: self.target.clone(),
                    detail: self
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "no server answered in time".into()),
                });
            }
            self.backoff.expire();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn is_connected(&self) -> bool {
        self.client.as_ref().is_some_and(|(client, _)| {
            client.connection_state() == async_nats::connection::State::Connected
        })
    }

    /// Whether the servers can take a batch now. The client is made once and (re)connects by
    /// itself in the background; the stream is checked once per connection, at most as often
    /// as the backoff allows. Meanwhile batches spool.
    async fn ensure_connected(&mut self) -> bool {
        if self.client.is_none() {
            if !self.backoff.ready() {
                return false;
            }
            match self.connection.connect().await {
                Ok(client) => {
                    let mut context = jetstream::new(client.clone());
                    context.set_timeout(self.ack_timeout);
                    // The first connection is waited for (on the writer, never a request), so
                    // that a server that is up takes the first batch.
                    let wait = self
                        .connection
                        .connect_timeout
                        .unwrap_or(Duration::from_secs(5));
                    let deadline = Instant::now() + wait;
                    while client.connection_state() != async_nats::connection::State::Connected
                        && Instant::now() < deadline
                    {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    self.client = Some((client, context));
                }
                Err(e) => {
                    // Only configuration (a credentials file) fails here.
                    self.failed(e);
                    return false;
                }
            }
        }
        if !self.is_connected() {
            return false;
        }
        if self.stream_ready {
            return true;
        }
        if !self.backoff.ready() {
            return false;
        }
        let Some((_, context)) = &self.client else {
            return false;
        };
        match ensure_stream(context, &self.stream, &self.subjects).await {
            Ok(()) => {
                self.stream_ready = true;
                self.backoff.succeeded();
                self.last_error = None;
                self.stats.inner.connects.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.failed(e);
                false
            }
        }
    }

    fn failed(&mut self, error: String) {
        let wait = self.backoff.failed(None);
        tracing::warn!(target = %self.target, retry_in = ?wait, error = %error, "NATS cannot take audit batches; spooling them locally");
        self.last_error = Some(error);
    }

    /// Publishes `payloads` (the entries' JSON lines, without their newlines) with their ids,
    /// all at once, then waits for every acknowledgement.
    async fn publish(&self, batch: &[AuditEntry], payloads: &[&[u8]]) -> Result<(), String> {
        let Some((_, context)) = &self.client else {
            return Err("not connected".into());
        };
        let mut acks = Vec::with_capacity(batch.len());
        for (entry, payload) in batch.iter().zip(payloads) {
            let mut id = [0u8; 36];
            let publish = jetstream::context::Publish::build()
                .payload(Bytes::copy_from_slice(payload))
                .message_id(entry.id.hyphenated().encode_lower(&mut id));
            let ack = context
                .send_publish(self.subject.clone(), publish)
                .await
                .map_err(|e| e.to_string())?;
            acks.push(ack);
        }
        let mut duplicates = 0;
        for ack in acks {
            let ack = ack.await.map_err(|e| e.to_string())?;
            duplicates += u64::from(ack.duplicate);
        }
        let counters = &self.stats.inner;
        counters
            .published
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        counters.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        Ok(())
    }

    /// Serialises `batch` and publishes it.
    async fn publish_entries(&mut self, batch: &[AuditEntry]) -> Result<(), String> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut ends = Vec::with_capacity(batch.len());
        for entry in batch {
            write_line(entry, &mut buf).map_err(|e| e.to_string())?;
            ends.push(buf.len() - 1);
        }
        let mut start = 0;
        let payloads: Vec<&[u8]> = ends
            .iter()
            .map(|&end| {
                let line = &buf[start..end];
                start = end + 1;
                line
            })
            .collect();
        let published = self.publish(batch, &payloads).await;
        self.buf = buf;
        published
    }

    /// Publishes the spooled batches, oldest first; stops at the first that fails.
    async fn replay(&mut self) -> Result<(), String> {
        let files = self.spool.files().map_err(|e| e.to_string())?;
        for file in files {
            let Some(batch) = self.spool.take(&file) else {
                continue;
            };
            self.publish_entries(&batch).await?;
            self.spool.sent(&file, batch.len());
            self.stats
                .inner
                .replayed_batches
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(file = %file.display(), entries = batch.len(), "published a spooled audit batch");
        }
        Ok(())
    }

    fn spool(&mut self, batch: &[AuditEntry], why: &str) -> Result<(), SinkError> {
        let path = self.spool.push(batch)?;
        self.stats
            .inner
            .spooled_batches
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(file = %path.display(), entries = batch.len(), reason = why, "audit batch spooled locally until NATS takes it");
        Ok(())
    }

    /// Publishes `batch` after the spool, or spools it.
    async fn write_payloads(
        &mut self,
        batch: &[AuditEntry],
        payloads: Option<&[&[u8]]>,
    ) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.ensure_connected().await {
            return self.spool(batch, "not connected");
        }
        let mut published = self.replay().await;
        if published.is_ok() {
            published = match payloads {
                Some(payloads) => self.publish(batch, payloads).await,
                None => self.publish_entries(batch).await,
            };
        }
        match published {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(target = %self.target, error = %e, "NATS did not acknowledge an audit batch");
                // The server this client is attached to may be the one that cannot reach the
                // stream (its routes still forming, or cut off): every publish through it
                // fails ("no stream found") while the others would take them. A new client,
                // after the backoff, may land on another server.
                self.client = None;
                self.stream_ready = false;
                self.failed(e.clone());
                // Published again from the spool, with the same ids: stored once.
                self.spool(batch, &e)
            }
        }
    }
}

/// Creates the stream when missing (if allowed), or checks that it exists.
async fn ensure_stream(
    context: &jetstream::Context,
    settings: &StreamSettings,
    subjects: &[String],
) -> Result<(), String> {
    if !settings.create {
        return context
            .get_stream(&settings.name)
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "the stream {} is not there ({e}), and the sink was told not to create it",
                    settings.name
                )
            });
    }
    let config = jetstream::stream::Config {
        name: settings.name.clone(),
        subjects: subjects.to_vec(),
        max_age: settings.max_age,
        max_bytes: settings.max_bytes.unwrap_or(-1),
        duplicate_window: settings.duplicate_window,
        num_replicas: settings.replicas,
        storage: settings.storage,
        ..Default::default()
    };
    context
        .get_or_create_stream(config)
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot create or find the stream {}: {e}", settings.name))
}

#[async_trait]
impl Sink for NatsSink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        self.write_payloads(batch, None).await
    }

    async fn write_lines(
        &mut self,
        batch: &[AuditEntry],
        lines: &mut JsonLines,
    ) -> Result<(), SinkError> {
        if lines.len() != batch.len() {
            return self.write_payloads(batch, None).await;
        }
        let payloads: Vec<&[u8]> = (0..lines.len())
            .filter_map(|i| lines.line(i))
            .map(|line| line.strip_suffix(b"\n").unwrap_or(line))
            .collect();
        self.write_payloads(batch, Some(&payloads)).await
    }

    async fn start(&mut self) -> Result<(), SinkError> {
        if self.spool.entries() == 0 || !self.ensure_connected().await {
            return Ok(());
        }
        self.replay().await.map_err(|detail| SinkError::Broker {
            action: "publish the spool to",
            target: self.target.clone(),
            detail,
        })
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        // Every batch was acknowledged (stored) or spooled (synced) before `write` returned.
        Ok(())
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        if self.spool.entries() > 0 {
            // One last attempt, whatever the backoff says: the process is about to stop.
            self.backoff.expire();
            let _ = self.start().await;
        }
        if let Some((client, _)) = self.client.as_ref().filter(|_| self.is_connected()) {
            // Bounded: a server that goes away now must not hold up the shutdown.
            let _ = tokio::time::timeout(self.ack_timeout, client.flush()).await;
        }
        if self.spool.entries() > 0 {
            tracing::warn!(entries = self.spool.entries(), spool = %self.spool.dir().display(), "audit entries wait in the NATS spool; they are published at the next start");
        }
        Ok(())
    }

    fn spooled(&self) -> u64 {
        self.spool.entries()
    }

    fn name(&self) -> &str {
        "nats"
    }

    fn chained_by_default(&self) -> bool {
        // Collectors check each chain's continuity, and the copy in storage can be verified.
        true
    }
}
