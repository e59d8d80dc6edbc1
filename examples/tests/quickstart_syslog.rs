//! The quickstart sending to a real rsyslog (started by the test on loopback ports with its
//! own configuration) over TCP (RFC 6587 octet counting), TLS (RFC 5425) and RELP (plain and
//! over TLS with a client certificate), beside its JSONL files: every entry arrives once, in
//! the chosen format, carrying the exact line of the source so a SIEM copy can be verified;
//! rsyslog stopped and restarted mid-run loses nothing (and over RELP repeats at most the batch in flight).
#![cfg(feature = "syslog")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_core::syslog::severity;
use audit_core::AuditEntry;
use serde_json::Value;
use support::rsyslog::Rsyslog;
use support::Quickstart;

/// One RFC 5424 message as rsyslog received it.
#[derive(Debug)]
struct Message {
    pri: u8,
    app: String,
    sd: BTreeMap<String, String>,
    msg: String,
}

fn parse(line: &str) -> Message {
    let rest = line.strip_prefix('<').expect("<PRI>");
    let (pri, rest) = rest.split_once(">1 ").expect("RFC 5424 version 1");
    let mut fields = rest.splitn(6, ' ');
    let (_time, _host, app, _procid, msgid) = (
        fields.next().unwrap(),
        fields.next().unwrap(),
        fields.next().unwrap(),
        fields.next().unwrap(),
        fields.next().unwrap(),
    );
    assert_eq!(msgid, "audit");
    let rest = fields.next().unwrap();
    // [audit@32473 key="value" …] MSG, with \" \\ \] escaped inside values.
    let body = rest
        .strip_prefix("[audit@32473 ")
        .expect("our structured data");
    let mut sd = BTreeMap::new();
    let mut chars = body.char_indices();
    let mut key = String::new();
    let msg_start;
    loop {
        let (i, c) = chars.next().expect("structured data ends");
        match c {
            ']' => {
                msg_start = i + 2;
                break;
            }
            ' ' => key.clear(),
            '=' => {
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'));
                let mut value = String::new();
                loop {
                    match chars.next().unwrap().1 {
                        '\\' => value.push(chars.next().unwrap().1),
                        '"' => break,
                        c => value.push(c),
                    }
                }
                sd.insert(std::mem::take(&mut key), value);
            }
            c => key.push(c),
        }
    }
    Message {
        pri: pri.parse().unwrap(),
        app: app.to_owned(),
        sd,
        msg: body[msg_start..].to_owned(),
    }
}

