//! Collecting: a durable pull consumer on the stream hands batches to any sink, and acks them
//! only once the sink stored them durably. Collectors sharing the consumer share the work; a
//! message not acked (a crash between the write and the ack) comes again, and the PostgreSQL
//! sink's dedup by id stores it once. As it goes, each chain's continuity is checked, and a
//! gap is written into the sink as an [`GAP_ENDPOINT`] entry.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, AckKind};
use futures_util::{FutureExt as _, StreamExt as _};

use super::gaps::GapWatch;
use super::NatsSpec;
use crate::entry::AuditEntry;
use crate::error::SinkError;
use crate::sink::Sink;

pub use crate::chain::GAP_ENDPOINT;

/// What a collector did, shared: read it while it runs.
#[derive(Debug, Clone, Default)]
pub struct CollectStats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    collected: AtomicU64,
    batches: AtomicU64,
    gaps: AtomicU64,
    malformed: AtomicU64,
    failed_writes: AtomicU64,
}

impl CollectStats {
    /// Entries written to the sink and acked.
    pub fn collected(&self) -> u64 {
        self.inner.collected.load(Ordering::Relaxed)
    }

    /// Batches written.
    pub fn batches(&self) -> u64 {
        self.inner.batches.load(Ordering::Relaxed)
    }

    /// Gaps seen in chains (each reported as a [`GAP_ENDPOINT`] entry).
    pub fn gaps(&self) -> u64 {
        self.inner.gaps.load(Ordering::Relaxed)
    }

    /// Messages that were not entries (terminated, never redelivered).
    pub fn malformed(&self) -> u64 {
        self.inner.malformed.load(Ordering::Relaxed)
    }

    /// Batches the sink failed (left unacked, to come again).
    pub fn failed_writes(&self) -> u64 {
        self.inner.failed_writes.load(Ordering::Relaxed)
    }
}

/// Configures a [`Collector`]; made by [`Collector::builder`].
#[derive(Debug, Clone)]
pub struct CollectorBuilder {
    spec: NatsSpec,
    batch: usize,
    max_wait: Duration,
    ack_wait: Duration,
    start_timeout: Duration,
}

