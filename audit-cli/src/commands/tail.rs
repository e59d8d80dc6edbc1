//! `audit tail`: the last entries as one human line each, and (with `--follow`) new ones as
//! they are written, from files or the table.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::CliError;
use crate::lines::entry_of;
use crate::output::pretty;
use crate::{filter, source};

/// `tail` over the table: the last `lines` rows by start time, then (with `follow`) rows
/// after the newest seen, polled every second. A call that started before the newest row shown
/// but ended later is not shown (rows carry the start time).
fn tail_table(source: &source::Source, lines: usize, follow: bool) -> Result<(), CliError> {
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
    let print = |entries: &[audit_core::AuditEntry]| -> Result<(), CliError> {
        let mut out = crate::output::stdout();
        for entry in entries {
            writeln!(out, "{}", pretty(entry)).map_err(CliError::stdout)?;
        }
        out.flush().map_err(CliError::stdout)
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

pub fn run(source: &std::path::Path, lines: usize, follow: bool) -> Result<(), CliError> {
    let opened = source::Source::open(source)?;
    if let source::Source::Postgres(_) = opened {
        return tail_table(&opened, lines, follow);
    }
    let list = || {
        source::files(source).map_err(|e| CliError::Read {
            path: source.to_owned(),
            source: e,
        })
    };
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
    let mut out = crate::output::stdout();
    for entry in &last {
        writeln!(out, "{}", pretty(entry)).map_err(CliError::stdout)?;
    }
    out.flush().map_err(CliError::stdout)?;
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
        let mut out = crate::output::stdout();
        for line in fresh {
            writeln!(out, "{line}").map_err(CliError::stdout)?;
        }
        out.flush().map_err(CliError::stdout)?;
    }
}
