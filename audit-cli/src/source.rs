//! Reading a SOURCE: a JSONL file or a directory of rotated, possibly compressed, daily files.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The files of `source`, oldest first: `audit_DATE.jsonl`, `audit_DATE.N.jsonl`, `.gz`, `.zst`.
pub fn files(source: &Path) -> io::Result<Vec<PathBuf>> {
    let metadata = std::fs::metadata(source)?;
    if metadata.is_file() {
        return Ok(vec![source.to_path_buf()]);
    }
    let mut found: Vec<(String, u32, PathBuf)> = Vec::new();
    for dirent in std::fs::read_dir(source)? {
        let path = dirent?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(rest) = name.strip_prefix("audit_") else {
            continue;
        };
        let stem = rest
            .strip_suffix(".jsonl")
            .or_else(|| rest.strip_suffix(".jsonl.gz"))
            .or_else(|| rest.strip_suffix(".jsonl.zst"));
        let Some(stem) = stem else { continue };
        let (date, index) = match stem.split_once('.') {
            Some((date, index)) => match index.parse() {
                Ok(index) => (date.to_owned(), index),
                Err(_) => continue,
            },
            None => (stem.to_owned(), 0),
        };
        found.push((date, index, path));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, path)| path).collect())
}

/// A reader of the file's text, decompressed by its name.
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let file = File::open(path)?;
    let name = path.to_string_lossy();
    let reader: Box<dyn Read> = if name.ends_with(".gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else if name.ends_with(".zst") {
        zstd_reader(file, path)?
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}

#[cfg(feature = "zstd")]
fn zstd_reader(file: File, _path: &Path) -> io::Result<Box<dyn Read>> {
    Ok(Box::new(zstd::stream::read::Decoder::new(file)?))
}

#[cfg(not(feature = "zstd"))]
fn zstd_reader(_file: File, path: &Path) -> io::Result<Box<dyn Read>> {
    Err(io::Error::other(format!(
        "{} is zstd-compressed; build audit-cli with its `zstd` feature",
        path.display()
    )))
}

/// One line of a log, with where it came from.
pub struct Line<'a> {
    pub file: &'a Path,
    pub number: usize,
    pub text: &'a str,
    /// Whether the line ended with a newline (a last line without one is torn or still being written).
    pub complete: bool,
}

/// Calls `visit` for every non-empty line of every file, in order, reusing one buffer.
/// Unreadable files are reported on stderr and skipped; returns how many could not be read.
pub fn each_line(files: &[PathBuf], mut visit: impl FnMut(Line<'_>) -> bool) -> usize {
    let mut unreadable = 0;
    let mut buf = String::with_capacity(4096);
    for file in files {
        let mut reader = match open(file) {
            Ok(reader) => reader,
            Err(e) => {
                eprintln!("audit: cannot read {}: {e}", file.display());
                unreadable += 1;
                continue;
            }
        };
        let mut number = 0;
        loop {
            buf.clear();
            match reader.read_line(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    eprintln!("audit: {}:{}: cannot read: {e}", file.display(), number + 1);
                    unreadable += 1;
                    break;
                }
            }
            number += 1;
            let complete = buf.ends_with('\n');
            let text = buf.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            if !visit(Line {
                file,
                number,
                text,
                complete,
            }) {
                return unreadable;
            }
        }
    }
    unreadable
}
