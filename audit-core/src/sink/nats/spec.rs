//! `nats://…`: the NATS sink's part of `AUDIT_SINK`, also the SOURCE of `audit collect`.
//!
//! `nats://[user:password@]host:4222?stream=AUDIT&subject=audit.{service}&…`, options:
//!
//! | option | what | default |
//! |---|---|---|
//! | `stream` | the stream's name | `AUDIT` |
//! | `subject` | the subject to publish on; `{service}` is replaced by `service` | `audit.{service}` |
//! | `service` | the service's name | the program's file name |
//! | `servers` | more servers of the cluster, `;`-separated (`b:4222;c:4222`) | none |
//! | `replicas`, `max_age`, `max_bytes`, `duplicate_window`, `storage` (`file`, `memory`) | the stream's settings when the sink creates it | 1, `7d`, unlimited, `2m`, `file` |
//! | `create_stream` | `false` where the stream is managed elsewhere | `true` |
//! | `creds`, `token`, `nkey` | credentials: a `.creds` file, a token, an NKey seed | none |
//! | `tls`, `tls_ca`, `tls_cert` + `tls_key` | TLS required; a CA to trust; a client certificate | off |
//! | `spool`, `spool_max_bytes` | where batches wait while the servers are away | `./audit_spool_nats/<first server>_<stream>`, 1 GiB |
//! | `ack_timeout`, `connect_timeout` | how long acknowledgements and a connection may take | `5s`, `5s` |
//! | `consumer` | the durable consumer's name (`audit collect` only) | `audit-collect` |

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::stream::StorageType;

use super::{NatsSink, NatsSinkBuilder, StreamSettings};
use crate::redact::url_without_password;

/// The NATS sink's (and collector's) settings from `nats://…`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsSpec {
    /// The servers, the URL's first.
    pub servers: Vec<String>,
    /// Every option as given, checked.
    options: Vec<(String, String)>,
}

impl std::fmt::Debug for NatsSpec {
    /// Shows the servers without passwords, and no credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSpec")
            .field("servers", &self.describe_servers())
            .field("stream", &self.stream_name())
            .finish_non_exhaustive()
    }
}

const OPTIONS: [&str; 21] = [
    "stream",
    "subject",
    "service",
    "servers",
    "replicas",
    "max_age",
    "max_bytes",
    "duplicate_window",
    "storage",
    "create_stream",
    "creds",
    "token",
    "nkey",
    "tls",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "spool",
    "spool_max_bytes",
    "ack_timeout",
    "connect_timeout",
];

