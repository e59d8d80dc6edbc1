//! The HTTP sink, for SIEMs and log pipelines that take batched JSON over HTTP (Splunk HEC,
//! Elastic, Datadog, Vector, Fluent Bit, most SaaS "log streams", webhooks).
//!
//! Each batch is rendered in the chosen [`Format`], grouped under the entry and byte limits
//! and POSTed as NDJSON or a JSON array, gzipped when asked. A group counts as delivered when
//! the endpoint answers 2xx. 429, 408, 5xx and connection errors are retried with backoff,
//! waiting as long as `Retry-After` says, within a retry budget (once the endpoint is known to
//! be failing, an attempt is one request: a down endpoint does not hold the writer for the
//! budget again at every attempt); 413 splits the group (a
//! single record is cut down further). What cannot be delivered goes, in order, to a local
//! spool that is sent first when the endpoint is back; other 4xx answers (a wrong token or
//! path) spool too, and say so, until the configuration is fixed. Delivery is at least once:
//! an endpoint that stored a body but whose answer was lost sees it again, with the same
//! entry ids to deduplicate on.
//!
//! Header values (tokens) are never logged, and `Debug` shows only their names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use super::backoff::Backoff;
use super::spool::Spool;
use super::Sink;
use crate::entry::AuditEntry;
use crate::error::SinkError;
use crate::format::Format;

mod batch;
mod builder;
mod client;
mod spec;

pub use batch::Encoding;
pub use builder::HttpSinkBuilder;
use client::Reply;
pub use spec::HttpSpec;

const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the sink did, for operators and tests.
#[derive(Debug, Clone, Default)]
pub struct HttpStats {
    inner: Arc<HttpCounters>,
}

#[derive(Debug, Default)]
struct HttpCounters {
    requests: AtomicU64,
    delivered: AtomicU64,
    retries: AtomicU64,
    splits: AtomicU64,
    truncated: AtomicU64,
    spooled_batches: AtomicU64,
    replayed_batches: AtomicU64,
}

impl HttpStats {
    /// Requests made.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
    /// Entries the endpoint accepted.
    pub fn delivered(&self) -> u64 {
        self.inner.delivered.load(Ordering::Relaxed)
    }
    /// Requests made again after a 429, 5xx or a connection error.
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }
    /// Bodies split because the endpoint answered 413.
    pub fn splits(&self) -> u64 {
        self.inner.splits.load(Ordering::Relaxed)
    }
    /// Entries cut down to fit.
    pub fn truncated(&self) -> u64 {
        self.inner.truncated.load(Ordering::Relaxed)
    }
    /// Batches put in the local spool.
    pub fn spooled_batches(&self) -> u64 {
        self.inner.spooled_batches.load(Ordering::Relaxed)
    }
    /// Spooled batches delivered since.
    pub fn replayed_batches(&self) -> u64 {
        self.inner.replayed_batches.load(Ordering::Relaxed)
    }
}

/// Posts batches to an HTTP endpoint; see the [module](self).
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use audit_core::format::Format;
/// use audit_core::http::HttpSink;
/// use audit_core::Auditor;
///
/// let sink = HttpSink::builder("https://splunk.example.com:8088/services/collector/raw")
///     .header("Authorization", "Splunk 0000-token")
///     .format(Format::Ecs)
///     .gzip(true)
///     .open()?;
/// let auditor = Auditor::builder().build(sink)?;
/// # Ok(()) }
/// ```
pub struct HttpSink {
    client: client::Client,
    target: String,
    format: Format,
    encoding: Encoding,
    /// How bodies wrap records, made once (the OTLP envelope holds the service's name).
    framing: batch::Framing,
    gzip: bool,
    max_batch_entries: usize,
    max_batch_bytes: usize,
    max_entry_bytes: usize,
    retry_budget: Duration,
    spool: Spool,
    /// No request before the endpoint's wait or the backoff has passed.
    backoff: Backoff,
    last_error: Option<String>,
    stats: HttpStats,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("target", &self.target)
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("spool", &self.spool.dir())
            .finish_non_exhaustive()
    }
}

