//! What `#[audited]` adds to a call: with no auditor set, and with an auditor whose sink
//! discards batches (so memory stays flat over millions of calls), beside the bare function.
//!
//! ```sh
//! cargo bench -p audit-macros --bench attribute
//! ```
//! The no-auditor cases run first: the global auditor can be set only once per process.

use std::hint::black_box;
use std::time::Duration;

use audit_core::{async_trait, audited, AuditEntry, Auditor, Sink, SinkError};
use criterion::{criterion_group, criterion_main, Criterion};

fn bare(customer: &str, amount: u32) -> usize {
    customer.len() + amount as usize
}

#[audited("invoice")]
fn audited_call(customer: &str, amount: u32) -> usize {
    customer.len() + amount as usize
}

struct Discard;

#[async_trait]
impl Sink for Discard {
    async fn write(&mut self, _batch: &[AuditEntry]) -> Result<(), SinkError> {
        Ok(())
    }
}

fn bench_attribute(c: &mut Criterion) {
    let mut group = c.benchmark_group("attribute");
    group.bench_function("bare", |b| {
        b.iter(|| bare(black_box("ACME"), black_box(1200)))
    });
    group.bench_function("audited_no_auditor", |b| {
        b.iter(|| audited_call(black_box("ACME"), black_box(1200)))
    });

    // The auditor's writer runs on a runtime of its own, as in an application.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let auditor = Auditor::builder()
                .queue_capacity(1 << 16)
                .build(Discard)
                .expect("auditor");
            let _ = audit_core::set_global_auditor(auditor.clone());
            let _ = tx.send(auditor);
            std::future::pending::<()>().await;
        });
    });
    let auditor = rx.recv().expect("auditor");
    group.bench_function("audited_with_auditor", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(20_000);
                left -= chunk;
                // Untimed: let the writer empty the queue so every timed call finds room.
                while auditor.stats().queue_depth > 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let start = std::time::Instant::now();
                for _ in 0..chunk {
                    black_box(audited_call(black_box("ACME"), black_box(1200)));
                }
                total += start.elapsed();
            }
            total
        })
    });
    group.bench_function("bare_again", |b| {
        b.iter(|| bare(black_box("ACME"), black_box(1200)))
    });
    group.finish();
}

criterion_group!(benches, bench_attribute);
criterion_main!(benches);
