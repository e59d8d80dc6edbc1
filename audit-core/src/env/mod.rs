//! Configuration from the environment: one variable swaps sinks per environment.

use crate::chain::{ChainConfig, CheckpointKey};
use crate::error::ConfigError;
use crate::pipeline::{Auditor, AuditorBuilder, OverflowPolicy};
use crate::redact::Redaction;
use crate::sink::Fanout;
use crate::summary::Scrubber;

#[cfg(feature = "jsonl")]
pub use crate::sink::jsonl::JsonlSpec;
#[cfg(feature = "postgres")]
pub use crate::sink::postgres::PostgresSpec;

mod sink_spec;

pub use sink_spec::SinkSpec;

/// The sinks used when `AUDIT_SINK` is not set.
pub const DEFAULT_SINK: &str = "jsonl:./audit_logs";

fn invalid(
    var: &str,
    value: &str,
    reason: impl Into<String>,
    accepted: &'static str,
) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
        accepted,
    }
}

/// Reads the auditor's configuration from `lookup` (the environment in [`Auditor::from_env`]).
///
/// | variable | values | default |
/// |---|---|---|
/// | `AUDIT_ENABLED` | `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`) | `true` |
/// | `AUDIT_SINK` | see [`SinkSpec`] | [`DEFAULT_SINK`] |
/// | `AUDIT_OVERFLOW` | `block`, `drop_newest`, `strict` | `block` |
/// | `AUDIT_QUEUE_CAPACITY` | a positive number | 8192 |
/// | `AUDIT_BATCH_SIZE` | a positive number | 1024 |
/// | `AUDIT_PSEUDONYMIZE_KEY` | a secret: users are logged as HMAC-SHA256 pseudonyms | unset |
/// | `AUDIT_CHAIN` | `on`/`off`: the tamper-evident chain ([`crate::chain`]) | on for JSONL sinks |
/// | `AUDIT_CHECKPOINT_KEY` | hex digits or `file:PATH`: signs checkpoints (HMAC-SHA256), turns the chain on | unset |
/// | `AUDIT_CHECKPOINT_EVERY` | entries between signed checkpoints | 10000 |
/// | `AUDIT_CHECKPOINT_INTERVAL` | longest time entries stay unsealed (`60s`, `500ms`, `1h`; at most `24h`) | `60s` |
/// | `AUDIT_METRICS` | `on`/`off`: the writer's metrics ([`crate::metrics`], feature `metrics`) | `on` |
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EnvConfig {
    /// `AUDIT_ENABLED`.
    pub enabled: bool,
    /// `AUDIT_SINK`.
    pub sinks: Vec<SinkSpec>,
    /// Everything else.
    pub builder: AuditorBuilder,
}

