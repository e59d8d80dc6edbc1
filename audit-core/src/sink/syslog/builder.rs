//! Configuring a [`SyslogSink`]: the collector, the format, facility and names, TLS, the spool.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::message::{header_field, Header};
use super::{Facility, SyslogSink, SyslogStats, Transport, INITIAL_BACKOFF, MAX_BACKOFF};
use crate::error::SinkError;
use crate::format::Format;
use crate::sink::backoff::Backoff;
use crate::sink::spool::Spool;

/// Builds a [`SyslogSink`]; see [`SyslogSink::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SyslogSinkBuilder {
    transport: Transport,
    address: String,
    format: Format,
    facility: Facility,
    app_name: String,
    hostname: Option<String>,
    max_message_bytes: usize,
    tls_ca: Option<PathBuf>,
    tls_server_name: Option<String>,
    tls_identity: Option<(PathBuf, PathBuf)>,
    timeout: Duration,
    confirm_after: Duration,
    spool_dir: Option<PathBuf>,
    spool_max_bytes: u64,
}

impl SyslogSinkBuilder {
    pub(super) fn new(transport: Transport, address: String) -> Self {
        SyslogSinkBuilder {
            transport,
            address,
            format: Format::Native,
            facility: Facility::Local(0),
            app_name: "audited".into(),
            hostname: None,
            max_message_bytes: 8192,
            tls_ca: None,
            tls_server_name: None,
            tls_identity: None,
            timeout: Duration::from_secs(5),
            confirm_after: Duration::from_millis(250),
            spool_dir: None,
            spool_max_bytes: 1 << 30,
        }
    }

    /// The message text: the entry in this format (default [`Format::Native`]; [`Format::Cef`]
    /// for ArcSight-style parsers).
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The facility (default `local0`).
    pub fn facility(mut self, facility: Facility) -> Self {
        self.facility = facility;
        self
    }

    /// APP-NAME (default `audited`; printable ASCII, at most 48 characters).
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }

    /// HOSTNAME (default: this host's name).
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.hostname = Some(name.into());
        self
    }

    /// The largest message the collector takes (default 8192, rsyslog's and syslog-ng's
    /// default); a larger entry is cut down with a marker (`fields.audit_truncated`) rather
    /// than cut blindly by the collector.
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes.max(1024);
        self
    }

    /// A PEM file of the roots the collector's certificate is checked against (TLS), instead
    /// of the system's.
    pub fn tls_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(path.into());
        self
    }

    /// The name the collector's certificate must carry (default: the address's host).
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// The client certificate and private key (PEM files) shown to a collector that asks for
    /// one (mutual TLS; RELP over TLS always does).
    pub fn tls_client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_identity = Some((cert.into(), key.into()));
        self
    }

    /// How long connecting or writing may take (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a written batch is kept to send again should the collector reset the
    /// connection (default 250 ms).
    pub fn confirm_after(mut self, wait: Duration) -> Self {
        self.confirm_after = wait;
        self
    }

    /// Where batches wait while the collector is away (default
    /// `./audit_spool_syslog/<host>_<port>`, one per collector).
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// The most the spool may hold (default 1 GiB).
    pub fn spool_max_bytes(mut self, bytes: u64) -> Self {
        self.spool_max_bytes = bytes;
        self
    }

    /// Checks the settings and opens the spool; the connection is made on the first write.
    pub fn open(self) -> Result<SyslogSink, SinkError> {
        let (host, address) = split_address(&self.address, self.transport.default_port())
            .ok_or_else(|| {
                SinkError::Invalid(format!(
                    "`{}` is not a collector address (host:port)",
                    self.address
                ))
            })?;
        let tls = match self.transport {
            Transport::Tls | Transport::RelpTls => {
                let roots = crate::sink::tls::root_store(self.tls_ca.as_deref())?;
                let identity = self
                    .tls_identity
                    .as_ref()
                    .map(|(cert, key)| (cert.as_path(), key.as_path()));
                let config = crate::sink::tls::verifying_client(roots, identity)?;
                Some((
                    Arc::new(config),
                    self.tls_server_name.unwrap_or_else(|| host.clone()),
                ))
            }
            _ => None,
        };
        let hostname = self.hostname.unwrap_or_else(|| local_hostname().to_owned());
        let spool_dir = self
            .spool_dir
            .unwrap_or_else(|| crate::sink::spool::default_dir("./audit_spool_syslog", &address));
        let spool = Spool::open(spool_dir, self.spool_max_bytes)?;
        Ok(SyslogSink {
            transport: self.transport,
            address,
            tls,
            header: Header {
                facility: self.facility,
                hostname: header_field(&hostname, 255),
                app_name: header_field(&self.app_name, 48),
                procid: std::process::id().to_string(),
                format: self.format,
                max_message_bytes: self.max_message_bytes,
            },
            connection: None,
            unconfirmed: VecDeque::new(),
            confirm_after: self.confirm_after,
            timeout: self.timeout,
            spool,
            backoff: Backoff::new(INITIAL_BACKOFF, MAX_BACKOFF),
            last_error: None,
            stats: SyslogStats::default(),
            buf: Vec::new(),
        })
    }
}

/// This host's name (Linux: `/proc/sys/kernel/hostname`, else `$HOSTNAME`, else
/// `localhost`), read once: the messages' HOSTNAME.
fn local_hostname() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    })
}

/// `host:port`, `host`, `[v6]:port` or `[v6]` → the host, and the address with a port.
fn split_address(address: &str, default_port: u16) -> Option<(String, String)> {
    let address = address.trim();
    if address.is_empty() {
        return None;
    }
    if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .map(|_| (host.to_owned(), address.to_owned())),
            None if after.is_empty() => Some((host.to_owned(), format!("[{host}]:{default_port}"))),
            None => None,
        };
    }
    match address.rsplit_once(':') {
        Some((host, port)) => port
            .parse::<u16>()
            .ok()
            .filter(|_| !host.is_empty() && !host.contains(':'))
            .map(|_| (host.to_owned(), address.to_owned())),
        None => Some((address.to_owned(), format!("{address}:{default_port}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::split_address;

    #[test]
    fn addresses_take_the_default_port() {
        assert_eq!(
            split_address("siem.example", 6514),
            Some(("siem.example".into(), "siem.example:6514".into()))
        );
        assert_eq!(
            split_address("127.0.0.1:1514", 514),
            Some(("127.0.0.1".into(), "127.0.0.1:1514".into()))
        );
        assert_eq!(
            split_address("[::1]", 514),
            Some(("::1".into(), "[::1]:514".into()))
        );
        assert_eq!(split_address("host:port", 514), None);
        assert_eq!(split_address("", 514), None);
    }
}
