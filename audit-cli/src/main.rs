//! `audit`: answers the weekly questions about an audit log without jq pipelines.
//!
//! ```sh
//! audit query audit_logs --endpoint sow_create --where request.client_id=CLIENT-001 --since 1d
//! audit stats audit_logs --by endpoint
//! audit tail audit_logs --follow
//! audit verify audit_logs --key-file checkpoint.key
//! ```
//! SOURCE is a JSONL file or a directory of daily files (rotated `.N` and compressed `.gz`/`.zst`
//! files are read in order). A malformed line is reported with its file and line number and the
//! scan goes on. Exit status: 0, 1 when `verify` finds the log not intact, 2 for a usage error or an
//! unreadable SOURCE.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use audit_core::{csv_field, display_cell, escape_for_display};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;

mod filter;
mod html;
mod source;
mod stats;
mod verify;

#[derive(Parser)]
#[command(
    name = "audit",
    version,
    about = "Query, summarise and follow audit logs written by audited"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Entries that match the filters.
    Query {
        #[command(flatten)]
        select: Select,
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Count, error rate, p50/p95/p99/max duration and bytes per group.
    Stats {
        #[command(flatten)]
        select: Select,
        /// What to group by.
        #[arg(long, value_enum, default_value = "endpoint")]
        by: stats::By,
        /// JSON instead of an aligned table.
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML page with a latency histogram and a calls-over-time
        /// chart per group, for people who would rather look than read.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Checks the tamper-evident chains: edited, deleted, reordered or added entries, torn
    /// lines, checkpoints and a cut-off tail. Exit status 0 only when the log is intact.
    Verify {
        /// A JSONL file or a directory of them.
        source: PathBuf,
        /// The checkpoint key (hex digits or raw bytes in a file); default: the
        /// AUDIT_CHECKPOINT_KEY variable. With a key, checkpoints must be signed with it.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Accept chains without their final checkpoint (a log still being written).
        #[arg(long)]
        allow_open: bool,
        /// A head published earlier (CHAIN:SEQ:HASH, from --heads) that must still be there,
        /// unchanged; repeatable.
        #[arg(long = "expect", value_name = "CHAIN:SEQ:HASH")]
        expect: Vec<verify::Head>,
        /// Print each chain's head (CHAIN:SEQ:HASH) to publish outside the log.
        #[arg(long)]
        heads: bool,
    },
    /// The last entries as one human line each; with --follow, new ones as they are written.
    Tail {
        /// A JSONL file or a directory of them.
        source: PathBuf,
        /// How many of the last entries to show first.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
        /// Keep watching for new entries (Ctrl-C to stop).
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(Args)]
struct Select {
    /// A JSONL file or a directory of them.
    source: PathBuf,
    /// From this time on: RFC 3339, or a span back from now (30m, 2h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long)]
    user: Option<String>,
    /// A status (404) or a class (5xx).
    #[arg(long)]
    status: Option<String>,
    /// success, client_error, server_error, error, panic or cancelled.
    #[arg(long)]
    outcome: Option<String>,
    #[arg(long)]
    correlation_id: Option<String>,
    /// PATH=VALUE on the entry's JSON, dotted (request.client_id=CLIENT-001); repeatable, all must hold.
    #[arg(long = "where")]
    wheres: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Jsonl,
    Table,
    Csv,
}

impl Select {
    fn filter(&self) -> Result<filter::Filter, String> {
        let now = time::OffsetDateTime::now_utc();
        Ok(filter::Filter {
            since: self
                .since
                .as_deref()
                .map(|t| filter::parse_time(t, now))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| filter::parse_time(t, now))
                .transpose()?,
            endpoint: self.endpoint.clone(),
            user: self.user.clone(),
            status: self
                .status
                .as_deref()
                .map(filter::parse_status)
                .transpose()?,
            outcome: self.outcome.clone(),
            correlation_id: self.correlation_id.clone(),
            wheres: self
                .wheres
                .iter()
                .map(|w| filter::parse_where(w))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The filters in words, for the HTML report's header.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                parts.push(format!("{name} {value}"));
            }
        };
        add("since", &self.since);
        add("until", &self.until);
        add("endpoint", &self.endpoint);
        add("user", &self.user);
        add("status", &self.status);
        add("outcome", &self.outcome);
        add("correlation id", &self.correlation_id);
        for clause in &self.wheres {
            parts.push(format!("where {clause}"));
        }
        if parts.is_empty() {
            "no filters".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// The SOURCE, and how to read it: for PostgreSQL, the filters as SQL (and the limit,
    /// when SQL holds every filter).
    fn open(&self, limit: Option<usize>) -> Result<(source::Source, source::SqlQuery), String> {
        let source = source::Source::open(&self.source)?;
        let sql = self.filter()?.to_sql();
        let query = source::SqlQuery {
            limit: limit.filter(|_| sql.complete).map(|n| n as u64),
            condition: sql.condition,
            params: sql.params,
            order: "ts, id",
        };
        Ok((source, query))
    }
}

/// Parses a line, reporting a malformed one with its place.
fn parse(line: &source::Line) -> Option<Value> {
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
fn check(line: &source::Line) {
    if serde_json::from_str::<serde::de::IgnoredAny>(line.text).is_err() {
        parse(line);
    }
}

/// The fields `stats` and the plain filters read, deserialised without building the rest
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
    status_code: Option<u64>,
    duration_seconds: Option<f64>,
    request_bytes: Option<u64>,
    response_bytes: Option<u64>,
}

/// Like [`parse`], but only the fields of [`Fields`], as a small JSON object.
fn parse_fields(line: &source::Line) -> Option<Value> {
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

const COLUMNS: [&str; 9] = [
    "timestamp",
    "method",
    "path",
    "status",
    "ms",
    "endpoint",
    "user",
    "outcome",
    "id",
];

fn columns(entry: &Value) -> [String; 9] {
    let text = |name: &str| match entry.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    };
    let ms = entry
        .get("duration_seconds")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        * 1000.0;
    let path = entry
        .get("path")
        .and_then(Value::as_str)
        .map_or_else(|| text("endpoint"), String::from);
    [
        text("timestamp"),
        text("method"),
        path,
        text("status_code"),
        format!("{ms:.1}"),
        text("endpoint"),
        text("user"),
        text("outcome"),
        text("id"),
    ]
}

/// The widest a table cell is shown; the data itself stays whole in `--format jsonl`.
const MAX_CELL_CHARS: usize = 80;

/// A table of escaped cells cut to [`MAX_CELL_CHARS`]: entry data can neither forge rows nor
/// make the width too large to format.
fn print_table(header: &[&str], rows: &[Vec<String>], out: &mut impl Write) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| display_cell(cell, MAX_CELL_CHARS))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn query(select: &Select, format: Format, limit: Option<usize>) -> Result<(), String> {
    let filter = select.filter()?;
    let (source, sql) = select.open(limit)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut rows = Vec::new();
    let mut shown = 0;
    let mut failed = None;
    if let Format::Csv = format {
        failed = writeln!(out, "{}", COLUMNS.join(",")).err();
    }
    source.each_line(&sql, |line| {
        if limit.is_some_and(|limit| shown >= limit) || failed.is_some() {
            return false;
        }
        if !filter.may_match(line.text) {
            check(&line);
            return true;
        }
        let Some(entry) = parse(&line) else {
            return true;
        };
        if !filter.matches(&entry) {
            return true;
        }
        shown += 1;
        let written = match format {
            Format::Jsonl => writeln!(out, "{}", line.text),
            Format::Csv => writeln!(out, "{}", columns(&entry).map(|c| csv_field(&c)).join(",")),
            Format::Table => {
                rows.push(columns(&entry).to_vec());
                Ok(())
            }
        };
        failed = written.err();
        true
    })?;
    if let Format::Table = format {
        failed = failed.or(print_table(&COLUMNS, &rows, &mut out).err());
    }
    match failed.or(out.flush().err()) {
        // A closed pipe (`| head`) is not an error of ours.
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write: {e}")),
        _ => Ok(()),
    }
}

fn stats(
    select: &Select,
    by: stats::By,
    json: bool,
    html: Option<&std::path::Path>,
) -> Result<(), String> {
    let filter = select.filter()?;
    let (source, sql) = select.open(None)?;
    let mut stats = stats::Stats::new(html.is_some());
    source.each_line(&sql, |line| {
        if !filter.may_match(line.text) {
            check(&line);
            return true;
        }
        // `--where` may name any path: then the whole entry is needed.
        let entry = if filter.wheres.is_empty() {
            parse_fields(&line)
        } else {
            parse(&line)
        };
        if let Some(entry) = entry {
            if filter.matches(&entry) {
                stats.add(by, &entry);
            }
        }
        true
    })?;
    let rows = stats.rows();
    if let Some(path) = html {
        let by_name = format!("{by:?}").to_lowercase();
        let filters = select.describe();
        let context = html::Context {
            source: &source::describe(&select.source),
            by: &by_name,
            filters: &filters,
        };
        let groups: Vec<(&str, &stats::Group)> = stats.groups().collect();
        std::fs::write(path, html::render(&context, &rows, &groups))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    let written = if json {
        let rows: Vec<Value> = rows.iter().map(stats::Row::to_json).collect();
        writeln!(out, "{}", Value::Array(rows))
    } else {
        let header = [
            "key",
            "count",
            "error_rate",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "bytes",
        ];
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.count.to_string(),
                    format!("{:.2}%", r.error_rate * 100.0),
                    format!("{:.1}", r.p50_ms),
                    format!("{:.1}", r.p95_ms),
                    format!("{:.1}", r.p99_ms),
                    format!("{:.1}", r.max_ms),
                    r.bytes.to_string(),
                ]
            })
            .collect();
        print_table(&header, &cells, &mut out)
    };
    written.map_err(|e| format!("cannot write: {e}"))
}

