//! Caps on the string fields an entry takes from a request, so that no request, however
//! hostile, makes a line of megabytes (a 1 MB user name, a 64 KB `Host`, a 10 KB request id).
//! A cut value keeps its start and says how long it was: `"aaaa… <1048576 characters>"`.

use crate::entry::AuditEntry;

/// `user`.
pub const MAX_USER_CHARS: usize = 256;
/// `path`, `query`, `endpoint`, `route`.
pub const MAX_PATH_CHARS: usize = 2048;
/// Each value in `headers`.
pub const MAX_HEADER_VALUE_CHARS: usize = 1024;
/// Each name in `headers`.
pub const MAX_HEADER_NAME_CHARS: usize = 128;
/// How many `headers` are kept (the first in name order); more are counted under `"…"`.
pub const MAX_HEADERS: usize = 64;
/// `correlation_id`.
pub const MAX_CORRELATION_ID_CHARS: usize = 128;
/// `user_agent`.
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// `error`, and `grpc.message`.
pub const MAX_ERROR_CHARS: usize = 2048;
/// `method`, `client_addr`, `peer_addr`, `trace_id`, `span_id`, `response_encoding`.
pub const MAX_SHORT_CHARS: usize = 128;
/// Tags kept per entry; more are dropped.
pub const MAX_TAGS: usize = 32;

/// Cuts `text` to `max_chars` characters and appends `… <N characters>`; untouched when it fits.
pub(crate) fn cap(text: &mut String, max_chars: usize) {
    // At most `max_chars` bytes means at most that many characters: no count needed.
    if text.len() <= max_chars {
        return;
    }
    let Some((end, _)) = text.char_indices().nth(max_chars) else {
        return;
    };
    let total = text.chars().count();
    text.truncate(end);
    text.push_str(&format!("… <{total} characters>"));
}

fn cap_option(text: &mut Option<String>, max_chars: usize) {
    if let Some(text) = text {
        cap(text, max_chars);
    }
}

impl AuditEntry {
    /// Applies the caps above to every string field a request supplies. The pipeline does
    /// this to every entry before any sink sees it (and before the chain hashes it).
    pub fn enforce_bounds(&mut self) {
        cap(&mut self.user, MAX_USER_CHARS);
        cap(&mut self.endpoint, MAX_PATH_CHARS);
        cap_option(&mut self.path, MAX_PATH_CHARS);
        cap_option(&mut self.query, MAX_PATH_CHARS);
        cap_option(&mut self.route, MAX_PATH_CHARS);
        cap_option(&mut self.correlation_id, MAX_CORRELATION_ID_CHARS);
        cap_option(&mut self.user_agent, MAX_USER_AGENT_CHARS);
        cap_option(&mut self.error, MAX_ERROR_CHARS);
        for short in [
            &mut self.method,
            &mut self.client_addr,
            &mut self.peer_addr,
            &mut self.trace_id,
            &mut self.span_id,
            &mut self.response_encoding,
            &mut self.tenant,
        ] {
            cap_option(short, MAX_SHORT_CHARS);
        }
        self.tags.truncate(MAX_TAGS);
        for tag in &mut self.tags {
            cap(tag, MAX_SHORT_CHARS);
        }
        if let Some(operation) = &mut self.operation {
            cap(&mut operation.stage, MAX_SHORT_CHARS);
        }
        if let Some(grpc) = &mut self.grpc {
            cap_option(&mut grpc.message, MAX_ERROR_CHARS);
        }
        self.bound_headers();
    }

    fn bound_headers(&mut self) {
        let oversized = self.headers.len() > MAX_HEADERS
            || self.headers.iter().any(|(name, value)| {
                name.len() > MAX_HEADER_NAME_CHARS
                    || value
                        .as_str()
                        .is_none_or(|v| v.len() > MAX_HEADER_VALUE_CHARS)
            });
        if !oversized {
            return;
        }
        let total = self.headers.len();
        let headers = std::mem::take(&mut self.headers);
        for (mut name, value) in headers.into_iter().take(MAX_HEADERS) {
            cap(&mut name, MAX_HEADER_NAME_CHARS);
            let value = match value {
                serde_json::Value::String(mut text) => {
                    cap(&mut text, MAX_HEADER_VALUE_CHARS);
                    serde_json::Value::String(text)
                }
                other => {
                    let mut text = other.to_string();
                    cap(&mut text, MAX_HEADER_VALUE_CHARS);
                    serde_json::Value::String(text)
                }
            };
            self.headers.insert(name, value);
        }
        if total > MAX_HEADERS {
            self.headers.insert(
                "…".to_owned(),
                format!("<{} more headers>", total - MAX_HEADERS).into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_fields_are_cut_with_a_marker() {
        let mut entry = AuditEntry::new("x");
        entry.user = "u".repeat(1_048_576);
        entry.correlation_id = Some("é".repeat(10_000));
        entry
            .headers
            .insert("host".into(), "h".repeat(65_536).into());
        for i in 0..100 {
            entry.headers.insert(format!("x-{i:03}"), "v".into());
        }
        entry.enforce_bounds();
        assert_eq!(
            entry.user,
            format!("{}… <1048576 characters>", "u".repeat(256))
        );
        assert_eq!(
            entry.correlation_id.as_deref(),
            Some(format!("{}… <10000 characters>", "é".repeat(128)).as_str())
        );
        assert_eq!(entry.headers.len(), MAX_HEADERS + 1);
        assert_eq!(entry.headers["…"], "<37 more headers>");
        let line = serde_json::to_string(&entry).unwrap();
        assert!(line.len() < 8_000, "{}", line.len());
    }

    /// The README's figure: every capped field at its worst (characters JSON escapes as
    /// `\u0001`, 6 bytes each), 100 huge headers, and two summaries of hostile bodies.
    #[test]
    fn the_largest_line_stays_within_the_documented_bound() {
        let huge = "\u{1}".repeat(1_000_000);
        let mut entry = AuditEntry::new(huge.clone());
        entry.user = huge.clone();
        for field in [
            &mut entry.path,
            &mut entry.query,
            &mut entry.route,
            &mut entry.correlation_id,
            &mut entry.user_agent,
            &mut entry.error,
            &mut entry.method,
            &mut entry.client_addr,
            &mut entry.peer_addr,
            &mut entry.trace_id,
            &mut entry.span_id,
            &mut entry.response_encoding,
        ] {
            *field = Some(huge.clone());
        }
        for i in 0..100 {
            entry.headers.insert(
                format!("{i:03}{}", "\u{1}".repeat(1000)),
                huge[..100_000].into(),
            );
        }
        let scrubber = crate::Scrubber::default();
        let body: serde_json::Value = (0..5000)
            .map(|i| {
                (
                    format!("{i}{}", "\u{1}".repeat(300)),
                    serde_json::Value::String(huge[..300].into()),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
        entry.request = Some(scrubber.object(body.clone()));
        entry.response_summary = Some(scrubber.object(body));
        entry.enforce_bounds();
        let line = serde_json::to_string(&entry).unwrap();
        let characters = 131_516;
        assert!(line.len() <= 6 * characters, "{} bytes", line.len());
    }

    #[test]
    fn fitting_fields_are_untouched() {
        let mut entry = AuditEntry::new("x");
        entry.user = "alice".into();
        entry.headers.insert("host".into(), "example.com".into());
        let before = entry.clone();
        entry.enforce_bounds();
        assert_eq!(entry, before);
    }
}
