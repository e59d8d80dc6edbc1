//! ArcSight Common Event Format (CEF:0), one line per entry, the payload most syslog-fed SIEMs
//! (ArcSight, QRadar, Sentinel's CEF connector, LogRhythm) parse. Searchable fields go to the
//! standard extension keys and labelled custom strings; the whole entry, including what CEF has
//! no key for, travels as its canonical line in `rawEvent`.

use std::io::Write;

use super::{duration_nanos, epoch_millis, native_line, split_addr};
use crate::entry::{AuditEntry, Outcome};

pub(super) fn write(entry: &AuditEntry, buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"CEF:0|");
    header(buf, super::PRODUCT);
    header(buf, super::PRODUCT);
    header(buf, env!("CARGO_PKG_VERSION"));
    header(buf, &entry.endpoint);
    header(buf, &format!("{} {}", entry.endpoint, entry.outcome));
    let _ = write!(buf, "{}|", severity(entry.outcome));

    let mut ext = Extension { buf, first: true };
    let time = epoch_millis(entry);
    ext.put("rt", &time.to_string());
    ext.put("start", &time.to_string());
    ext.put(
        "end",
        &(time + (duration_nanos(entry) / 1_000_000) as i64).to_string(),
    );
    ext.put("externalId", &entry.id.to_string());
    ext.put("act", &entry.endpoint);
    ext.put("outcome", entry.outcome.as_str());
    ext.put("suser", &entry.user);
    ext.opt("requestMethod", entry.method.as_deref());
    if let Some(path) = &entry.path {
        match &entry.query {
            Some(query) => ext.put("request", &format!("{path}?{query}")),
            None => ext.put("request", path),
        }
    }
    ext.opt("requestClientApplication", entry.user_agent.as_deref());
    let (source, translated) = match (&entry.client_addr, &entry.peer_addr) {
        (Some(client), peer) => (Some(client), peer.as_ref()),
        (None, peer) => (peer.as_ref(), None),
    };
    if let Some(addr) = source {
        address(&mut ext, addr, "src", "spt", "shost");
    }
    if let Some(addr) = translated {
        address(
            &mut ext,
            addr,
            "sourceTranslatedAddress",
            "sourceTranslatedPort",
            "sourceTranslatedZoneURI",
        );
    }
    ext.opt("msg", entry.error.as_deref());
    if let Some(bytes) = entry.request_bytes {
        ext.put("in", &bytes.to_string());
    }
    if let Some(bytes) = entry.response_bytes {
        ext.put("out", &bytes.to_string());
    }
    ext.labelled(
        "cn1",
        "status_code",
        entry.status_code.map(|s| s.to_string()),
    );
    ext.labelled(
        "cn2",
        "duration_ms",
        Some((duration_nanos(entry) / 1_000_000).to_string()),
    );
    ext.labelled(
        "cn3",
        "chain_seq",
        entry.chain.as_ref().map(|c| c.seq.to_string()),
    );
    ext.labelled("cs1", "route", entry.route.clone());
    ext.labelled("cs2", "tenant", entry.tenant.clone());
    ext.labelled("cs3", "correlation_id", entry.correlation_id.clone());
    ext.labelled(
        "cs4",
        "operation_id",
        entry.operation.as_ref().map(|o| o.id.to_string()),
    );
    ext.labelled(
        "cs5",
        "chain_hash",
        entry
            .chain
            .as_ref()
            .map(|c| c.hash.clone())
            .filter(|h| !h.is_empty()),
    );
    ext.labelled(
        "cs6",
        "tags",
        Some(entry.tags.join(",")).filter(|t| !t.is_empty()),
    );
    ext.labelled("flexString1", "trace_id", entry.trace_id.clone());
    ext.labelled("flexString2", "span_id", entry.span_id.clone());
    ext.put("rawEvent", &native_line(entry));
}

/// CEF severity, 0 (lowest) to 10.
fn severity(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Pending => 1,
        Outcome::Success => 3,
        Outcome::Cancelled => 4,
        Outcome::ClientError => 5,
        Outcome::Panic => 9,
        _ => 7,
    }
}

/// A header field: `|` and `\` escaped; a line break, which CEF headers cannot hold, becomes a
/// space (the exact text stays in `rawEvent`).
fn header(buf: &mut Vec<u8>, value: &str) {
    escape(buf, value, |byte| match byte {
        b'\\' => Some(b"\\\\"),
        b'|' => Some(b"\\|"),
        b'\r' | b'\n' => Some(b" "),
        _ => None,
    });
    buf.push(b'|');
}

/// Appends `value`, replacing the ASCII bytes `special` names; the runs between them are
/// copied whole (UTF-8 continuation bytes are never ASCII, so no character is split).
fn escape(buf: &mut Vec<u8>, value: &str, special: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = value.as_bytes();
    let mut run = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if let Some(replacement) = special(byte) {
            buf.extend_from_slice(&bytes[run..i]);
            buf.extend_from_slice(replacement);
            run = i + 1;
        }
    }
    buf.extend_from_slice(&bytes[run..]);
}

fn address(ext: &mut Extension<'_>, addr: &str, ip: &str, port: &str, name: &str) {
    match split_addr(addr) {
        Some((address, p)) => {
            ext.put(ip, &address.to_string());
            if let Some(p) = p {
                ext.put(port, &p.to_string());
            }
        }
        None => ext.put(name, addr),
    }
}

/// `key=value` pairs separated by spaces, values escaped as CEF asks: `\`, `=`, and line
/// breaks as `\n`/`\r`.
struct Extension<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl Extension<'_> {
    fn put(&mut self, key: &str, value: &str) {
        if !self.first {
            self.buf.push(b' ');
        }
        self.first = false;
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.push(b'=');
        escape(self.buf, value, |byte| match byte {
            b'\\' => Some(b"\\\\"),
            b'=' => Some(b"\\="),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            _ => None,
        });
    }

    fn opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.put(key, value);
        }
    }

    /// A custom key with its label (`cs1=… cs1Label=route`).
    fn labelled(&mut self, key: &str, label: &str, value: Option<String>) {
        if let Some(value) = value {
            self.put(key, &value);
            self.put(&format!("{key}Label"), label);
        }
    }
}
