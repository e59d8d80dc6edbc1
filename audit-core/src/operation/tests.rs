use serde_json::json;

use super::*;
use crate::MemorySink;

fn auditor() -> (Auditor, MemorySink) {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .build(sink.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    (auditor, sink)
}

fn info(entry: &AuditEntry) -> &OperationInfo {
    entry
        .operation
        .as_ref()
        .unwrap_or_else(|| panic!("no operation in {entry:?}"))
}

/// (endpoint, stage, outcome) of each entry, in order.
fn steps(entries: &[AuditEntry]) -> Vec<(String, String, Outcome)> {
    entries
        .iter()
        .map(|e| (e.endpoint.clone(), info(e).stage.clone(), e.outcome))
        .collect()
}

fn step(endpoint: &str, stage: &str, outcome: Outcome) -> (String, String, Outcome) {
    (endpoint.to_owned(), stage.to_owned(), outcome)
}

#[tokio::test]
async fn a_lifecycle_with_stages_shares_one_id_and_times_each_step() {
    let (auditor, sink) = auditor();
    let run = auditor
        .operation("blog_generate")
        .user("alice")
        .tenant("acme")
        .tags(["llm", "blog", "llm"])
        .field("provider", "openai")
        .input(json!({"topic_id": 7, "api_key": "sk-live-1234567890"}))
        .start();
    run.stage("topic_ranked");
    run.stage_with("context_built", json!({"documents": 3}));
    let id = run.id();
    run.succeed(json!({"words": 1200}));
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));

    let entries = sink.entries();
    assert_eq!(
        steps(&entries),
        [
            step("blog_generate", STARTED, Outcome::Pending),
            step("blog_generate", "topic_ranked", Outcome::Pending),
            step("blog_generate", "context_built", Outcome::Pending),
            step("blog_generate", FINISHED, Outcome::Success),
        ]
    );
    for entry in &entries {
        assert_eq!(info(entry).id, id);
        assert_eq!(info(entry).parent, None);
        assert_eq!(entry.user, "alice");
        assert_eq!(entry.tenant.as_deref(), Some("acme"));
        assert_eq!(entry.tags, ["llm", "blog"]);
        assert_eq!(entry.fields["provider"], "openai");
    }
    // The input on the start, redacted; the result on the end; stage details on their entry.
    assert_eq!(
        entries[0].request.as_ref().map(|r| &r["topic_id"]),
        Some(&json!(7))
    );
    assert_eq!(
        entries[0].request.as_ref().map(|r| &r["api_key"]),
        Some(&json!(crate::REDACTED))
    );
    assert_eq!(entries[2].fields["documents"], 3);
    assert!(!entries[3].fields.contains_key("documents"));
    assert_eq!(
        entries[3].response_summary.as_ref().map(|r| &r["words"]),
        Some(&json!(1200))
    );
    assert_eq!(
        entries[0].duration_seconds,
        entries[0].duration_seconds.min(entries[3].duration_seconds)
    );
    assert!(entries[3].duration_seconds >= entries[1].duration_seconds);
}

#[tokio::test]
async fn a_failure_then_a_retry_that_succeeds_are_linked() {
    let (auditor, sink) = auditor();
    let first = auditor.operation("blog_generate").user("alice").start();
    let failed = first.id();
    first.fail("provider timeout after 30s, token=abc.def", true);
    let retry = auditor
        .operation("blog_generate")
        .user("alice")
        .field("provider", "anthropic")
        .retry_of(failed)
        .start();
    let retry_id = retry.id();
    retry.succeed(());
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));

    let entries = sink.entries();
    assert_eq!(entries.len(), 4);
    let end = &entries[1];
    assert_eq!(end.outcome, Outcome::Error);
    assert_eq!(info(end).retryable, Some(true));
    assert!(end
        .error
        .as_deref()
        .is_some_and(|e| e.starts_with("provider timeout")));
    for entry in &entries[2..] {
        assert_eq!(info(entry).id, retry_id);
        assert_eq!(info(entry).parent, Some(failed));
        assert_eq!(info(entry).relation, Some(Relation::Retry));
    }
    assert_eq!(entries[3].outcome, Outcome::Success);
    assert_eq!(entries[3].response_summary, None);
}

#[tokio::test]
async fn a_compensation_is_linked_to_what_it_undoes_with_its_reason() {
    let (auditor, sink) = auditor();
    let charge = auditor.operation("charge_card").tenant("acme").start();
    let charged = charge.id();
    charge.succeed(json!({"amount": 120}));
    auditor
        .operation("refund_card")
        .tenant("acme")
        .compensates(charged, "booking cancelled by the customer")
        .start()
        .succeed(());
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));

    let entries = sink.entries();
    let refund_end = &entries[3];
    assert_eq!(info(refund_end).parent, Some(charged));
    assert_eq!(info(refund_end).relation, Some(Relation::Compensation));
    assert_eq!(
        refund_end.fields["reason"],
        "booking cancelled by the customer"
    );
    assert_eq!(refund_end.outcome, Outcome::Success);
}

#[tokio::test]
async fn a_dropped_operation_is_cancelled() {
    let (auditor, sink) = auditor();
    {
        let _abandoned = auditor.operation("import_job").start();
    }
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));
    let entries = sink.entries();
    assert_eq!(
        steps(&entries),
        [
            step("import_job", STARTED, Outcome::Pending),
            step("import_job", FINISHED, Outcome::Cancelled),
        ]
    );
    assert_eq!(entries[1].error.as_deref(), Some(DROPPED_MESSAGE));
}

