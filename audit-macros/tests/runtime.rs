//! What `#[audited]` records, standalone and behind `AuditLayer`.

use std::sync::OnceLock;
use std::time::Duration;

use audit_core::{audited, AuditEntry, Auditor, MemorySink, Outcome};
use serde::Serialize;
use serde_json::json;

/// One global auditor for this test binary, on a runtime of its own that outlives every test.
fn sink() -> &'static MemorySink {
    static SINK: OnceLock<MemorySink> = OnceLock::new();
    SINK.get_or_init(|| {
        let sink = MemorySink::new();
        let (tx, rx) = std::sync::mpsc::channel();
        let for_auditor = sink.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let auditor = Auditor::builder()
                    .queue_capacity(1 << 16)
                    .max_batch_wait(Duration::from_millis(1))
                    .build(for_auditor)
                    .unwrap();
                audit_core::set_global_auditor(auditor).unwrap();
                tx.send(()).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap();
        sink
    })
}

/// Waits for `n` entries named `endpoint`.
fn entries(endpoint: &str, n: usize) -> Vec<AuditEntry> {
    for _ in 0..1000 {
        let found: Vec<AuditEntry> = sink()
            .entries()
            .into_iter()
            .filter(|e| e.endpoint == endpoint)
            .collect();
        if found.len() >= n {
            std::thread::sleep(Duration::from_millis(10));
            let found: Vec<AuditEntry> = sink()
                .entries()
                .into_iter()
                .filter(|e| e.endpoint == endpoint)
                .collect();
            assert_eq!(found.len(), n, "{found:#?}");
            return found;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("fewer than {n} entries named {endpoint}");
}

#[derive(Serialize)]
struct Invoice {
    customer: String,
    amount_cents: u64,
    card_number: String,
}

struct Opaque;

#[derive(Debug)]
struct PaymentError(&'static str);

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "payment failed: {}", self.0)
    }
}

#[audited("invoice_send")]
fn send_invoice(invoice: &Invoice, attempt: u32) -> Result<String, PaymentError> {
    if attempt > 2 {
        return Err(PaymentError("card declined"));
    }
    Ok(format!("sent to {}", invoice.customer))
}

#[test]
fn a_success_records_arguments_and_the_ok_value_redacted() {
    sink();
    let invoice = Invoice {
        customer: "ACME".into(),
        amount_cents: 1200,
        card_number: "4111111111111111".into(),
    };
    assert_eq!(send_invoice(&invoice, 1).unwrap(), "sent to ACME");
    let entry = &entries("invoice_send", 1)[0];
    assert_eq!(entry.outcome, Outcome::Success);
    assert_eq!(entry.method, None);
    assert_eq!(entry.status_code, None);
    assert_eq!(
        entry.request,
        Some(
            json!({"invoice": {"customer": "ACME", "amount_cents": 1200, "card_number": "[REDACTED]"}, "attempt": 1})
        )
    );
    assert_eq!(
        entry.response_summary,
        Some(json!({"value": "sent to ACME"}))
    );
    assert!(entry.duration_seconds >= 0.0);
}

#[audited("invoice_retry")]
fn retry_invoice(attempt: u32) -> Result<u32, PaymentError> {
    if attempt > 2 {
        Err(PaymentError("card declined"))
    } else {
        Ok(attempt)
    }
}

#[test]
fn an_err_records_its_display_text() {
    sink();
    assert!(retry_invoice(3).is_err());
    let entry = &entries("invoice_retry", 1)[0];
    assert_eq!(entry.outcome, Outcome::Error);
    assert_eq!(
        entry.error.as_deref(),
        Some("payment failed: card declined")
    );
    assert_eq!(entry.response_summary, None);
}

#[audited("explodes")]
fn explodes(n: u32) -> u32 {
    if n > 0 {
        panic!("exploded with {n}");
    }
    n
}

#[test]
fn a_panic_is_recorded_and_keeps_unwinding() {
    sink();
    let caught = std::panic::catch_unwind(|| explodes(7));
    assert!(caught.is_err(), "the panic continues");
    let entry = &entries("explodes", 1)[0];
    assert_eq!(entry.outcome, Outcome::Panic);
    assert_eq!(entry.error.as_deref(), Some("exploded with 7"));
}

#[audited("with_options", skip(secret_plan), fields(region = "eu-west", shown = %region_code, debug = ?vec![1, 2]), user = operator)]
fn with_options(operator: &str, secret_plan: &str, region_code: u8, opaque: Opaque) -> usize {
    let _ = opaque;
    secret_plan.len() + usize::from(region_code) + operator.len()
}

