//! `AUDIT_SINK=syslog+tcp://…`, `syslog+tls://…`, `syslog+relp://…`, `syslog+relp+tls://…`,
//! `syslog+udp://…`: the syslog sink's grammar.
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `format` | `native`, `otel`, `ecs`, `ocsf`, `cef` | `native` |
//! | `facility` | `auth`, `authpriv`, `audit`, `local0` … `local7` | `local0` |
//! | `app_name`, `hostname` | RFC 5424 APP-NAME and HOSTNAME | `audited`, this host |
//! | `max_message_bytes` | larger entries are cut down with a marker | 8192 |
//! | `tls_ca`, `tls_server_name` | roots and name the collector's certificate is checked against | system roots, the host |
//! | `tls_cert`, `tls_key` | the client certificate and key (PEM) for a collector that asks for one | none |
//! | `spool`, `spool_max_bytes` | where batches wait while the collector is away | `./audit_spool_syslog/<host>_<port>`, 1 GiB |

use std::path::PathBuf;

use super::{Facility, SyslogSinkBuilder, Transport};
use crate::format::Format;

/// A parsed `syslog+…://` sink (see the module's table).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyslogSpec {
    /// TCP, TLS or UDP.
    pub transport: Transport,
    /// `host:port` (or `host`, for the transport's default port).
    pub address: String,
    /// The message text's format.
    pub format: Format,
    facility: Option<Facility>,
    app_name: Option<String>,
    hostname: Option<String>,
    max_message_bytes: Option<usize>,
    tls_ca: Option<PathBuf>,
    tls_server_name: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    spool: Option<PathBuf>,
    spool_max_bytes: Option<u64>,
}

impl std::fmt::Display for SyslogSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "syslog+{}://{} ({})",
            super::transport_name(self.transport),
            self.address,
            self.format
        )
    }
}

impl SyslogSpec {
    /// `syslog+tls://host:port`, as errors name the sink.
    pub fn target(&self) -> String {
        format!(
            "syslog+{}://{}",
            super::transport_name(self.transport),
            self.address
        )
    }

    /// Parses a `syslog+tcp://`, `syslog+tls://` or `syslog+udp://` sink.
    pub(crate) fn parse(spec: &str) -> Result<SyslogSpec, String> {
        let (scheme, rest) = spec
            .split_once("://")
            .ok_or("a syslog sink is syslog+tcp://HOST:PORT, syslog+tls://… or syslog+udp://…")?;
        let transport = match scheme {
            "syslog+tcp" => Transport::Tcp,
            "syslog+tls" => Transport::Tls,
            "syslog+udp" => Transport::Udp,
            "syslog+relp" => Transport::Relp,
            "syslog+relp+tls" => Transport::RelpTls,
            _ => return Err(format!("unknown syslog transport `{scheme}`: accepted are syslog+tcp, syslog+tls, syslog+relp, syslog+relp+tls and syslog+udp")),
        };
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        let address = address.trim_end_matches('/');
        if address.is_empty() {
            return Err("a syslog sink needs the collector's host (and port)".into());
        }
        let mut out = SyslogSpec {
            transport,
            address: address.to_owned(),
            format: Format::Native,
            facility: None,
            app_name: None,
            hostname: None,
            max_message_bytes: None,
            tls_ca: None,
            tls_server_name: None,
            tls_cert: None,
            tls_key: None,
            spool: None,
            spool_max_bytes: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned();
            let number = |value: &str| {
                value
                    .parse()
                    .map_err(|_| format!("option `{key}` takes a whole number, not `{value}`"))
            };
            match key {
                "format" => {
                    out.format = value
                        .parse()
                        .map_err(|e: crate::format::UnknownFormat| format!("option `format`: {e}"))?
                }
                "facility" => {
                    out.facility = Some(Facility::parse(&value).ok_or_else(|| {
                        format!("option `facility` takes auth, authpriv, audit or local0 … local7, not `{value}`")
                    })?)
                }
                "app_name" => out.app_name = Some(value),
                "hostname" => out.hostname = Some(value),
                "max_message_bytes" => out.max_message_bytes = Some(number(&value)?),
                "spool_max_bytes" => out.spool_max_bytes = Some(number(&value)? as u64),
                "tls_ca" => out.tls_ca = Some(value.into()),
                "tls_server_name" => out.tls_server_name = Some(value),
                "tls_cert" => out.tls_cert = Some(value.into()),
                "tls_key" => out.tls_key = Some(value.into()),
                "spool" => out.spool = Some(value.into()),
                _ => {
                    return Err(format!(
                        "unknown option `{key}`: accepted are format, facility, app_name, hostname, max_message_bytes, tls_ca, tls_server_name, tls_cert, tls_key, spool and spool_max_bytes"
                    ))
                }
            }
        }
        if out.tls_cert.is_some() != out.tls_key.is_some() {
            return Err(
                "options `tls_cert` and `tls_key` go together: the certificate and its private key"
                    .into(),
            );
        }
        Ok(out)
    }

    /// A builder with these settings.
    pub fn builder(&self) -> SyslogSinkBuilder {
        let mut builder =
            SyslogSinkBuilder::new(self.transport, self.address.clone()).format(self.format);
        if let Some(facility) = self.facility {
            builder = builder.facility(facility);
        }
        if let Some(name) = &self.app_name {
            builder = builder.app_name(name.clone());
        }
        if let Some(name) = &self.hostname {
            builder = builder.hostname(name.clone());
        }
        if let Some(n) = self.max_message_bytes {
            builder = builder.max_message_bytes(n);
        }
        if let Some(path) = &self.tls_ca {
            builder = builder.tls_ca(path.clone());
        }
        if let Some(name) = &self.tls_server_name {
            builder = builder.tls_server_name(name.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            builder = builder.tls_client_cert(cert.clone(), key.clone());
        }
        if let Some(dir) = &self.spool {
            builder = builder.spool_dir(dir.clone());
        }
        if let Some(n) = self.spool_max_bytes {
            builder = builder.spool_max_bytes(n);
        }
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports_and_options() {
        let spec = SyslogSpec::parse(
            "syslog+tls://siem.example:6514?format=cef&facility=local3&app_name=billing&tls_ca=/etc/ca.pem",
        )
        .unwrap();
        assert_eq!(spec.transport, Transport::Tls);
        assert_eq!(spec.address, "siem.example:6514");
        assert_eq!(spec.format, Format::Cef);
        assert_eq!(spec.facility, Some(Facility::Local(3)));
        assert_eq!(spec.tls_ca, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(spec.to_string(), "syslog+tls://siem.example:6514 (cef)");
        assert_eq!(
            SyslogSpec::parse("syslog+udp://10.0.0.5")
                .unwrap()
                .transport,
            Transport::Udp
        );
    }

    #[test]
    fn bad_specs_say_what_is_accepted() {
        for (spec, needle) in [
            ("syslog+sctp://x", "syslog+tcp, syslog+tls, syslog+relp"),
            ("syslog+tcp://", "needs the collector"),
            ("syslog+tcp://x?facility=kern", "local0"),
            ("syslog+tcp://x?format=leef", "native, otel"),
            ("syslog+tcp://x?colour=red", "unknown option `colour`"),
            ("syslog:x", "syslog+tcp://HOST:PORT"),
        ] {
            let err = SyslogSpec::parse(spec).unwrap_err();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }
}