impl CollectorBuilder {
    /// The most messages written to the sink at once (default 1,000).
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// How long a fetch waits for a batch to fill (default 500 ms, at least 50 ms: shorter
    /// pull expiries made fetches stall for seconds against nats-server 2.9).
    #[must_use]
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait.max(Duration::from_millis(50));
        self
    }

    /// How long the server waits for an ack before delivering a message again, to this or
    /// another collector (default 30 s; set when the consumer is created).
    #[must_use]
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait;
        self
    }

    /// How long [`connect`](Self::connect) keeps trying to find the stream and create the
    /// consumer, while a cluster elects its leaders (default 60 s).
    #[must_use]
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Connects, creates the durable consumer if missing, and collects into `sink`.
    pub async fn connect(self, sink: impl Sink) -> Result<Collector, SinkError> {
        let target = format!(
            "{} stream {} consumer {}",
            self.spec.describe_servers(),
            self.spec.stream_name(),
            self.spec.consumer_name()
        );
        let failed = |action: &'static str, detail: String| SinkError::Broker {
            action,
            target: target.clone(),
            detail,
        };
        let builder = self
            .spec
            .builder()
            .map_err(|e| failed("configure a collector for", e))?;
        let client = builder
            .connection
            .connect()
            .await
            .map_err(|e| failed("connect to", e))?;
        let context = jetstream::new(client.clone());
        let name = self.spec.consumer_name().to_owned();
        let config = pull::Config {
            durable_name: Some(name.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_ack_pending: i64::try_from(self.batch * 8).unwrap_or(i64::MAX),
            ..Default::default()
        };
        // A cluster electing a leader (a node just died) answers nothing for a few seconds:
        // the collector waits for it, within `start_timeout`, instead of giving up at once.
        let deadline = std::time::Instant::now() + self.start_timeout;
        let mut pause = Duration::from_millis(200);
        let consumer = loop {
            let attempt = async {
                let stream = context
                    .get_stream(self.spec.stream_name())
                    .await
                    .map_err(|e| ("find the stream of", e.to_string()))?;
                stream
                    .get_or_create_consumer(&name, config.clone())
                    .await
                    .map_err(|e| ("create the durable consumer on", e.to_string()))
            };
            match attempt.await {
                Ok(consumer) => break consumer,
                // A stream that is not there will not appear by waiting: say so at once.
                Err((action, detail))
                    if std::time::Instant::now() >= deadline
                        || detail.contains("stream not found") =>
                {
                    return Err(failed(action, detail))
                }
                Err((action, detail)) => {
                    tracing::warn!(target = %target, action, error = %detail, retry_in = ?pause, "the collector cannot start yet");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        };
        Ok(Collector {
            client,
            consumer,
            sink: Box::new(sink),
            batch: self.batch,
            max_wait: self.max_wait,
            stats: CollectStats::default(),
            watch: GapWatch::default(),
            stream: self.spec.stream_name().to_owned(),
            consumer_name: name,
            target,
        })
    }
}

/// Moves entries from a JetStream stream into a sink; see the [module](crate::nats).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use audit_core::nats::{Collector, NatsSpec};
/// use audit_core::SinkSpec;
///
/// let SinkSpec::Nats(source) = SinkSpec::parse("nats://127.0.0.1:4222?stream=AUDIT")? else { unreachable!() };
/// let sink = SinkSpec::parse("postgres://postgres@127.0.0.1/test")?.open()?;
/// let mut collector = Collector::builder(&source).connect(sink).await?;
/// // Until SIGTERM or Ctrl-C in a real program; here, ten seconds.
/// collector.run_until(tokio::time::sleep(std::time::Duration::from_secs(10))).await?;
/// collector.close().await?;
/// # Ok(()) }
/// ```
pub struct Collector {
    client: async_nats::Client,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    sink: Box<dyn Sink>,
    batch: usize,
    max_wait: Duration,
    stats: CollectStats,
    watch: GapWatch,
    stream: String,
    consumer_name: String,
    target: String,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("target", &self.target)
            .field("sink", &self.sink.name())
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector reading the stream and durable consumer `spec` names.
    pub fn builder(spec: &NatsSpec) -> CollectorBuilder {
        CollectorBuilder {
            spec: spec.clone(),
            batch: 1000,
            max_wait: Duration::from_millis(500),
            ack_wait: Duration::from_secs(30),
            start_timeout: Duration::from_secs(60),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> CollectStats {
        self.stats.clone()
    }

    /// Messages waiting for this consumer (the lag), as the server last said.
    pub async fn pending(&mut self) -> Result<u64, SinkError> {
        let info = self.consumer.info().await.map_err(|e| SinkError::Broker {
            action: "read the consumer of",
            target: self.target.clone(),
            detail: e.to_string(),
        })?;
        Ok(info.num_pending)
    }

    /// Collects until `stop` completes (SIGTERM, Ctrl-C): the batch in hand is written and
    /// acked first; a write is never cut short. The next batch is fetched and read while the
    /// sink writes the last one. A failing sink is retried with a pause; its batch is not
    /// acked, and comes again.
    pub async fn run_until(
        &mut self,
        stop: impl Future<Output = impl Sized>,
    ) -> Result<(), SinkError> {
        let mut stop = std::pin::pin!(stop);
        let mut in_hand: Option<Parsed> = None;
        let mut pause = Duration::from_millis(100);
        loop {
            if stop.as_mut().now_or_never().is_some() {
                if let Some(parsed) = in_hand.take() {
                    self.store(parsed).await?;
                }
                return Ok(());
            }
            let Collector {
                consumer,
                sink,
                client,
                stats,
                watch,
                batch,
                max_wait,
                stream,
                consumer_name,
                target,
            } = self;
            let fetch = async {
                let messages = fetch(consumer, *batch, *max_wait, target).await?;
                Ok::<_, SinkError>(parse(messages, watch, stats, stream, consumer_name).await)
            };
            let write = async {
                match in_hand.take() {
                    Some(parsed) => Some(store(sink, client, stats, parsed).await),
                    None => None,
                }
            };
            let (fetched, stored) = tokio::join!(fetch, write);
            if let Some(Err(e)) = stored {
                tracing::error!(error = %e, "the audit sink failed a collected batch; it comes again");
                // Seen again when redelivered: the watch must not call that a gap.
                self.watch = GapWatch::default();
                pause = (pause * 2).min(Duration::from_secs(10));
                tokio::time::sleep(pause).await;
            } else {
                pause = Duration::from_millis(100);
            }
            match fetched {
                Ok(parsed) if !parsed.messages.is_empty() => in_hand = Some(parsed),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "fetching from the audit stream failed; trying again");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Fetches one batch (waiting at most the configured time), writes and acks it; returns
    /// how many entries it stored.
    pub async fn collect_once(&mut self) -> Result<usize, SinkError> {
        let messages = fetch(&self.consumer, self.batch, self.max_wait, &self.target).await?;
        let parsed = parse(
            messages,
            &mut self.watch,
            &self.stats,
            &self.stream,
            &self.consumer_name,
        )
        .await;
        self.store(parsed).await
    }

    async fn store(&mut self, parsed: Parsed) -> Result<usize, SinkError> {
        let stored = store(&mut self.sink, &self.client, &self.stats, parsed).await;
        if stored.is_err() {
            self.watch = GapWatch::default();
        }
        stored
    }

    /// Closes the sink (flushing it).
    pub async fn close(mut self) -> Result<(), SinkError> {
        self.sink.close().await
    }
}

/// A fetched batch, read: its entries, the reports of gaps among them, and the messages to ack.
struct Parsed {
    messages: Vec<jetstream::Message>,
    entries: Vec<AuditEntry>,
    reports: Vec<AuditEntry>,
}

async fn fetch(
    consumer: &jetstream::consumer::Consumer<pull::Config>,
    batch: usize,
    max_wait: Duration,
    target: &str,
) -> Result<Vec<jetstream::Message>, SinkError> {
    let failed = |e: String| SinkError::Broker {
        action: "fetch from",
        target: target.to_owned(),
        detail: e,
    };
    let mut fetched = consumer
        .fetch()
        .max_messages(batch)
        .expires(max_wait)
        .messages()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let mut messages = Vec::with_capacity(batch);
    while let Some(message) = fetched.next().await {
        messages.push(message.map_err(|e| failed(e.to_string()))?);
    }
    Ok(messages)
}

/// Reads the entries of `messages`, watching each chain; a message that is no entry is
/// terminated (never redelivered) and counted.
async fn parse(
    messages: Vec<jetstream::Message>,
    watch: &mut GapWatch,
    stats: &CollectStats,
    stream: &str,
    consumer: &str,
) -> Parsed {
    let mut parsed = Parsed {
        entries: Vec::with_capacity(messages.len()),
        messages: Vec::with_capacity(messages.len()),
        reports: Vec::new(),
    };
    for message in messages {
        let entry: AuditEntry = match serde_json::from_slice(&message.payload) {
            Ok(entry) => entry,
            Err(e) => {
                stats.inner.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(subject = %message.subject, error = %e, "a message on the audit stream is not an entry; terminated, never redelivered");
                let _ = message.ack_with(AckKind::Term).await;
                continue;
            }
        };
        let stream_seq = message.info().map(|i| i.stream_sequence).ok();
        if let Some(gap) = stream_seq.and_then(|seq| watch.observe(seq, &entry)) {
            parsed.reports.push(gap.entry(stream, consumer));
        }
        parsed.entries.push(entry);
        parsed.messages.push(message);
    }
    parsed
}

/// Writes a batch's entries (and reports of gaps) durably, then acks its messages; on a
/// failed write, asks for them again a second later.
async fn store(
    sink: &mut Box<dyn Sink>,
    client: &async_nats::Client,
    stats: &CollectStats,
    parsed: Parsed,
) -> Result<usize, SinkError> {
    let Parsed {
        messages,
        mut entries,
        reports,
    } = parsed;
    if messages.is_empty() {
        return Ok(0);
    }
    let stored = entries.len();
    entries.extend(reports.iter().cloned());
    let written = match sink.write(&entries).await {
        Ok(()) => sink.flush().await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        stats.inner.failed_writes.fetch_add(1, Ordering::Relaxed);
        for message in &messages {
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                .await;
        }
        return Err(e);
    }
    for message in &messages {
        // A lost ack means a redelivery, which the sink stores once (by id).
        if let Err(e) = message.ack().await {
            tracing::warn!(error = %e, "an ack did not go out; the message comes again");
        }
    }
    let _ = client.flush().await;
    for report in &reports {
        tracing::error!(fields = ?report.fields, "a gap in an audit chain on the stream");
    }
    let counters = &stats.inner;
    counters
        .collected
        .fetch_add(stored as u64, Ordering::Relaxed);
    counters.batches.fetch_add(1, Ordering::Relaxed);
    counters
        .gaps
        .fetch_add(reports.len() as u64, Ordering::Relaxed);
    #[cfg(feature = "metrics")]
    if !reports.is_empty() {
        ::metrics::counter!("audit_collect_gaps_total").increment(reports.len() as u64);
    }
    Ok(stored)
}