#[test]
fn skipped_arguments_custom_fields_user_and_unrecorded_types() {
    sink();
    with_options("ops-bot", "top secret", 3, Opaque);
    let entry = &entries("with_options", 1)[0];
    assert_eq!(entry.user, "ops-bot");
    let request = entry.request.as_ref().unwrap();
    assert!(request.get("secret_plan").is_none());
    assert_eq!(request["operator"], "ops-bot");
    assert_eq!(request["region_code"], 3);
    assert_eq!(request["opaque"], "<unrecorded: runtime::Opaque>");
    assert_eq!(entry.fields["region"], "eu-west");
    assert_eq!(entry.fields["shown"], "3");
    assert_eq!(entry.fields["debug"], "[1, 2]");
    assert_eq!(entry.response_summary, Some(json!({"value": 20})));
}

#[audited]
async fn agent_run(task: String) -> Vec<String> {
    tokio::task::yield_now().await;
    vec![format!("tool:{task}")]
}

#[tokio::test]
async fn async_functions_are_named_after_themselves_by_default() {
    sink();
    assert_eq!(agent_run("search".into()).await, ["tool:search"]);
    let entry = &entries("agent_run", 1)[0];
    assert_eq!(entry.request, Some(json!({"task": "search"})));
    assert_eq!(
        entry.response_summary,
        Some(json!({"value": ["tool:search"]}))
    );
}

#[audited("outer_job")]
async fn outer_job() -> u32 {
    inner_step(1).await + inner_step(2).await
}

#[audited("inner_step", level = "metadata")]
async fn inner_step(n: u32) -> u32 {
    n * 10
}

#[tokio::test]
async fn nested_calls_record_their_own_entries_linked_to_the_parent() {
    sink();
    assert_eq!(outer_job().await, 30);
    let outer = &entries("outer_job", 1)[0];
    let inner = entries("inner_step", 2);
    for step in &inner {
        assert_eq!(step.fields["parent_id"], outer.id.to_string());
        assert_eq!(step.request, None, "level = metadata records no arguments");
        assert_eq!(step.response_summary, None);
    }
}

#[audited("many")]
async fn many(i: u32) -> u32 {
    i
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_calls_give_ten_thousand_entries() {
    sink();
    let tasks: Vec<_> = (0..10_000).map(|i| tokio::spawn(many(i))).collect();
    for task in tasks {
        task.await.unwrap();
    }
    let entries = entries("many", 10_000);
    let mut seen: Vec<u64> = entries
        .iter()
        .map(|e| e.request.as_ref().unwrap()["i"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..10_000).collect::<Vec<u64>>());
}

struct Ledger {
    balance: i64,
}

impl Ledger {
    // `level = "request"` leaves the returned value out; errors are recorded at every level.
    #[audited("ledger_credit", level = "request")]
    fn credit(&mut self, amount: i64) -> Result<i64, String> {
        if amount < 0 {
            return Err(format!("negative amount {amount}"));
        }
        self.balance += amount;
        Ok(self.balance)
    }
}

#[test]
fn methods_never_record_self_and_level_request_records_only_errors() {
    sink();
    let mut ledger = Ledger { balance: 5 };
    assert_eq!(ledger.credit(10), Ok(15));
    assert!(ledger.credit(-1).is_err());
    let entries = entries("ledger_credit", 2);
    let ok = entries
        .iter()
        .find(|e| e.outcome == Outcome::Success)
        .unwrap();
    assert_eq!(ok.request, Some(json!({"amount": 10})));
    assert_eq!(
        ok.response_summary, None,
        "`level = \"request\"` leaves the returned value out"
    );
    let failed = entries
        .iter()
        .find(|e| e.outcome == Outcome::Error)
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("negative amount -1"));
}

#[async_trait::async_trait]
trait Tool {
    async fn execute(&self, input: String) -> Result<String, String>;
}

struct Search;

#[async_trait::async_trait]
impl Tool for Search {
    #[audited("tool_search")]
    async fn execute(&self, input: String) -> Result<String, String> {
        if input.is_empty() {
            return Err("empty query".into());
        }
        Ok(format!("results for {input}"))
    }
}

