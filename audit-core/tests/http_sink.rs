//! The HTTP sink against a local receiver started by each test: batches under the limits,
//! gzip, headers, ECS arrays, 413 splits, truncation, Splunk HEC events, a refused token;
//! every entry arrives once. Delivery under faults is in `http_sink_delivery.rs`.
#![cfg(feature = "http")]

#[path = "common/http_entries.rs"]
mod http_entries;
#[path = "common/receiver.rs"]
mod receiver;

use std::time::{Duration, Instant};

use audit_core::format::Format;
use audit_core::http::{Encoding, HttpSink};
use audit_core::{AuditEntry, Auditor, Sink};
use http_entries::{arrivals, assert_each_once, entry, record};
use receiver::{Answer, Receiver};
use serde_json::Value;

#[tokio::test]
async fn batches_are_gzipped_limited_and_carry_the_configured_headers() {
    let receiver = Receiver::start().await;
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(receiver.url("/services/collector/raw?channel=c1"))
        .header(
            "Authorization",
            "Splunk 11111111-2222-3333-4444-555555555555",
        )
        .gzip(true)
        .max_batch_entries(50)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let stats = sink.stats();
    let ids = record(sink, 500).await;

    let requests = receiver.requests();
    assert!(requests.len() >= 10, "{} requests", requests.len());
    for request in &requests {
        assert_eq!(request.headers["content-encoding"], "gzip");
        assert_eq!(request.headers["content-type"], "application/x-ndjson");
        assert_eq!(
            request.headers["authorization"],
            "Splunk 11111111-2222-3333-4444-555555555555"
        );
        assert!(
            request
                .body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
                <= 50
        );
    }
    assert_each_once(
        &ids,
        &arrivals(&receiver.accepted_records(), Format::Native),
    );
    assert_eq!(stats.delivered(), 500);
    assert_eq!(stats.spooled_batches(), 0);
}

#[tokio::test]
async fn json_arrays_of_ecs_documents_split_by_bytes() {
    let receiver = Receiver::start().await;
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(receiver.url("/_bulk_less"))
        .format(Format::Ecs)
        .encoding(Encoding::JsonArray)
        .max_batch_bytes(64 * 1024)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let ids = record(sink, 300).await;
    let requests = receiver.requests();
    assert!(requests.len() > 1);
    for request in &requests {
        assert_eq!(request.headers["content-type"], "application/json");
        assert!(request.body.len() <= 64 * 1024, "{}", request.body.len());
        assert!(request.body.starts_with(b"[{\"@timestamp\""));
    }
    assert_each_once(&ids, &arrivals(&receiver.accepted_records(), Format::Ecs));
}

#[tokio::test]
async fn a_413_splits_the_body() {
    let receiver = Receiver::start().await;
    receiver.max_body(16 * 1024);
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(receiver.url("/small"))
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let stats = sink.stats();
    let ids = record(sink, 200).await;
    assert!(stats.splits() > 0);
    assert!(receiver.requests().iter().any(|r| r.status == 413));
    assert_each_once(
        &ids,
        &arrivals(&receiver.accepted_records(), Format::Native),
    );
}

#[tokio::test]
async fn an_entry_too_large_arrives_cut_with_a_marker() {
    let receiver = Receiver::start().await;
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(receiver.url("/events"))
        .max_entry_bytes(4096)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let stats = sink.stats();
    let auditor = Auditor::builder().build(sink).unwrap();
    let mut big = entry(1);
    big.request = Some(serde_json::json!({"document": "x".repeat(100_000)}));
    let id = big.id.to_string();
    auditor.record(big).await.unwrap();
    auditor.shutdown().await.unwrap();
    let records = receiver.accepted_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["id"], id);
    assert!(
        records[0]["fields"]["audit_truncated"]["bytes"]
            .as_u64()
            .unwrap()
            > 100_000
    );
    assert_eq!(stats.truncated(), 1);
}

#[tokio::test]
async fn a_refused_token_keeps_entries_in_the_spool_and_never_logs_it() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(logs.clone())
            .finish(),
    );
    let receiver = Receiver::start().await;
    receiver.script([
        Answer::Status(401),
        Answer::Status(401),
        Answer::Status(401),
    ]);
    let spool = tempfile::tempdir().unwrap();
    let token = "Splunk 99999999-dead-beef-0000-123456789abc";
    let mut sink = HttpSink::builder(receiver.url("/hec"))
        .header("Authorization", token)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    assert!(!format!("{sink:?}").contains("dead-beef"));
    let batch: Vec<AuditEntry> = (0..5).map(entry).collect();
    // The endpoint refuses: the batch waits in the spool (not an error that loses it).
    sink.write(&batch).await.unwrap();
    assert_eq!(sink.spooled(), 5);
    // Fixed (the receiver takes it now): the spool goes first, once the backoff passed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sink.start().await.unwrap_or(());
    receiver.script([]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.spooled() > 0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = sink.start().await;
    }
    sink.close().await.unwrap();
    let logged = logs.text();
    assert!(
        logged.contains("401 Unauthorized"),
        "the refusal is said: {logged}"
    );
    assert!(logged.contains("takes audit batches again"), "{logged}");
    assert!(
        !logged.contains("dead-beef"),
        "the token is never logged: {logged}"
    );
    let ids: Vec<String> = batch.iter().map(|e| e.id.to_string()).collect();
    assert_each_once(
        &ids,
        &arrivals(&receiver.accepted_records(), Format::Native),
    );
}

/// What the sink logged, to check that a token never appears.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[tokio::test]
async fn splunk_hec_events_wrap_each_record() {
    let receiver = Receiver::start().await;
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(receiver.url("/services/collector/event"))
        .header(
            "Authorization",
            "Splunk 11111111-2222-3333-4444-555555555555",
        )
        .format(Format::Ecs)
        .encoding(Encoding::SplunkEvent)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let ids = record(sink, 40).await;
    let events = receiver.accepted_records();
    for event in &events {
        assert_eq!(event["sourcetype"], "audited:ecs");
        assert!(event["time"].as_f64().unwrap() > 1.7e9);
    }
    let documents: Vec<Value> = events.iter().map(|e| e["event"].clone()).collect();
    assert_each_once(&ids, &arrivals(&documents, Format::Ecs));
}
