//! One writer per JSONL directory: a log written by two sinks at once (two replicas in one
//! working directory, two sinks given the same path) would interleave two chains, and each
//! would "repair" the other's half-written last line at start. The directory holds a `.lock`
//! file its sink keeps locked (`flock`) while it is open; the lock goes with the process, also
//! after `kill -9`.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::SinkError;

/// Held by a sink for as long as it writes the directory.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: Option<File>,
}

impl DirLock {
    /// Takes `dir`'s lock, or says which directory another sink holds. A file system without
    /// locks (some network file systems) is written without one, with a warning.
    pub fn acquire(dir: &Path) -> Result<DirLock, SinkError> {
        let path = dir.join(".lock");
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .map_err(|e| SinkError::io("open the lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock { _file: Some(file) }),
            Err(TryLockError::WouldBlock) => Err(SinkError::InUse {
                dir: dir.to_owned(),
            }),
            Err(TryLockError::Error(e)) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot lock the audit directory; make sure no other sink writes it");
                Ok(DirLock { _file: None })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, SinkError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("own directory"), "{err}");
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
