//! The `blog_retry` example writes the retry chain of the blog-generation audit it reproduces:
//! stages, a retryable failure, a retry with another provider linked to it, a refusal that is
//! not retryable.

use std::process::Command;

use serde_json::Value;

#[test]
fn the_example_writes_a_linked_retry_chain() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_blog_retry"))
        .current_dir(dir.path())
        .env("AUDIT_SINK", "jsonl:./audit_logs")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let mut entries: Vec<Value> = Vec::new();
    for file in std::fs::read_dir(dir.path().join("audit_logs")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        entries.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    let finished: Vec<&Value> = entries
        .iter()
        .filter(|e| e["operation"]["stage"] == "finished")
        .collect();
    let summary: Vec<(&str, &str, Option<bool>)> = finished
        .iter()
        .map(|e| {
            (
                e["fields"]["provider"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                e["operation"]["retryable"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("openai", "error", Some(true)),
            ("anthropic", "success", None),
            ("openai", "error", Some(false)),
            ("openai", "error", Some(true)),
        ]
    );
    // The retry names the failed attempt as its parent.
    assert_eq!(finished[1]["operation"]["relation"], "retry");
    assert_eq!(
        finished[1]["operation"]["parent"],
        finished[0]["operation"]["id"]
    );
    // The failed attempt reached the agent, not past it.
    let stages_of = |id: &Value| -> Vec<&str> {
        entries
            .iter()
            .filter(|e| &e["operation"]["id"] == id)
            .map(|e| e["operation"]["stage"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        stages_of(&finished[0]["operation"]["id"]),
        ["started", "topic_ranked", "context_built", "finished"]
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("audit operations audit_logs --retryable"),
        "{stdout}"
    );
}
