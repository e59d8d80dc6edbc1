//! `audit query`: the entries that match, as JSON lines, a table, CSV, or in a SIEM's schema.

use std::io::Write;

use serde_json::Value;

use crate::cli::{Format, Select};
use crate::error::CliError;
use crate::lines::matching;
use crate::output::{csv_writer, defuse_formula, print_table};

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

/// Where matching entries go, by `--format`.
enum Printer<W: Write> {
    Jsonl(W),
    /// Each entry in OTel, ECS, OCSF or CEF, one per line.
    Schema(W, audit_core::format::Format, Vec<u8>),
    Csv(Box<csv::Writer<W>>),
    /// Rows are kept until the widths are known.
    Table(W, Vec<Vec<String>>),
}

impl<W: Write> Printer<W> {
    fn new(format: Format, out: W) -> std::io::Result<Self> {
        use audit_core::format::Format as Schema;
        let schema = match format {
            Format::Jsonl => return Ok(Printer::Jsonl(out)),
            Format::Table => return Ok(Printer::Table(out, Vec::new())),
            Format::Csv => {
                let mut csv = csv_writer(out);
                csv.write_record(COLUMNS)?;
                return Ok(Printer::Csv(Box::new(csv)));
            }
            Format::Otel => Schema::Otel,
            Format::Ecs => Schema::Ecs,
            Format::Ocsf => Schema::Ocsf,
            Format::Cef => Schema::Cef,
        };
        Ok(Printer::Schema(out, schema, Vec::new()))
    }

    fn entry(&mut self, line: &str, entry: &Value) -> std::io::Result<()> {
        match self {
            Printer::Jsonl(out) => writeln!(out, "{line}"),
            Printer::Schema(out, schema, buf) => {
                let entry: audit_core::AuditEntry = serde_json::from_str(line).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("a matching line is not an audit entry ({e}), so it cannot be written as {schema}: use --format jsonl to see it"),
                    )
                })?;
                buf.clear();
                schema.write(&entry, buf);
                buf.push(b'\n');
                out.write_all(buf)
            }
            Printer::Csv(csv) => {
                let cells = columns(entry);
                Ok(csv.write_record(cells.iter().map(|c| defuse_formula(c).into_owned()))?)
            }
            Printer::Table(_, rows) => {
                rows.push(columns(entry).to_vec());
                Ok(())
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Printer::Jsonl(mut out) | Printer::Schema(mut out, ..) => out.flush(),
            Printer::Csv(mut csv) => csv.flush(),
            Printer::Table(mut out, rows) => {
                print_table(&COLUMNS, &rows, &mut out)?;
                out.flush()
            }
        }
    }
}

pub fn run(select: &Select, format: Format, limit: Option<usize>) -> Result<(), CliError> {
    let filter = select.filter()?;
    let (source, sql) = select.open(limit)?;
    let stdout = std::io::stdout();
    let mut failed = None;
    let mut printer = match Printer::new(format, std::io::BufWriter::new(stdout.lock())) {
        Ok(printer) => Some(printer),
        Err(e) => {
            failed = Some(e);
            None
        }
    };
    let mut shown = 0;
    source.each_line(&sql, |line| {
        let Some(out) = printer.as_mut() else {
            return false;
        };
        if limit.is_some_and(|limit| shown >= limit) || failed.is_some() {
            return false;
        }
        // A matching line is printed as it was read.
        let Some(entry) = matching(&filter, &line) else {
            return true;
        };
        shown += 1;
        failed = out.entry(line.text, &entry).err();
        true
    })?;
    if let Some(printer) = printer {
        failed = failed.or(printer.finish().err());
    }
    match failed {
        // A closed pipe (`| head`) is not an error of ours.
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::stdout(e)),
        _ => Ok(()),
    }
}
