//! The JSONL file sink: daily files of one JSON entry per line, the embedded default.

use std::fs::OpenOptions;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::Date;
use tokio::task::JoinHandle;

use super::dir_lock::DirLock;
use super::{JsonLines, Sink};
use crate::entry::AuditEntry;
use crate::error::SinkError;

mod archive;
mod files;
mod naming;
mod repair;
mod spec;

use files::Files;

pub use archive::{Compression, Retention};
pub use spec::JsonlSpec;

/// When the JSONL sink calls `fdatasync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Leave it to the operating system (fastest; a machine crash may lose the last seconds).
    #[default]
    Never,
    /// After every batch: one sync serves the whole batch (group commit).
    EveryBatch,
    /// After a batch when the last sync is older than this.
    Interval(Duration),
}

/// Writes entries to `audit_YYYY-MM-DD.jsonl` files (UTC date of the entry) in one directory.
///
/// - The directory is created with mode 0700, files with mode 0600.
/// - Each batch is serialised first, then written as whole lines with a single `write` per file;
///   a failed write is rolled back (truncated), so a retry never duplicates or tears a line.
/// - On open, a torn last line left by a crash is cut off, so every file is valid JSONL; this is
///   counted ([`JsonlSink::repaired_files`]) and logged with `tracing`.
/// - Files rotate at the UTC day boundary and, optionally, by size (`audit_YYYY-MM-DD.1.jsonl`, …).
///   The previous day's file stays open for one more day for calls that started before midnight.
/// - Closed files can be compressed (gzip, zstd) and deleted by age or count in the background.
///
/// File I/O runs on tokio's blocking pool, never on the runtime's worker threads.
///
/// ```no_run
/// # fn main() -> Result<(), audit_core::SinkError> {
/// use audit_core::jsonl::{Compression, JsonlSink, SyncPolicy};
///
/// let sink = JsonlSink::builder("./audit_logs")
///     .sync(SyncPolicy::EveryBatch)
///     .max_file_bytes(256 * 1024 * 1024)
///     .compression(Compression::Gzip)
///     .max_age_days(90)
///     .open()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct JsonlSink {
    config: Arc<Config>,
    files: Option<Files>,
    archiving: Vec<JoinHandle<()>>,
    /// Held by each archiving task, so compression and retention never race each other.
    archive_lock: Arc<std::sync::Mutex<()>>,
    repaired: Arc<AtomicU64>,
    /// No other sink writes (or repairs) this directory while this one is open; let go at
    /// `close`, taken again by a write after it.
    one_writer: Option<DirLock>,
}

/// Configures a [`JsonlSink`]; made by [`JsonlSink::builder`].
#[derive(Debug, Clone)]
pub struct JsonlSinkBuilder {
    config: Config,
}

#[derive(Debug, Clone)]
struct Config {
    dir: PathBuf,
    sync: SyncPolicy,
    max_file_bytes: Option<u64>,
    compression: Compression,
    retention: Retention,
}

impl JsonlSinkBuilder {
    /// When to `fdatasync` (default [`SyncPolicy::Never`]).
    #[must_use]
    pub fn sync(mut self, sync: SyncPolicy) -> Self {
        self.config.sync = sync;
        self
    }

    /// Starts a new file (`.1`, `.2`, …) before one would grow past this size.
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.config.max_file_bytes = Some(bytes);
        self
    }

    /// Compresses files once closed (default none).
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.config.compression = compression;
        self
    }

    /// Deletes files dated more than `days` days before today.
    #[must_use]
    pub fn max_age_days(mut self, days: u32) -> Self {
        self.config.retention.max_age_days = Some(days);
        self
    }

    /// Keeps at most the newest `files` files.
    #[must_use]
    pub fn max_files(mut self, files: usize) -> Self {
        self.config.retention.max_files = Some(files);
        self
    }

    /// Creates the directory if needed, repairs torn files and finishes interrupted compression.
    pub fn open(self) -> Result<JsonlSink, SinkError> {
        let config = self.config;
        create_private_dir(&config.dir)
            .map_err(|e| SinkError::io("create directory", &config.dir, e))?;
        let one_writer = DirLock::acquire(&config.dir)?;
        archive::clean_interrupted(&config.dir)
            .map_err(|e| SinkError::io("clean up", &config.dir, e))?;
        let repaired = Arc::new(AtomicU64::new(0));
        let scan = naming::scan(&config.dir).map_err(|e| SinkError::io("list", &config.dir, e))?;
        for file in scan.iter().filter(|f| f.compressed.is_none()) {
            let mut handle = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&file.path)
                .map_err(|e| SinkError::io("open", &file.path, e))?;
            let cut = repair::repair_torn_tail(&mut handle, &file.path)
                .map_err(|e| SinkError::io("repair", &file.path, e))?;
            if cut > 0 {
                repaired.fetch_add(1, Ordering::Relaxed);
            }
        }
        let config = Arc::new(config);
        Ok(JsonlSink {
            files: Some(Files::new(config.clone())),
            config,
            archiving: Vec::new(),
            archive_lock: Arc::default(),
            repaired,
            one_writer: Some(one_writer),
        })
    }
}

