//! The HTTP sink against a local receiver started by each test: batches under the limits,
//! gzip, headers, retries on 503 honouring `Retry-After`, 413 splits, a receiver that is down
//! then up; every entry arrives once.
#![cfg(feature = "http")]

#[path = "common/receiver.rs"]
mod receiver;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use audit_core::format::Format;
use audit_core::http::{Encoding, HttpSink};
use audit_core::{AuditEntry, Auditor, Sink};
use receiver::{Answer, Receiver};
use serde_json::Value;

fn entry(i: usize) -> AuditEntry {
    let mut entry = AuditEntry::new("invoice_pay");
    entry.method = Some("POST".into());
    entry.path = Some(format!("/invoices/{i}/pay"));
    entry.status_code = Some(200);
    entry.user = "alice".into();
    entry.request = Some(serde_json::json!({"amount": i, "card": "[REDACTED]"}));
    entry
}

/// Records `n` entries through an auditor on `sink` and shuts it down; returns their ids.
async fn record(sink: HttpSink, n: usize) -> Vec<String> {
    let auditor = Auditor::builder().batch_size(256).build(sink).unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let entry = entry(i);
        ids.push(entry.id.to_string());
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    ids
}

/// How often each id arrived, by the id field of each format.
fn arrivals(records: &[Value], format: Format) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for record in records {
        let id = match format {
            Format::Ecs => &record["event"]["id"],
            Format::Ocsf => &record["metadata"]["uid"],
            _ => &record["id"],
        };
        *seen.entry(id.as_str().unwrap().to_owned()).or_default() += 1;
    }
    seen
}

fn assert_each_once(ids: &[String], seen: &BTreeMap<String, usize>) {
    for id in ids {
        assert_eq!(seen.get(id), Some(&1), "{id} must arrive once");
    }
    assert_eq!(seen.len(), ids.len(), "nothing else arrives");
}

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

/// A CA and a certificate for `localhost` made by the `openssl` command, and the server's
/// settings with them.
fn private_ca(dir: &std::path::Path) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=test-ca",
        "-days",
        "1",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "s.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "s.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    std::sync::Arc::new(config)
}

#[tokio::test]
async fn https_to_an_endpoint_of_a_private_ca() {
    let certs = tempfile::tempdir().unwrap();
    let receiver = Receiver::start_tls(private_ca(certs.path())).await;
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(receiver.https_url("/ingest"))
        .tls_ca(certs.path().join("ca.pem"))
        .format(Format::Ocsf)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let ids = record(sink, 30).await;
    assert_each_once(&ids, &arrivals(&receiver.accepted_records(), Format::Ocsf));

    // Without the CA, the endpoint is not trusted: nothing is sent, everything waits.
    let spool = tempfile::tempdir().unwrap();
    let mut untrusted = HttpSink::builder(receiver.https_url("/ingest"))
        .retry_budget(Duration::from_millis(100))
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let batch: Vec<AuditEntry> = (0..3).map(entry).collect();
    untrusted.write(&batch).await.unwrap();
    assert_eq!(untrusted.spooled(), 3);
    assert_eq!(receiver.accepted_records().len(), 30);
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_after_the_wait() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::Unavailable(1), Answer::Unavailable(1)]);
    let spool = tempfile::tempdir().unwrap();
    // OTLP/HTTP, as an OpenTelemetry Collector's /v1/logs takes it.
    let sink = HttpSink::builder(receiver.url("/v1/logs"))
        .format(Format::Otel)
        .encoding(Encoding::Otlp)
        .service("billing")
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let stats = sink.stats();
    let ids = record(sink, 20).await;
    let requests = receiver.requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![503, 503, 200]
    );
    // Each retry waited at least the second the endpoint asked for.
    for pair in requests.windows(2) {
        let waited = pair[1].at - pair[0].at;
        assert!(waited >= Duration::from_millis(990), "{waited:?}");
    }
    assert_eq!(stats.retries(), 2);
    let body: Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(
        body["resourceLogs"][0]["resource"]["attributes"][0],
        serde_json::json!({"key": "service.name", "value": {"stringValue": "billing"}})
    );
    let mut seen = BTreeMap::new();
    for record in receiver.accepted_records() {
        let id = record["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "log.record.uid")
            .unwrap()["value"]["stringValue"]
            .as_str()
            .unwrap()
            .to_owned();
        *seen.entry(id).or_default() += 1;
    }
    assert_each_once(&ids, &seen);
}

#[tokio::test]
async fn a_receiver_down_then_up_gets_every_entry_once() {
    // A port nobody listens on yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(format!("http://{addr}/ingest"))
        .retry_budget(Duration::from_millis(300))
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let stats = sink.stats();
    let auditor = Auditor::builder().batch_size(64).build(sink).unwrap();
    let mut ids = Vec::new();
    for i in 0..200 {
        let entry = entry(i);
        ids.push(entry.id.to_string());
        auditor.record(entry).await.unwrap();
    }
    // The endpoint is away: batches wait in the spool.
    let deadline = Instant::now() + Duration::from_secs(10);
    while auditor.stats().spooled < 200 {
        assert!(Instant::now() < deadline, "spooled: {:?}", auditor.stats());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receiver = Receiver::start_on(addr).await;
    for i in 200..300 {
        let entry = entry(i);
        ids.push(entry.id.to_string());
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    assert_each_once(
        &ids,
        &arrivals(&receiver.accepted_records(), Format::Native),
    );
    assert!(stats.replayed_batches() > 0);
    assert_eq!(
        std::fs::read_dir(spool.path()).unwrap().count(),
        0,
        "the spool is empty"
    );
    // The spooled entries came first, in order.
    let order: Vec<String> = receiver
        .accepted_records()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, ids);
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
