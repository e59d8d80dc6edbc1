//! The HTTP sink's delivery against a local receiver: HTTPS to a private CA, 503 with
//! `Retry-After`, a receiver down then up, and what a down endpoint costs the writer; every
//! entry arrives once.
#![cfg(feature = "http")]

#[path = "common/http_entries.rs"]
mod http_entries;
#[path = "common/receiver.rs"]
mod receiver;
#[path = "common/test_ca.rs"]
mod test_ca;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use audit_core::format::Format;
use audit_core::http::{Encoding, HttpSink};
use audit_core::{AuditEntry, Auditor, Sink};
use http_entries::{arrivals, assert_each_once, entry, record};
use receiver::{Answer, Receiver};
use serde_json::Value;
use test_ca::TestCa;

/// A CA and a certificate for `localhost` made by the `openssl` command, and the server's
/// settings with them.
fn private_ca(dir: &std::path::Path) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) =
        TestCa::new(dir).issue("server", "/CN=localhost", "subjectAltName=DNS:localhost");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
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

/// A loopback address nobody listens on yet.
fn unused_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn a_receiver_down_then_up_gets_every_entry_once() {
    let addr = unused_addr();
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

/// An endpoint that is down costs the writer the retry budget once; later attempts are one
/// request each (here a refused connection: at once), so the queue behind the writer, and under
/// `Block` the application's responses, do not wait the budget out again and again.
#[tokio::test]
async fn a_down_endpoint_holds_the_writer_for_the_budget_once() {
    let addr = unused_addr();
    let spool = tempfile::tempdir().unwrap();
    let mut sink = HttpSink::builder(format!("http://{addr}/ingest"))
        .retry_budget(Duration::from_secs(2))
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let started = Instant::now();
    sink.write(&[entry(0)]).await.unwrap();
    let first = started.elapsed();
    // 250 + 500 + 1000 ms of retries fit the budget; the next wait would not.
    assert!(first >= Duration::from_millis(1700), "{first:?}");
    let mut later = Vec::new();
    for i in 1..4 {
        // Past the sink's backoff, so each write makes its attempt.
        tokio::time::sleep(Duration::from_millis(300 * (1 << i))).await;
        let started = Instant::now();
        sink.write(&[entry(i)]).await.unwrap();
        later.push(started.elapsed());
    }
    assert!(
        later.iter().all(|took| *took < Duration::from_millis(500)),
        "{later:?}"
    );
    assert_eq!(sink.spooled(), 4);
    // Back up: the spool goes first, every entry once.
    let receiver = Receiver::start_on(addr).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    sink.write(&[entry(4)]).await.unwrap();
    assert_eq!(sink.spooled(), 0);
    assert_eq!(receiver.accepted_records().len(), 5);
}
