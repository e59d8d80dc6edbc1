//! The retry chain of a blog-generation audit (the Python system our users come from: an
//! operation that moves through stages, fails with `can_retry`, and is retried with another
//! LLM provider, the retry linked to the failure by `parent_audit_id`), with audited's
//! operations.
//!
//! ```sh
//! cargo run -p examples --bin blog_retry            # writes ./audit_logs (AUDIT_SINK to change)
//! audit operations audit_logs --retryable           # failures nobody has made good yet
//! audit show audit_logs <operation id it prints>    # one retry chain, stage by stage
//! ```

use audit_core::operation::Operation;
use audit_core::{Auditor, EnvConfig};
use serde_json::json;

/// Why a generation failed, and whether trying again (with another provider) may help.
struct Failure {
    message: &'static str,
    can_retry: bool,
}

/// The pipeline's stages, as the blog service names them; `fails_at` makes the provider fail.
fn generate(
    run: &Operation,
    provider: &str,
    fails_at: Option<(&str, Failure)>,
) -> Result<usize, Failure> {
    for stage in [
        "topic_ranked",
        "context_built",
        "agent_invoked",
        "content_generated",
    ] {
        if let Some((at, failure)) = &fails_at {
            if *at == stage {
                return Err(Failure {
                    message: failure.message,
                    can_retry: failure.can_retry,
                });
            }
        }
        run.stage_with(stage, json!({"provider": provider}));
    }
    Ok(1200)
}

/// One attempt: an operation for `topic`, retrying `parent` if given.
fn attempt(
    auditor: &Auditor,
    topic: u32,
    provider: &str,
    parent: Option<uuid::Uuid>,
    fails_at: Option<(&str, Failure)>,
) -> (uuid::Uuid, bool) {
    let mut builder = auditor
        .operation("blog_generate")
        .user("editor@example.com")
        .tenant("acme")
        .tag("llm")
        .field("provider", provider)
        .input(json!({"topic_id": topic}));
    if let Some(parent) = parent {
        builder = builder.retry_of(parent);
    }
    let run = builder.start();
    let id = run.id();
    match generate(&run, provider, fails_at) {
        Ok(words) => {
            run.succeed(json!({"words": words}));
            (id, true)
        }
        Err(failure) => {
            run.fail(failure.message, failure.can_retry);
            (id, false)
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config =
        EnvConfig::from_lookup_with_default(|name| std::env::var(name).ok(), "jsonl:./audit_logs")?;
    let auditor = config.build()?;
    let timeout = || Failure {
        message: "the provider timed out after 30 s",
        can_retry: true,
    };

    // Topic 7: OpenAI times out while the agent runs; the retry with Anthropic succeeds.
    let (failed, _) = attempt(
        &auditor,
        7,
        "openai",
        None,
        Some(("agent_invoked", timeout())),
    );
    let (retried, ok) = attempt(&auditor, 7, "anthropic", Some(failed), None);
    println!(
        "topic 7: {failed} failed, retried as {retried}: {}",
        if ok { "success" } else { "failed" }
    );

    // Topic 8: refused by the content policy, which no retry changes.
    let refusal = Failure {
        message: "refused by the content policy",
        can_retry: false,
    };
    let (refused, _) = attempt(
        &auditor,
        8,
        "openai",
        None,
        Some(("content_generated", refusal)),
    );
    println!("topic 8: {refused} failed, not retryable");

    // Topic 9: times out, and nobody has retried it yet.
    let (waiting, _) = attempt(
        &auditor,
        9,
        "openai",
        None,
        Some(("context_built", timeout())),
    );
    println!("topic 9: {waiting} failed, retryable, waiting for a retry");

    auditor.shutdown().await?;
    println!("\naudit operations audit_logs --retryable   # lists {waiting}");
    println!("audit show audit_logs {retried}          # the chain of topic 7");
    Ok(())
}
