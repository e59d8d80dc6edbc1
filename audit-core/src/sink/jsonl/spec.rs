//! `jsonl:DIR?options`: the JSONL sink's part of `AUDIT_SINK`.

use super::{Compression, JsonlSink, SyncPolicy};
use crate::error::SinkError;

/// The JSONL sink's settings from `jsonl:DIR?…`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonlSpec {
    /// The directory.
    pub dir: std::path::PathBuf,
    /// `sync=never|every_batch|<N>ms|<N>s`.
    pub sync: SyncPolicy,
    /// `max_file_bytes=N`.
    pub max_file_bytes: Option<u64>,
    /// `compress=gzip|zstd`.
    pub compression: Compression,
    /// `max_age_days=N`.
    pub max_age_days: Option<u32>,
    /// `max_files=N`.
    pub max_files: Option<usize>,
}

impl JsonlSpec {
    /// Parses what follows `jsonl:`; the error says which option is wrong and what it takes.
    pub(crate) fn parse(rest: &str) -> Result<JsonlSpec, String> {
        let (dir, options) = rest.split_once('?').unwrap_or((rest, ""));
        if dir.is_empty() {
            return Err("`jsonl:` needs a directory, as in `jsonl:./audit_logs`".into());
        }
        let mut spec = JsonlSpec {
            dir: dir.into(),
            sync: SyncPolicy::Never,
            max_file_bytes: None,
            compression: Compression::None,
            max_age_days: None,
            max_files: None,
        };
        fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
            value
                .parse()
                .map_err(|_| format!("option `{key}` takes a whole number, not `{value}`"))
        }
        for option in options.split('&').filter(|o| !o.is_empty()) {
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| format!("option `{option}` has no `=value`"))?;
            match key {
                "sync" => spec.sync = match value {
                    "never" => SyncPolicy::Never,
                    "every_batch" => SyncPolicy::EveryBatch,
                    interval => SyncPolicy::Interval(humantime::parse_duration(interval).ok().ok_or_else(|| {
                        format!("option `sync` takes never, every_batch or an interval like 500ms or 2s, not `{value}`")
                    })?),
                },
                "max_file_bytes" => spec.max_file_bytes = Some(number(key, value)?),
                "max_age_days" => spec.max_age_days = Some(number(key, value)?),
                "max_files" => spec.max_files = Some(number(key, value)?),
                "compress" => spec.compression = match value {
                    "none" => Compression::None,
                    #[cfg(feature = "gzip")]
                    "gzip" | "gz" => Compression::Gzip,
                    #[cfg(feature = "zstd")]
                    "zstd" | "zst" => Compression::Zstd,
                    other => return Err(format!(
                        "option `compress` takes none, gzip (feature `gzip`) or zstd (feature `zstd`), not `{other}`"
                    )),
                },
                other => return Err(format!("unknown option `{other}`")),
            }
        }
        Ok(spec)
    }

    /// Opens the sink these settings describe.
    pub fn open(&self) -> Result<JsonlSink, SinkError> {
        let mut builder = JsonlSink::builder(&self.dir)
            .sync(self.sync)
            .compression(self.compression);
        if let Some(bytes) = self.max_file_bytes {
            builder = builder.max_file_bytes(bytes);
        }
        if let Some(days) = self.max_age_days {
            builder = builder.max_age_days(days);
        }
        if let Some(files) = self.max_files {
            builder = builder.max_files(files);
        }
        builder.open()
    }
}
