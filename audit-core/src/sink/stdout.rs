//! A sink that prints entries on standard output.

use std::fmt::Write as _;
use std::io::Write as _;

use async_trait::async_trait;

use super::Sink;
use crate::display::display_cell;

/// The most characters of one field a pretty line shows (the entry itself keeps more).
const MAX_SHOWN: usize = 200;
use crate::entry::{AuditEntry, Outcome};
use crate::error::SinkError;

/// How [`StdoutSink`] prints an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StdoutFormat {
    /// One JSON object per line, as in the JSONL files.
    #[default]
    Json,
    /// One human line: `16:21:09.123 POST /api/v1/sow/create 200 34.5ms sow_create user=alice`.
    Pretty,
}

/// Prints each batch on standard output with a single write of whole lines, so entries never
/// interleave with partial lines of other output written through Rust's `stdout()`.
///
/// ```
/// use audit_core::{StdoutFormat, StdoutSink};
///
/// let sink = StdoutSink::new(StdoutFormat::Pretty);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StdoutSink {
    format: StdoutFormat,
}

impl StdoutSink {
    /// A sink printing in `format`.
    pub fn new(format: StdoutFormat) -> Self {
        StdoutSink { format }
    }

    fn render(&self, batch: &[AuditEntry]) -> Result<Vec<u8>, SinkError> {
        let mut buf = Vec::with_capacity(batch.len() * 256);
        match self.format {
            StdoutFormat::Json => {
                for entry in batch {
                    super::write_line(entry, &mut buf)?;
                }
            }
            StdoutFormat::Pretty => {
                let mut line = String::with_capacity(128);
                for entry in batch {
                    line.clear();
                    format_pretty(entry, &mut line);
                    line.push('\n');
                    buf.extend_from_slice(line.as_bytes());
                }
            }
        }
        Ok(buf)
    }
}

#[async_trait]
impl Sink for StdoutSink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        let buf = self.render(batch)?;
        // A blocked pipe must stall the audit writer, not a runtime worker thread.
        let written = tokio::task::spawn_blocking(move || {
            let mut out = std::io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()
        })
        .await;
        match written {
            Ok(result) => result.map_err(|e| SinkError::io("write", "<stdout>", e)),
            Err(join) => Err(SinkError::other(join)),
        }
    }

    fn name(&self) -> &str {
        "stdout"
    }
}

/// Appends the one-line human form of `entry` to `out` (without a newline):
/// `16:21:09.123 POST /api/v1/sow/create 200 34.5ms sow_create user=alice`.
///
/// Calls without HTTP show `-` for the method, the endpoint for the path and the outcome for
/// the status. An outcome the status does not imply, and an error, are appended.
///
/// ```
/// use audit_core::{format_pretty, AuditEntry};
///
/// let mut entry = AuditEntry::started_at("sow_create", "2026-02-07T16:21:09.123456Z".parse().unwrap());
/// entry.method = Some("POST".into());
/// entry.path = Some("/api/v1/sow/create".into());
/// entry.status_code = Some(200);
/// entry.duration_seconds = 0.0345;
/// entry.user = "alice".into();
/// let mut line = String::new();
/// format_pretty(&entry, &mut line);
/// assert_eq!(line, "16:21:09.123 POST /api/v1/sow/create 200 34.5ms sow_create user=alice");
/// ```
pub fn format_pretty(entry: &AuditEntry, out: &mut String) {
    let t = entry.timestamp.as_offset_date_time();
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:03} {} {} ",
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond(),
        display_cell(entry.method.as_deref().unwrap_or("-"), 16),
        display_cell(
            entry
                .path
                .as_deref()
                .or(entry.route.as_deref())
                .unwrap_or(&entry.endpoint),
            MAX_SHOWN
        ),
    );
    match entry.status_code {
        Some(status) => {
            let _ = write!(out, "{status}");
        }
        None => out.push_str(entry.outcome.as_str()),
    }
    let ms = entry.duration_seconds * 1000.0;
    if ms < 1000.0 {
        let _ = write!(out, " {ms:.1}ms");
    } else {
        let _ = write!(out, " {:.2}s", entry.duration_seconds);
    }
    // Entry data is escaped and cut: a user name holding ESC or a newline must not recolour
    // the terminal or forge a line, nor a long one bury the others.
    let _ = write!(
        out,
        " {} user={}",
        display_cell(&entry.endpoint, MAX_SHOWN),
        display_cell(&entry.user, MAX_SHOWN)
    );
    let implied = entry
        .status_code
        .map_or(Outcome::Success, Outcome::from_status);
    if entry.status_code.is_some() && entry.outcome != implied {
        let _ = write!(out, " outcome={}", entry.outcome);
    }
    if let Some(grpc) = entry.grpc.as_ref().filter(|g| !g.is_ok()) {
        let _ = write!(out, " grpc={}", grpc.status);
    }
    if let Some(error) = &entry.error {
        let _ = write!(
            out,
            " error=\"{}\"",
            display_cell(error, MAX_SHOWN).replace('"', "\\\"")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_line_for_calls_without_http() {
        let mut entry =
            AuditEntry::started_at("agent_run", "2026-02-07T01:02:03.004Z".parse().unwrap());
        entry.duration_seconds = 2.5;
        entry.outcome = Outcome::Error;
        entry.error = Some("tool failed".into());
        let mut line = String::new();
        format_pretty(&entry, &mut line);
        assert_eq!(
            line,
            "01:02:03.004 - agent_run error 2.50s agent_run user=anonymous error=\"tool failed\""
        );
    }

    #[test]
    fn pretty_line_shows_a_panic_behind_a_500() {
        let mut entry = AuditEntry::started_at("boom", "2026-02-07T01:02:03Z".parse().unwrap());
        entry.method = Some("GET".into());
        entry.path = Some("/boom".into());
        entry.status_code = Some(500);
        entry.outcome = Outcome::Panic;
        let mut line = String::new();
        format_pretty(&entry, &mut line);
        assert_eq!(
            line,
            "01:02:03.000 GET /boom 500 0.0ms boom user=anonymous outcome=panic"
        );
    }

    #[test]
    fn json_batches_are_whole_lines() {
        let sink = StdoutSink::new(StdoutFormat::Json);
        let buf = sink
            .render(&[AuditEntry::new("a"), AuditEntry::new("b")])
            .unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
        for line in text.lines() {
            serde_json::from_str::<AuditEntry>(line).unwrap();
        }
    }
}