/// The entry on `line`, or `None` (a malformed line is reported).
fn entry_of(line: &source::Line) -> Option<audit_core::AuditEntry> {
    match serde_json::from_str(line.text) {
        Ok(entry) => Some(entry),
        Err(_) => {
            // Reports a malformed line; a well-formed object that is no entry is passed over.
            parse(line);
            None
        }
    }
}

fn pretty(entry: &audit_core::AuditEntry) -> String {
    let mut line = String::new();
    audit_core::format_pretty(entry, &mut line);
    if colour() {
        // Green for success, yellow for client errors, red for the rest.
        let code = match entry.outcome {
            audit_core::Outcome::Success => "32",
            audit_core::Outcome::ClientError | audit_core::Outcome::Cancelled => "33",
            _ => "31",
        };
        line = format!("\x1b[{code}m{line}\x1b[0m");
    }
    line
}

/// Colours only on a terminal, and never when `NO_COLOR` is set (no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal;
    static COLOUR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *COLOUR
        .get_or_init(|| std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
}

/// `tail` over the table: the last `lines` rows by start time, then (with `follow`) rows
/// after the newest seen, polled every second. A call that started before the newest row shown
/// but ended later is not shown (rows carry the start time).
fn tail_table(source: &source::Source, lines: usize, follow: bool) -> Result<(), String> {
    use source::SqlQuery;
    let mut last: Vec<audit_core::AuditEntry> = Vec::new();
    let newest = SqlQuery {
        limit: Some(lines as u64),
        ..SqlQuery::all("ts DESC, id DESC")
    };
    source.each_line(&newest, |line| {
        last.extend(entry_of(&line));
        true
    })?;
    last.reverse();
    let mut after = last.last().map(|e| (e.timestamp, e.id));
    let print = |entries: &[audit_core::AuditEntry]| -> Result<(), String> {
        let mut out = std::io::stdout().lock();
        for entry in entries {
            writeln!(out, "{}", pretty(entry)).map_err(|e| format!("cannot write: {e}"))?;
        }
        out.flush().map_err(|e| format!("cannot write: {e}"))
    };
    print(&last)?;
    if !follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let query = match after {
            Some((ts, id)) => SqlQuery {
                condition: "(ts, id) > ($1, $2)".into(),
                params: vec![
                    filter::SqlValue::Time(ts.as_offset_date_time()),
                    filter::SqlValue::Id(id),
                ],
                ..SqlQuery::all("ts, id")
            },
            None => SqlQuery::all("ts, id"),
        };
        let mut fresh = Vec::new();
        source.each_line(&query, |line| {
            fresh.extend(entry_of(&line));
            true
        })?;
        if let Some(entry) = fresh.last() {
            after = Some((entry.timestamp, entry.id));
        }
        print(&fresh)?;
    }
}

