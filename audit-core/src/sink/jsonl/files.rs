//! The open files: appends by date and size (rotating), reopening a day's file after a
//! restart (repairing a torn last line), syncing, and closing the ones the sink moved on from.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use time::Date;

use super::{naming, Config, SyncPolicy};
use crate::error::SinkError;

/// The open files and what the sink knows of them; lives on the blocking pool during I/O.
#[derive(Debug)]
pub(super) struct Files {
    pub(super) config: Arc<Config>,
    pub(super) open: Vec<OpenFile>,
    /// Files this sink closed: never appended to again (they may be being compressed).
    pub(super) sealed: Vec<PathBuf>,
    /// Files closed during a write that failed, to archive after the next success.
    pub(super) pending_closed: Vec<PathBuf>,
    pub(super) newest: Option<Date>,
    pub(super) dirty: bool,
    pub(super) last_sync: Instant,
    /// The serialisation buffer, kept between batches.
    pub(super) buf: Vec<u8>,
}

#[derive(Debug)]
pub(super) struct OpenFile {
    date: Date,
    index: u32,
    path: PathBuf,
    file: File,
    size: u64,
}

impl Files {
    pub(super) fn new(config: Arc<Config>) -> Self {
        Files {
            config,
            open: Vec::new(),
            sealed: Vec::new(),
            pending_closed: Vec::new(),
            newest: None,
            dirty: false,
            last_sync: Instant::now(),
            buf: Vec::new(),
        }
    }

    /// Appends each date's lines to its file, syncs per policy, and returns the files closed on
    /// the way and those still open. On failure every file is truncated back to where it was.
    pub(super) fn append(
        &mut self,
        buf: &[u8],
        segments: &[(Date, Range<usize>)],
    ) -> Result<(Vec<PathBuf>, Vec<PathBuf>), SinkError> {
        let mut closed = Vec::new();
        let mut undo: Vec<(PathBuf, u64)> = Vec::new();
        let result = self.append_segments(buf, segments, &mut closed, &mut undo);
        let result = result.and_then(|()| match self.config.sync {
            SyncPolicy::EveryBatch => self.sync(),
            SyncPolicy::Interval(every) if self.last_sync.elapsed() >= every => self.sync(),
            _ => {
                self.dirty = true;
                Ok(())
            }
        });
        if let Err(e) = result {
            for (path, size) in undo.iter().rev() {
                if let Err(undo_error) = truncate(path, *size) {
                    tracing::error!(file = %path.display(), error = %undo_error, "could not roll back a failed audit write");
                }
            }
            for file in &mut self.open {
                if let Some((_, size)) = undo.iter().find(|(p, _)| p == &file.path) {
                    file.size = file.size.min(*size);
                }
            }
            // Files closed on the way stay closed; they are archived after the next success.
            self.pending_closed.append(&mut closed);
            return Err(e);
        }
        closed.append(&mut self.pending_closed);
        let open = self.open.iter().map(|f| f.path.clone()).collect();
        Ok((closed, open))
    }

    fn append_segments(
        &mut self,
        buf: &[u8],
        segments: &[(Date, Range<usize>)],
        closed: &mut Vec<PathBuf>,
        undo: &mut Vec<(PathBuf, u64)>,
    ) -> Result<(), SinkError> {
        for (date, range) in segments {
            let bytes = &buf[range.clone()];
            let slot = self.file_for(*date, bytes.len() as u64, closed)?;
            let file = &mut self.open[slot];
            if !undo.iter().any(|(p, _)| p == &file.path) {
                undo.push((file.path.clone(), file.size));
            }
            file.file
                .write_all(bytes)
                .map_err(|e| SinkError::io("write", &file.path, e))?;
            file.size += bytes.len() as u64;
        }
        Ok(())
    }

