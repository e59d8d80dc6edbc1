//! What happens to closed files: compression and retention.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
#[cfg(any(feature = "gzip", feature = "zstd"))]
use std::{
    fs::{File, OpenOptions},
    io::BufReader,
};

use super::naming::{self, AuditFile};

/// Compression of closed files. A file is compressed to `NAME.jsonl.gz` / `NAME.jsonl.zst`
/// once the sink has moved on from it (read them with `zcat` / `zstdcat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// Keep closed files as they are.
    #[default]
    None,
    /// gzip (feature `gzip`, on by default).
    #[cfg(feature = "gzip")]
    Gzip,
    /// zstd (feature `zstd`).
    #[cfg(feature = "zstd")]
    Zstd,
}

/// Which closed files are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Retention {
    /// Delete files whose date is more than this many days before today (UTC).
    pub max_age_days: Option<u32>,
    /// Keep at most this many files (the newest).
    pub max_files: Option<usize>,
}

impl Compression {
    #[cfg(any(feature = "gzip", feature = "zstd"))]
    fn suffix(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            #[cfg(feature = "gzip")]
            Compression::Gzip => Some("gz"),
            #[cfg(feature = "zstd")]
            Compression::Zstd => Some("zst"),
        }
    }
}

/// Without a compression feature, files stay as they are.
#[cfg(not(any(feature = "gzip", feature = "zstd")))]
pub(crate) fn compress(_path: &Path, _compression: Compression) -> io::Result<Option<PathBuf>> {
    Ok(None)
}

/// Compresses `path` to `path.SUFFIX`: written to a `.tmp` file, synced, renamed, and only then
/// is the original removed, so a crash at any point leaves one complete copy.
#[cfg(any(feature = "gzip", feature = "zstd"))]
pub(crate) fn compress(path: &Path, compression: Compression) -> io::Result<Option<PathBuf>> {
    let Some(suffix) = compression.suffix() else {
        return Ok(None);
    };
    let target = PathBuf::from(format!("{}.{suffix}", path.display()));
    let tmp = PathBuf::from(format!("{}.{suffix}.tmp", path.display()));
    let mut input = BufReader::new(File::open(path)?);
    let output = create_private(&tmp)?;
    let output: File = match compression {
        Compression::None => return Ok(None),
        #[cfg(feature = "gzip")]
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::default());
            io::copy(&mut input, &mut encoder)?;
            encoder.finish()?
        }
        #[cfg(feature = "zstd")]
        Compression::Zstd => {
            let mut encoder = zstd::stream::write::Encoder::new(output, 3)?;
            io::copy(&mut input, &mut encoder)?;
            encoder.finish()?
        }
    };
    output.sync_all()?;
    fs::rename(&tmp, &target)?;
    fs::remove_file(path)?;
    Ok(Some(target))
}

/// Creates a new file readable by its owner only.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Finishes what a crash interrupted: removes half-written `.tmp` files, and a plain file whose
/// compressed copy was already complete (renamed) but not yet removed.
pub(crate) fn clean_interrupted(dir: &Path) -> io::Result<()> {
    for dirent in fs::read_dir(dir)? {
        let name = dirent?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("audit_") && name.ends_with(".tmp") {
            fs::remove_file(dir.join(name))?;
        }
    }
    let files = naming::scan(dir)?;
    for file in files.iter().filter(|f| f.compressed.is_none()) {
        let has_copy = files.iter().any(|other| {
            other.compressed.is_some() && other.date == file.date && other.index == file.index
        });
        if has_copy {
            fs::remove_file(&file.path)?;
        }
    }
    Ok(())
}

/// Deletes files beyond the retention limits, never one in `protected` (the open files).
/// Returns the deleted paths.
pub(crate) fn enforce_retention(
    dir: &Path,
    retention: Retention,
    protected: &[PathBuf],
) -> io::Result<Vec<PathBuf>> {
    let files = naming::scan(dir)?;
    let today = time::OffsetDateTime::now_utc().date();
    let mut doomed: Vec<&AuditFile> = Vec::new();
    if let Some(days) = retention.max_age_days {
        let oldest_kept = today - Duration::from_secs(u64::from(days) * 86_400);
        doomed.extend(files.iter().filter(|f| f.date < oldest_kept));
    }
    if let Some(max) = retention.max_files {
        let excess = files.len().saturating_sub(max);
        doomed.extend(files.iter().take(excess));
    }
    let mut deleted = Vec::new();
    for file in doomed {
        let is_open = protected.iter().any(|p| p == &file.path);
        if is_open || deleted.contains(&file.path) {
            continue;
        }
        match fs::remove_file(&file.path) {
            Ok(()) => deleted.push(file.path.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if !deleted.is_empty() {
        tracing::info!(dir = %dir.display(), deleted = deleted.len(), "audit log retention removed old files");
    }
    Ok(deleted)
}
