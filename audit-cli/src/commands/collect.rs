//! `audit collect`: a collector moving a NATS JetStream stream into a sink (PostgreSQL, JSONL),
//! acking each batch only after the sink stored it. Stops on SIGTERM or Ctrl-C (after the
//! batch in hand), or after `--idle-exit` without new entries; progress on a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use audit_core::nats::{CollectStats, Collector};
use audit_core::SinkSpec;

use super::CollectArgs;
use crate::error::CliError;

pub fn run(options: &CollectArgs<'_>) -> Result<(), CliError> {
    let source = options.source.to_string_lossy();
    let SinkSpec::Nats(spec) = SinkSpec::parse(&source)? else {
        return Err(CliError::Argument {
            what: "a NATS stream",
            value: audit_core::url_without_password(&source),
            expected: "nats://host:4222?stream=AUDIT&consumer=NAME",
        });
    };
    let sink = SinkSpec::parse(options.to)?.open()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let mut collector = Collector::builder(&spec)
            .batch(options.batch)
            .max_wait(options.max_wait)
            .ack_wait(options.ack_wait)
            .connect(sink)
            .await?;
        let stats = collector.stats();
        eprintln!(
            "audit: collecting {} (stream {}, consumer {}) into {}",
            spec.describe_servers(),
            spec.stream_name(),
            spec.consumer_name(),
            audit_core::url_without_password(options.to)
        );
        let progress = std::io::stderr().is_terminal().then(|| tokio::spawn(progress(stats.clone())));
        let started = Instant::now();
        let result = collector
            .run_until(stop(stats.clone(), options.idle_exit))
            .await;
        if let Some(progress) = progress {
            progress.abort();
            eprintln!();
        }
        let closed = collector.close().await;
        eprintln!(
            "audit: collected {} entries in {} batches in {:.1}s; {} gap(s) in chains, {} message(s) not entries",
            stats.collected(),
            stats.batches(),
            started.elapsed().as_secs_f64(),
            stats.gaps(),
            stats.malformed()
        );
        result.and(closed).map_err(CliError::from)
    })
}

/// Completes on SIGTERM or Ctrl-C, or once no entry came for `idle`.
async fn stop(stats: CollectStats, idle: Option<Duration>) {
    let idle = async {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        let (mut seen, mut since) = (stats.collected(), Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = stats.collected();
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() >= idle {
                return;
            }
        }
    };
    tokio::select! {
        () = idle => {}
        () = signal() => eprintln!("audit: stopping after the batch in hand"),
    }
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => return,
                _ = tokio::signal::ctrl_c() => return,
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// One status line, rewritten every second.
async fn progress(stats: CollectStats) {
    let mut last = (stats.collected(), Instant::now());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = stats.collected();
        let rate = (now - last.0) as f64 / last.1.elapsed().as_secs_f64();
        last = (now, Instant::now());
        eprint!(
            "\raudit: {now} collected, {rate:.0}/s, {} gap(s), {} failed write(s)   ",
            stats.gaps(),
            stats.failed_writes()
        );
    }
}
