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
//! scan goes on. Exit status: 0; 1 when `verify` finds the log not intact; 2 for a usage error, an
//! unreadable SOURCE, or lines that could not be read (not UTF-8, an I/O error; the output covers
//! the others).

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

mod cli;
mod commands;
mod error;
mod filter;
mod html;
mod lines;
mod output;
mod source;
mod stats;
mod verify;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Query {
            select,
            format,
            limit,
        } => commands::query::run(select, *format, *limit),
        Command::Stats {
            select,
            by,
            json,
            html,
        } => commands::stats::run(select, *by, *json, html.as_deref()),
        Command::Tail {
            source,
            lines,
            follow,
        } => commands::tail::run(source, *lines, *follow),
        Command::Verify {
            source,
            key_file,
            allow_open,
            expect,
            heads,
        } => {
            let flags = commands::verify::VerifyFlags {
                allow_open: *allow_open,
                heads: *heads,
            };
            match commands::verify::run(source, key_file.as_deref(), expect, flags) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
    };
    let skipped = lines::skipped();
    match result {
        // The other entries were answered, but the answer leaves lines out: say so.
        Ok(()) if skipped > 0 && !matches!(cli.command, Command::Verify { .. }) => {
            eprintln!(
                "audit: {skipped} line{} could not be read (reported above); the output leaves {} out",
                if skipped == 1 { "" } else { "s" },
                if skipped == 1 { "it" } else { "them" }
            );
            ExitCode::from(2)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("audit: {message}");
            ExitCode::from(2)
        }
    }
}
