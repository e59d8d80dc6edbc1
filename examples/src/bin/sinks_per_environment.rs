//! One program, different audit sinks per environment, chosen by one variable.
//!
//! ```sh
//! APP_ENV=dev  cargo run -p examples --bin sinks_per_environment   # pretty lines on stdout
//! APP_ENV=prod cargo run -p examples --bin sinks_per_environment   # durable JSONL, gzip, 90 days
//! AUDIT_SINK=stdout cargo run -p examples --bin sinks_per_environment  # AUDIT_SINK always wins
//! ```

use audit_core::{AuditEntry, EnvConfig};

/// The sinks each environment uses unless `AUDIT_SINK` says otherwise.
fn default_sinks(env: &str) -> &'static str {
    match env {
        "prod" => "jsonl:./audit_logs?sync=every_batch&compress=gzip&max_age_days=90",
        "staging" => "jsonl:./audit_logs,stdout",
        _ => "stdout:pretty",
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = std::env::var("APP_ENV").unwrap_or_else(|_| "dev".into());
    let config =
        EnvConfig::from_lookup_with_default(|k| std::env::var(k).ok(), default_sinks(&env))?;
    for sink in &config.sinks {
        println!("[{env}] audit log -> {sink}");
    }
    let auditor = config.build()?;

    let mut entry = AuditEntry::new("nightly_invoice_run");
    entry.user = "billing-bot".into();
    entry.fields.insert("invoices".into(), 42.into());
    auditor.record(entry).await?;

    auditor.shutdown().await?;
    Ok(())
}
