//! The fleet tier beside its peers, in one run against the machine's servers
//! (`AUDIT_TEST_NATS_URL`, `AUDIT_TEST_DATABASE_URL`):
//!
//! ```sh
//! cargo bench -p audit-core --features nats,postgres --bench nats
//! ```
//!
//! - `publish`: 10,240 entries (~780-byte lines) in batches of 1,024, each batch's
//!   acknowledgements awaited: raw async-nats JetStream publishing of the same lines with
//!   message ids (the peer), `NatsSink::write_lines` (the lines the chained pipeline hands it)
//!   and `NatsSink::write` (serialising too).
//! - `store`: 40,960 entries into PostgreSQL: the PostgreSQL sink writing them directly (the
//!   peer), and a collector (`run_until`, as `audit collect` runs it) moving them from a
//!   stream into the same kind of table, the time until the last is acked.
//!
//! Every iteration publishes fresh ids (a repeated id would be dropped by the stream's
//! duplicate detection and cost less) into a stream of its own, deleted at the end.

#[path = "common/sample.rs"]
mod sample;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use audit_core::nats::{Collector, NatsSink, StreamSettings};
use audit_core::postgres::PostgresSink;
use audit_core::{AuditEntry, JsonLines, Scrubber, Sink, SinkSpec};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sample::sample_entry;

const BATCH: usize = 1_024;
const BATCHES: usize = 10;
/// For `store`: enough that the collector's last, empty fetch (its `max_wait`) weighs little.
const STORE_BATCHES: usize = 40;

