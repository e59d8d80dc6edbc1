//! The fleet tier against real servers: services publish to a JetStream stream through
//! `NatsSink`, `audit collect` moves it into PostgreSQL (`AUDIT_TEST_DATABASE_URL`).
//!
//! - A 3-node JetStream cluster started here on loopback ports, a stream of 3 replicas, one
//!   node SIGKILLed mid-run: every acknowledged entry lands in the table once, and `audit
//!   verify` passes on the table.
//! - Two collectors on one consumer, one SIGKILLed mid-batch and restarted: each entry once.
#![cfg(all(feature = "nats", feature = "postgres"))]

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use audit_core::nats::{NatsSink, StreamSettings};
use audit_core::{AuditEntry, Auditor};
use tokio_postgres::NoTls;

fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn local_nats() -> String {
    std::env::var("AUDIT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A schema of its own, dropped at the end, and the collectors' spool.
struct Schema(String, tempfile::TempDir);

impl Schema {
    fn new(prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        Schema(name, tempfile::tempdir().unwrap())
    }

    fn url(&self) -> String {
        format!(
            "{}?audit_schema={}&audit_spool={}",
            database_url(),
            self.0,
            self.1.path().display()
        )
    }

    /// Rows and distinct ids in the table (0, 0 before it exists).
    async fn count(&self) -> (i64, i64) {
        let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let sql = format!(
            "SELECT count(*), count(DISTINCT id) FROM \"{}\".audit_log",
            self.0
        );
        match client.query_one(&sql, &[]).await {
            Ok(row) => (row.get(0), row.get(1)),
            Err(_) => (0, 0),
        }
    }

    /// Asserts the table holds every one of `ids` and the chain's final checkpoint, each once.
    async fn holds_each_once(&self, ids: &[uuid::Uuid]) {
        let expected = ids.len() as i64 + 1;
        let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let extra = client
            .query(
                &format!(
                    "SELECT endpoint, fields::text, error FROM \"{}\".audit_log WHERE endpoint <> 'fleet_test'",
                    self.0
                ),
                &[],
            )
            .await
            .unwrap();
        let extra: Vec<(String, String, Option<String>)> = extra
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(
            self.count().await,
            (expected, expected),
            "besides the entries: {extra:?}"
        );
        let stored = self.ids().await;
        assert!(ids.iter().all(|id| stored.contains(id)));
    }

    async fn ids(&self) -> HashSet<uuid::Uuid> {
        let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let sql = format!("SELECT id FROM \"{}\".audit_log", self.0);
        let rows = client.query(&sql, &[]).await.unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }
}

/// Runs `cleanup` to its end from a `Drop`, on a thread of its own (a runtime's worker cannot
/// block on another runtime).
fn clean_up(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(cleanup);
        }
    })
    .join();
}

impl Drop for Schema {
    fn drop(&mut self) {
        let name = self.0.clone();
        clean_up(async move {
            if let Ok((client, connection)) = tokio_postgres::connect(&database_url(), NoTls).await
            {
                tokio::spawn(connection);
                let _ = client
                    .execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"), &[])
                    .await;
            }
        });
    }
}

/// A stream on the machine's server, deleted when dropped (even by a failed assertion).
struct LocalStream(String);

impl Drop for LocalStream {
    fn drop(&mut self) {
        let name = self.0.clone();
        clean_up(async move {
            if let Ok(client) = async_nats::connect(local_nats()).await {
                let _ = async_nats::jetstream::new(client)
                    .delete_stream(&name)
                    .await;
            }
        });
    }
}

