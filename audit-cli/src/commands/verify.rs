//! `audit verify`: checks the chains and prints the verdict.

use std::io::Write;

use audit_core::escape_for_display;

use crate::error::CliError;
use crate::{source, verify};

/// `1 entry`, `2 entries`, `0 chains`.
fn plural(count: u64, noun: &str) -> String {
    match (count, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{count} {stem}ies"),
        _ => format!("{count} {noun}s"),
    }
}

#[derive(Clone, Copy)]
pub struct VerifyFlags {
    pub allow_open: bool,
    pub heads: bool,
}

/// Runs `verify`; `Ok(false)` when the log is not intact.
pub fn run(
    source: &std::path::Path,
    key_file: Option<&std::path::Path>,
    expect: &[verify::Head],
    flags: VerifyFlags,
) -> Result<bool, CliError> {
    let key = match key_file {
        Some(path) => Some(format!("file:{}", path.display())),
        None => std::env::var("AUDIT_CHECKPOINT_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty()),
    };
    let key = key
        .map(|spec| audit_core::chain::CheckpointKey::parse(&spec))
        .transpose()?;
    let source = source::Source::open(source)?;
    let options = verify::Options {
        key,
        allow_open: flags.allow_open,
        expect: expect.to_vec(),
    };
    let report = verify::verify(&source, &options)?;
    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock, text: String| {
        writeln!(out, "{text}").map_err(CliError::stdout)
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
