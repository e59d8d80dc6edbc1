//! `audit stats`: count, error rate, latency percentiles and bytes per group, as a table,
//! JSON, or an HTML page.

use std::io::Write;

use serde_json::Value;

use crate::cli::Select;
use crate::error::CliError;
use crate::lines::matching;
use crate::output::print_table;
use crate::{html, source, stats};

pub fn run(
    select: &Select,
    by: stats::By,
    json: bool,
    html: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let filter = select.filter()?;
    let (source, sql) = select.open(None)?;
    let mut stats = stats::Stats::new(html.is_some());
    source.each_line(&sql, |line| {
        if let Some(entry) = matching(&filter, &line) {
            stats.add(by, &entry);
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
        std::fs::write(path, html::render(&context, &rows, &groups)).map_err(|source| {
            CliError::Write {
                path: Some(path.to_owned()),
                source,
            }
        })?;
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
    written.map_err(CliError::stdout)
}
