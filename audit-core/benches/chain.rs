//! The chain's cost per entry, in time (callgrind runs SHA-256 in software, so instruction
//! counts overstate it; this CPU's SHA extensions are what users get).
//!
//! ```sh
//! cargo bench -p audit-core --bench chain
//! ```
//!
//! Per entry, batches of 1,000 typical HTTP entries (~700-byte lines), in one run:
//! - `serialize`: the lines written without the chain (what the unchained writer does);
//! - `sha256_of_lines`: SHA-256 over the same lines, hex-encoded (the floor: hashing the bytes
//!   the canonical form fixes, nothing else);
//! - `link`: numbering, serialising with blank hashes, then hashing in order and filling in
//!   `prev` and `hash`, as the chained writer's two halves do.
//!
//! The chain adds `link` − `serialize` per entry.

use audit_core::chain::bench::Linking;
use audit_core::{AuditEntry, Scrubber};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sha2::{Digest, Sha256};

#[path = "common/sample.rs"]
mod sample;
use sample::sample_entry;

const BATCH: usize = 1_000;

fn bench_chain(c: &mut Criterion) {
    let scrubber = Scrubber::default();
    let batch: Vec<AuditEntry> = (0..BATCH).map(|_| sample_entry(&scrubber)).collect();
    let mut group = c.benchmark_group("chain");
    group.throughput(Throughput::Elements(BATCH as u64));

    let mut buf = Vec::with_capacity(BATCH * 1024);
    group.bench_function("serialize", |b| {
        b.iter(|| {
            buf.clear();
            for entry in &batch {
                let _ = entry.write_json_line(&mut buf);
            }
            buf.len()
        })
    });

    buf.clear();
    for entry in &batch {
        let _ = entry.write_json_line(&mut buf);
    }
    let lines: Vec<&[u8]> = buf.split_inclusive(|&b| b == b'\n').collect();
    eprintln!("chain: {} bytes per line", buf.len() / BATCH);
    group.bench_function("sha256_of_lines", |b| {
        b.iter(|| {
            let mut last = String::new();
            for line in &lines {
                last = hex::encode(Sha256::digest(line));
            }
            last
        })
    });

    let mut linking = Linking::new();
    group.bench_function("link", |b| {
        b.iter_batched_ref(
            || batch.clone(),
            |entries| linking.link(entries),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_chain);
criterion_main!(benches);