fn nats_url() -> String {
    std::env::var("AUDIT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn fresh_batches(scrubber: &Scrubber) -> Vec<Vec<AuditEntry>> {
    batches_of(scrubber, BATCHES)
}

fn batches_of(scrubber: &Scrubber, batches: usize) -> Vec<Vec<AuditEntry>> {
    (0..batches)
        .map(|_| (0..BATCH).map(|_| sample_entry(scrubber)).collect())
        .collect()
}

fn lines_of(batch: &[AuditEntry]) -> Vec<Vec<u8>> {
    batch
        .iter()
        .map(|entry| {
            let mut line = Vec::new();
            let _ = entry.write_json_line(&mut line);
            line.pop();
            line
        })
        .collect()
}

fn bench_publish(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let id = uuid::Uuid::now_v7().simple().to_string();
    let (stream, subject) = (format!("BENCH_{id}"), format!("bench_{id}.svc"));
    let scrubber = Scrubber::default();
    let context = rt.block_on(async {
        let client = async_nats::connect(nats_url()).await.expect("NATS answers");
        let context = jetstream::new(client);
        context
            .get_or_create_stream(jetstream::stream::Config {
                name: stream.clone(),
                subjects: vec![format!("bench_{id}.>")],
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .expect("stream");
        context
    });
    let spool = tempfile::tempdir().expect("temp dir");
    let mut sink = NatsSink::builder(&nats_url())
        .subject(&subject)
        .stream(StreamSettings::named(&stream))
        .spool_dir(spool.path())
        .open()
        .expect("sink");
    rt.block_on(sink.connect()).expect("connected");

    let mut group = c.benchmark_group("publish");
    group.throughput(Throughput::Elements((BATCH * BATCHES) as u64));
    group.sample_size(10);
    group.bench_function("raw_async_nats", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let batches = fresh_batches(&scrubber);
                let lines: Vec<Vec<Vec<u8>>> = batches.iter().map(|b| lines_of(b)).collect();
                let started = Instant::now();
                rt.block_on(async {
                    for (batch, lines) in batches.iter().zip(&lines) {
                        let mut acks = Vec::with_capacity(BATCH);
                        for (entry, line) in batch.iter().zip(lines) {
                            let publish = jetstream::context::Publish::build()
                                .payload(Bytes::copy_from_slice(line))
                                .message_id(entry.id.to_string());
                            acks.push(
                                context
                                    .send_publish(subject.clone(), publish)
                                    .await
                                    .expect("sent"),
                            );
                        }
                        for ack in acks {
                            ack.await.expect("acked");
                        }
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function("nats_sink_write_lines", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let batches = fresh_batches(&scrubber);
                let mut lines: Vec<JsonLines> = batches.iter().map(|b| JsonLines::of(b)).collect();
                let started = Instant::now();
                rt.block_on(async {
                    for (batch, lines) in batches.iter().zip(lines.iter_mut()) {
                        sink.write_lines(batch, lines).await.expect("written");
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.bench_function("nats_sink_write", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let batches = fresh_batches(&scrubber);
                let started = Instant::now();
                rt.block_on(async {
                    for batch in &batches {
                        sink.write(batch).await.expect("written");
                    }
                });
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
    assert_eq!(sink.spooled(), 0, "every batch was acknowledged");
    rt.block_on(async {
        let _ = context.delete_stream(&stream).await;
    });
}

fn bench_store(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let scrubber = Scrubber::default();
    let spool = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements((BATCH * STORE_BATCHES) as u64));
    group.sample_size(10);
    let drop_schema = |schema: String| {
        rt.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&database_url(), tokio_postgres::NoTls)
                    .await
                    .expect("PostgreSQL answers");
            tokio::spawn(connection);
            let _ = client
                .execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"), &[])
                .await;
        })
    };
    group.bench_function("postgres_sink_direct", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let schema = format!("bench_direct_{}", uuid::Uuid::now_v7().simple());
                let batches = batches_of(&scrubber, STORE_BATCHES);
                let mut sink = PostgresSink::builder(&database_url())
                    .expect("url")
                    .schema(&schema)
                    .spool_dir(spool.path())
                    .open()
                    .expect("sink");
                rt.block_on(sink.connect()).expect("connected");
                let started = Instant::now();
                rt.block_on(async {
                    for batch in &batches {
                        sink.write(batch).await.expect("written");
                    }
                });
                total += started.elapsed();
                drop_schema(schema);
            }
            total
        })
    });
    group.bench_function("collect_from_stream", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let id = uuid::Uuid::now_v7().simple().to_string();
                let (schema, stream) = (format!("bench_collect_{id}"), format!("BENCH_C_{id}"));
                // The stream is filled beforehand, untimed.
                let mut publisher = NatsSink::builder(&nats_url())
                    .subject(format!("bench_c_{id}.svc"))
                    .stream(StreamSettings::named(&stream))
                    .spool_dir(spool.path().join(&id))
                    .open()
                    .expect("sink");
                rt.block_on(async {
                    for batch in batches_of(&scrubber, STORE_BATCHES) {
                        publisher.write(&batch).await.expect("published");
                    }
                });
                let Ok(SinkSpec::Nats(source)) =
                    SinkSpec::parse(&format!("{}?stream={stream}", nats_url()))
                else {
                    panic!("a NATS spec");
                };
                let mut table = PostgresSink::builder(&database_url())
                    .expect("url")
                    .schema(&schema)
                    .spool_dir(spool.path())
                    .open()
                    .expect("sink");
                rt.block_on(table.connect()).expect("connected");
                let mut collector = rt
                    .block_on(
                        Collector::builder(&source)
                            .max_wait(Duration::from_millis(100))
                            .connect(table),
                    )
                    .expect("collector");
                let stats = collector.stats();
                let all_in = async move {
                    while stats.collected() < (BATCH * STORE_BATCHES) as u64 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                };
                let started = Instant::now();
                rt.block_on(collector.run_until(all_in)).expect("collected");
                if std::env::var_os("BENCH_TRACE").is_some() {
                    eprintln!(
                        "collect: {:?} for {} batches",
                        started.elapsed(),
                        collector.stats().batches()
                    );
                }
                total += started.elapsed();
                rt.block_on(async {
                    let _ = collector.close().await;
                    let client = async_nats::connect(nats_url()).await.expect("NATS answers");
                    let _ = jetstream::new(client).delete_stream(&stream).await;
                });
                drop_schema(schema);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench_publish, bench_store);
criterion_main!(benches);