impl EnvConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, with `default_sink` when `AUDIT_SINK` is unset.
    pub fn from_lookup_with_default(
        lookup: impl Fn(&str) -> Option<String>,
        default_sink: &str,
    ) -> Result<Self, ConfigError> {
        let boolean = |var: &str| -> Result<Option<bool>, ConfigError> {
            let Some(value) = lookup(var) else {
                return Ok(None);
            };
            match value.trim().to_ascii_lowercase().as_str() {
                "" | "1" | "true" | "yes" | "on" => Ok(Some(true)),
                "0" | "false" | "no" | "off" => Ok(Some(false)),
                _ => Err(invalid(
                    var,
                    &value,
                    "not a boolean",
                    "true or false (also 1/0, yes/no, on/off)",
                )),
            }
        };
        let enabled = boolean("AUDIT_ENABLED")?.unwrap_or(true);
        let sinks =
            SinkSpec::parse_list(&lookup("AUDIT_SINK").unwrap_or_else(|| default_sink.to_owned()))?;
        let mut builder = AuditorBuilder::default();
        if let Some(value) = lookup("AUDIT_OVERFLOW") {
            builder = builder.overflow(match value.trim().to_ascii_lowercase().as_str() {
                "block" => OverflowPolicy::Block,
                "drop_newest" | "drop-newest" => OverflowPolicy::DropNewest,
                "strict" => OverflowPolicy::Strict,
                _ => {
                    return Err(invalid(
                        "AUDIT_OVERFLOW",
                        &value,
                        "unknown policy",
                        "block, drop_newest or strict",
                    ))
                }
            });
        }
        let positive = |var: &str| -> Result<Option<usize>, ConfigError> {
            match lookup(var) {
                None => Ok(None),
                Some(value) => match value.trim().parse::<usize>() {
                    Ok(n) if n > 0 => Ok(Some(n)),
                    _ => Err(invalid(
                        var,
                        &value,
                        "not a positive whole number",
                        "a number such as 8192",
                    )),
                },
            }
        };
        if let Some(capacity) = positive("AUDIT_QUEUE_CAPACITY")? {
            builder = builder.queue_capacity(capacity);
        }
        if let Some(batch) = positive("AUDIT_BATCH_SIZE")? {
            builder = builder.batch_size(batch);
        }
        if let Some(key) = lookup("AUDIT_PSEUDONYMIZE_KEY").filter(|k| !k.is_empty()) {
            builder = builder.scrubber(Scrubber::new(
                Default::default(),
                Redaction::default().pseudonymize_users(key),
            ));
        }
        let mut chain = match boolean("AUDIT_CHAIN")? {
            Some(true) => ChainConfig::enabled(),
            Some(false) => ChainConfig::disabled(),
            None => ChainConfig::sink_default(),
        };
        if let Some(spec) = lookup("AUDIT_CHECKPOINT_KEY").filter(|k| !k.trim().is_empty()) {
            if boolean("AUDIT_CHAIN")? == Some(false) {
                return Err(invalid(
                    "AUDIT_CHAIN",
                    "off",
                    "AUDIT_CHECKPOINT_KEY is set, and checkpoints need the chain",
                    "on, or unset AUDIT_CHECKPOINT_KEY",
                ));
            }
            let key = CheckpointKey::parse(&spec)?;
            chain = ChainConfig::enabled().checkpoint_key(key);
        }
        if let Some(every) = positive("AUDIT_CHECKPOINT_EVERY")? {
            chain = chain.checkpoint_every(every as u64);
        }
        if let Some(value) = lookup("AUDIT_CHECKPOINT_INTERVAL") {
            let interval = humantime::parse_duration(value.trim())
                .ok()
                .filter(|interval| *interval <= crate::chain::MAX_CHECKPOINT_INTERVAL)
                .ok_or_else(|| {
                    invalid(
                        "AUDIT_CHECKPOINT_INTERVAL",
                        &value,
                        "not a duration of at most a day",
                        "a duration such as 60s, 500ms or 1h (at most 24h)",
                    )
                })?;
            chain = chain.checkpoint_interval(interval);
        }
        builder = builder.chain(chain);
        if let Some(metrics) = boolean("AUDIT_METRICS")? {
            builder = builder.metrics(metrics);
        }
        Ok(EnvConfig {
            enabled,
            sinks,
            builder,
        })
    }

    /// Reads variables through `lookup`, with [`DEFAULT_SINK`] when `AUDIT_SINK` is unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_with_default(lookup, DEFAULT_SINK)
    }

    /// Opens the sinks and starts the auditor (a disabled one when `AUDIT_ENABLED=false`).
    pub fn build(self) -> Result<Auditor, ConfigError> {
        if !self.enabled {
            return Ok(Auditor::disabled());
        }
        let mut sinks = self
            .sinks
            .iter()
            .map(SinkSpec::open)
            .collect::<Result<Vec<_>, _>>()?;
        if sinks.len() == 1 {
            if let Some(sink) = sinks.pop() {
                return self.builder.build(sink);
            }
        }
        self.builder.build(Fanout::new(sinks))
    }
}

impl Auditor {
    /// An auditor configured from the environment (see [`EnvConfig`]): how users swap sinks
    /// per environment with one variable, `AUDIT_SINK`.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // AUDIT_SINK=jsonl:./audit_logs,stdout:pretty
    /// let auditor = audit_core::Auditor::from_env()?;
    /// // … serve …
    /// auditor.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Auditor, ConfigError> {
        EnvConfig::from_env()?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::StdoutFormat;

    fn config(vars: &[(&str, &str)]) -> Result<EnvConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvConfig::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_to_jsonl_in_audit_logs() {
        let c = config(&[]).unwrap();
        assert!(c.enabled);
        assert!(
            matches!(&c.sinks[..], [SinkSpec::Jsonl(spec)] if spec.dir == std::path::Path::new("./audit_logs"))
        );
    }

