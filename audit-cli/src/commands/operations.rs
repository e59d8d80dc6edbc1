//! `audit operations`: the operations of a log (or those that need attention: retryable
//! failures without a successful retry, successful actions that were compensated).

use std::io::Write;

use crate::cli::{OperationsView, Select};
use crate::error::CliError;
use crate::operations::{Operation, Operations};
use crate::output::print_table;

const COLUMNS: [&str; 8] = [
    "started",
    "operation",
    "endpoint",
    "user",
    "tenant",
    "outcome",
    "attempt",
    "detail",
];

fn row(operations: &Operations, operation: &Operation, detail: String) -> Vec<String> {
    let text = |name: &str| operation.text(name).unwrap_or("-").to_owned();
    vec![
        text("timestamp"),
        operation.id.clone(),
        text("endpoint"),
        text("user"),
        text("tenant"),
        operation.outcome().to_owned(),
        operations.attempt(operation).to_string(),
        detail,
    ]
}

pub fn run(select: &Select, view: OperationsView, json: bool) -> Result<(), CliError> {
    let operations = Operations::read(select)?;
    let listed: Vec<(&Operation, String)> = match view {
        OperationsView::All => operations
            .all()
            .map(|op| {
                let detail = match (op.relation(), op.parent()) {
                    (Some(relation), Some(parent)) => format!("{relation} of {parent}"),
                    _ => op.error().unwrap_or_default().to_owned(),
                };
                (op, detail)
            })
            .collect(),
        OperationsView::Retryable => operations
            .retryable_failures()
            .into_iter()
            .map(|op| (op, op.error().unwrap_or_default().to_owned()))
            .collect(),
        OperationsView::Compensated => operations
            .compensated()
            .into_iter()
            .map(|(op, compensations)| {
                let detail = compensations
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {} {}",
                            c.text("endpoint").unwrap_or("?"),
                            c.id,
                            c.outcome()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                (op, format!("compensated by {detail}"))
            })
            .collect(),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = if json {
        listed.iter().try_for_each(|(op, detail)| {
            let line = serde_json::json!({
                "operation": op.id,
                "endpoint": op.text("endpoint"),
                "user": op.text("user"),
                "tenant": op.text("tenant"),
                "started": op.text("timestamp"),
                "outcome": op.outcome(),
                "attempt": operations.attempt(op),
                "error": op.error(),
                "parent": op.parent(),
                "relation": op.relation(),
                "detail": detail,
            });
            writeln!(out, "{line}")
        })
    } else {
        let rows: Vec<Vec<String>> = listed
            .iter()
            .map(|(op, detail)| row(&operations, op, detail.clone()))
            .collect();
        print_table(&COLUMNS, &rows, &mut out)
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::stdout(e)),
        _ => Ok(()),
    }
}
