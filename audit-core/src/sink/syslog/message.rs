//! RFC 5424 messages: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, the entry's
//! record (in the chosen format) as MSG, and RFC 6587 octet-counting frames for streams.

use std::io::Write;

use crate::entry::{AuditEntry, Outcome};
use crate::format::Format;

/// The private enterprise number of the structured data: 32473 is the one RFC 5612 reserves
/// for documentation and examples; collectors key on the SD-ID `audit@32473`.
pub const SD_ID: &str = "audit@32473";

/// A syslog facility (RFC 5424 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Facility {
    /// 4: security/authorization messages.
    Auth,
    /// 10: security/authorization messages (private).
    AuthPriv,
    /// 13: log audit.
    Audit,
    /// 16–23: `local0` … `local7`.
    Local(u8),
}

impl Facility {
    fn code(self) -> u8 {
        match self {
            Facility::Auth => 4,
            Facility::AuthPriv => 10,
            Facility::Audit => 13,
            Facility::Local(n) => 16 + n.min(7),
        }
    }

    /// `auth`, `authpriv`, `audit`, `local0` … `local7`.
    pub fn parse(name: &str) -> Option<Facility> {
        match name {
            "auth" => Some(Facility::Auth),
            "authpriv" => Some(Facility::AuthPriv),
            "audit" => Some(Facility::Audit),
            _ => name
                .strip_prefix("local")
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| *n <= 7)
                .map(Facility::Local),
        }
    }
}

/// The severity an outcome is logged at: informational for success and pending, notice for
/// cancelled, warning for client errors, error for server errors and failures, critical for
/// panics.
pub fn severity(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Success | Outcome::Pending => 6,
        Outcome::Cancelled => 5,
        Outcome::ClientError => 4,
        Outcome::Panic => 2,
        _ => 3,
    }
}

/// What every message of one sink shares.
#[derive(Debug, Clone)]
pub(super) struct Header {
    pub facility: Facility,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub format: Format,
    pub max_message_bytes: usize,
}

/// PRINTUSASCII (33–126) only, at most `max` characters; `-` when empty.
pub(super) fn header_field(value: &str, max: usize) -> String {
    let field: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if field.is_empty() {
        "-".into()
    } else {
        field
    }
}

/// An SD-PARAM value: `"`, `\` and `]` escaped.
fn sd_value(buf: &mut Vec<u8>, value: &str) {
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            buf.push(b'\\');
        }
        let mut utf8 = [0u8; 4];
        buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
    }
}

/// Appends one message for `entry`; says whether the record was cut to fit.
pub(super) fn write(header: &Header, entry: &AuditEntry, buf: &mut Vec<u8>) -> bool {
    let pri = header.facility.code() * 8 + severity(entry.outcome);
    let _ = write!(
        buf,
        "<{pri}>1 {} {} {} {} audit [{SD_ID} id=\"{}\" outcome=\"{}\" endpoint=\"",
        entry.timestamp, header.hostname, header.app_name, header.procid, entry.id, entry.outcome,
    );
    sd_value(buf, &entry.endpoint);
    buf.push(b'"');
    if let Some(chain) = &entry.chain {
        let _ = write!(buf, " seq=\"{}\"", chain.seq);
    }
    buf.extend_from_slice(b"] ");
    let room = header.max_message_bytes.saturating_sub(buf.len());
    let (record, cut) = header.format.fit(entry, room);
    buf.extend_from_slice(&record);
    cut
}

/// Appends `message` as an RFC 6587 octet-counted frame: `LEN SP MSG`.
pub(super) fn frame(message: &[u8], out: &mut Vec<u8>) {
    let _ = write!(out, "{} ", message.len());
    out.extend_from_slice(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(format: Format) -> Header {
        Header {
            facility: Facility::Local(0),
            hostname: "web-1".into(),
            app_name: "billing".into(),
            procid: "42".into(),
            format,
            max_message_bytes: 8192,
        }
    }

    #[test]
    fn messages_follow_rfc5424() {
        let mut entry = AuditEntry::new("sow \"x\"]");
        entry.outcome = Outcome::ServerError;
        let mut buf = Vec::new();
        write(&header(Format::Native), &entry, &mut buf);
        let text = String::from_utf8(buf).unwrap();
        // local0 (16) * 8 + error (3) = 131
        let expected = format!(
            "<131>1 {} web-1 billing 42 audit [audit@32473 id=\"{}\" outcome=\"server_error\" endpoint=\"sow \\\"x\\\"\\]\"] {{",
            entry.timestamp, entry.id
        );
        assert!(text.starts_with(&expected), "{text}");
        let json = text.split_once("] {").unwrap().1;
        assert!(serde_json::from_str::<serde_json::Value>(&format!("{{{json}")).is_ok());
    }

    #[test]
    fn frames_count_octets() {
        let mut out = Vec::new();
        frame("héllo".as_bytes(), &mut out);
        assert_eq!(out, b"6 h\xc3\xa9llo");
    }

    #[test]
    fn messages_fit_the_collectors_size() {
        let mut entry = AuditEntry::new("upload");
        entry.request = Some(serde_json::json!({"blob": "x".repeat(50_000)}));
        let mut buf = Vec::new();
        assert!(write(&header(Format::Ecs), &entry, &mut buf));
        assert!(buf.len() <= 8192, "{}", buf.len());
    }

    #[test]
    fn facilities_and_fields() {
        assert_eq!(Facility::parse("local7"), Some(Facility::Local(7)));
        assert_eq!(Facility::parse("local8"), None);
        assert_eq!(Facility::parse("audit").map(Facility::code), Some(13));
        assert_eq!(header_field("my app\u{e9}!", 48), "myapp!");
        assert_eq!(header_field("", 48), "-");
    }
}
