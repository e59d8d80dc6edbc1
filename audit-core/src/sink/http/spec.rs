//! `AUDIT_SINK=https://…`: the HTTP sink's URL grammar.
//!
//! The sink's own options are taken out of the query; the rest stays in the URL.
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `format` | `native`, `otel`, `ecs`, `ocsf`, `cef` | `native` |
//! | `encoding` | `ndjson`, `array` (one JSON array per request), `otlp` (an OTLP/HTTP `ExportLogsServiceRequest`, with `format=otel`) or `splunk` (Splunk HEC events) | `ndjson` |
//! | `service` | the OTLP resource's `service.name` | `audited` |
//! | `gzip` | `true`/`false` | `false` |
//! | `header.NAME` | a header sent with every request (percent-encoded value) | none |
//! | `header_file.NAME` | a header whose value is read from a file (a mounted secret) | none |
//! | `batch_entries`, `batch_bytes` | most entries and bytes in one request | 1000, 1 MiB |
//! | `max_entry_bytes` | larger entries are cut down with a marker | 256 KiB |
//! | `timeout`, `retry_budget` | one request; retrying before spooling | `10s`, `10s` |
//! | `tls_ca` | PEM file of the roots the endpoint is verified against | system roots |
//! | `spool`, `spool_max_bytes` | where batches wait while the endpoint is away | `./audit_spool_http/<host>_<port>_<path>`, 1 GiB |

use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use super::{Encoding, HttpSinkBuilder};
use crate::error::SinkError;
use crate::format::Format;

/// A parsed `http://` or `https://` sink (see the module's table).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSpec {
    /// The endpoint, with the query parameters that are not the sink's.
    pub url: String,
    /// The record format.
    pub format: Format,
    /// How records are framed in a body.
    pub encoding: Encoding,
    /// gzip bodies.
    pub gzip: bool,
    service: Option<String>,
    headers: Vec<(String, HeaderSource)>,
    batch_entries: Option<usize>,
    batch_bytes: Option<usize>,
    max_entry_bytes: Option<usize>,
    timeout: Option<Duration>,
    retry_budget: Option<Duration>,
    tls_ca: Option<PathBuf>,
    spool: Option<PathBuf>,
    spool_max_bytes: Option<u64>,
}

#[derive(Clone, PartialEq, Eq)]
enum HeaderSource {
    Value(String),
    File(PathBuf),
}

impl std::fmt::Debug for HttpSpec {
    /// Without header values or the query (either may hold a token).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSpec")
            .field("url", &super::describe(&self.url))
            .field("format", &self.format)
            .field("encoding", &self.encoding)
            .field("gzip", &self.gzip)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for HttpSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HTTP {} ({}, {})",
            super::describe(&self.url),
            self.format,
            match self.encoding {
                Encoding::NdJson => "NDJSON",
                Encoding::JsonArray => "JSON array",
                Encoding::Otlp => "OTLP",
                Encoding::SplunkEvent => "Splunk HEC events",
            }
        )
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("option `{key}` takes a whole number, not `{value}`"))
}

fn duration(key: &str, value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value)
        .map_err(|_| format!("option `{key}` takes a duration such as 10s or 500ms, not `{value}`"))
}

impl HttpSpec {
    /// The endpoint without credentials or query, as errors name the sink.
    pub fn target(&self) -> String {
        super::describe(&self.url)
    }

