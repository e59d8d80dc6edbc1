//! `audit show`: an operation's whole lifecycle, from the first operation of its lineage: its
//! stages, its retries, compensations and saga steps, each with durations and outcomes.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use crate::error::CliError;
use crate::operations::{stage, Operation, Operations};
use crate::source::Source;

pub fn run(source: &Path, id: &str, json: bool) -> Result<(), CliError> {
    let operations = Operations::read_all(&Source::open(source)?)?;
    let Some(asked) = operations.find(id) else {
        return Err(CliError::NotFound {
            what: "operation",
            id: id.to_owned(),
            hint: "give an operation.id, or the id of one of its entries (audit operations lists them)",
        });
    };
    let root = operations.root(asked);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = if json {
        write_json(&operations, root, &mut out, 0)
    } else {
        write_tree(&operations, root, &asked.id, &mut out, 0)
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::stdout(e)),
        _ => Ok(()),
    }
}

/// Every entry of the lineage as JSON lines, each operation followed by those that follow
/// from it.
fn write_json(
    operations: &Operations,
    operation: &Operation,
    out: &mut impl Write,
    depth: usize,
) -> std::io::Result<()> {
    for entry in &operation.entries {
        writeln!(out, "{entry}")?;
    }
    if depth < 64 {
        for child in operations.children(&operation.id) {
            write_json(operations, child, out, depth + 1)?;
        }
    }
    Ok(())
}

fn write_tree(
    operations: &Operations,
    operation: &Operation,
    asked: &str,
    out: &mut impl Write,
    depth: usize,
) -> std::io::Result<()> {
    let indent = "    ".repeat(depth);
    let text = |value: Option<&str>| display(value.unwrap_or("-"));
    let mut head = format!(
        "{indent}{}{} {}  {}",
        match operation.relation() {
            Some(relation) => format!("{relation} "),
            None => String::new(),
        },
        display(operation.text("endpoint").unwrap_or("?")),
        operation.id,
        operation.outcome(),
    );
    let attempt = operations.attempt(operation);
    if attempt > 1 {
        head.push_str(&format!("  attempt {attempt}"));
    }
    head.push_str(&format!("  user {}", text(operation.text("user"))));
    if let Some(tenant) = operation.text("tenant") {
        head.push_str(&format!("  tenant {}", display(tenant)));
    }
    if operation.id == asked {
        head.push_str("  <- asked");
    }
    writeln!(out, "{head}")?;
    for entry in &operation.entries {
        let field = |name: &str| entry.get(name).and_then(Value::as_str);
        let ms = entry
            .get("duration_seconds")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            * 1000.0;
        let mut line = format!(
            "{indent}  {}  {:<18} {:<12} {:>10.1} ms",
            text(field("timestamp")),
            display(stage(entry).unwrap_or("-")),
            text(field("outcome")),
            ms
        );
        if let Some(error) = field("error") {
            line.push_str(&format!("  {}", display(error)));
        }
        if let Some(retryable) = entry
            .pointer("/operation/retryable")
            .and_then(Value::as_bool)
        {
            line.push_str(if retryable {
                " (retryable)"
            } else {
                " (not retryable)"
            });
        }
        if let Some(reason) = entry.pointer("/fields/reason").and_then(Value::as_str) {
            if stage(entry) == Some(audit_core::operation::STARTED) {
                line.push_str(&format!("  reason: {}", display(reason)));
            }
        }
        writeln!(out, "{line}")?;
    }
    if depth < 64 {
        for child in operations.children(&operation.id) {
            write_tree(operations, child, asked, out, depth + 1)?;
        }
    }
    Ok(())
}

/// Text from the log, made safe for a terminal.
fn display(text: &str) -> String {
    audit_core::display_cell(text, 200)
}
