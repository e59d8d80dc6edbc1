//! Configuring a [`NatsSink`]: servers, credentials and TLS, the stream, the subject, the spool.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::stream::StorageType;

use super::{NatsSink, NatsStats, INITIAL_BACKOFF, MAX_BACKOFF};
use crate::error::SinkError;
use crate::sink::backoff::Backoff;
use crate::sink::spool::Spool;

/// How the sink connects: servers, credentials and TLS, as async-nats takes them. Never logged:
/// `Debug` shows the servers only.
#[derive(Clone, Default)]
pub struct NatsConnection {
    pub(crate) servers: Vec<String>,
    pub(crate) credentials_file: Option<PathBuf>,
    pub(crate) token: Option<String>,
    pub(crate) user_password: Option<(String, String)>,
    pub(crate) nkey_seed: Option<String>,
    pub(crate) tls_required: bool,
    pub(crate) root_certificates: Option<PathBuf>,
    pub(crate) client_certificate: Option<(PathBuf, PathBuf)>,
    pub(crate) connect_timeout: Option<Duration>,
}

impl std::fmt::Debug for NatsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConnection")
            .field("servers", &self.servers)
            .field("tls_required", &self.tls_required)
            .finish_non_exhaustive()
    }
}

impl NatsConnection {
    /// Connects, with the credentials and TLS settings given.
    pub(crate) async fn connect(&self) -> Result<async_nats::Client, String> {
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(5)))
            // The sink spools while the servers are away and publishes again when they are
            // back; the client keeps trying in the background, from the first attempt on, and
            // learns the cluster's other servers from the first it reaches.
            .max_reconnects(None)
            .retry_on_initial_connect()
            .name("audited");
        if let Some(path) = &self.credentials_file {
            options = options
                .credentials_file(path)
                .await
                .map_err(|e| format!("cannot read the credentials file {}: {e}", path.display()))?;
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some((user, password)) = &self.user_password {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(seed) = &self.nkey_seed {
            options = options.nkey(seed.clone());
        }
        if self.tls_required {
            options = options.require_tls(true);
        }
        if let Some(path) = &self.root_certificates {
            options = options.add_root_certificates(path.clone());
        }
        if let Some((cert, key)) = &self.client_certificate {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        options
            .connect(self.servers.as_slice())
            .await
            .map_err(|e| e.to_string())
    }

    /// The servers, for messages: never their passwords.
    pub(crate) fn describe(&self) -> String {
        self.servers
            .iter()
            .map(|s| crate::redact::url_without_password(s))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The stream the sink publishes to, created when missing with these settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamSettings {
    /// The stream's name (default `AUDIT`).
    pub name: String,
    /// The subjects the stream takes (default: the sink's subject with its last token `>`,
    /// `audit.>` for `audit.{service}`).
    pub subjects: Option<Vec<String>>,
    /// How long entries are kept (default 7 days): room for collectors to be down a while.
    pub max_age: Duration,
    /// The most bytes kept (default unlimited); past it the oldest go, as with `max_age`.
    pub max_bytes: Option<i64>,
    /// The window in which a message id is stored once (default 2 minutes): a retried or
    /// replayed batch inside it stores no duplicate.
    pub duplicate_window: Duration,
    /// Copies kept on different servers (default 1; 3 in a 3-node cluster).
    pub replicas: usize,
    /// File (default) or memory storage.
    pub storage: StorageType,
    /// Whether the sink creates the stream when it is missing (default true; false where the
    /// stream is managed elsewhere).
    pub create: bool,
}

impl StreamSettings {
    /// The defaults, for the stream `name`.
    pub fn named(name: impl Into<String>) -> Self {
        StreamSettings {
            name: name.into(),
            ..StreamSettings::default()
        }
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            name: "AUDIT".into(),
            subjects: None,
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: None,
            duplicate_window: Duration::from_secs(120),
            replicas: 1,
            storage: StorageType::File,
            create: true,
        }
    }
}

/// Configures a [`NatsSink`]; made by [`NatsSink::builder`].
#[derive(Debug, Clone)]
pub struct NatsSinkBuilder {
    pub(super) connection: NatsConnection,
    pub(super) stream: StreamSettings,
    pub(super) subject: String,
    pub(super) spool_dir: Option<PathBuf>,
    pub(super) spool_max_bytes: u64,
    pub(super) ack_timeout: Duration,
}

impl NatsSink {
    /// A builder for a sink publishing to the servers in `servers` (`nats://host:4222`, or
    /// several, comma-separated, of one cluster).
    pub fn builder(servers: &str) -> NatsSinkBuilder {
        let servers = servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        NatsSinkBuilder {
            connection: NatsConnection {
                servers,
                ..NatsConnection::default()
            },
            stream: StreamSettings::default(),
            subject: "audit.{service}".into(),
            spool_dir: None,
            spool_max_bytes: 1 << 30,
            ack_timeout: Duration::from_secs(5),
        }
    }
}

impl NatsSinkBuilder {
    /// The subject entries are published on (default `audit.{service}`); `{service}` is
    /// replaced by [`service`](Self::service).
    #[must_use]
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// The service name in the subject (default: the program's file name).
    #[must_use]
    pub fn service(mut self, service: &str) -> Self {
        self.subject = self.subject.replace("{service}", service);
        self
    }

    /// The stream's settings.
    #[must_use]
    pub fn stream(mut self, stream: StreamSettings) -> Self {
        self.stream = stream;
        self
    }

    /// A credentials file (`.creds`, JWT and NKey seed), as `nats` CLI takes it.
    #[must_use]
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.connection.credentials_file = Some(path.into());
        self
    }

    /// A token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.connection.token = Some(token.into());
        self
    }

    /// A user and password.
    #[must_use]
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.connection.user_password = Some((user.into(), password.into()));
        self
    }

    /// An NKey seed.
    #[must_use]
    pub fn nkey(mut self, seed: impl Into<String>) -> Self {
        self.connection.nkey_seed = Some(seed.into());
        self
    }

    /// Requires TLS, trusting the system's roots and, if given, this PEM file's certificates.
    #[must_use]
    pub fn tls(mut self, root_certificates: Option<PathBuf>) -> Self {
        self.connection.tls_required = true;
        self.connection.root_certificates = root_certificates;
        self
    }

    /// A client certificate and key (PEM), for servers that verify clients.
    #[must_use]
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.connection.client_certificate = Some((cert.into(), key.into()));
        self
    }

    /// Where batches wait while the servers are unreachable (default
    /// `./audit_spool_nats/<first server>_<stream>`, one per destination).
    #[must_use]
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// The most the spool may hold (default 1 GiB); past it, writes fail and the pipeline's
    /// retry and overflow policies take over.
    #[must_use]
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.spool_max_bytes = bytes;
        self
    }

    /// How long a batch's publish acknowledgements may take before it is spooled (default 5 s).
    #[must_use]
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// How long one connection attempt may take (default 5 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connection.connect_timeout = Some(timeout);
        self
    }

    /// The subject to publish on, with `{service}` filled in; checked, as the stream's name.
    pub(super) fn checked_subject(&self) -> Result<String, SinkError> {
        if self.connection.servers.is_empty() {
            return Err(SinkError::Invalid(
                "no NATS server given: expected nats://host:4222".into(),
            ));
        }
        let name_ok = !self.stream.name.is_empty()
            && self
                .stream
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(SinkError::Invalid(format!(
                "`{}` is not accepted as a stream name: use letters, digits, - and _",
                self.stream.name
            )));
        }
        let subject = self.subject.replace("{service}", &program_name());
        let subject_ok = !subject.is_empty()
            && !subject.contains(['*', '>', ' '])
            && subject.split('.').all(|token| !token.is_empty());
        if !subject_ok {
            return Err(SinkError::Invalid(format!(
                "`{subject}` is not accepted as a subject to publish on: dot-separated tokens, no wildcards or spaces (audit.billing)"
            )));
        }
        Ok(subject)
    }

    /// Checks the settings and opens the spool. The connection is made on the first write,
    /// so an application starts even while the servers are down.
    pub fn open(self) -> Result<NatsSink, SinkError> {
        let subject = self.checked_subject()?;
        let spool_dir = self
            .spool_dir
            .unwrap_or_else(|| default_spool_dir(&self.connection.servers, &self.stream.name));
        let spool = Spool::open(spool_dir, self.spool_max_bytes)?;
        let target = format!("{} stream {}", self.connection.describe(), self.stream.name);
        Ok(NatsSink {
            subjects: self
                .stream
                .subjects
                .clone()
                .unwrap_or_else(|| vec![stream_subjects(&subject)]),
            subject: async_nats::Subject::from(subject),
            connection: self.connection,
            stream: self.stream,
            spool,
            ack_timeout: self.ack_timeout,
            client: None,
            stream_ready: false,
            last_error: None,
            backoff: Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF),
            stats: NatsStats::default(),
            target,
            buf: Vec::new(),
        })
    }
}