#[tokio::test]
async fn an_operation_dropped_by_a_panic_records_panic() {
    let (auditor, sink) = auditor();
    let in_thread = auditor.clone();
    let joined = std::thread::spawn(move || {
        let _run = in_thread.operation("agent_run").start();
        panic!("the agent crashed");
    })
    .join();
    assert!(joined.is_err());
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));
    let entries = sink.entries();
    assert_eq!(
        steps(&entries),
        [
            step("agent_run", STARTED, Outcome::Pending),
            step("agent_run", FINISHED, Outcome::Panic),
        ]
    );
    assert_eq!(entries[1].error.as_deref(), Some(PANIC_MESSAGE));
}

#[tokio::test]
async fn a_saga_whose_third_step_fails_compensates_the_first_two_in_reverse_order() {
    let (auditor, sink) = auditor();
    let undone = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut saga = auditor
        .operation("book_trip")
        .user("bob")
        .tenant("acme")
        .start_saga();
    let saga_id = saga.id();
    let undo = |what: &'static str| {
        let undone = undone.clone();
        move |reservation: &String| {
            let reservation = reservation.clone();
            async move {
                undone
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(format!("{what} {reservation}"));
                Ok::<_, String>(())
            }
        }
    };
    let flight = saga
        .step_compensable(
            "reserve_flight",
            async { Ok::<_, String>("FL-1".to_owned()) },
            undo("flight"),
        )
        .await;
    assert!(flight.is_ok());
    let hotel = saga
        .step_compensable(
            "reserve_hotel",
            async { Ok::<_, String>("HT-2".to_owned()) },
            undo("hotel"),
        )
        .await;
    assert!(hotel.is_ok());
    let car = saga
        .step_compensable(
            "reserve_car",
            async { Err::<String, _>("no cars left") },
            undo("car"),
        )
        .await;
    let Err(SagaError::StepFailed {
        step,
        compensations,
        ..
    }) = car
    else {
        panic!("the third step should fail");
    };
    assert_eq!(step, "reserve_car");
    let order: Vec<&str> = compensations.iter().map(|c| c.step.as_str()).collect();
    assert_eq!(order, ["reserve_hotel", "reserve_flight"]);
    assert_eq!(
        *undone
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        ["hotel HT-2", "flight FL-1"]
    );
    // After a failure, nothing more runs.
    let late = saga.step("send_email", async { Ok::<_, String>(()) }).await;
    assert!(matches!(late, Err(SagaError::Finished { .. })));
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));

    let entries = sink.entries();
    let finished: Vec<(String, Outcome)> = entries
        .iter()
        .filter(|e| info(e).stage == FINISHED)
        .map(|e| (e.endpoint.clone(), e.outcome))
        .collect();
    assert_eq!(
        finished,
        [
            ("reserve_flight".to_owned(), Outcome::Success),
            ("reserve_hotel".to_owned(), Outcome::Success),
            ("reserve_car".to_owned(), Outcome::Error),
            ("reserve_hotel.compensate".to_owned(), Outcome::Success),
            ("reserve_flight.compensate".to_owned(), Outcome::Success),
            ("book_trip".to_owned(), Outcome::Error),
        ]
    );
    let id_of = |endpoint: &str| {
        entries
            .iter()
            .find(|e| e.endpoint == endpoint)
            .map(|e| info(e).id)
    };
    for step in ["reserve_flight", "reserve_hotel", "reserve_car"] {
        let entry = entries.iter().find(|e| e.endpoint == step).map(info);
        assert_eq!(entry.and_then(|i| i.parent), saga_id, "{step}");
        assert_eq!(entry.and_then(|i| i.relation), Some(Relation::Step));
    }
    for (compensation, of) in [
        ("reserve_hotel.compensate", "reserve_hotel"),
        ("reserve_flight.compensate", "reserve_flight"),
    ] {
        let entry = entries.iter().find(|e| e.endpoint == compensation);
        assert_eq!(entry.map(info).and_then(|i| i.parent), id_of(of));
        assert_eq!(
            entry.map(info).and_then(|i| i.relation),
            Some(Relation::Compensation)
        );
        assert_eq!(entry.map(|e| e.tenant.as_deref()), Some(Some("acme")));
        assert_eq!(entry.map(|e| e.user.as_str()), Some("bob"));
    }
}

#[tokio::test]
async fn a_saga_that_completes_records_success_and_compensates_nothing() {
    let (auditor, sink) = auditor();
    let mut saga = auditor.operation("book_trip").start_saga();
    let flight = saga
        .step_compensable(
            "reserve_flight",
            async { Ok::<_, String>(1) },
            |_: &i32| async { Err::<(), _>("must not run") },
        )
        .await;
    assert!(flight.is_ok());
    saga.complete(json!({"trip": "ok"}));
    auditor.shutdown().await.unwrap_or_else(|e| panic!("{e}"));
    let entries = sink.entries();
    assert!(!entries.iter().any(|e| e.endpoint.ends_with(".compensate")));
    let last = entries.last().map(|e| (e.endpoint.as_str(), e.outcome));
    assert_eq!(last, Some(("book_trip", Outcome::Success)));
}

#[tokio::test]
async fn entries_without_operations_keep_their_bytes() {
    // The canonical form of an entry that uses none of the new fields is unchanged.
    let entry = AuditEntry::new("x");
    let mut line = Vec::new();
    entry
        .write_json_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&line);
    for absent in ["operation", "tenant", "tags"] {
        assert!(!text.contains(absent), "{text}");
    }
}
