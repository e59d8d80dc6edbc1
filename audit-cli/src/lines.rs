//! Reading entries from lines: whole, only the fields filters and `stats` need, or as typed
//! entries. A malformed line is reported with its place, never passed over in silence; a line
//! that cannot be read at all (not UTF-8, an I/O error) is also counted, and the exit status
//! says the answer leaves it out.

use std::sync::atomic::{AtomicU64, Ordering};

use audit_core::escape_for_display;
use serde_json::Value;

use crate::filter::Filter;
use crate::source;

/// Lines that could not be read in this run: the exit status says so.
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// How many lines could not be read (not UTF-8, an I/O error).
pub fn skipped() -> u64 {
    SKIPPED.load(Ordering::Relaxed)
}

/// Counts a line that could not be read (the reader reports it).
pub fn note_skipped() {
    SKIPPED.fetch_add(1, Ordering::Relaxed);
}

/// Parses a line, reporting a malformed one with its place.
pub fn parse(line: &source::Line) -> Option<Value> {
    match serde_json::from_str::<Value>(line.text) {
        Ok(value) if value.is_object() => Some(value),
        Ok(_) => {
            eprintln!(
                "audit: {}:{}: not a JSON object, skipped",
                escape_for_display(&line.file.display().to_string()),
                line.number
            );
            None
        }
        // A last line without its newline is still being written (or was torn by a crash).
        Err(_) if !line.complete => {
            eprintln!(
                "audit: {}:{}: incomplete last line (still being written, or torn by a crash), skipped",
                escape_for_display(&line.file.display().to_string()),
                line.number
            );
            None
        }
        Err(e) => {
            eprintln!(
                "audit: {}:{}: malformed entry ({}), skipped",
                escape_for_display(&line.file.display().to_string()),
                line.number,
                escape_for_display(&e.to_string())
            );
            None
        }
    }
}

/// Reports a malformed line that the filters skip without parsing it into values: the check
/// allocates nothing, and a broken line is never passed over in silence.
pub fn check(line: &source::Line) {
    if serde_json::from_str::<serde::de::IgnoredAny>(line.text).is_err() {
        parse(line);
    }
}

/// The fields `stats`, the plain filters and the table and CSV columns read, deserialised
/// without building the rest
/// (request, response, headers are skipped, not parsed into values).
#[derive(serde::Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    endpoint: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    correlation_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    path: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    tenant: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    tags: Option<Vec<std::borrow::Cow<'a, str>>>,
    status_code: Option<u64>,
    duration_seconds: Option<f64>,
    request_bytes: Option<u64>,
    response_bytes: Option<u64>,
}

/// Like [`parse`], but only the fields of [`Fields`], as a small JSON object.
pub fn parse_fields(line: &source::Line) -> Option<Value> {
    match serde_json::from_str::<Fields>(line.text) {
        Ok(f) => {
            let mut map = serde_json::Map::new();
            let mut text = |key: &str, value: Option<std::borrow::Cow<'_, str>>| {
                if let Some(value) = value {
                    map.insert(key.to_owned(), Value::String(value.into_owned()));
                }
            };
            text("timestamp", f.timestamp);
            text("endpoint", f.endpoint);
            text("user", f.user);
            text("outcome", f.outcome);
            text("correlation_id", f.correlation_id);
            text("method", f.method);
            text("path", f.path);
            text("id", f.id);
            text("tenant", f.tenant);
            if let Some(tags) = f.tags {
                let tags = tags.into_iter().map(|t| Value::String(t.into_owned()));
                map.insert("tags".to_owned(), Value::Array(tags.collect()));
            }
            for (key, value) in [
                ("status_code", f.status_code),
                ("request_bytes", f.request_bytes),
                ("response_bytes", f.response_bytes),
            ] {
                if let Some(value) = value {
                    map.insert(key.to_owned(), value.into());
                }
            }
            if let Some(duration) = f.duration_seconds {
                map.insert("duration_seconds".to_owned(), duration.into());
            }
            Some(Value::Object(map))
        }
        // Report it exactly as a full parse would.
        Err(_) => parse(line),
    }
}

/// The entry on `line`, or `None` (a malformed line is reported).
pub fn entry_of(line: &source::Line) -> Option<audit_core::AuditEntry> {
    match serde_json::from_str(line.text) {
        Ok(entry) => Some(entry),
        Err(_) => {
            // Reports a malformed line; a well-formed object that is no entry is passed over.
            parse(line);
            None
        }
    }
}

/// The entry on `line` when it matches `filter`, as far as the filter and the output need it:
/// only the fields of [`Fields`] unless a `--where` may name any path. A line the raw check
/// rules out is not parsed, only validated, so a malformed one is still reported.
pub fn matching(filter: &Filter, line: &source::Line) -> Option<Value> {
    matching_as(filter, line, filter.wheres.is_empty())
}

/// The whole entry on `line` when it matches `filter`.
pub fn matching_whole(filter: &Filter, line: &source::Line) -> Option<Value> {
    matching_as(filter, line, false)
}

fn matching_as(filter: &Filter, line: &source::Line, fields_only: bool) -> Option<Value> {
    if !filter.may_match(line.text) {
        check(line);
        return None;
    }
    let entry = if fields_only {
        parse_fields(line)
    } else {
        parse(line)
    }?;
    filter.matches(&entry).then_some(entry)
}
