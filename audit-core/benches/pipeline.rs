//! Benchmarks of the pipeline and the JSONL sink, each beside its baseline in the same run.
//!
//! ```sh
//! cargo bench -p audit-core --bench pipeline
//! ```
//!
//! - `record`: the caller's cost of `Auditor::record` with the queue not full, beside serialising
//!   the same entry with serde_json into a buffer (and building the entry, for orientation).
//! - `jsonl`: JSONL sink throughput in batches of 1,000, with `never` and `every_batch` sync,
//!   beside a plain `BufWriter` of serde_json lines (with one `fdatasync` per 1,000 lines for
//!   the durable case), and serialising alone (the ceiling without I/O).
//! - `end_to_end`: `record` of 100,000 entries through the pipeline into the JSONL sink, then
//!   `shutdown`; unchained, chained, and chained with signed checkpoints, side by side.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use audit_core::chain::{ChainConfig, CheckpointKey};
use audit_core::jsonl::{JsonlSink, SyncPolicy};
use audit_core::{async_trait, AuditEntry, Auditor, Scrubber, Sink, SinkError};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "common/sample.rs"]
mod sample;
use sample::sample_entry;

/// Accepts and discards batches: isolates the caller's cost of `record`.
struct Discard;

#[async_trait]
impl Sink for Discard {
    async fn write(&mut self, _batch: &[AuditEntry]) -> Result<(), SinkError> {
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn bench_record(c: &mut Criterion) {
    let scrubber = Scrubber::default();
    let template = sample_entry(&scrubber);
    let line_len = serde_json::to_vec(&template).map(|v| v.len()).unwrap_or(0);
    eprintln!("sample entry: {line_len} bytes as JSON");
    let rt = runtime();
    const CAPACITY: usize = 1 << 16;
    let auditor = rt.block_on(async {
        Auditor::builder()
            .queue_capacity(CAPACITY)
            .build(Discard)
            .expect("auditor")
    });

    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_serde_json_to_buffer", |b| {
        let mut buf = Vec::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, std::hint::black_box(&template)).expect("serialise");
            buf.push(b'\n');
        })
    });
    group.bench_function("auditor_record_queue_not_full", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let chunk = left.min(CAPACITY / 2);
                    left -= chunk;
                    // Let the writer empty the queue, untimed, so every timed call finds room.
                    while auditor.stats().queue_depth > 0 {
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    }
                    let entries: Vec<AuditEntry> = (0..chunk).map(|_| template.clone()).collect();
                    let start = Instant::now();
                    for entry in entries {
                        let _ = auditor.record(entry).await;
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.bench_function("build_entry", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut entry = AuditEntry::new("sow_create");
                entry.method = Some("POST".into());
                entry.path = Some("/api/v1/sow/create".into());
                entry.status_code = Some(200);
                entry
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    rt.block_on(auditor.shutdown()).expect("shutdown");
}

fn bench_dir(name: &str) -> tempfile::TempDir {
    // Under target/, on the real disk (not a tmpfs), so fdatasync costs what it costs.
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-tmp");
    std::fs::create_dir_all(&base).expect("bench dir");
    tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(base)
        .expect("temp dir")
}

/// Writes back what earlier benchmarks left dirty, so each one starts from a clean page cache
/// instead of paying for its predecessor's writeback.
fn settle_page_cache() {
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(Duration::from_millis(500));
}

fn bench_jsonl(c: &mut Criterion) {
    const BATCH: usize = 1000;
    let scrubber = Scrubber::default();
    let batch: Vec<AuditEntry> = (0..BATCH).map(|_| sample_entry(&scrubber)).collect();
    let rt = runtime();
    let mut group = c.benchmark_group("jsonl");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(8));

    {
        let mut buf = Vec::new();
        // The ceiling: serialising alone, no I/O.
        group.bench_function("serialize_only", |b| {
            b.iter(|| {
                buf.clear();
                for entry in &batch {
                    serde_json::to_writer(&mut buf, entry).expect("serialise");
                    buf.push(b'\n');
                }
            })
        });
    }
    // ABBA order (baseline, sink, sink, baseline) so that neither side always runs in the disk's
    // better moment: the page cache's writeback state carries over from one benchmark to the next.
    for (label, durable) in [("never", false), ("every_batch", true)] {
        for (round, sink_first) in [(1, false), (2, true)] {
            if sink_first {
                bench_sink(&mut group, &rt, &batch, label, durable, round);
                bench_baseline(&mut group, &batch, label, durable, round);
            } else {
                bench_baseline(&mut group, &batch, label, durable, round);
                bench_sink(&mut group, &rt, &batch, label, durable, round);
            }
        }
    }
    group.finish();
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// serde_json lines through a plain `BufWriter`, one `fdatasync` per batch when durable.
fn bench_baseline(group: &mut Group, batch: &[AuditEntry], label: &str, durable: bool, round: u32) {
    settle_page_cache();
    let dir = bench_dir("baseline");
    let file = File::create(dir.path().join("baseline.jsonl")).expect("file");
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    group.bench_function(format!("baseline_bufwriter_{label}/{round}"), |b| {
        b.iter(|| {
            for entry in batch {
                serde_json::to_writer(&mut writer, entry).expect("serialise");
                writer.write_all(b"\n").expect("write");
            }
            if durable {
                writer.flush().expect("flush");
                writer.get_ref().sync_data().expect("fdatasync");
            }
        })
    });
    writer.flush().expect("flush");
}

fn bench_sink(
    group: &mut Group,
    rt: &tokio::runtime::Runtime,
    batch: &[AuditEntry],
    label: &str,
    durable: bool,
    round: u32,
) {
    settle_page_cache();
    let dir = bench_dir("sink");
    let sync = if durable {
        SyncPolicy::EveryBatch
    } else {
        SyncPolicy::Never
    };
    let mut sink = JsonlSink::builder(dir.path())
        .sync(sync)
        .open()
        .expect("sink");
    group.bench_function(format!("jsonl_sink_{label}/{round}"), |b| {
        b.iter(|| rt.block_on(sink.write(batch)).expect("write"))
    });
    rt.block_on(sink.close()).expect("close");
}

fn bench_end_to_end(c: &mut Criterion) {
    const ENTRIES: usize = 100_000;
    let scrubber = Scrubber::default();
    let template = sample_entry(&scrubber);
    let rt = runtime();
    let mut group = c.benchmark_group("end_to_end");
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.sample_size(10);
    let key = CheckpointKey::from_bytes(&[7u8; 32]).expect("key");
    let variants = [
        ("unchained", ChainConfig::disabled()),
        ("chained", ChainConfig::enabled()),
        ("chained_signed", ChainConfig::enabled().checkpoint_key(key)),
    ];
    for (label, sync) in [
        ("never", SyncPolicy::Never),
        ("every_batch", SyncPolicy::EveryBatch),
    ] {
        // Two rounds in opposite order, so neither side always runs in the disk's better moment.
        for round in [1, 2] {
            let mut order: Vec<&(&str, ChainConfig)> = variants.iter().collect();
            if round == 2 {
                order.reverse();
            }
            for (chain_label, chain) in order {
                group.bench_function(
                    format!("record_to_jsonl_{label}_{chain_label}/{round}"),
                    |b| {
                        b.iter_custom(|iters| {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                let dir = bench_dir("e2e");
                                let entries: Vec<AuditEntry> =
                                    (0..ENTRIES).map(|_| template.clone()).collect();
                                total += rt.block_on(async {
                                    let sink = JsonlSink::builder(dir.path())
                                        .sync(sync)
                                        .open()
                                        .expect("sink");
                                    let auditor = Auditor::builder()
                                        .chain(chain.clone())
                                        .build(sink)
                                        .expect("auditor");
                                    let start = Instant::now();
                                    for entry in entries {
                                        auditor.record(entry).await.expect("record");
                                    }
                                    auditor.shutdown().await.expect("shutdown");
                                    start.elapsed()
                                });
                            }
                            total
                        })
                    },
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_record, bench_jsonl, bench_end_to_end);
criterion_main!(benches);