fn tail(source: &std::path::Path, lines: usize, follow: bool) -> Result<(), String> {
    let opened = source::Source::open(source)?;
    if let source::Source::Postgres(_) = opened {
        return tail_table(&opened, lines, follow);
    }
    let list =
        || source::files(source).map_err(|e| format!("cannot read {}: {e}", source.display()));
    let size = |file: &std::path::Path| std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let files = list()?;
    // Entries are kept, and formatted only once they are among the last `lines`.
    let mut last = std::collections::VecDeque::with_capacity(lines);
    let mut seen: std::collections::HashMap<PathBuf, (usize, u64)> = Default::default();
    for file in &files {
        seen.insert(file.clone(), (0, size(file)));
    }
    source::each_line(&files, |line| {
        if let Some(count) = seen.get_mut(line.file) {
            count.0 = line.number;
        }
        if let Some(entry) = entry_of(&line) {
            if last.len() == lines {
                last.pop_front();
            }
            if lines > 0 {
                last.push_back(entry);
            }
        }
        true
    });
    let mut out = std::io::stdout().lock();
    for entry in &last {
        writeln!(out, "{}", pretty(entry)).map_err(|e| format!("cannot write: {e}"))?;
    }
    out.flush().map_err(|e| format!("cannot write: {e}"))?;
    drop(out);
    if !follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(250));
        // Only files that are new or changed size are read again.
        let changed: Vec<PathBuf> = list()?
            .into_iter()
            .filter(|file| seen.get(file).is_none_or(|(_, known)| *known != size(file)))
            .collect();
        let mut fresh = Vec::new();
        for file in &changed {
            let known = seen.entry(file.clone()).or_insert((0, 0));
            known.1 = size(file);
        }
        source::each_line(&changed, |line| {
            let Some(count) = seen.get_mut(line.file) else {
                return true;
            };
            if line.number > count.0 {
                count.0 = line.number;
                if let Some(entry) = entry_of(&line) {
                    fresh.push(pretty(&entry));
                }
            }
            true
        });
        let mut out = std::io::stdout().lock();
        for line in fresh {
            writeln!(out, "{line}").map_err(|e| format!("cannot write: {e}"))?;
        }
        out.flush().map_err(|e| format!("cannot write: {e}"))?;
    }
}