/// `audit.billing` → `audit.>`: the stream takes every service's subject.
fn stream_subjects(subject: &str) -> String {
    match subject.rsplit_once('.') {
        Some((prefix, _)) => format!("{prefix}.>"),
        None => subject.to_owned(),
    }
}

/// The running program's file name, for `{service}`.
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|name| {
            name.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .filter(|name: &String| !name.is_empty())
        .unwrap_or_else(|| "app".into())
}

/// `./audit_spool_nats/<first server>_<stream>`: two streams or clusters never share a spool,
/// so neither replays the other's batches. No scheme or credentials in the name.
fn default_spool_dir(servers: &[String], stream: &str) -> PathBuf {
    let server = servers.first().map_or("nats", String::as_str);
    let server = server.split_once("://").map_or(server, |(_, rest)| rest);
    let server = server.rsplit('@').next().unwrap_or(server);
    crate::sink::spool::default_dir("./audit_spool_nats", &format!("{server}_{stream}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_names_are_checked() {
        let spool = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let sink = NatsSink::builder("nats://127.0.0.1:4222")
            .subject("audit.{service}")
            .service("billing")
            .spool_dir(spool.path())
            .open();
        let sink = sink.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sink.subject.as_str(), "audit.billing");
        assert_eq!(sink.subjects, ["audit.>"]);
        for bad in ["audit.*", "audit..x", "audit x", ""] {
            let err = NatsSink::builder("nats://127.0.0.1:4222")
                .subject(bad)
                .open();
            assert!(err.is_err(), "{bad}");
        }
        let err = NatsSink::builder("nats://x")
            .stream(StreamSettings::named("audit.log"))
            .open();
        assert!(err.is_err_and(|e| e.to_string().contains("stream name")));
        assert!(NatsSink::builder(" , ").open().is_err());
    }
}

#[cfg(test)]
mod spool_tests {
    use super::default_spool_dir;
    use std::path::Path;

    #[test]
    fn each_stream_has_its_own_default_spool_without_credentials() {
        let servers = ["nats://app:s3cret@nats-1.internal:4222".to_owned()];
        assert_eq!(
            default_spool_dir(&servers, "AUDIT"),
            Path::new("./audit_spool_nats/nats-1.internal_4222_AUDIT")
        );
        assert_ne!(
            default_spool_dir(&servers, "AUDIT"),
            default_spool_dir(&servers, "BILLING")
        );
    }
}