/// The messages of `app`, once rsyslog has written all of `expected` (or 20 s passed).
async fn received(
    rsyslog: &Rsyslog,
    app: &str,
    expected: &BTreeMap<String, String>,
) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages: Vec<Message> = rsyslog
            .received()
            .iter()
            .map(|line| parse(line))
            .filter(|m| m.app == app)
            .collect();
        let ids: BTreeSet<&String> = messages.iter().map(|m| &m.sd["id"]).collect();
        if expected.keys().all(|id| ids.contains(id)) || Instant::now() > deadline {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn some_traffic(server: &Quickstart) {
    let sow =
        r#"{"client_id":"CLIENT-001","product":"Real-Time Payments","quality_mode":"production"}"#;
    assert_eq!(
        server.call("POST", "/api/v1/sow/create", sow, &[]).await.0,
        200
    );
    let login = r#"{"username":"alice","password":"hunter2"}"#;
    assert_eq!(
        server
            .call(
                "POST",
                "/api/v1/login",
                login,
                &[("authorization", "Bearer sk-live-1234567890abcdef")]
            )
            .await
            .0,
        200
    );
    let trip = r#"{"destination":"Lisbon","fail_at":"reserve_car"}"#;
    assert_eq!(server.call("POST", "/api/v1/trips", trip, &[]).await.0, 409);
    assert_eq!(server.call("GET", "/no/such/route", "", &[]).await.0, 404);
}

/// The canonical line each format carries.
fn carried_line(format: &str, msg: &str) -> String {
    match format {
        "cef" => {
            assert!(msg.starts_with("CEF:0|audited|audited|"), "{msg}");
            let raw = msg.split_once(" rawEvent=").expect("rawEvent").1;
            // CEF escapes `\` and `=` in extension values.
            raw.replace("\\=", "=").replace("\\\\", "\\")
        }
        "ecs" => {
            let doc: Value = serde_json::from_str(msg).unwrap();
            doc["event"]["original"].as_str().unwrap().to_owned()
        }
        "ocsf" => {
            let event: Value = serde_json::from_str(msg).unwrap();
            assert_eq!(event["class_uid"], 6003);
            event["raw_data"].as_str().unwrap().to_owned()
        }
        _ => msg.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_delivers_each_entry_once_in_the_chosen_format() {
    let syslog_dir = tempfile::tempdir().unwrap();
    let rsyslog = Rsyslog::start(syslog_dir.path());
    for (transport, port, format) in [
        ("tcp", rsyslog.tcp_port, "ecs"),
        ("tls", rsyslog.tls_port, "cef"),
        ("tls", rsyslog.tls_port, "ocsf"),
        ("tcp", rsyslog.tcp_port, "native"),
        ("relp", rsyslog.relp_port, "ecs"),
        ("relp+tls", rsyslog.relp_tls_port, "cef"),
    ] {
        let app = format!("qs_{}_{format}", transport.replace('+', "_"));
        let dir = tempfile::tempdir().unwrap();
        let sink = format!(
            "jsonl:./audit_logs,syslog+{transport}://127.0.0.1:{port}?format={format}&app_name={app}&facility=local4&{}&spool={}",
            tls_options(&rsyslog),
            dir.path().join("spool").display()
        );
        let server = Quickstart::start(dir.path(), Some(&sink));
        some_traffic(&server).await;
        server.stop().await;

        let source = support::logged_lines(dir.path());
        assert!(source.len() >= 6, "{app}: {} entries", source.len());
        let messages = received(&rsyslog, &app, &source).await;
        let mut seen = BTreeSet::new();
        for message in &messages {
            let id = &message.sd["id"];
            assert!(seen.insert(id.clone()), "{app}: {id} arrived twice");
            let line = source
                .get(id)
                .unwrap_or_else(|| panic!("{app}: {id} is not in the source"));
            // The copy carries the source's exact line: its hash is the chain's.
            let carried = carried_line(format, &message.msg);
            assert_eq!(&carried, line, "{app}");
            // …which the chain verifies: its SHA-256 is the entry's `chain.hash`.
            assert_eq!(
                audit_core::chain::check_line_bytes(carried.as_bytes()),
                Some(true),
                "{app}"
            );
            let entry: AuditEntry = serde_json::from_str(line).unwrap();
            assert_eq!(message.sd["outcome"], entry.outcome.as_str());
            assert_eq!(
                message.pri,
                20 * 8 + severity(entry.outcome),
                "{app}: local4 and the outcome's severity"
            );
            assert!(entry.chain.is_some(), "the JSONL fan-out chains entries");
        }
        assert_eq!(seen.len(), source.len(), "{app}: every entry arrives");
        // The redacted bearer token never reaches the collector.
        assert!(messages
            .iter()
            .all(|m| !m.msg.contains("sk-live-1234567890abcdef")));
    }
}

/// The TLS options of a sink URL: the run's CA, the server's name, the client certificate.
fn tls_options(rsyslog: &Rsyslog) -> String {
    let (cert, key) = rsyslog.client_identity();
    format!(
        "tls_ca={}&tls_server_name=localhost&tls_cert={}&tls_key={}",
        rsyslog.ca().display(),
        cert.display(),
        key.display()
    )
}

/// Returns how many entries arrived more than once.
async fn restart_mid_run(transport: &str) -> usize {
    let syslog_dir = tempfile::tempdir().unwrap();
    let mut rsyslog = Rsyslog::start(syslog_dir.path());
    let port = match transport {
        "tls" => rsyslog.tls_port,
        "relp" => rsyslog.relp_port,
        "relp+tls" => rsyslog.relp_tls_port,
        _ => rsyslog.tcp_port,
    };
    let app = format!("restart_{}", transport.replace('+', "_"));
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let sink = format!(
        "jsonl:./audit_logs,syslog+{transport}://127.0.0.1:{port}?format=ecs&app_name={app}&{}&spool={}",
        tls_options(&rsyslog),
        spool.display()
    );
    let batch = BATCH_SIZE.to_string();
    let server = Arc::new(Quickstart::start_with(
        dir.path(),
        Some(&sink),
        &[("AUDIT_BATCH_SIZE", &batch)],
    ));
    let running = Arc::new(AtomicBool::new(true));
    let calls = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (server, running, calls) = (server.clone(), running.clone(), calls.clone());
        load.push(tokio::spawn(async move {
            let login = r#"{"username":"alice","password":"hunter2"}"#;
            while running.load(Ordering::Relaxed) {
                assert_eq!(
                    server.call("POST", "/api/v1/login", login, &[]).await.0,
                    200
                );
                calls.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before_stop = calls.load(Ordering::Relaxed);
    tokio::task::block_in_place(|| rsyslog.stop());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let while_down = calls.load(Ordering::Relaxed) - before_stop;
    tokio::task::block_in_place(|| rsyslog.resume());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running.store(false, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let server = Arc::try_unwrap(server).ok().expect("the load stopped");
    server.stop().await;

    let source = support::logged_lines(dir.path());
    assert!(
        while_down > 10,
        "requests were served while rsyslog was down: {while_down}"
    );
    let messages = received(&rsyslog, &app, &source).await;
    let mut arrivals: BTreeMap<&String, usize> = BTreeMap::new();
    for message in &messages {
        *arrivals.entry(&message.sd["id"]).or_default() += 1;
    }
    let missing: Vec<_> = source
        .keys()
        .filter(|id| !arrivals.contains_key(id))
        .collect();
    let repeated = arrivals.values().filter(|n| **n > 1).count();
    eprintln!(
        "{transport}: {} entries, {while_down} served while rsyslog was down, {} messages, {} missing, {repeated} repeated",
        source.len(),
        messages.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "{transport}: lost {} entries: {missing:?}",
        missing.len()
    );
    // Nothing is left behind in the spool.
    let left: Vec<_> = std::fs::read_dir(&spool).unwrap().collect();
    assert!(left.is_empty(), "{transport}: spool not empty: {left:?}");
    repeated
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_restarted_mid_run_loses_nothing_over_tcp() {
    restart_mid_run("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_restarted_mid_run_loses_nothing_over_tls() {
    restart_mid_run("tls").await;
}

/// The quickstart's batch size in the restart tests.
const BATCH_SIZE: usize = 32;

/// RELP: the collector answers each message, and only what it did not answer is sent again:
/// at most the batch in flight when rsyslog stopped (a message it stored but could not answer
/// before it went, RELP's known window; 0 or 1 in the runs seen), never the last moments of
/// traffic that TCP repeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_restarted_mid_run_over_relp_repeats_at_most_the_batch_in_flight() {
    let repeated = restart_mid_run("relp").await;
    assert!(repeated <= BATCH_SIZE, "{repeated} repeated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_restarted_mid_run_over_relp_tls_repeats_at_most_the_batch_in_flight() {
    let repeated = restart_mid_run("relp+tls").await;
    assert!(repeated <= BATCH_SIZE, "{repeated} repeated");
}

/// A burst far larger than a batch (1024 entries in flight per RELP window) through the
/// library directly: every entry answered and stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_relp_arrives_once() {
    use audit_core::syslog::{SyslogSink, Transport};
    let syslog_dir = tempfile::tempdir().unwrap();
    let rsyslog = Rsyslog::start(syslog_dir.path());
    let spool = tempfile::tempdir().unwrap();
    let sink = SyslogSink::builder(Transport::Relp, format!("127.0.0.1:{}", rsyslog.relp_port))
        .app_name("burst")
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let stats = sink.stats();
    let auditor = audit_core::Auditor::builder().build(sink).unwrap();
    let mut expected = BTreeMap::new();
    for i in 0..20_000 {
        let mut entry = AuditEntry::new("burst");
        entry.fields.insert("i".into(), i.into());
        expected.insert(entry.id.to_string(), String::new());
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let messages = received(&rsyslog, "burst", &expected).await;
    let ids: BTreeSet<&String> = messages.iter().map(|m| &m.sd["id"]).collect();
    assert_eq!(messages.len(), 20_000);
    assert_eq!(ids.len(), 20_000);
    assert_eq!(stats.sent(), 20_000);
    assert_eq!(stats.spooled_batches(), 0);
}