impl NatsSpec {
    /// Parses `nats://…` (or `tls://…`); the error says which option is wrong and what it takes.
    pub(crate) fn parse(spec: &str) -> Result<NatsSpec, String> {
        let (base, query) = spec.split_once('?').unwrap_or((spec, ""));
        let mut out = NatsSpec {
            servers: vec![base.to_owned()],
            options: Vec::new(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("option `{pair}` needs a value (`{pair}=…`)"));
            };
            if !OPTIONS.contains(&key) && key != "consumer" {
                return Err(format!(
                    "unknown option `{key}`: accepted are {}, consumer",
                    OPTIONS.join(", ")
                ));
            }
            if key == "servers" {
                out.servers
                    .extend(value.split(';').filter(|s| !s.is_empty()).map(|s| {
                        if s.contains("://") {
                            s.to_owned()
                        } else {
                            format!("nats://{s}")
                        }
                    }));
            }
            out.options.push((key.to_owned(), value.to_owned()));
        }
        // Checked now, so bad configuration fails at start.
        out.builder()?
            .checked_subject()
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        self.option("stream").unwrap_or("AUDIT")
    }

    /// The durable consumer's name, for collectors (`consumer=`, default `audit-collect`).
    pub fn consumer_name(&self) -> &str {
        self.option("consumer").unwrap_or("audit-collect")
    }

    /// The servers, without passwords.
    pub fn describe_servers(&self) -> String {
        self.servers
            .iter()
            .map(|s| url_without_password(s))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A sink builder with these settings.
    pub fn builder(&self) -> Result<NatsSinkBuilder, String> {
        let mut builder = NatsSink::builder(&self.servers.join(","));
        let mut stream = StreamSettings::default();
        let duration = |key: &str, value: &str| {
            humantime::parse_duration(value).map_err(|_| {
                format!("option `{key}` takes a duration (30s, 2m, 7d), not `{value}`")
            })
        };
        let number = |key: &str, value: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("option `{key}` takes a whole number, not `{value}`"))
        };
        let flag = |key: &str, value: &str| match value {
            "true" | "on" | "1" => Ok(true),
            "false" | "off" | "0" => Ok(false),
            _ => Err(format!("option `{key}` takes true or false, not `{value}`")),
        };
        let mut tls_cert: Option<PathBuf> = None;
        let mut tls_key: Option<PathBuf> = None;
        let mut tls = false;
        let mut tls_ca = None;
        for (key, value) in &self.options {
            let (key, value) = (key.as_str(), value.as_str());
            match key {
                "stream" => stream.name = value.to_owned(),
                "subject" => builder = builder.subject(value),
                "replicas" => match number(key, value)? {
                    n @ 1..=5 => stream.replicas = n as usize,
                    _ => return Err(format!("option `replicas` takes 1 to 5, not `{value}`")),
                },
                "max_age" => stream.max_age = duration(key, value)?,
                "max_bytes" => {
                    stream.max_bytes = Some(i64::try_from(number(key, value)?).unwrap_or(i64::MAX))
                }
                "duplicate_window" => stream.duplicate_window = duration(key, value)?,
                "storage" => {
                    stream.storage = match value {
                        "file" => StorageType::File,
                        "memory" => StorageType::Memory,
                        _ => {
                            return Err(format!(
                                "option `storage` takes file or memory, not `{value}`"
                            ))
                        }
                    }
                }
                "create_stream" => stream.create = flag(key, value)?,
                "creds" => builder = builder.credentials_file(value),
                "token" => builder = builder.token(value),
                "nkey" => builder = builder.nkey(value),
                "tls" => tls = flag(key, value)?,
                "tls_ca" => {
                    tls = true;
                    tls_ca = Some(PathBuf::from(value));
                }
                "tls_cert" => tls_cert = Some(value.into()),
                "tls_key" => tls_key = Some(value.into()),
                "spool" => builder = builder.spool_dir(value),
                "spool_max_bytes" => builder = builder.spool_max_bytes(number(key, value)?),
                "ack_timeout" => builder = builder.ack_timeout(duration(key, value)?),
                "connect_timeout" => builder = builder.connect_timeout(duration(key, value)?),
                _ => {}
            }
        }
        if let Some(service) = self.option("service") {
            builder = builder.service(service);
        }
        if tls {
            builder = builder.tls(tls_ca);
        }
        match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => builder = builder.client_certificate(cert, key),
            (None, None) => {}
            _ => return Err("options `tls_cert` and `tls_key` go together".into()),
        }
        if stream.max_age < Duration::from_secs(60) {
            return Err(
                "option `max_age` must be at least 1m: collectors need time to read".into(),
            );
        }
        Ok(builder.stream(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_parsed_and_checked() {
        let spec = NatsSpec::parse(
            "nats://app:secret@a:4222?stream=FLEET&servers=b:4222;c:4222&replicas=3&max_age=30d&subject=audit.{service}&service=billing&consumer=pg",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            spec.servers,
            ["nats://app:secret@a:4222", "nats://b:4222", "nats://c:4222"]
        );
        assert_eq!(spec.stream_name(), "FLEET");
        assert_eq!(spec.consumer_name(), "pg");
        assert!(!format!("{spec:?}").contains("secret"));
        assert!(!spec.describe_servers().contains("secret"));
        for (bad, needle) in [
            ("nats://a?replicas=9", "1 to 5"),
            ("nats://a?max_age=soon", "duration"),
            ("nats://a?storage=tape", "file or memory"),
            ("nats://a?colour=red", "unknown option `colour`"),
            ("nats://a?tls_cert=c.pem", "go together"),
            ("nats://a?max_age=1s", "at least 1m"),
            ("nats://a?subject=audit.*", "subject"),
            ("nats://a?stream", "needs a value"),
        ] {
            let err = NatsSpec::parse(bad).err().unwrap_or_default();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }
}
