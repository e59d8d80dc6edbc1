//! Configuring an [`HttpSink`]: the endpoint, format and encoding, headers, limits, retries,
//! TLS and the spool.

use std::path::PathBuf;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::Uri;

use super::batch::Encoding;
use super::client::Client;
use super::{HttpSink, HttpStats, INITIAL_BACKOFF, MAX_BACKOFF};
use crate::error::SinkError;
use crate::format::Format;
use crate::sink::backoff::Backoff;
use crate::sink::spool::Spool;

/// Builds an [`HttpSink`]; see [`HttpSink::builder`].
#[derive(Clone)]
#[must_use]
pub struct HttpSinkBuilder {
    url: String,
    pub(super) format: Format,
    pub(super) encoding: Encoding,
    service: String,
    pub(super) gzip: bool,
    headers: Vec<(String, String)>,
    pub(super) max_batch_entries: usize,
    pub(super) max_batch_bytes: usize,
    pub(super) max_entry_bytes: usize,
    timeout: Duration,
    pub(super) retry_budget: Duration,
    tls_ca: Option<PathBuf>,
    spool_dir: Option<PathBuf>,
    spool_max_bytes: u64,
}

impl std::fmt::Debug for HttpSinkBuilder {
    /// Header values are secrets (`Authorization: Splunk …`): only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSinkBuilder")
            .field("url", &super::describe(&self.url))
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("gzip", &self.gzip)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("max_batch_entries", &self.max_batch_entries)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .field("max_entry_bytes", &self.max_entry_bytes)
            .field("spool_dir", &self.spool_dir)
            .finish_non_exhaustive()
    }
}

impl HttpSinkBuilder {
    pub(super) fn new(url: impl Into<String>) -> Self {
        HttpSinkBuilder {
            url: url.into(),
            format: Format::Native,
            encoding: Encoding::NdJson,
            service: "audited".into(),
            gzip: false,
            headers: Vec::new(),
            max_batch_entries: 1000,
            max_batch_bytes: 1 << 20,
            max_entry_bytes: 256 << 10,
            timeout: Duration::from_secs(10),
            retry_budget: Duration::from_secs(10),
            tls_ca: None,
            spool_dir: None,
            spool_max_bytes: 1 << 30,
        }
    }

    /// The record format (default [`Format::Native`]).
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// NDJSON (the default) or a JSON array per request.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The `service.name` of OTLP bodies (default `audited`).
    pub fn service(mut self, name: impl Into<String>) -> Self {
        self.service = name.into();
        self
    }

    /// Compress bodies with gzip (`Content-Encoding: gzip`); off by default.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }

    /// A header sent with every request (`Authorization`, `DD-API-KEY`, …). Values are never
    /// logged or shown by `Debug`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Most entries in one request (default 1000).
    pub fn max_batch_entries(mut self, entries: usize) -> Self {
        self.max_batch_entries = entries.max(1);
        self
    }

    /// Most bytes in one request body before compression (default 1 MiB, Splunk HEC's
    /// default limit); a larger batch is split.
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes.max(1024);
        self
    }

    /// Most bytes of one record (default 256 KiB); a larger entry is cut down with a marker
    /// (`fields.audit_truncated`), as Kubernetes' `truncate-max-event-size` does.
    pub fn max_entry_bytes(mut self, bytes: usize) -> Self {
        self.max_entry_bytes = bytes.max(1024);
        self
    }

    /// How long one request may take (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a batch is retried (429, 5xx, no answer; `Retry-After` honoured) before it
    /// goes to the spool (default 10 s), when the endpoint was taking batches. Once it fails,
    /// each later attempt is a single request, spaced by the sink's backoff, until it takes a
    /// batch again.
    pub fn retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    /// A PEM file of the root certificates the endpoint is verified against, instead of
    /// the system's.
    pub fn tls_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(path.into());
        self
    }

    /// Where batches wait while the endpoint is away (default
    /// `./audit_spool_http/<host>_<port>_<path>`, one per endpoint).
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// The most the spool may hold (default 1 GiB).
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.spool_max_bytes = bytes;
        self
    }

    /// Checks the settings and opens the spool; no request is made until the first batch.
    pub fn open(self) -> Result<HttpSink, SinkError> {
        let uri: Uri = self.url.parse().map_err(|e| {
            SinkError::Invalid(format!(
                "`{}` is not a URL: {e}",
                super::describe(&self.url)
            ))
        })?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => {
                return Err(SinkError::Invalid(format!(
                    "`{}` is not an http:// or https:// URL",
                    super::describe(&self.url)
                )))
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SinkError::Invalid(format!("`{name}` is not a header name")))?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                SinkError::Invalid(format!(
                    "the value of header `{name}` is not a header value"
                ))
            })?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        if self.encoding == Encoding::Otlp && self.format != Format::Otel {
            return Err(SinkError::Invalid(format!(
                "OTLP bodies hold OpenTelemetry log records: use format otel with encoding otlp, not {}",
                self.format
            )));
        }
        let max_entry_bytes = self.max_entry_bytes.min(self.max_batch_bytes);
        // Plain http:// needs no roots (and a host without a system store must not fail).
        let roots = if uri.scheme_str() == Some("https") || self.tls_ca.is_some() {
            crate::sink::tls::root_store(self.tls_ca.as_deref())?
        } else {
            rustls::RootCertStore::empty()
        };
        let tls = crate::sink::tls::verifying_client(roots, None)?;
        let spool_dir = self.spool_dir.unwrap_or_else(|| {
            let destination = format!(
                "{}{}",
                uri.authority().map(|a| a.as_str()).unwrap_or_default(),
                uri.path()
            );
            crate::sink::spool::default_dir("./audit_spool_http", &destination)
        });
        let spool = Spool::open(spool_dir, self.spool_max_bytes)?;
        Ok(HttpSink {
            client: Client::new(uri, headers, self.timeout, tls),
            target: super::describe(&self.url),
            format: self.format,
            encoding: self.encoding,
            framing: super::batch::Framing::new(self.encoding, &self.service),
            gzip: self.gzip,
            max_batch_entries: self.max_batch_entries,
            max_batch_bytes: self.max_batch_bytes,
            max_entry_bytes,
            retry_budget: self.retry_budget,
            spool,
            backoff: Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF),
            last_error: None,
            stats: HttpStats::default(),
        })
    }
}
