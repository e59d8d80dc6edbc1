//! The PostgreSQL sink's delivery against the machine's real server: a cut connection, the
//! local spool and its replay (at start, when idle), the counters, TLS with each provider.
//! Each test works in its own schema and drops it.
#![cfg(feature = "postgres")]

use std::collections::HashSet;
use std::time::Duration;

use audit_core::{AuditEntry, Auditor, Sink};

#[path = "common/proxy.rs"]
mod proxy;
use proxy::Proxy;
#[path = "common/postgres.rs"]
mod pg;
use pg::{admin, database_url, server, TestSchema};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_loses_and_duplicates_nothing() {
    let client = admin().await;
    let schema = TestSchema::new();
    let (host, port, user, dbname) = server();
    let proxy = Proxy::start(format!("{host}:{port}")).await;
    let via_proxy = format!("postgres://{user}@{}/{dbname}", proxy.addr);

    let sink = schema.sink(&via_proxy);
    let stats = sink.stats();
    let auditor = Auditor::builder().batch_size(200).build(sink).unwrap();
    let mut ids = HashSet::new();
    for round in 0..30 {
        if round == 10 {
            proxy.cut();
        }
        if round == 20 {
            proxy.restore();
        }
        for _ in 0..200 {
            let entry = AuditEntry::new("through_a_fault");
            ids.insert(entry.id);
            auditor.record(entry).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    auditor.shutdown().await.unwrap();
    assert_eq!(schema.count(&client).await, (6_000, 6_000));
    let stored: HashSet<uuid::Uuid> = client
        .query(
            &format!("SELECT id FROM \"{}\".audit_log", schema.name),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, ids);
    assert!(
        stats.spooled_batches() > 0,
        "some batches went through the spool"
    );
    assert_eq!(stats.replayed_batches(), stats.spooled_batches());
    assert!(stats.connects() >= 2, "it reconnected");
    assert_eq!(
        std::fs::read_dir(schema.spool.path()).unwrap().count(),
        0,
        "the spool is empty again"
    );
    schema.drop(&client).await;
}

#[tokio::test]
async fn an_unreachable_database_spools_and_the_next_start_replays() {
    let client = admin().await;
    let schema = TestSchema::new();
    // Nothing listens on port 9 of loopback.
    let mut down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let batch: Vec<AuditEntry> = (0..50).map(|_| AuditEntry::new("offline")).collect();
    down.write(&batch).await.unwrap();
    down.close().await.unwrap();
    assert_eq!(down.stats().spooled_batches(), 1);
    // The next start, with the database reachable, replays the spool before its own batch.
    let mut up = schema.sink(&database_url());
    up.write(&[AuditEntry::new("online")]).await.unwrap();
    assert_eq!(up.stats().replayed_batches(), 1);
    assert_eq!(schema.count(&client).await, (51, 51));
    schema.drop(&client).await;
}

/// #11 finding 5: a spool left by an earlier run is replayed when the writer starts, without
/// waiting for new traffic.
#[tokio::test]
async fn a_spool_is_replayed_at_start_without_new_traffic() {
    let client = admin().await;
    let schema = TestSchema::new();
    let mut down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let batch: Vec<AuditEntry> = (0..30).map(|_| AuditEntry::new("offline")).collect();
    down.write(&batch).await.unwrap();
    down.close().await.unwrap();
    // A new auditor on the same spool, the database reachable, and no entry recorded.
    let up = schema.sink(&database_url());
    let stats = up.stats();
    let auditor = audit_core::Auditor::builder().build(up).unwrap();
    // The writer creates the table when it connects: until then there is nothing to count.
    let table = format!("SELECT count(*) FROM \"{}\".audit_log", schema.name);
    for _ in 0..100 {
        if let Ok(row) = client.query_one(&table, &[]).await {
            if row.get::<_, i64>(0) == 30 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(schema.count(&client).await, (30, 30));
    assert_eq!(stats.replayed_batches(), 1);
    auditor.shutdown().await.unwrap();
    schema.drop(&client).await;
}

/// #11 finding 5, the timer: batches that land in the spool while the writer runs are replayed
/// once it has been idle a few seconds, without new traffic.
#[tokio::test]
async fn an_idle_writer_replays_the_spool() {
    let client = admin().await;
    let schema = TestSchema::new();
    let up = schema.sink(&database_url());
    let auditor = audit_core::Auditor::builder().build(up).unwrap();
    auditor.record(AuditEntry::new("online")).await.unwrap();
    auditor.flush().await.unwrap();
    // Another writer spools into the same directory while the database is away for it.
    let mut down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let batch: Vec<AuditEntry> = (0..20).map(|_| AuditEntry::new("offline")).collect();
    down.write(&batch).await.unwrap();
    let mut rows = 0;
    for _ in 0..200 {
        rows = schema.count(&client).await.0;
        if rows == 21 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows, 21, "the spooled batch was replayed while idle");
    auditor.shutdown().await.unwrap();
    schema.drop(&client).await;
}

/// #11 finding 4: the auditor's counters tell entries in the spool from entries stored.
#[tokio::test]
async fn the_counters_tell_spooled_entries_from_stored_ones() {
    let client = admin().await;
    let schema = TestSchema::new();
    let down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let auditor = audit_core::Auditor::builder().build(down).unwrap();
    for _ in 0..40 {
        auditor.record(AuditEntry::new("offline")).await.unwrap();
    }
    auditor.flush().await.unwrap();
    let stats = auditor.stats();
    assert_eq!((stats.written, stats.spooled), (40, 40));
    auditor.shutdown().await.unwrap();
    assert_eq!(auditor.stats().spooled, 40);
    // The next run finds them, replays them at start, and says the spool is empty.
    let up = audit_core::Auditor::builder()
        .build(schema.sink(&database_url()))
        .unwrap();
    assert_eq!(
        up.stats().spooled,
        40,
        "counted at start, before the replay"
    );
    up.flush().await.unwrap();
    let mut spooled = 40;
    for _ in 0..100 {
        spooled = up.stats().spooled;
        if spooled == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(spooled, 0);
    assert_eq!(schema.count(&client).await, (40, 40));
    up.shutdown().await.unwrap();
    schema.drop(&client).await;
}

/// Encrypted, verified against a given root, refused under a name the certificate does not
/// hold: the same for each TLS implementation. The machine's server has TLS on with Debian's
/// self-signed `localhost` certificate.
#[cfg(any(feature = "postgres-tls", feature = "postgres-rustls"))]
async fn tls_connections_are_encrypted_and_verified(provider: audit_core::postgres::TlsProvider) {
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let client = admin().await;
    let schema = TestSchema::new();
    let config: tokio_postgres::Config = database_url().parse().unwrap();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let dbname = config.get_dbname().unwrap_or("test");
    let url = format!(
        "postgres://{user}@localhost:{port}/{dbname}?sslmode=require&application_name={}",
        schema.name
    );

    // Verified against the server's own certificate as root, host name `localhost`.
    let mut sink = schema
        .builder(&url)
        .tls_provider(provider)
        .tls_root_cert(SNAKEOIL)
        .open()
        .unwrap();
    sink.connect().await.unwrap();
    sink.write(&[AuditEntry::new("over_tls")]).await.unwrap();
    let encrypted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.application_name = $1",
            &[&schema.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(encrypted, 1, "the sink's connection is encrypted");
    assert_eq!(schema.count(&client).await, (1, 1));
    drop(sink);

    // Verified, but reached as 127.0.0.1: the certificate names `localhost` only, so it is
    // refused, and the error says why.
    let by_address = url.replace("@localhost:", "@127.0.0.1:");
    let mut strict = schema
        .builder(&by_address)
        .tls_provider(provider)
        .tls_root_cert(SNAKEOIL)
        .open()
        .unwrap();
    let err = strict.connect().await.unwrap_err().to_string();
    assert!(
        err.contains("certificate") || err.contains("tls") || err.contains("TLS"),
        "{provider:?}: {err}"
    );
    drop(strict);

    // Without a root: encrypted, not authenticated (libpq's sslmode=require), under any name.
    let mut encrypt_only = schema
        .builder(&by_address)
        .tls_provider(provider)
        .open()
        .unwrap();
    encrypt_only.connect().await.unwrap();
    encrypt_only
        .write(&[AuditEntry::new("encrypted_only")])
        .await
        .unwrap();
    assert_eq!(schema.count(&client).await, (2, 2));
    schema.drop(&client).await;
}

#[cfg(feature = "postgres-tls")]
#[tokio::test]
async fn tls_through_native_tls() {
    tls_connections_are_encrypted_and_verified(audit_core::postgres::TlsProvider::Native).await;
}

#[cfg(feature = "postgres-rustls")]
#[tokio::test]
async fn tls_through_rustls() {
    tls_connections_are_encrypted_and_verified(audit_core::postgres::TlsProvider::Rustls).await;
}

/// A database that stops answering without closing anything (a network partition): the
/// writer gives up after `write_timeout`, spools, and replays once the database answers; the
/// application's flush never hangs on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_is_spooled_after_the_write_timeout() {
    let client = admin().await;
    let schema = TestSchema::new();
    let (host, port, user, dbname) = server();
    let proxy = Proxy::start(format!("{host}:{port}")).await;
    let via_proxy = format!("postgres://{user}@{}/{dbname}", proxy.addr);
    let sink = schema
        .builder(&via_proxy)
        .connect_timeout(Duration::from_secs(1))
        .write_timeout(Duration::from_secs(1))
        .open()
        .unwrap();
    let stats = sink.stats();
    let auditor = Auditor::builder().build(sink).unwrap();
    let mut ids = HashSet::new();
    let mut round = |n: usize| {
        (0..n)
            .map(|_| {
                let entry = AuditEntry::new("through_a_partition");
                ids.insert(entry.id);
                entry
            })
            .collect::<Vec<_>>()
    };
    for entry in round(10) {
        auditor.record(entry).await.unwrap();
    }
    auditor.flush().await.unwrap();
    assert_eq!(schema.count(&client).await, (10, 10));

    proxy.freeze();
    let started = std::time::Instant::now();
    for entry in round(10) {
        auditor.record(entry).await.unwrap();
    }
    // Bounded here only so that a regression fails instead of hanging the suite.
    tokio::time::timeout(Duration::from_secs(30), auditor.flush())
        .await
        .expect("the flush waited for a database that does not answer")
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(auditor.stats().spooled, 10);

    proxy.thaw();
    for entry in round(10) {
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    assert_eq!(schema.count(&client).await, (30, 30));
    assert_eq!(stats.replayed_batches(), stats.spooled_batches());
    schema.drop(&client).await;
}

/// `write_timeout` bounds each statement, not a whole write: a backlog of hundreds of spooled
/// batches, replayed before the next batch, takes longer than one timeout and still goes in
/// without a reconnect.
#[tokio::test]
async fn a_long_backlog_is_replayed_past_one_write_timeout() {
    let client = admin().await;
    let schema = TestSchema::new();
    // Nothing listens on port 9 of loopback: each batch lands in the spool.
    let mut down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    for _ in 0..400 {
        down.write(&[AuditEntry::new("backlog")]).await.unwrap();
    }
    down.close().await.unwrap();
    assert_eq!(down.stats().spooled_batches(), 400);
    drop(down);

    let timeout = Duration::from_millis(100);
    let mut up = schema
        .builder(&database_url())
        .write_timeout(timeout)
        .open()
        .unwrap();
    let started = std::time::Instant::now();
    up.write(&[AuditEntry::new("after")]).await.unwrap();
    let took = started.elapsed();
    assert!(
        took > timeout,
        "the backlog went faster than one timeout ({took:?}): the test proves nothing"
    );
    assert_eq!(up.spooled(), 0, "took {took:?}");
    assert_eq!(up.stats().replayed_batches(), 400);
    assert_eq!(up.stats().connects(), 1, "no reconnect");
    assert_eq!(schema.count(&client).await, (401, 401));
    schema.drop(&client).await;
}