/// nats-server processes, killed when dropped.
struct Cluster {
    nodes: Vec<Option<Child>>,
    clients: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start(size: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let clients: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let all_routes = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let nodes = (0..size)
            .map(|i| {
                let store = dir.path().join(format!("node{i}"));
                Some(
                    Command::new("nats-server")
                        .args(["-a", "127.0.0.1", "-p", &clients[i].to_string(), "-js"])
                        .args(["-sd", &store.to_string_lossy()])
                        .args(["--server_name", &format!("audit-test-{i}")])
                        .args(["--cluster_name", "audit_test"])
                        .args(["--cluster", &format!("nats://127.0.0.1:{}", routes[i])])
                        .args(["--routes", &all_routes])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("nats-server (Debian's package) must be installed"),
                )
            })
            .collect();
        Cluster {
            nodes,
            clients,
            _dir: dir,
        }
    }

    fn servers(&self) -> String {
        self.clients
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.nodes[node].take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in 0..self.nodes.len() {
            self.kill(node);
        }
    }
}

/// Waits until the cluster's JetStream can create the stream (its meta leader is elected).
/// Creates the stream, then waits until every node answers for it with a leader and every
/// replica current: a node whose routes were still forming could otherwise answer the
/// sink's publishes with "no stream found" for the whole run (seen 2 runs in 6).
async fn create_stream(servers: &str, name: &str, subjects: &str, replicas: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attempt = async {
            let servers: Vec<&str> = servers.split(',').collect();
            let client = async_nats::connect(servers)
                .await
                .map_err(|e| e.to_string())?;
            let context = async_nats::jetstream::new(client);
            context
                .get_or_create_stream(async_nats::jetstream::stream::Config {
                    name: name.to_owned(),
                    subjects: vec![subjects.to_owned()],
                    num_replicas: replicas,
                    duplicate_window: Duration::from_secs(120),
                    ..Default::default()
                })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(()) => break,
            Err(e) if Instant::now() > deadline => panic!("the stream could not be created: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    for server in servers.split(',') {
        loop {
            let ready = async {
                let client = async_nats::connect(server).await.ok()?;
                let context = async_nats::jetstream::new(client);
                let mut stream = context.get_stream(name).await.ok()?;
                let info = stream.info().await.ok()?;
                let cluster = info.cluster.clone()?;
                let replicas_current = cluster.replicas.len() + 1 == replicas
                    && cluster
                        .replicas
                        .iter()
                        .all(|peer| peer.current && !peer.offline);
                Some(cluster.leader.is_some() && replicas_current)
            };
            if ready.await == Some(true) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the stream {name} has no leader with current replicas as seen from {server}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn publisher(servers: &str, stream: &str, subject: &str, spool: &Path, replicas: usize) -> Auditor {
    let mut settings = StreamSettings::named(stream);
    settings.replicas = replicas;
    let sink = NatsSink::builder(servers)
        .subject(subject)
        .stream(settings)
        .spool_dir(spool)
        .open()
        .unwrap();
    Auditor::builder().batch_size(200).build(sink).unwrap()
}

/// Records `n` entries from 4 tasks; returns their ids.
async fn publish(auditor: &Auditor, n: usize, tag: &str) -> Vec<uuid::Uuid> {
    let tasks: Vec<_> = (0..4)
        .map(|task| {
            let auditor = auditor.clone();
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..n / 4 {
                    let mut entry = AuditEntry::new("fleet_test");
                    entry.fields.insert("phase".into(), tag.clone().into());
                    entry.fields.insert("i".into(), (task * n + i).into());
                    ids.push(entry.id);
                    auditor.record(entry).await.unwrap();
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    ids
}

fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .output()
        .unwrap()
}

fn collector(source: &str, to: &str, idle: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args([
            "collect",
            source,
            "--to",
            to,
            "--batch",
            "500",
            "--ack-wait",
            "3s",
        ])
        .args(["--idle-exit", idle])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_run_loses_no_acknowledged_entry() {
    let mut cluster = Cluster::start(3);
    let servers = cluster.servers();
    let stream = format!("FLEET_{}", uuid::Uuid::now_v7().simple());
    let subject = format!("fleet_{}.svc", uuid::Uuid::now_v7().simple());
    create_stream(
        &servers,
        &stream,
        &format!("{}.>", subject.split('.').next().unwrap()),
        3,
    )
    .await;
    let spool = tempfile::tempdir().unwrap();
    // The client picks one of the three; the node that dies may be it.
    let doomed = format!(
        "nats://127.0.0.1:{},nats://127.0.0.1:{},nats://127.0.0.1:{}",
        cluster.clients[1], cluster.clients[0], cluster.clients[2]
    );
    let auditor = publisher(&doomed, &stream, &subject, spool.path(), 3);
    let mut ids = publish(&auditor, 8_000, "before").await;
    // One of three nodes dies while entries keep coming.
    cluster.kill(1);
    ids.extend(publish(&auditor, 8_000, "after").await);
    auditor.shutdown().await.unwrap();
    let stats = auditor.stats();
    assert_eq!(stats.failed_entries, 0, "{stats:?}");
    assert_eq!(
        stats.spooled, 0,
        "every batch reached the stream: {stats:?}"
    );

    let schema = Schema::new("fl_cluster");
    let survivors = format!(
        "nats://127.0.0.1:{}?servers=127.0.0.1:{}&stream={stream}",
        cluster.clients[0], cluster.clients[2]
    );
    let collected = audit(&[
        "collect",
        &survivors,
        "--to",
        &schema.url(),
        "--idle-exit",
        "3s",
    ]);
    assert!(collected.status.success(), "{collected:?}");
    schema.holds_each_once(&ids).await;
    let verified = audit(&["verify", &schema.url()]);
    let report = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(report.contains("intact"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_collectors_one_killed_mid_batch_store_each_entry_once() {
    let stream = format!("COLLECT_{}", uuid::Uuid::now_v7().simple());
    let _cleanup = LocalStream(stream.clone());
    let subject = format!("collect_{}.svc", uuid::Uuid::now_v7().simple());
    let spool = tempfile::tempdir().unwrap();
    let auditor = publisher(&local_nats(), &stream, &subject, spool.path(), 1);
    let ids = publish(&auditor, 40_000, "work").await;
    auditor.shutdown().await.unwrap();

    let schema = Schema::new("fl_collect");
    let source = format!("{}?stream={stream}&consumer=shared", local_nats());
    let to = schema.url();
    let mut a = collector(&source, &to, "4s");
    let mut b = collector(&source, &to, "4s");
    // A dies with a batch in hand, after some of the work went through.
    let deadline = Instant::now() + Duration::from_secs(60);
    while schema.count().await.0 < 4_000 {
        assert!(Instant::now() < deadline, "the collectors made no progress");
        assert!(
            a.try_wait().unwrap().is_none() && b.try_wait().unwrap().is_none(),
            "a collector stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let mut a = collector(&source, &to, "4s");
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    schema.holds_each_once(&ids).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_collector_cleanly() {
    let stream = format!("TERM_{}", uuid::Uuid::now_v7().simple());
    let _cleanup = LocalStream(stream.clone());
    let spool = tempfile::tempdir().unwrap();
    let subject = format!("term_{}.svc", uuid::Uuid::now_v7().simple());
    let auditor = publisher(&local_nats(), &stream, &subject, spool.path(), 1);
    let ids = publish(&auditor, 400, "term").await;
    auditor.shutdown().await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let to = format!("jsonl:{}", out.path().display());
    let source = format!("{}?stream={stream}", local_nats());
    let mut child = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(["collect", &source, "--to", &to])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the collector did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("collected {} entries", ids.len() + 1)),
        "{stderr}"
    );
    let verified = audit(&["verify", &out.path().to_string_lossy()]);
    assert!(verified.status.success(), "{verified:?}");

    // A stream that is not there: said at once, exit 2.
    let started = Instant::now();
    let missing = format!(
        "{}?stream=NO_SUCH_{}",
        local_nats(),
        uuid::Uuid::now_v7().simple()
    );
    let refused = audit(&["collect", &missing, "--to", &to, "--idle-exit", "1s"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stream not found"));
    assert!(started.elapsed() < Duration::from_secs(10));
}
