//! Entries in the schemas security tools read: `native` (our own canonical line), `otel`
//! (an OpenTelemetry log record), `ecs` (Elastic Common Schema), `ocsf` (OCSF API Activity)
//! and `cef` (ArcSight Common Event Format).
//!
//! Every format keeps every field of the entry: what has a counterpart in the schema goes
//! there, the rest to the schema's extension place (OTel `audit.*` attributes, ECS `labels`,
//! OCSF `unmapped`, CEF custom strings), and each carries the entry's canonical line (OTel
//! `log.record.original`, ECS `event.original`, OCSF `raw_data`, CEF `rawEvent`), whose
//! SHA-256 is the entry's `chain.hash`: a copy in a SIEM can be verified against the source
//! (`audit verify` on the lines). `docs/schema.md` maps each field.
//!
//! ```
//! use audit_core::format::Format;
//! use audit_core::AuditEntry;
//!
//! let mut entry = AuditEntry::new("sow_create");
//! entry.method = Some("POST".into());
//! entry.status_code = Some(201);
//! let ecs: Format = "ecs".parse().unwrap();
//! let record: serde_json::Value = serde_json::from_str(&ecs.render(&entry)).unwrap();
//! assert_eq!(record["http"]["request"]["method"], "POST");
//! assert_eq!(record["event"]["action"], "sow_create");
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde_json::Value;

use crate::entry::{AuditEntry, Outcome};

mod cef;
mod ecs;
mod fit;
mod ocsf;
mod otel;

/// The product name written where a schema asks for one.
pub const PRODUCT: &str = "audited";

/// One of the formats an entry can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// The entry's own canonical JSON line (`docs/schema.md`), the default.
    #[default]
    Native,
    /// An OpenTelemetry log record (OTLP/JSON) with HTTP semantic-convention attributes.
    Otel,
    /// Elastic Common Schema (8.x) JSON.
    Ecs,
    /// OCSF API Activity (class 6003) JSON.
    Ocsf,
    /// ArcSight Common Event Format (one text line, for syslog).
    Cef,
}

/// A format name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}`: accepted are native, otel, ecs, ocsf and cef")]
pub struct UnknownFormat(pub String);

impl Format {
    /// Every format, in the order the docs list them.
    pub const ALL: [Format; 5] = [
        Format::Native,
        Format::Otel,
        Format::Ecs,
        Format::Ocsf,
        Format::Cef,
    ];

    /// The name used in `AUDIT_SINK` (`?format=ecs`) and `audit query --format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Otel => "otel",
            Format::Ecs => "ecs",
            Format::Ocsf => "ocsf",
            Format::Cef => "cef",
        }
    }

    /// Whether a record is a JSON object (all but CEF).
    pub fn is_json(self) -> bool {
        !matches!(self, Format::Cef)
    }

    /// The entry as a JSON value in this format; `None` for CEF, which is text.
    pub fn to_value(self, entry: &AuditEntry) -> Option<Value> {
        match self {
            Format::Native => serde_json::from_str(&native_line(entry)).ok(),
            Format::Otel => serde_json::to_value(otel::record(entry)).ok(),
            Format::Ecs => {
                let timestamp = entry.timestamp.to_string();
                serde_json::to_value(ecs::document(entry, &timestamp)).ok()
            }
            Format::Ocsf => serde_json::to_value(ocsf::event(entry)).ok(),
            Format::Cef => None,
        }
    }

    /// Appends the entry in this format to `buf`, as one line without its newline (JSON
    /// formats escape every control character, so a record never spans lines).
    pub fn write(self, entry: &AuditEntry, buf: &mut Vec<u8>) {
        match self {
            Format::Native => entry.write_canonical(buf),
            Format::Cef => cef::write(entry, buf),
            // Writing into a Vec cannot fail.
            Format::Otel => {
                let _ = serde_json::to_writer(&mut *buf, &otel::record(entry));
            }
            Format::Ecs => {
                let timestamp = entry.timestamp.to_string();
                let _ = serde_json::to_writer(&mut *buf, &ecs::document(entry, &timestamp));
            }
            Format::Ocsf => {
                let _ = serde_json::to_writer(&mut *buf, &ocsf::event(entry));
            }
        }
    }

    /// The entry in this format, as a string.
    pub fn render(self, entry: &AuditEntry) -> String {
        let mut buf = Vec::with_capacity(1024);
        self.write(entry, &mut buf);
        String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The entry's canonical line (no newline): the bytes its chain hash covers.
fn native_line(entry: &AuditEntry) -> String {
    let mut buf = Vec::with_capacity(768);
    entry.write_canonical(&mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
fn epoch_millis(entry: &AuditEntry) -> i64 {
    (entry.timestamp.as_offset_date_time().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Nanoseconds since the Unix epoch, as OTLP/JSON writes 64-bit integers: a string.
fn epoch_nanos(entry: &AuditEntry) -> i128 {
    entry.timestamp.as_offset_date_time().unix_timestamp_nanos()
}

/// The call's duration in whole nanoseconds (never negative).
fn duration_nanos(entry: &AuditEntry) -> u64 {
    (entry.duration_seconds.max(0.0) * 1e9).round() as u64
}

/// An address as written by the layer: an IP, or an IP with a port.
fn split_addr(addr: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(socket) = SocketAddr::from_str(addr) {
        return Some((socket.ip(), Some(socket.port())));
    }
    IpAddr::from_str(addr.trim_matches(['[', ']']))
        .ok()
        .map(|ip| (ip, None))
}

/// Whether the call ended well, badly, or is not over, as ECS and OCSF say it.
fn verdict(outcome: Outcome) -> Verdict {
    match outcome {
        Outcome::Success => Verdict::Success,
        Outcome::Pending => Verdict::Unknown,
        _ => Verdict::Failure,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Success,
    Failure,
    Unknown,
}

#[cfg(test)]
mod tests;

pub use ecs::ECS_VERSION;
pub use fit::TRUNCATED_FIELD;
pub use ocsf::{CATEGORY_UID as OCSF_CATEGORY_UID, CLASS_UID as OCSF_CLASS_UID, OCSF_VERSION};
