//! Cutting a record down to a size a collector takes (syslog's message size, an HTTP
//! endpoint's event size).

use serde_json::{json, Map};

use super::Format;
use crate::entry::AuditEntry;

/// The marker an entry cut to fit carries in `fields` (Kubernetes' `truncate-max-event-size`
/// drops the request and response objects the same way).
pub const TRUNCATED_FIELD: &str = "audit_truncated";

impl Format {
    /// The entry in this format, at most `max_bytes` long where that can be: when larger, the
    /// request, response, headers and custom fields give way to a marker
    /// (`fields.audit_truncated` with the original size), then long texts are cut. The copy in
    /// storage stays whole; this one says it is not. Also says whether it cut.
    pub fn fit(self, entry: &AuditEntry, max_bytes: usize) -> (Vec<u8>, bool) {
        let mut record = Vec::with_capacity(1024);
        self.write(entry, &mut record);
        if record.len() <= max_bytes {
            return (record, false);
        }
        let original = record.len();
        let mut cut = entry.clone();
        cut.request = None;
        cut.response_summary = None;
        cut.headers = Map::new();
        cut.fields = Map::new();
        cut.fields.insert(
        TRUNCATED_FIELD.into(),
        json!({"bytes": original, "max_bytes": max_bytes, "removed": ["request", "response_summary", "headers", "fields"]}),
    );
        record.clear();
        self.write(&cut, &mut record);
        // Still too large: the texts a client controls, cut to a bound each.
        let mut limit = 1024;
        while record.len() > max_bytes && limit >= 16 {
            for text in [
                &mut cut.error,
                &mut cut.path,
                &mut cut.query,
                &mut cut.user_agent,
                &mut cut.route,
                &mut cut.correlation_id,
            ]
            .into_iter()
            .flatten()
            {
                truncate_chars(text, limit);
            }
            truncate_chars(&mut cut.endpoint, limit);
            truncate_chars(&mut cut.user, limit);
            record.clear();
            self.write(&cut, &mut record);
            limit /= 2;
        }
        (record, true)
    }
}

fn truncate_chars(text: &mut String, max: usize) {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.push_str("…[TRUNCATED]");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_too_large_is_cut_with_a_marker() {
        let mut entry = AuditEntry::new("upload");
        entry.request = Some(json!({"blob": "x".repeat(100_000)}));
        entry.error = Some("e".repeat(50_000));
        for format in Format::ALL {
            let (record, cut) = format.fit(&entry, 4096);
            assert!(cut);
            assert!(record.len() <= 4096, "{format}: {}", record.len());
            let text = String::from_utf8(record).unwrap();
            assert!(text.contains(TRUNCATED_FIELD), "{format}");
            assert!(text.contains("[TRUNCATED]"), "{format}");
        }
        let (small, cut) = Format::Native.fit(&AuditEntry::new("x"), 4096);
        assert!(!cut && !String::from_utf8(small).unwrap().contains(TRUNCATED_FIELD));
    }
}
