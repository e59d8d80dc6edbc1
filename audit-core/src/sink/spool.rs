//! The local spool: batches that could not reach their destination (PostgreSQL, NATS), kept
//! as JSONL files until they can.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::entry::AuditEntry;
use crate::error::SinkError;

/// A directory of `spool_<first id>.jsonl` files, one per batch. Files are written to a temporary
/// name, synced and renamed, so a crash never leaves a partial batch under a spool name; the
/// time-ordered ids make name order the order of recording. The entries and bytes it holds
/// are counted once at open and then kept up to date, so spooling a batch does not list the
/// directory.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: u64,
    bytes: u64,
}

impl Spool {
    pub fn open(dir: PathBuf, max_bytes: u64) -> Result<Self, SinkError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(|e| SinkError::io("create spool directory", &dir, e))?;
        let mut spool = Spool {
            dir,
            max_bytes,
            entries: 0,
            bytes: 0,
        };
        for file in spool.files()? {
            let (entries, bytes) = count_lines(&file);
            spool.entries += entries;
            spool.bytes += bytes;
        }
        Ok(spool)
    }

    /// Entries in the spool now.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The spooled batch files, oldest first.
    pub fn files(&self) -> Result<Vec<PathBuf>, SinkError> {
        let mut files = Vec::new();
        let listing = fs::read_dir(&self.dir).map_err(|e| SinkError::io("list", &self.dir, e))?;
        for dirent in listing {
            let path = dirent
                .map_err(|e| SinkError::io("list", &self.dir, e))?
                .path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("spool_") && name.ends_with(".jsonl") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Stores a batch durably; fails when the spool would outgrow its bound.
    pub fn push(&mut self, batch: &[AuditEntry]) -> Result<PathBuf, SinkError> {
        let Some(first) = batch.first() else {
            return Ok(self.dir.clone());
        };
        let mut buf = Vec::with_capacity(batch.len() * 512);
        for entry in batch {
            crate::sink::write_line(entry, &mut buf)?;
        }
        let used = self.bytes;
        if used + buf.len() as u64 > self.max_bytes {
            return Err(SinkError::SpoolFull {
                dir: self.dir.clone(),
                used,
                max: self.max_bytes,
            });
        }
        let path = self.dir.join(format!("spool_{}.jsonl", first.id));
        let tmp = self.dir.join(format!(".spool_{}.tmp", first.id));
        write_synced(&self.dir, &tmp, &path, &buf)
            .map_err(|e| SinkError::io("write spool file", &path, e))?;
        self.entries += batch.len() as u64;
        self.bytes += buf.len() as u64;
        Ok(path)
    }

    /// Reads one spooled batch.
    fn read(&self, path: &Path) -> Result<Vec<AuditEntry>, SinkError> {
        let text =
            fs::read_to_string(path).map_err(|e| SinkError::io("read spool file", path, e))?;
        let mut entries = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let entry = serde_json::from_str(line).map_err(|source| SinkError::SpoolCorrupt {
                file: path.to_owned(),
                line: number + 1,
                source,
            })?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Reads one spooled batch to send again; a file that cannot be read is set aside (and
    /// said), so it does not block the others.
    pub fn take(&mut self, path: &Path) -> Option<Vec<AuditEntry>> {
        match self.read(path) {
            Ok(batch) => Some(batch),
            Err(e) => {
                tracing::error!(error = %e, "unreadable spool file set aside (renamed to .bad)");
                self.quarantine(path);
                None
            }
        }
    }

    /// Forgets a batch its destination took; a file that cannot be removed is sent again
    /// next time, which the destinations deduplicate by entry id.
    pub fn sent(&mut self, path: &Path, entries: usize) {
        if let Err(e) = self.remove(path, entries) {
            tracing::error!(error = %e, "could not remove a replayed spool file");
        }
    }

    /// Keeps only `rest` of a batch of `entries` whose other entries its destination took:
    /// the file is rewritten under its name (so in its place in the order), or removed when
    /// nothing is left. A file that cannot be rewritten is sent again whole next time.
    #[cfg(feature = "syslog")]
    pub fn keep_only(&mut self, path: &Path, entries: usize, rest: &[AuditEntry]) {
        let Some(name) = path.file_name() else { return };
        if rest.is_empty() {
            return self.sent(path, entries);
        }
        let bytes = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let rewrite = || -> Result<u64, SinkError> {
            let mut buf = Vec::with_capacity(rest.len() * 512);
            for entry in rest {
                crate::sink::write_line(entry, &mut buf)?;
            }
            let tmp = self.dir.join(format!(".{}.tmp", name.to_string_lossy()));
            write_synced(&self.dir, &tmp, path, &buf)
                .map_err(|e| SinkError::io("rewrite spool file", path, e))?;
            Ok(buf.len() as u64)
        };
        match rewrite() {
            Ok(written) => {
                self.forget(entries as u64, bytes);
                self.entries += rest.len() as u64;
                self.bytes += written;
            }
            Err(e) => tracing::error!(error = %e, "could not rewrite a partly replayed spool file"),
        }
    }

    /// Removes a replayed batch of `entries` entries.
    fn remove(&mut self, path: &Path, entries: usize) -> Result<(), SinkError> {
        let bytes = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        fs::remove_file(path).map_err(|e| SinkError::io("remove spool file", path, e))?;
        self.forget(entries as u64, bytes);
        Ok(())
    }

    /// Sets aside a file that cannot be read, so it does not block the others.
    fn quarantine(&mut self, path: &Path) {
        let (entries, bytes) = count_lines(path);
        let target = path.with_extension("bad");
        match fs::rename(path, &target) {
            Ok(()) => self.forget(entries, bytes),
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "could not set aside an unreadable spool file")
            }
        }
    }

    fn forget(&mut self, entries: u64, bytes: u64) {
        self.entries = self.entries.saturating_sub(entries);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
}

/// Writes `bytes` to `tmp`, syncs it and renames it to `path` (then syncs the directory), so a
/// crash leaves either the old file or the new one, never a part.
fn write_synced(dir: &Path, tmp: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(tmp, path)?;
    fs::File::open(dir)?.sync_all()
}

/// The default spool of one destination: `base/<destination>` with every character that is
/// not a letter, digit, `.` or `-` made `_`, so that two sinks of a kind (two HTTP endpoints,
/// two databases in one `AUDIT_SINK`) never replay each other's batches.
pub(crate) fn default_dir(base: &str, destination: &str) -> PathBuf {
    let name: String = destination
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    Path::new(base).join(name.trim_matches('_'))
}

/// The lines (one entry each) and bytes of a spool file; zero for a file that cannot be read.
fn count_lines(path: &Path) -> (u64, u64) {
    match fs::read(path) {
        Ok(bytes) => {
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            (lines, bytes.len() as u64)
        }
        Err(_) => (0, 0),
    }
}

#[cfg(all(test, any(feature = "syslog", feature = "http")))]
mod tests {
    #[test]
    fn each_destination_has_a_spool_of_its_own() {
        let splunk = super::default_dir(
            "./audit_spool_http",
            "splunk.example:8088/services/collector/event",
        );
        let datadog = super::default_dir(
            "./audit_spool_http",
            "http-intake.logs.datadoghq.com/api/v2/logs",
        );
        assert_eq!(
            splunk,
            std::path::Path::new("./audit_spool_http/splunk.example_8088_services_collector_event")
        );
        assert_ne!(splunk, datadog);
        let v6 = super::default_dir("./audit_spool_syslog", "[::1]:6514");
        assert_eq!(v6, std::path::Path::new("./audit_spool_syslog/1__6514"));
    }
}
