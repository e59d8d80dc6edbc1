//! Auditing work that is not HTTP: an agent run and the tools it calls, each call one entry.
//!
//! ```sh
//! cargo run -p examples --bin agent_run          # prints the entries (AUDIT_SINK to change)
//! ```
//!
//! The run sets the user and a correlation id; the tool calls it makes inherit the correlation id
//! and carry `fields.parent_id`, so `jq 'select(.correlation_id == "run-42")'` shows the run
//! and its tool calls together.

use audit_core::{audited, context, EnvConfig};
use serde::Serialize;

#[derive(Serialize)]
struct ToolInput {
    query: String,
    api_key: String,
}

#[derive(Debug)]
struct ToolError(String);

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tool failed: {}", self.0)
    }
}

/// A tool call: its input (with the API key redacted) and output are recorded.
#[audited("tool_execute", fields(tool = %name))]
async fn execute_tool(name: &str, input: ToolInput) -> Result<Vec<String>, ToolError> {
    if input.query.is_empty() {
        return Err(ToolError("empty query".into()));
    }
    Ok(vec![format!("{name}: 3 results for {}", input.query)])
}

/// The agent run: who asked, under which id, and what it cost.
#[audited("agent_run", skip(api_key), user = user, fields(model = "small-1"))]
async fn agent_run(user: &str, run_id: &str, goal: &str, api_key: &str) -> usize {
    context::set_correlation_id(run_id);
    let mut findings = 0;
    for query in [goal, ""] {
        let input = ToolInput {
            query: query.to_owned(),
            api_key: api_key.to_owned(),
        };
        if let Ok(results) = execute_tool("web_search", input).await {
            findings += results.len();
        }
    }
    context::add_field("cost_usd", 0.012);
    findings
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auditor =
        EnvConfig::from_lookup_with_default(|k| std::env::var(k).ok(), "stdout")?.build()?;
    // Outside an HTTP request, #[audited] functions record through the global auditor.
    if audit_core::set_global_auditor(auditor.clone()).is_err() {
        eprintln!("a global auditor was already set");
    }
    // The global handle is never dropped: the guard drains it however `main` ends (an early
    // `?`, a panic); `shutdown()` below is the explicit way, which also reports errors.
    let _guard = auditor.shutdown_guard();
    let findings = agent_run("alice", "run-42", "rust audit libraries", "sk-live-123").await;
    eprintln!("agent found {findings} results");
    auditor.shutdown().await?;
    Ok(())
}
