//! The NATS JetStream sink against the machine's server (`AUDIT_TEST_NATS_URL`, default
//! `nats://127.0.0.1:4222`; `.ci/run` starts it when it does not answer). Each test publishes
//! to a stream of its own and deletes it.
#![cfg(feature = "nats")]

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream;
use audit_core::nats::{NatsSink, StreamSettings};
use audit_core::{AuditEntry, Auditor, Sink};
use futures_util::StreamExt;

#[path = "common/proxy.rs"]
mod proxy;
use proxy::Proxy;

fn server() -> String {
    std::env::var("AUDIT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A stream of its own, deleted when the test ends.
struct TestStream {
    name: String,
    subject: String,
    spool: tempfile::TempDir,
}

impl TestStream {
    fn new() -> Self {
        let id = uuid::Uuid::now_v7().simple().to_string();
        TestStream {
            name: format!("AUDIT_TEST_{id}"),
            subject: format!("audit_test_{id}.svc"),
            spool: tempfile::tempdir().unwrap(),
        }
    }

    fn sink(&self, servers: &str) -> NatsSink {
        NatsSink::builder(servers)
            .subject(&self.subject)
            .stream(StreamSettings::named(&self.name))
            .spool_dir(self.spool.path())
            .ack_timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(1))
            .open()
            .unwrap()
    }

    async fn context() -> jetstream::Context {
        let client = async_nats::connect(server())
            .await
            .expect("NATS must answer at AUDIT_TEST_NATS_URL (.ci/run starts it)");
        jetstream::new(client)
    }

    /// Every entry id in the stream, in stream order, and how many messages it holds.
    async fn ids(&self) -> (Vec<uuid::Uuid>, u64) {
        let context = Self::context().await;
        let mut stream = context.get_stream(&self.name).await.unwrap();
        let count = stream.info().await.unwrap().state.messages;
        let consumer = stream
            .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut ids = Vec::new();
        while (ids.len() as u64) < count {
            let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .expect("the stream's messages come")
                .unwrap()
                .unwrap();
            let entry: AuditEntry = serde_json::from_slice(&message.payload).unwrap();
            ids.push(entry.id);
        }
        (ids, count)
    }
}

impl Drop for TestStream {
    /// Deletes the stream, even after a failed assertion (on a thread of its own: a runtime's
    /// worker cannot block on another runtime).
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(client) = async_nats::connect(server()).await {
                    let _ = jetstream::new(client).delete_stream(&name).await;
                }
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tasks_publish_100_000_entries_each_once() {
    let stream = TestStream::new();
    let sink = stream.sink(&server());
    let stats = sink.stats();
    let auditor = Auditor::builder().build(sink).unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let auditor = auditor.clone();
            tokio::spawn(async move {
                for i in 0..6_250 {
                    let mut entry = AuditEntry::new("publish_test");
                    entry.fields.insert("task".into(), task.into());
                    entry.fields.insert("i".into(), i.into());
                    auditor.record(entry).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let (ids, count) = stream.ids().await;
    // The entries and the chain's final checkpoint.
    assert_eq!(count, 100_001);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 100_001);
    assert_eq!(stats.published(), 100_001);
    assert_eq!(stats.duplicates(), 0);
    assert_eq!(auditor.stats().failed_entries, 0);
}

#[tokio::test]
async fn a_batch_published_again_is_stored_once() {
    let stream = TestStream::new();
    let mut sink = stream.sink(&server());
    let batch: Vec<AuditEntry> = (0..50).map(|_| AuditEntry::new("retried")).collect();
    sink.write(&batch).await.unwrap();
    // A retry after a lost acknowledgement: the same ids.
    sink.write(&batch).await.unwrap();
    sink.close().await.unwrap();
    let (ids, count) = stream.ids().await;
    assert_eq!(count, 50);
    assert_eq!(ids, batch.iter().map(|e| e.id).collect::<Vec<_>>());
    assert_eq!(sink.stats().duplicates(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_spools_and_replays_losing_and_duplicating_nothing() {
    let stream = TestStream::new();
    let upstream = server().trim_start_matches("nats://").to_owned();
    let proxy = Proxy::start(upstream).await;
    let sink = stream.sink(&format!("nats://{}", proxy.addr));
    let stats = sink.stats();
    let auditor = Auditor::builder().batch_size(100).build(sink).unwrap();
    let mut recorded = Vec::new();
    let mut record = |auditor: &Auditor, n: usize| {
        let auditor = auditor.clone();
        let entries: Vec<AuditEntry> = (0..n).map(|_| AuditEntry::new("through_proxy")).collect();
        recorded.extend(entries.iter().map(|e| e.id));
        async move {
            for entry in entries {
                auditor.record(entry).await.unwrap();
            }
            auditor.flush().await.unwrap();
        }
    };
    record(&auditor, 500).await;
    proxy.cut();
    // The server is away: batches go to the spool.
    record(&auditor, 700).await;
    assert!(auditor.stats().spooled > 0, "{:?}", auditor.stats());
    proxy.restore();
    // Back: the spool is published first, then what comes after.
    for _ in 0..200 {
        if auditor.stats().spooled == 0 {
            break;
        }
        record(&auditor, 1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    record(&auditor, 300).await;
    auditor.shutdown().await.unwrap();
    assert_eq!(auditor.stats().spooled, 0);
    assert!(stats.spooled_batches() > 0 && stats.replayed_batches() > 0);
    let (ids, count) = stream.ids().await;
    let stored: HashSet<_> = ids.iter().collect();
    assert_eq!(stored.len() as u64, count, "no id twice");
    for id in &recorded {
        assert!(stored.contains(id), "{id} lost");
    }
    // What was recorded, and the chain's final checkpoint.
    assert_eq!(count as usize, recorded.len() + 1);
}

#[tokio::test]
async fn an_unreachable_server_at_start_spools_and_a_later_start_publishes() {
    let stream = TestStream::new();
    // Nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut away = stream.sink(&format!("nats://127.0.0.1:{port}"));
    let batch: Vec<AuditEntry> = (0..20).map(|_| AuditEntry::new("later")).collect();
    away.write(&batch).await.unwrap();
    assert_eq!(away.spooled(), 20);
    away.close().await.unwrap();
    // The next run, with the server reachable, publishes the spool at start.
    let mut back = stream.sink(&server());
    assert_eq!(back.spooled(), 20);
    back.start().await.unwrap();
    assert_eq!(back.spooled(), 0);
    let (ids, _) = stream.ids().await;
    assert_eq!(ids, batch.iter().map(|e| e.id).collect::<Vec<_>>());
}