    /// The slot in `open` of the file that takes `len` more bytes dated `date`, rotating as needed.
    fn file_for(
        &mut self,
        date: Date,
        len: u64,
        closed: &mut Vec<PathBuf>,
    ) -> Result<usize, SinkError> {
        let newest = self.newest.map_or(date, |n| n.max(date));
        self.newest = Some(newest);
        // Keep the previous day open for calls that started before midnight; close older ones.
        let keep_from = newest.previous_day().unwrap_or(newest);
        self.close_where(|f| f.date < keep_from, closed);
        let limit = self.config.max_file_bytes;
        if let Some(slot) = self.open.iter().position(|f| f.date == date) {
            let file = &self.open[slot];
            let full = limit.is_some_and(|max| file.size > 0 && file.size + len > max);
            if !full {
                return Ok(slot);
            }
            let next = file.index + 1;
            let path = file.path.clone();
            self.close_where(|f| f.path == path, closed);
            return self.open_new(date, next);
        }
        // First write for this date in this process: continue the newest file if it is plain and
        // has room, else start the next index.
        let dir = &self.config.dir;
        let existing = naming::scan(dir).map_err(|e| SinkError::io("list", dir, e))?;
        let latest = existing.iter().rev().find(|f| f.date == date);
        match latest {
            None => self.open_new(date, 0),
            Some(f) if f.compressed.is_some() || self.sealed.contains(&f.path) => {
                self.open_new(date, f.index + 1)
            }
            Some(f) => {
                let size = std::fs::metadata(&f.path)
                    .map_err(|e| SinkError::io("inspect", &f.path, e))?
                    .len();
                if limit.is_some_and(|max| size > 0 && size + len > max) {
                    self.open_new(date, f.index + 1)
                } else {
                    let (path, index) = (f.path.clone(), f.index);
                    self.open_existing(date, index, path)
                }
            }
        }
    }

    fn open_new(&mut self, date: Date, mut index: u32) -> Result<usize, SinkError> {
        // Skip names taken by files this process did not see (another writer, a restore).
        loop {
            let path = self.config.dir.join(naming::file_name(date, index));
            let taken = path.exists()
                || [".gz", ".zst"]
                    .iter()
                    .any(|s| PathBuf::from(format!("{}{s}", path.display())).exists());
            if !taken {
                return self.open_existing(date, index, path);
            }
            index += 1;
        }
    }

    fn open_existing(&mut self, date: Date, index: u32, path: PathBuf) -> Result<usize, SinkError> {
        let mut options = OpenOptions::new();
        options.append(true).create(true).read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .map_err(|e| SinkError::io("open", &path, e))?;
        let size = file
            .metadata()
            .map_err(|e| SinkError::io("inspect", &path, e))?
            .len();
        self.open.push(OpenFile {
            date,
            index,
            path,
            file,
            size,
        });
        Ok(self.open.len() - 1)
    }

    fn close_where(&mut self, doomed: impl Fn(&OpenFile) -> bool, closed: &mut Vec<PathBuf>) {
        let mut i = 0;
        while i < self.open.len() {
            if doomed(&self.open[i]) {
                let file = self.open.swap_remove(i);
                if let Err(e) = file.file.sync_data() {
                    tracing::error!(file = %file.path.display(), error = %e, "could not sync a closed audit log");
                }
                self.sealed.push(file.path.clone());
                closed.push(file.path);
            } else {
                i += 1;
            }
        }
    }

    pub(super) fn sync(&mut self) -> Result<(), SinkError> {
        for file in &self.open {
            file.file
                .sync_data()
                .map_err(|e| SinkError::io("sync", &file.path, e))?;
        }
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    pub(super) fn close(&mut self) -> Result<Vec<PathBuf>, SinkError> {
        self.sync()?;
        // Only a finished day is archived on close; today's file is continued after a restart.
        let newest = self.newest;
        let mut closed = Vec::new();
        self.close_where(|f| Some(f.date) < newest, &mut closed);
        self.open.clear();
        Ok(closed)
    }
}

fn truncate(path: &Path, size: u64) -> std::io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(size)?;
    file.sync_data()
}