impl JsonlSink {
    /// Opens a sink writing to `dir` with the default settings.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, SinkError> {
        Self::builder(dir).open()
    }

    /// A builder for a sink writing to `dir`.
    pub fn builder(dir: impl Into<PathBuf>) -> JsonlSinkBuilder {
        JsonlSinkBuilder {
            config: Config {
                dir: dir.into(),
                sync: SyncPolicy::default(),
                max_file_bytes: None,
                compression: Compression::default(),
                retention: Retention::default(),
            },
        }
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// How many files had a torn last line repaired when the sink was opened.
    pub fn repaired_files(&self) -> u64 {
        self.repaired.load(Ordering::Relaxed)
    }

    /// The serialisation buffer kept between batches: a fresh multi-megabyte Vec per batch
    /// costs page faults on every batch.
    fn take_buffer(&mut self) -> Vec<u8> {
        self.files
            .as_mut()
            .map(|files| std::mem::take(&mut files.buf))
            .unwrap_or_default()
    }

    /// Appends the serialised batch on the blocking pool and archives the files it closed.
    async fn append(&mut self, buf: Vec<u8>, segments: Segments) -> Result<(), SinkError> {
        if self.one_writer.is_none() {
            self.one_writer = Some(DirLock::acquire(&self.config.dir)?);
        }
        let (closed, open) = self
            .blocking(move |files| {
                let result = files.append(&buf, &segments);
                if buf.capacity() <= MAX_KEPT_BUFFER {
                    files.buf = buf;
                }
                result
            })
            .await?;
        self.archive(closed, open);
        Ok(())
    }

    /// Runs `op` on the file state in the blocking pool.
    async fn blocking<T: Send + 'static>(
        &mut self,
        op: impl FnOnce(&mut Files) -> Result<T, SinkError> + Send + 'static,
    ) -> Result<T, SinkError> {
        let mut files = self
            .files
            .take()
            .unwrap_or_else(|| Files::new(self.config.clone()));
        let joined = tokio::task::spawn_blocking(move || {
            let result = op(&mut files);
            (files, result)
        })
        .await;
        match joined {
            Ok((files, result)) => {
                self.files = Some(files);
                result
            }
            // The state is lost with the panicked task; the next call reopens the files.
            Err(join) => Err(SinkError::other(join)),
        }
    }

    fn archive(&mut self, closed: Vec<PathBuf>, open: Vec<PathBuf>) {
        self.archiving.retain(|task| !task.is_finished());
        let config = self.config.clone();
        let has_retention = config.retention != Retention::default();
        if closed.is_empty() || (config.compression == Compression::None && !has_retention) {
            return;
        }
        let lock = self.archive_lock.clone();
        self.archiving.push(tokio::task::spawn_blocking(move || {
            let _one_at_a_time = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for path in closed {
                if let Err(e) = archive::compress(&path, config.compression) {
                    tracing::error!(file = %path.display(), error = %e, "could not compress a closed audit log; it stays uncompressed");
                }
            }
            if has_retention {
                if let Err(e) = archive::enforce_retention(&config.dir, config.retention, &open) {
                    tracing::error!(dir = %config.dir.display(), error = %e, "audit log retention failed");
                }
            }
        }));
    }
}

#[async_trait]
impl Sink for JsonlSink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut buf = self.take_buffer();
        buf.clear();
        let segments = serialize(batch, &mut buf)?;
        self.append(buf, segments).await
    }

    async fn write_lines(
        &mut self,
        batch: &[AuditEntry],
        lines: &mut JsonLines,
    ) -> Result<(), SinkError> {
        if batch.is_empty() {
            return Ok(());
        }
        if lines.len() != batch.len() {
            return self.write(batch).await;
        }
        let mut segments: Segments = Vec::with_capacity(1);
        let mut start = 0;
        for (i, entry) in batch.iter().enumerate() {
            let end = start + lines.line(i).map_or(0, <[u8]>::len);
            push_segment(&mut segments, entry.timestamp.date(), start..end);
            start = end;
        }
        // The lines' bytes are written as they are; our spare buffer becomes theirs.
        let bytes = lines.take();
        lines.recycle(self.take_buffer());
        self.append(bytes, segments).await
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.blocking(|files| if files.dirty { files.sync() } else { Ok(()) })
            .await
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        let mut closed = self.blocking(|files| files.close()).await?;
        if let Some(files) = &mut self.files {
            closed.append(&mut files.pending_closed);
        }
        self.archive(closed, Vec::new());
        for task in self.archiving.drain(..) {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "audit log archiving task failed");
            }
        }
        self.one_writer = None;
        Ok(())
    }

    fn name(&self) -> &str {
        "jsonl"
    }

    fn chained_by_default(&self) -> bool {
        true
    }
}

/// The audit files in `dir`, in the order to read the log: by date, then rotation index;
/// compressed ones (`.gz`, `.zst`) included, other files ignored.
///
/// ```no_run
/// for file in audit_core::jsonl::log_files("audit_logs".as_ref())? {
///     println!("{}", file.display());
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn log_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(naming::scan(dir)?.into_iter().map(|f| f.path).collect())
}

/// Byte ranges of a serialised batch, one per run of entries with the same UTC date.
type Segments = Vec<(Date, Range<usize>)>;

/// The largest serialisation buffer kept between batches.
const MAX_KEPT_BUFFER: usize = 16 << 20;

/// Appends the batch as JSON lines to `buf` and returns its [`Segments`].
fn serialize(batch: &[AuditEntry], buf: &mut Vec<u8>) -> Result<Segments, SinkError> {
    let mut segments: Segments = Vec::with_capacity(1);
    for entry in batch {
        let start = buf.len();
        super::write_line(entry, buf)?;
        push_segment(&mut segments, entry.timestamp.date(), start..buf.len());
    }
    Ok(segments)
}

/// Extends the last segment with `range` when it has the same date, else starts a new one.
fn push_segment(segments: &mut Segments, date: Date, range: Range<usize>) {
    match segments.last_mut() {
        Some((last, known)) if *last == date => known.end = range.end,
        _ => segments.push((date, range)),
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests;
