//! Repair of a torn last line left by a crash in the middle of a write.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Truncates `file` after its last newline if it does not end with one, so it is valid JSONL
/// again. Returns how many bytes were cut (0 when the file was intact).
pub(crate) fn repair_torn_tail(file: &mut File, path: &Path) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut end = len;
    let mut first = true;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let part = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if first && part.last() == Some(&b'\n') {
            return Ok(0);
        }
        first = false;
        if let Some(pos) = part.iter().rposition(|b| *b == b'\n') {
            let keep = start + pos as u64 + 1;
            return cut(file, path, len, keep);
        }
        end = start;
    }
    // Not a single complete line: the whole file is one torn line.
    cut(file, path, len, 0)
}

fn cut(file: &mut File, path: &Path, len: u64, keep: u64) -> std::io::Result<u64> {
    file.set_len(keep)?;
    file.sync_data()?;
    tracing::warn!(
        file = %path.display(),
        cut_bytes = len - keep,
        "repaired a torn last line in an audit log (a crash interrupted a write); the partial line was removed"
    );
    Ok(len - keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn repaired(content: &[u8]) -> (Vec<u8>, u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let cut = repair_torn_tail(&mut file, &path).unwrap();
        (std::fs::read(&path).unwrap(), cut)
    }

    #[test]
    fn intact_and_empty_files_are_untouched() {
        assert_eq!(repaired(b"{}\n{}\n"), (b"{}\n{}\n".to_vec(), 0));
        assert_eq!(repaired(b""), (Vec::new(), 0));
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_newline() {
        assert_eq!(
            repaired(b"{\"a\":1}\n{\"b\":"),
            (b"{\"a\":1}\n".to_vec(), 5)
        );
        assert_eq!(repaired(b"{\"b\":"), (Vec::new(), 5));
    }

    #[test]
    fn a_torn_tail_longer_than_a_chunk_is_cut() {
        let mut content = b"{\"a\":1}\n".to_vec();
        content.extend(std::iter::repeat_n(b'x', 200_000));
        let (kept, cut) = repaired(&content);
        assert_eq!(kept, b"{\"a\":1}\n");
        assert_eq!(cut, 200_000);
    }
}
