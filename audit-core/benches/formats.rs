//! What writing an entry in a SIEM's schema costs, beside writing our own line (the peer:
//! the canonical writer every sink already uses) and `serde_json::to_vec` of the entry.
//!
//! ```sh
//! cargo bench -p audit-core --bench formats
//! ```
//!
//! Per entry, batches of 1,000 typical HTTP entries (~700-byte lines). The JSON schemas build
//! a `serde_json::Value` and carry the whole canonical line besides, so they cost a few times
//! the native line; the syslog and HTTP sinks that use them wait on the network far longer.

use audit_core::format::Format;
use audit_core::{AuditEntry, Scrubber};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "common/sample.rs"]
mod sample;
use sample::sample_entry;

const BATCH: usize = 1_000;

fn bench_formats(c: &mut Criterion) {
    let scrubber = Scrubber::default();
    let batch: Vec<AuditEntry> = (0..BATCH).map(|_| sample_entry(&scrubber)).collect();
    let mut group = c.benchmark_group("formats");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut buf = Vec::with_capacity(BATCH * 4096);
    group.bench_function("serde_json_to_vec", |b| {
        b.iter(|| {
            buf.clear();
            for entry in &batch {
                let _ = serde_json::to_writer(&mut buf, entry);
            }
            buf.len()
        })
    });
    for format in Format::ALL {
        buf.clear();
        for entry in &batch {
            format.write(entry, &mut buf);
        }
        eprintln!("formats: {format}: {} bytes per record", buf.len() / BATCH);
        group.bench_function(format.name(), |b| {
            b.iter(|| {
                buf.clear();
                for entry in &batch {
                    format.write(entry, &mut buf);
                }
                buf.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_formats);
criterion_main!(benches);