/// `1 entry`, `2 entries`, `0 chains`.
fn plural(count: u64, noun: &str) -> String {
    match (count, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{count} {stem}ies"),
        _ => format!("{count} {noun}s"),
    }
}

#[derive(Clone, Copy)]
struct VerifyFlags {
    allow_open: bool,
    heads: bool,
}

/// Runs `verify`; `Ok(false)` when the log is not intact.
fn verify_command(
    source: &std::path::Path,
    key_file: Option<&std::path::Path>,
    expect: &[verify::Head],
    flags: VerifyFlags,
) -> Result<bool, String> {
    let key = match key_file {
        Some(path) => Some(format!("file:{}", path.display())),
        None => std::env::var("AUDIT_CHECKPOINT_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty()),
    };
    let key = key
        .map(|spec| audit_core::chain::CheckpointKey::parse(&spec))
        .transpose()
        .map_err(|e| e.to_string())?;
    let source = source::Source::open(source)?;
    let options = verify::Options {
        key,
        allow_open: flags.allow_open,
        expect: expect.to_vec(),
    };
    let report = verify::verify(&source, &options)?;
    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock, text: String| {
        writeln!(out, "{text}").map_err(|e| format!("cannot write: {e}"))
    };
    if flags.heads {
        for head in &report.heads {
            write(&mut out, head.to_string())?;
        }
    }
    for problem in &report.problems {
        write(&mut out, format!("FAIL  {}", escape_for_display(problem)))?;
    }
    for note in &report.notes {
        write(&mut out, format!("note  {}", escape_for_display(note)))?;
    }
    let signatures = match report.signatures_verified {
        0 => String::new(),
        n => format!(", {} verified", plural(n, "signature")),
    };
    let verdict = if report.problems.is_empty() {
        "intact".to_owned()
    } else {
        format!(
            "NOT intact ({})",
            plural(report.problems.len() as u64, "problem")
        )
    };
    write(
        &mut out,
        format!(
            "{}, {}, {}{signatures}: {verdict}",
            plural(report.chains as u64, "chain"),
            plural(report.entries, "entry"),
            plural(report.checkpoints, "checkpoint")
        ),
    )?;
    Ok(report.problems.is_empty())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Query {
            select,
            format,
            limit,
        } => query(select, *format, *limit),
        Command::Stats {
            select,
            by,
            json,
            html,
        } => stats(select, *by, *json, html.as_deref()),
        Command::Tail {
            source,
            lines,
            follow,
        } => tail(source, *lines, *follow),
        Command::Verify {
            source,
            key_file,
            allow_open,
            expect,
            heads,
        } => {
            let flags = VerifyFlags {
                allow_open: *allow_open,
                heads: *heads,
            };
            match verify_command(source, key_file.as_deref(), expect, flags) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("audit: {message}");
            ExitCode::from(2)
        }
    }
}
