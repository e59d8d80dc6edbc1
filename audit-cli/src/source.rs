//! Reading a SOURCE: a JSONL file or a directory of rotated, possibly compressed, daily files.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// The files of `source`, oldest first: `audit_DATE.jsonl`, `audit_DATE.N.jsonl`, `.gz`, `.zst`.
pub fn files(source: &Path) -> io::Result<Vec<PathBuf>> {
    let metadata = std::fs::metadata(source)?;
    if metadata.is_file() {
        return Ok(vec![source.to_path_buf()]);
    }
    audit_core::jsonl::log_files(source)
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
/// Unreadable files are reported on stderr and skipped; returns how many could not be read. A
/// line that is not UTF-8 is reported with its place, counted ([`crate::lines::skipped`]) and
/// skipped; the lines after it are still read.
pub fn each_line(files: &[PathBuf], mut visit: impl FnMut(Line<'_>) -> bool) -> usize {
    let mut unreadable = 0;
    let mut buf = Vec::with_capacity(4096);
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
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    eprintln!("audit: {}:{}: cannot read: {e}", file.display(), number + 1);
                    crate::lines::note_skipped();
                    unreadable += 1;
                    break;
                }
            }
            number += 1;
            let complete = buf.ends_with(b"\n");
            let text = match std::str::from_utf8(&buf) {
                Ok(text) => text.trim_end_matches(['\n', '\r']),
                Err(e) => {
                    eprintln!(
                        "audit: {}:{number}: not UTF-8 (byte {} of the line), skipped",
                        file.display(),
                        e.valid_up_to() + 1
                    );
                    crate::lines::note_skipped();
                    continue;
                }
            };
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

/// Where entries come from: files, or (feature `postgres`) the audit table.
pub enum Source {
    Files(Vec<PathBuf>),
    /// `postgres://…` with the sink's own options (`audit_schema`, `audit_table`, TLS).
    Postgres(String),
}

/// How rows are read from PostgreSQL: a condition, its parameters, an order and a limit.
pub struct SqlQuery {
    pub condition: String,
    pub params: Vec<crate::filter::SqlValue>,
    pub order: &'static str,
    pub limit: Option<u64>,
}

impl SqlQuery {
    /// Every row, in `order`.
    pub fn all(order: &'static str) -> Self {
        SqlQuery {
            condition: "true".into(),
            params: Vec::new(),
            order,
            limit: None,
        }
    }
}

impl Source {
    /// `postgres://…` or `postgresql://…` is the table; anything else a file or directory.
    pub fn open(source: &Path) -> Result<Source, CliError> {
        let text = source.to_string_lossy();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            if cfg!(feature = "postgres") {
                return Ok(Source::Postgres(text.into_owned()));
            }
            return Err(CliError::Unsupported {
                feature: "postgres",
            });
        }
        files(source)
            .map(Source::Files)
            .map_err(|e| CliError::Read {
                path: source.to_owned(),
                source: e,
            })
    }

    /// Calls `visit` for every line of the files, or for every row `query` selects (each as
    /// the JSON line the entry serialises to). Returns how many files could not be read.
    pub fn each_line(
        &self,
        query: &SqlQuery,
        visit: impl FnMut(Line<'_>) -> bool,
    ) -> Result<usize, CliError> {
        match self {
            Source::Files(files) => Ok(each_line(files, visit)),
            Source::Postgres(url) => postgres_lines(url, query, visit).map(|()| 0),
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres_lines(
    url: &str,
    query: &SqlQuery,
    mut visit: impl FnMut(Line<'_>) -> bool,
) -> Result<(), CliError> {
    use crate::filter::SqlValue;
    use tokio_postgres::types::ToSql;

    let spec = match audit_core::SinkSpec::parse(url)? {
        audit_core::SinkSpec::Postgres(spec) => spec,
        _ => {
            return Err(CliError::Argument {
                what: "a PostgreSQL URL",
                value: audit_core::url_without_password(url),
                expected: "postgres://user@host/database",
            })
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let mut reader = spec.builder()?.open_reader().await?;
        let name = PathBuf::from(format!("postgres:{}", reader.target()));
        let params: Vec<Box<dyn ToSql + Sync>> = query
            .params
            .iter()
            .map(|value| -> Box<dyn ToSql + Sync> {
                match value {
                    SqlValue::Text(text) => Box::new(text.clone()),
                    SqlValue::Int(n) => Box::new(*n),
                    SqlValue::Time(at) => Box::new(*at),
                    SqlValue::Id(id) => Box::new(*id),
                    SqlValue::Path(parts) | SqlValue::Texts(parts) => Box::new(parts.clone()),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let mut number = 0;
        let mut buf = Vec::with_capacity(2048);
        let mut failed = None;
        reader
            .for_each(&query.condition, &refs, query.order, query.limit, |entry| {
                number += 1;
                buf.clear();
                if let Err(e) = entry.write_json_line(&mut buf) {
                    failed = Some(CliError::Entry {
                        id: entry.id,
                        source: e,
                    });
                    return false;
                }
                let text = std::str::from_utf8(&buf).unwrap_or_default().trim_end();
                visit(Line {
                    file: &name,
                    number,
                    text,
                    complete: true,
                })
            })
            .await?;
        failed.map_or(Ok(()), Err)
    })
}

#[cfg(not(feature = "postgres"))]
fn postgres_lines(
    _url: &str,
    query: &SqlQuery,
    _visit: impl FnMut(Line<'_>) -> bool,
) -> Result<(), CliError> {
    // Read only with the feature; named here so builds without it stay warning-free.
    let _ = (&query.condition, &query.params, query.order, query.limit);
    Err(CliError::Unsupported {
        feature: "postgres",
    })
}

/// The SOURCE as it may be shown: a PostgreSQL URL without its password.
pub fn describe(source: &Path) -> String {
    audit_core::url_without_password(&source.to_string_lossy())
}
