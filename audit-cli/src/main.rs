//! `audit`: answers the weekly questions about an audit log without jq pipelines.
//!
//! ```sh
//! audit query audit_logs --endpoint sow_create --where request.client_id=CLIENT-001 --since 1d
//! audit stats audit_logs --by endpoint
//! audit tail audit_logs --follow
//! audit collect 'nats://127.0.0.1:4222?stream=AUDIT' --to postgres://auditor@db/app
//! audit show audit_logs 0192f0c1-7b3a-7cc2-9d4e-5f6a7b8c9d0e
//! audit operations audit_logs --retryable --tenant acme
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
mod operations;
mod output;
mod source;
mod stats;
mod verify;

#[cfg(feature = "nats")]
fn collect(args: &commands::CollectArgs<'_>) -> Result<(), error::CliError> {
    commands::collect::run(args)
}

#[cfg(not(feature = "nats"))]
fn collect(_args: &commands::CollectArgs<'_>) -> Result<(), error::CliError> {
    Err(error::CliError::Unsupported { feature: "nats" })
}

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
        Command::Collect {
            source,
            to,
            batch,
            max_wait,
            idle_exit,
            ack_wait,
        } => collect(&commands::CollectArgs {
            source,
            to,
            batch: *batch,
            max_wait: *max_wait,
            idle_exit: *idle_exit,
            ack_wait: *ack_wait,
        }),
        Command::Show {
            source,
            operation_id,
            json,
        } => commands::show::run(source, operation_id, *json),
        Command::Operations {
            select,
            retryable,
            compensated,
            json,
        } => commands::operations::run(
            select,
            cli::OperationsView::of(*retryable, *compensated),
            *json,
        ),
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
