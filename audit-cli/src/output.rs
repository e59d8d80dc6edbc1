//! What commands print: aligned tables, CSV, and one coloured line per entry.

use std::io::Write;

use audit_core::display_cell;

/// The widest a table cell is shown; the data itself stays whole in `--format jsonl`.
const MAX_CELL_CHARS: usize = 80;

/// A table of escaped cells cut to [`MAX_CELL_CHARS`]: entry data can neither forge rows nor
/// make the width too large to format.
pub fn print_table(
    header: &[&str],
    rows: &[Vec<String>],
    out: &mut impl Write,
) -> std::io::Result<()> {
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

/// One human line per entry, coloured by outcome: green for success, yellow for client errors
/// and cancelled calls, red for the rest. Print it through [`stdout`], which drops the colour
/// where it does not belong.
pub fn pretty(entry: &audit_core::AuditEntry) -> String {
    use anstyle::{AnsiColor, Style};
    use audit_core::Outcome;

    let mut line = String::new();
    audit_core::format_pretty(entry, &mut line);
    let colour = match entry.outcome {
        Outcome::Success => AnsiColor::Green,
        Outcome::ClientError | Outcome::Cancelled => AnsiColor::Yellow,
        _ => AnsiColor::Red,
    };
    let style = Style::new().fg_color(Some(colour.into()));
    format!("{style}{line}{style:#}")
}

/// Standard output that keeps colours only on a terminal, and never with `NO_COLOR`
/// (no-color.org) or `CLICOLOR=0`; `CLICOLOR_FORCE` keeps them (anstream's rules).
pub fn stdout() -> anstream::AutoStream<std::io::StdoutLock<'static>> {
    anstream::AutoStream::auto(std::io::stdout().lock())
}

/// A CSV writer (RFC 4180 quoting by the `csv` crate) over `out`.
pub fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out)
}

/// A CSV cell a spreadsheet shows instead of running: a text starting with `=`, `+`, `-`, `@`,
/// a tab or a CR gets a leading `'` (OWASP's CSV-injection advice); numbers (`-1.5`) stay.
pub fn defuse_formula(field: &str) -> std::borrow::Cow<'_, str> {
    let formula =
        field.starts_with(['=', '+', '-', '@', '\t', '\r']) && field.parse::<f64>().is_err();
    if formula {
        format!("'{field}").into()
    } else {
        field.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(cells: &[String]) -> Vec<String> {
        let mut writer = csv_writer(Vec::new());
        writer
            .write_record(cells.iter().map(|c| defuse_formula(c).into_owned()))
            .unwrap();
        let bytes = writer.into_inner().unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice());
        let record = reader.records().next().unwrap().unwrap();
        assert!(reader.records().next().is_none(), "one record, one row");
        record.iter().map(String::from).collect()
    }

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(defuse_formula("=1+2"), "'=1+2");
        assert_eq!(defuse_formula("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse_formula("-1.5"), "-1.5");
        assert_eq!(defuse_formula("plain"), "plain");
    }

    #[test]
    fn carriage_returns_and_quotes_stay_inside_their_cell() {
        let cells = vec![
            "a\rb".to_owned(),
            "say \"hi\"".to_owned(),
            "x,y\nz".to_owned(),
        ];
        assert_eq!(round_trip(&cells), cells);
    }

    proptest! {
        /// Whatever a user name holds, it reads back as one cell: itself, or itself defused.
        #[test]
        fn any_text_reads_back_as_one_cell(user in "\\PC*|[=+@\\-\t\r\n,\" ]{0,4}\\PC{0,8}") {
            let back = round_trip(&[user.clone(), "next".to_owned()]);
            prop_assert_eq!(back.len(), 2);
            prop_assert!(back[0] == user || back[0] == format!("'{user}"), "{:?} -> {:?}", user, back[0]);
            prop_assert_eq!(&back[1], "next");
            prop_assert!(!back[0].starts_with(['=', '+', '@']) || user.parse::<f64>().is_ok());
        }
    }
}