#[tokio::test]
async fn methods_inside_async_trait_impls() {
    sink();
    assert_eq!(
        Search.execute("rust".into()).await.unwrap(),
        "results for rust"
    );
    assert!(Search.execute(String::new()).await.is_err());
    let entries = entries("tool_search", 2);
    let ok = entries
        .iter()
        .find(|e| e.outcome == Outcome::Success)
        .unwrap();
    assert_eq!(ok.request, Some(json!({"input": "rust"})));
    assert_eq!(
        ok.response_summary,
        Some(json!({"value": "results for rust"}))
    );
    let failed = entries
        .iter()
        .find(|e| e.outcome == Outcome::Error)
        .unwrap();
    assert_eq!(failed.error.as_deref(), Some("empty query"));
}

#[derive(Debug)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug`, which the lint does not count
enum LedgerError {
    Overdrawn { by: i64 },
}

/// #13: `err(Debug)` and `ret(Debug)` choose the text as `#[tracing::instrument]` does; `err`
/// never leaves the returned value out.
#[audited("debug_formats", err(Debug), ret(Debug))]
fn debug_formats(amount: i64) -> Result<Point, LedgerError> {
    if amount < 0 {
        return Err(LedgerError::Overdrawn { by: -amount });
    }
    Ok(Point { x: 1, y: 2 })
}

#[audited("plain_err", err)]
fn plain_err(amount: i64) -> Result<i64, String> {
    Ok(amount)
}

#[test]
fn err_and_ret_format_as_in_tracing() {
    sink();
    assert!(debug_formats(3).is_ok());
    assert!(debug_formats(-4).is_err());
    let both = entries("debug_formats", 2);
    let ok = both.iter().find(|e| e.outcome == Outcome::Success).unwrap();
    assert_eq!(
        ok.response_summary,
        Some(json!({"value": "Point { x: 1, y: 2 }"}))
    );
    let failed = both.iter().find(|e| e.outcome == Outcome::Error).unwrap();
    assert_eq!(failed.error.as_deref(), Some("Overdrawn { by: 4 }"));

    assert_eq!(plain_err(7), Ok(7));
    let entry = entries("plain_err", 1).remove(0);
    assert_eq!(
        entry.response_summary,
        Some(json!({"value": 7})),
        "`err` keeps the value"
    );
}

/// #13: destructured arguments are recorded under the names they bind (they were skipped).
#[audited("destructured", skip(secret))]
fn destructured(Point { x, y }: Point, (label, secret): (&str, &str), _: u8) -> i32 {
    let _ = (label, secret);
    x + y
}

#[test]
fn destructured_arguments_are_recorded_by_the_names_they_bind() {
    sink();
    assert_eq!(destructured(Point { x: 3, y: 4 }, ("tag", "hunter2"), 0), 7);
    let entry = entries("destructured", 1).remove(0);
    assert_eq!(entry.request, Some(json!({"x": 3, "y": 4, "label": "tag"})));
}

#[audited("tenant_export", tenant = format!("org-{org}"), tags("export", "nightly"), started)]
fn tenant_export(org: u32, rows: usize) -> Result<usize, PaymentError> {
    if rows == 0 {
        return Err(PaymentError("nothing to export"));
    }
    Ok(rows)
}

#[audited("tagged_only", tags("billing"))]
fn tagged_only() -> u8 {
    1
}

#[test]
fn tenant_tags_and_a_started_entry_make_the_call_an_operation() {
    sink();
    assert_eq!(tenant_export(7, 12).ok(), Some(12));
    let export = entries("tenant_export", 2);
    let stages: Vec<(&str, Outcome)> = export
        .iter()
        .map(|e| {
            (
                e.operation.as_ref().map_or("", |o| o.stage.as_str()),
                e.outcome,
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            ("started", Outcome::Pending),
            ("finished", Outcome::Success)
        ]
    );
    let ids: Vec<_> = export
        .iter()
        .map(|e| e.operation.as_ref().map(|o| o.id))
        .collect();
    assert_eq!(ids[0], ids[1], "one operation");
    assert_ne!(export[0].id, export[1].id, "two entries");
    for entry in &export {
        assert_eq!(entry.tenant.as_deref(), Some("org-7"));
        assert_eq!(entry.tags, ["export", "nightly"]);
    }
    // The arguments on the start; the result on the end.
    assert_eq!(
        export[0].request.as_ref().map(|r| &r["rows"]),
        Some(&json!(12))
    );
    assert_eq!(export[1].response_summary, Some(json!({"value": 12})));

    // Without `started`: one entry, no operation, with its tags.
    assert_eq!(tagged_only(), 1);
    let plain = entries("tagged_only", 1);
    assert_eq!(plain[0].operation, None);
    assert_eq!(plain[0].tags, ["billing"]);
    assert_eq!(plain[0].tenant, None);
}