/// A batch that was not (fully) delivered: entries from `first` on were not.
struct Undelivered {
    first: usize,
    detail: String,
    wait: Option<Duration>,
}

/// The URL as logs show it: no user, password or query (which may hold tokens).
fn describe(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    crate::redact::url_without_password(without_query)
}

impl HttpSink {
    /// A builder for an endpoint (`http://` or `https://`).
    pub fn builder(url: impl Into<String>) -> HttpSinkBuilder {
        HttpSinkBuilder::new(url)
    }

    /// The sink's counters (shared: read them while the pipeline owns the sink).
    pub fn stats(&self) -> HttpStats {
        self.stats.clone()
    }

    /// Delivers `batch`; on failure says from which entry on it was not delivered.
    async fn deliver(&mut self, batch: &[AuditEntry]) -> Result<(), Undelivered> {
        let mut records: Vec<Vec<u8>> = Vec::with_capacity(batch.len());
        for entry in batch {
            let (record, cut) = self.format.fit(entry, self.max_entry_bytes);
            if cut {
                self.stats.inner.truncated.fetch_add(1, Ordering::Relaxed);
            }
            records.push(self.frame(entry, record));
        }
        let mut pending: std::collections::VecDeque<(usize, usize)> = batch::groups(
            &records,
            self.max_batch_entries,
            self.max_batch_bytes,
            self.framing.overhead(),
        )
        .into();
        let started = Instant::now();
        let mut backoff = INITIAL_BACKOFF;
        while let Some((start, end)) = pending.pop_front() {
            let reply = self.post(&records[start..end]).await;
            let counters = &self.stats.inner;
            match reply {
                Reply::Accepted => {
                    counters
                        .delivered
                        .fetch_add((end - start) as u64, Ordering::Relaxed);
                    backoff = INITIAL_BACKOFF;
                }
                Reply::TooLarge(detail) if end - start > 1 => {
                    counters.splits.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(target = %self.target, entries = end - start, detail = %detail, "the endpoint found an audit batch too large; splitting it");
                    let middle = start + (end - start) / 2;
                    pending.push_front((middle, end));
                    pending.push_front((start, middle));
                }
                Reply::TooLarge(detail) => {
                    // One record the endpoint finds too large: cut it to half, down to 1 KiB.
                    let limit = records[start].len() / 2;
                    if limit < 1024 {
                        return Err(Undelivered {
                            first: start,
                            detail,
                            wait: None,
                        });
                    }
                    counters.truncated.fetch_add(1, Ordering::Relaxed);
                    let record = self.format.fit(&batch[start], limit).0;
                    records[start] = self.frame(&batch[start], record);
                    pending.push_front((start, end));
                }
                Reply::Retry { after, detail } => {
                    let wait = after.unwrap_or(backoff);
                    // Retries in place ride out a blip of an endpoint that was taking batches.
                    // One already failing gets a single request per attempt (the sink's backoff
                    // spaces the attempts): the writer, and under `Block` the requests behind
                    // it, must not wait out the budget again and again while it is down.
                    if self.last_error.is_some() || started.elapsed() + wait > self.retry_budget {
                        return Err(Undelivered {
                            first: start,
                            detail,
                            wait: after,
                        });
                    }
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target = %self.target, wait = ?wait, detail = %detail, "retrying an audit batch");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    pending.push_front((start, end));
                }
                Reply::Refused(detail) => {
                    return Err(Undelivered {
                        first: start,
                        detail: format!("{detail} (check the sink's URL and headers)"),
                        wait: None,
                    })
                }
            }
        }
        Ok(())
    }

    /// A record as the encoding carries it (Splunk HEC events wrap each one).
    fn frame(&self, entry: &AuditEntry, record: Vec<u8>) -> Vec<u8> {
        match self.encoding {
            Encoding::SplunkEvent => {
                batch::splunk_event(record, self.format, entry.timestamp.as_offset_date_time())
            }
            _ => record,
        }
    }

    async fn post(&self, records: &[Vec<u8>]) -> Reply {
        let body = self.framing.encode(records);
        let body = if self.gzip {
            match client::gzip(&body) {
                Ok(zipped) => zipped,
                Err(e) => return Reply::Refused(e.to_string()),
            }
        } else {
            body
        };
        self.stats.inner.requests.fetch_add(1, Ordering::Relaxed);
        self.client
            .post(
                Bytes::from(body),
                self.encoding.content_type(self.format),
                self.gzip,
            )
            .await
    }

    /// Notes a failure: no request until the endpoint's wait or the backoff has passed.
    fn failed(&mut self, undelivered: &Undelivered) {
        let wait = self.backoff.failed(undelivered.wait);
        if self.last_error.as_deref() != Some(undelivered.detail.as_str()) {
            tracing::warn!(target = %self.target, retry_in = ?wait, error = %undelivered.detail, "the HTTP endpoint does not take audit batches; spooling them locally");
        }
        self.last_error = Some(undelivered.detail.clone());
    }

    fn recovered(&mut self) {
        if self.last_error.take().is_some() {
            tracing::info!(target = %self.target, "the HTTP endpoint takes audit batches again");
        }
        self.backoff.succeeded();
    }

    fn spool(&mut self, batch: &[AuditEntry], why: &str) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let path = self.spool.push(batch)?;
        self.stats
            .inner
            .spooled_batches
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(file = %path.display(), entries = batch.len(), reason = why, "audit batch spooled until the HTTP endpoint takes it");
        Ok(())
    }

    /// Sends the spooled batches, oldest first; stops at the first that fails (its rest
    /// stays in the spool, ahead of anything newer).
    async fn replay(&mut self) -> Result<(), SinkError> {
        for file in self.spool.files()? {
            let Some(batch) = self.spool.take(&file) else {
                continue;
            };
            match self.deliver(&batch).await {
                Ok(()) => {
                    self.spool.sent(&file, batch.len());
                    self.stats
                        .inner
                        .replayed_batches
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::info!(file = %file.display(), entries = batch.len(), "delivered a spooled audit batch");
                }
                Err(undelivered) => {
                    if undelivered.first > 0 {
                        // Keep only what was not delivered, still ahead of newer batches.
                        self.spool.push(&batch[undelivered.first..])?;
                        self.spool.sent(&file, batch.len());
                    }
                    self.failed(&undelivered);
                    return Err(self.remote_error(&undelivered.detail));
                }
            }
        }
        self.recovered();
        Ok(())
    }

    fn remote_error(&self, detail: &str) -> SinkError {
        SinkError::Remote {
            service: "the HTTP endpoint",
            action: "take an audit batch",
            target: self.target.clone(),
            detail: detail.to_owned(),
        }
    }
}

#[async_trait]
impl Sink for HttpSink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.backoff.ready() {
            return self.spool(batch, "the endpoint is backing off");
        }
        if self.spool.entries() > 0 && self.replay().await.is_err() {
            return self.spool(batch, "the spool could not be delivered");
        }
        match self.deliver(batch).await {
            Ok(()) => {
                self.recovered();
                Ok(())
            }
            Err(undelivered) => {
                self.failed(&undelivered);
                self.spool(&batch[undelivered.first..], &undelivered.detail)
            }
        }
    }

    async fn start(&mut self) -> Result<(), SinkError> {
        if self.spool.entries() == 0 || !self.backoff.ready() {
            return Ok(());
        }
        self.replay().await
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        if self.spool.entries() > 0 {
            // One last attempt, whatever the backoff says: the process is about to stop.
            self.backoff.expire();
            let _ = self.replay().await;
        }
        if self.spool.entries() > 0 {
            tracing::warn!(entries = self.spool.entries(), spool = %self.spool.dir().display(), "audit entries wait in the HTTP sink's spool; they are sent at the next start");
        }
        Ok(())
    }

    fn spooled(&self) -> u64 {
        self.spool.entries()
    }

    fn name(&self) -> &str {
        "http"
    }
}
