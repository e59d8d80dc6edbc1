//! The pipeline's metrics through a real exporter (`metrics-exporter-prometheus`), installed
//! as the process's recorder: calls and operations counted with bounded labels, the pipeline's
//! health (written, dropped, sink errors, retries, chain position), and nothing at all from an
//! auditor built with `metrics(false)`.

use std::time::Duration;

use audit_core::chain::ChainConfig;
use audit_core::{async_trait, AuditEntry, Auditor, MemorySink, RetryPolicy, Sink, SinkError};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Fails every write.
struct Broken;

#[async_trait]
impl Sink for Broken {
    async fn write(&mut self, _batch: &[AuditEntry]) -> Result<(), SinkError> {
        Err(SinkError::other("disk full"))
    }
}

fn value(text: &str, line_start: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn recorder() -> PrometheusHandle {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).unwrap_or_else(|e| panic!("{e}"));
    handle
}

#[tokio::test]
async fn the_pipeline_reports_calls_operations_and_its_health() {
    let handle = recorder();

    // Off: nothing, whatever is recorded.
    let quiet = Auditor::builder()
        .metrics(false)
        .build(MemorySink::new())
        .unwrap_or_else(|e| panic!("{e}"));
    quiet
        .record(AuditEntry::new("silent_job"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    quiet.shutdown().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!handle.render().contains("silent_job"));

    let auditor = Auditor::builder()
        .chain(ChainConfig::enabled())
        .build(MemorySink::new())
        .unwrap_or_else(|e| panic!("{e}"));
    for status in [200, 200, 503] {
        let mut call = AuditEntry::new("/api/v1/sow/{id}");
        call.route = Some("/api/v1/sow/{id}".into());
        call.path = Some("/api/v1/sow/7".into());
        call.method = Some("GET".into());
        call.status_code = Some(status);
        call.outcome = audit_core::Outcome::from_status(status);
        call.duration_seconds = 0.02;
        auditor.record(call).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let mut stray = AuditEntry::new("/wp-admin/login.php");
    stray.path = Some("/wp-admin/login.php".into());
    stray.method = Some("PROPFIND".into());
    auditor
        .record(stray)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let run = auditor.operation("agent_run").user("alice").start();
    run.stage("tool_called");
    run.fail("timeout", true);
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));

    let text = handle.render();
    let calls = |labels: &str| value(&text, &format!("audit_calls_total{{{labels}}}"));
    assert_eq!(
        calls(r#"endpoint="/api/v1/sow/{id}",method="GET",outcome="success""#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        calls(r#"endpoint="/api/v1/sow/{id}",method="GET",outcome="server_error""#),
        Some(1.0)
    );
    assert_eq!(
        calls(r#"endpoint="unmatched",method="other",outcome="success""#),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("wp-admin"), "{text}");
    // The operation once, when it finished; not its start or stage.
    assert_eq!(
        value(
            &text,
            r#"audit_operations_total{action="agent_run",outcome="error"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains(r#"endpoint="agent_run""#), "{text}");
    // 4 calls + 3 operation entries + the final checkpoint.
    assert_eq!(
        value(&text, "audit_entries_written_total"),
        Some(8.0),
        "{text}"
    );
    assert_eq!(value(&text, "audit_chain_seq"), Some(8.0), "{text}");
    assert_eq!(value(&text, "audit_queue_depth"), Some(0.0), "{text}");

    // A sink that fails: errors, retries and lost entries show.
    let failing = Auditor::builder()
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .initial_delay(Duration::from_millis(1)),
        )
        .build(Broken)
        .unwrap_or_else(|e| panic!("{e}"));
    failing
        .record(AuditEntry::new("lost_job"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = failing.shutdown().await;
    let text = handle.render();
    assert!(
        value(&text, "audit_sink_errors_total").is_some_and(|n| n >= 2.0),
        "{text}"
    );
    assert!(
        value(&text, "audit_sink_retries_total").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        value(
            &text,
            r#"audit_entries_dropped_total{reason="sink_failed"}"#
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
}
