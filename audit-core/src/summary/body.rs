//! Captured bodies: which kind they are, and how each kind becomes a summary (JSON parsed,
//! strictly or leniently; form and multipart bodies by field; text previewed after redaction;
//! anything else described).

use serde_json::Value;

use super::{multipart, wrap, Scrubber};
use crate::lenient_json;

/// The media type of a `content-type` value without its parameters, lower-cased:
/// `Application/JSON; charset=utf-8` → `application/json`.
///
/// ```
/// assert_eq!(audit_core::__private::content_type_essence("Text/Plain; charset=utf-8"), "text/plain");
/// ```
pub fn content_type_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl Scrubber {
    /// Describes a captured body as an object, or `None` for an empty body.
    ///
    /// `captured` is the part that was kept (possibly cut); `total_bytes` the full size.
    /// JSON (by content type, or sniffed when there is none) is parsed, redacted and summarised;
    /// text becomes a preview; anything else `"<binary N bytes>"`. Never panics on any input.
    pub fn body(
        &self,
        captured: &[u8],
        content_type: Option<&str>,
        total_bytes: u64,
    ) -> Option<Value> {
        if total_bytes == 0 && captured.is_empty() {
            return None;
        }
        let kind = BodyKind::of(content_type, captured);
        let total = total_bytes.max(captured.len() as u64);
        if kind == BodyKind::Json || kind == BodyKind::Unknown {
            if let Ok(value) = serde_json::from_slice::<Value>(captured) {
                return Some(self.object(value));
            }
            // Cut, out of range, too deep or careless: read it leniently, keeping the
            // structure so that redaction goes key by key.
            if let Some((value, ending)) = lenient_json::read(captured, self.limits.max_depth + 1) {
                let note = match ending {
                    lenient_json::Ending::Whole => None,
                    lenient_json::Ending::Cut if (captured.len() as u64) < total => Some(format!(
                        "<cut: {} of {total} bytes captured>",
                        captured.len()
                    )),
                    lenient_json::Ending::Cut => Some("<the JSON ended early>".to_owned()),
                    lenient_json::Ending::Trailing => {
                        Some("<more followed the JSON value>".to_owned())
                    }
                };
                let mut summary = self.object(value);
                if let (Some(note), Value::Object(map)) = (note, &mut summary) {
                    let marker = match map.remove("…") {
                        Some(Value::String(more)) => format!("{more}; {note}"),
                        _ => note,
                    };
                    map.insert("…".to_owned(), Value::String(marker));
                }
                return Some(summary);
            }
        }
        if let Some(boundary) = content_type.and_then(multipart::boundary) {
            // Fields by name, so that redaction goes field by field; files only described.
            let (fields, cut) = multipart::fields(captured, boundary);
            let mut summary = self.object(Value::Object(fields));
            if cut {
                if let Value::Object(map) = &mut summary {
                    let note = format!("<cut: {} of {total} bytes captured>", captured.len());
                    map.insert("…".to_owned(), Value::String(note));
                }
            }
            return Some(summary);
        }
        if kind == BodyKind::Binary {
            return Some(wrap(Value::String(format!("<binary {total} bytes>"))));
        }
        Some(wrap(Value::String(
            self.text_preview(captured, total, kind),
        )))
    }

    fn text_preview(&self, captured: &[u8], total: u64, kind: BodyKind) -> String {
        let text = match std::str::from_utf8(captured) {
            Ok(text) => text,
            // A capture cut inside a character still counts as text; anything else is binary.
            Err(e) if e.error_len().is_none() => {
                std::str::from_utf8(&captured[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => return format!("<binary {total} bytes>"),
        };
        // Secrets go before the preview is cut, so none survives in part.
        let text = if kind == BodyKind::Form {
            self.redaction.query(text)
        } else {
            self.redaction.text(text)
        };
        let text = text.as_ref();
        let cut = (captured.len() as u64) < total;
        let limit = self.limits.max_string_chars;
        match text.char_indices().nth(limit) {
            None if !cut => text.to_owned(),
            None => format!("{text}… <{total} bytes>"),
            Some((end, _)) => {
                let size = if cut {
                    format!("{total} bytes")
                } else {
                    format!("{} characters", text.chars().count())
                };
                format!("{}… <{size}>", &text[..end])
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Text,
    /// `application/x-www-form-urlencoded`: redacted by parameter name, as a query string.
    Form,
    Binary,
    Unknown,
}

impl BodyKind {
    fn of(content_type: Option<&str>, captured: &[u8]) -> Self {
        let Some(content_type) = content_type else {
            let first = captured.iter().find(|b| !b.is_ascii_whitespace());
            return match first {
                Some(b'{' | b'[') => BodyKind::Unknown,
                _ if looks_textual(captured) => BodyKind::Text,
                _ => BodyKind::Binary,
            };
        };
        let essence = content_type_essence(content_type);
        if essence == "application/x-www-form-urlencoded" {
            BodyKind::Form
        } else if essence == "application/json"
            || essence.ends_with("+json")
            || essence.ends_with("/jsonl")
        {
            BodyKind::Json
        } else if essence.starts_with("text/")
            || essence.ends_with("+xml")
            || matches!(
                essence.as_str(),
                "application/xml" | "application/javascript" | "application/x-ndjson"
            )
        {
            BodyKind::Text
        } else {
            BodyKind::Binary
        }
    }
}

fn looks_textual(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    match std::str::from_utf8(head) {
        Ok(text) => !text.chars().any(|c| c.is_control() && !c.is_whitespace()),
        Err(e) => e.error_len().is_none() && e.valid_up_to() > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scrubber() -> Scrubber {
        Scrubber::default()
    }

    #[test]
    fn json_bodies_are_parsed_by_type_or_sniffed() {
        let s = scrubber();
        let body = br#"{"client_id":"CLIENT-001","password":"x"}"#;
        let expected = json!({"client_id": "CLIENT-001", "password": "[REDACTED]"});
        assert_eq!(
            s.body(body, Some("application/json; charset=utf-8"), 41),
            Some(expected.clone())
        );
        assert_eq!(
            s.body(body, Some("application/vnd.api+json"), 41),
            Some(expected.clone())
        );
        assert_eq!(s.body(body, None, 41), Some(expected));
        assert_eq!(s.body(b"", None, 0), None);
    }

    #[test]
    fn malformed_json_is_read_leniently_or_previewed() {
        let s = scrubber();
        assert_eq!(
            s.body(b"{\"a\": ", Some("application/json"), 6),
            Some(json!({"a": null, "…": "<the JSON ended early>"}))
        );
        assert_eq!(
            s.body(b"{=}", Some("application/json"), 3),
            Some(json!({"value": "{=}"}))
        );
        let long = "y".repeat(1000);
        assert_eq!(
            s.body(long.as_bytes(), Some("text/plain"), 1000),
            Some(json!({"value": format!("{}… <1000 characters>", "y".repeat(256))}))
        );
    }

    #[test]
    fn cut_captures_report_the_full_size() {
        let s = scrubber();
        let captured = "z".repeat(100);
        assert_eq!(
            s.body(captured.as_bytes(), Some("text/plain"), 5000),
            Some(json!({"value": format!("{captured}… <5000 bytes>")}))
        );
        // JSON cut in the middle keeps what was read, and says so.
        let v = s
            .body(br#"{"a": "bbbbbb"#, Some("application/json"), 9000)
            .unwrap();
        assert_eq!(
            v,
            json!({"a": "bbbbbb", "…": "<cut: 13 of 9000 bytes captured>"})
        );
    }

    #[test]
    fn multipart_fields_are_redacted_by_name() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n--b\r\nContent-Disposition: form-data; name=\"newPassword\"\r\n\r\nhunter2\r\n--b--\r\n";
        assert_eq!(
            scrubber().body(
                body,
                Some("multipart/form-data; boundary=b"),
                body.len() as u64
            ),
            Some(json!({"user": "alice", "newPassword": "[REDACTED]"}))
        );
    }

    #[test]
    fn binary_and_invalid_utf8_never_panic() {
        let s = scrubber();
        assert_eq!(
            s.body(&[0, 159, 146, 150], Some("application/octet-stream"), 4),
            Some(json!({"value": "<binary 4 bytes>"}))
        );
        assert_eq!(
            s.body(&[0xff, 0xfe, 0x00, 0x01], None, 10),
            Some(json!({"value": "<binary 10 bytes>"}))
        );
        assert_eq!(
            s.body(&[b'a', 0xff, b'b'], Some("text/plain"), 3),
            Some(json!({"value": "<binary 3 bytes>"}))
        );
        // Cut in the middle of a multi-byte character: the complete part is kept.
        let bytes = "héllo".as_bytes();
        assert_eq!(
            s.body(&bytes[..2], Some("text/plain"), 6),
            Some(json!({"value": "h… <6 bytes>"}))
        );
    }
}