    #[test]
    fn parses_sink_lists_and_options() {
        let c = config(&[(
            "AUDIT_SINK",
            "stdout, stdout:pretty,jsonl:/var/log/audit?sync=250ms&max_file_bytes=1000&max_age_days=90&max_files=7",
        )])
        .unwrap();
        assert_eq!(c.sinks[0], SinkSpec::Stdout(StdoutFormat::Json));
        assert_eq!(c.sinks[1], SinkSpec::Stdout(StdoutFormat::Pretty));
        let SinkSpec::Jsonl(spec) = &c.sinks[2] else {
            panic!()
        };
        assert_eq!(
            spec.sync,
            crate::jsonl::SyncPolicy::Interval(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            (spec.max_file_bytes, spec.max_age_days, spec.max_files),
            (Some(1000), Some(90), Some(7))
        );
    }

    #[test]
    fn invalid_values_name_the_variable_and_what_is_accepted() {
        let cases: &[(&str, &str, &str)] = &[
            ("AUDIT_SINK", "kafka://x", "unknown sink `kafka`"),
            ("AUDIT_SINK", "jsonl:", "needs a directory"),
            ("AUDIT_SINK", "jsonl:./d?sync=sometimes", "option `sync`"),
            (
                "AUDIT_SINK",
                "jsonl:./d?colour=red",
                "unknown option `colour`",
            ),
            ("AUDIT_SINK", " , ", "no sink named"),
            ("AUDIT_ENABLED", "maybe", "true or false"),
            ("AUDIT_METRICS", "loud", "true or false"),
            ("AUDIT_OVERFLOW", "yolo", "block, drop_newest or strict"),
            ("AUDIT_QUEUE_CAPACITY", "0", "positive"),
            ("AUDIT_CHECKPOINT_INTERVAL", "100000000h", "at most 24h"),
            ("AUDIT_CHECKPOINT_INTERVAL", "2d", "at most 24h"),
            ("AUDIT_CHECKPOINT_INTERVAL", "soon", "at most 24h"),
        ];
        for (var, value, needle) in cases {
            let err = config(&[(var, value)]).unwrap_err().to_string();
            assert!(err.starts_with(&format!("{var}=")), "{err}");
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("accepted"), "{err}");
        }
    }

    #[test]
    fn invalid_sinks_are_shown_without_passwords_or_tokens() {
        for spec in [
            "postgres://app:s3cret@db/prod?audit_partition=week",
            "https://hec:8088/x?format=splunk&header.Authorization=Splunk%20s3cret",
            "syslog+sctp://u:s3cret@h",
        ] {
            let err = config(&[("AUDIT_SINK", spec)]).unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("[REDACTED]"), "{err}");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_urls_keep_driver_options_and_take_the_sinks() {
        let c = config(&[(
            "AUDIT_SINK",
            "postgres://app:pw@db:5432/prod?sslmode=disable&audit_schema=audit&audit_spool=/var/spool/a",
        )])
        .unwrap();
        let SinkSpec::Postgres(spec) = &c.sinks[0] else {
            panic!()
        };
        assert_eq!(spec.url, "postgres://app:pw@db:5432/prod?sslmode=disable");
        assert_eq!(spec.schema.as_deref(), Some("audit"));
        assert_eq!(
            spec.spool_dir.as_deref(),
            Some(std::path::Path::new("/var/spool/a"))
        );
        assert!(!c.sinks[0].to_string().contains("pw"));
        assert!(!format!("{c:?}").contains("pw@"));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_write_timeout_is_a_duration() {
        let c = config(&[("AUDIT_SINK", "postgres://db/prod?audit_write_timeout=2s")]).unwrap();
        let SinkSpec::Postgres(spec) = &c.sinks[0] else {
            panic!()
        };
        assert_eq!(spec.write_timeout, Some(std::time::Duration::from_secs(2)));
        assert_eq!(spec.url, "postgres://db/prod");
        let err = config(&[("AUDIT_SINK", "postgres://db/prod?audit_write_timeout=soon")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("audit_write_timeout") && err.contains("accepted"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn disabled_auditor_records_nothing() {
        let auditor = config(&[("AUDIT_ENABLED", "false")])
            .unwrap()
            .build()
            .unwrap();
        assert!(!auditor.is_enabled());
        auditor.record(crate::AuditEntry::new("x")).await.unwrap();
        auditor.shutdown().await.unwrap();
        assert_eq!(auditor.stats(), crate::Stats::default());
    }

    #[test]
    fn two_sinks_on_one_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sink = format!("jsonl:{0},jsonl:{0}", dir.path().display());
        let err = config(&[("AUDIT_SINK", &sink)])
            .unwrap()
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("is in use by another sink"), "{err}");
    }

    #[tokio::test]
    async fn builds_a_fanout_of_the_named_sinks() {
        let dir = tempfile::tempdir().unwrap();
        let sink = format!("jsonl:{},stdout:pretty", dir.path().display());
        let auditor = config(&[("AUDIT_SINK", &sink), ("AUDIT_OVERFLOW", "strict")])
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(auditor.overflow(), Some(OverflowPolicy::Strict));
        auditor
            .record(crate::AuditEntry::new("from_env"))
            .await
            .unwrap();
        auditor.shutdown().await.unwrap();
        let logs = crate::jsonl::log_files(dir.path()).unwrap();
        assert_eq!(logs.len(), 1);
    }
}