    /// Parses an `http://` or `https://` sink; the error names the option and what it takes.
    pub(crate) fn parse(spec: &str) -> Result<HttpSpec, String> {
        let (base, query) = spec.split_once('?').unwrap_or((spec, ""));
        let mut out = HttpSpec {
            url: String::new(),
            format: Format::Native,
            encoding: Encoding::NdJson,
            gzip: false,
            service: None,
            headers: Vec::new(),
            batch_entries: None,
            batch_bytes: None,
            max_entry_bytes: None,
            timeout: None,
            retry_budget: None,
            tls_ca: None,
            spool: None,
            spool_max_bytes: None,
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(raw).decode_utf8_lossy().into_owned();
            if let Some(name) = key.strip_prefix("header.") {
                out.headers
                    .push((name.to_owned(), HeaderSource::Value(value)));
                continue;
            }
            if let Some(name) = key.strip_prefix("header_file.") {
                out.headers
                    .push((name.to_owned(), HeaderSource::File(value.into())));
                continue;
            }
            match key {
                "format" => {
                    out.format = value.parse().map_err(|e: crate::format::UnknownFormat| {
                        format!("option `format`: {e}")
                    })?
                }
                "encoding" => {
                    out.encoding = match value.as_str() {
                        "ndjson" => Encoding::NdJson,
                        "array" | "json" => Encoding::JsonArray,
                        "otlp" => Encoding::Otlp,
                        "splunk" | "splunk_event" => Encoding::SplunkEvent,
                        _ => {
                            return Err(format!(
                            "option `encoding` takes ndjson, array, otlp or splunk, not `{value}`"
                        ))
                        }
                    }
                }
                "gzip" => {
                    out.gzip = match value.as_str() {
                        "true" | "on" | "1" | "" => true,
                        "false" | "off" | "0" => false,
                        _ => {
                            return Err(format!("option `gzip` takes true or false, not `{value}`"))
                        }
                    }
                }
                "batch_entries" => out.batch_entries = Some(number(key, &value)?),
                "batch_bytes" => out.batch_bytes = Some(number(key, &value)?),
                "max_entry_bytes" => out.max_entry_bytes = Some(number(key, &value)?),
                "spool_max_bytes" => out.spool_max_bytes = Some(number(key, &value)?),
                "timeout" => out.timeout = Some(duration(key, &value)?),
                "retry_budget" => out.retry_budget = Some(duration(key, &value)?),
                "tls_ca" => out.tls_ca = Some(value.into()),
                "service" => out.service = Some(value),
                "spool" => out.spool = Some(value.into()),
                _ => kept.push(pair),
            }
        }
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err("an HTTP sink needs an http:// or https:// URL".into());
        }
        out.url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(out)
    }

    /// A builder with these settings (header files are read here).
    pub fn builder(&self) -> Result<HttpSinkBuilder, SinkError> {
        let mut builder = HttpSinkBuilder::new(self.url.clone())
            .format(self.format)
            .encoding(self.encoding)
            .gzip(self.gzip);
        if let Some(service) = &self.service {
            builder = builder.service(service.clone());
        }
        for (name, source) in &self.headers {
            let value = match source {
                HeaderSource::Value(value) => value.clone(),
                HeaderSource::File(path) => std::fs::read_to_string(path)
                    .map_err(|e| SinkError::io("read the header file", path, e))?
                    .trim()
                    .to_owned(),
            };
            builder = builder.header(name.clone(), value);
        }
        if let Some(n) = self.batch_entries {
            builder = builder.max_batch_entries(n);
        }
        if let Some(n) = self.batch_bytes {
            builder = builder.max_batch_bytes(n);
        }
        if let Some(n) = self.max_entry_bytes {
            builder = builder.max_entry_bytes(n);
        }
        if let Some(d) = self.timeout {
            builder = builder.timeout(d);
        }
        if let Some(d) = self.retry_budget {
            builder = builder.retry_budget(d);
        }
        if let Some(path) = &self.tls_ca {
            builder = builder.tls_ca(path.clone());
        }
        if let Some(dir) = &self.spool {
            builder = builder.spool_dir(dir.clone());
        }
        if let Some(n) = self.spool_max_bytes {
            builder = builder.spool_max_bytes(n);
        }
        Ok(builder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_sinks_options_out_of_the_url() {
        let spec = HttpSpec::parse(
            "https://hec.example:8088/services/collector/raw?channel=abc&format=ecs&gzip=true&encoding=array&header.Authorization=Splunk%20s3cret&batch_bytes=2048&timeout=3s",
        )
        .unwrap();
        assert_eq!(
            spec.url,
            "https://hec.example:8088/services/collector/raw?channel=abc"
        );
        assert_eq!(spec.format, Format::Ecs);
        assert_eq!(spec.encoding, Encoding::JsonArray);
        assert!(spec.gzip);
        assert_eq!(spec.batch_bytes, Some(2048));
        assert_eq!(spec.timeout, Some(Duration::from_secs(3)));
        assert!(
            spec.headers
                == vec![(
                    "Authorization".to_owned(),
                    HeaderSource::Value("Splunk s3cret".into())
                )]
        );
        let shown = format!("{spec:?} {spec}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn bad_options_say_what_they_take() {
        for (spec, needle) in [
            (
                "https://x/?format=splunk",
                "native, otel, ecs, ocsf and cef",
            ),
            ("https://x/?encoding=xml", "ndjson, array, otlp or splunk"),
            ("https://x/?gzip=maybe", "true or false"),
            ("https://x/?batch_bytes=lots", "whole number"),
            ("https://x/?timeout=soon", "duration"),
        ] {
            let err = HttpSpec::parse(spec).unwrap_err();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }
}
