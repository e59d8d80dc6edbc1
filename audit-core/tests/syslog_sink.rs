//! The syslog sink's wire format against plain sockets: RFC 6587 octet-counted frames over TCP
//! (each frame exactly one RFC 5424 message), one datagram per message over UDP, and a
//! collector that is away at first (the spool, then everything once, in order). The real
//! rsyslog runs are in `examples/tests/quickstart_syslog.rs`.
#![cfg(feature = "syslog")]

use std::time::Duration;

use audit_core::format::Format;
use audit_core::syslog::{Facility, SyslogSink, Transport};
use audit_core::{AuditEntry, Auditor, Outcome};
use tokio::io::AsyncReadExt;

fn entries(n: usize) -> Vec<AuditEntry> {
    (0..n)
        .map(|i| {
            let mut entry = AuditEntry::new("transfer");
            entry.outcome = if i % 2 == 0 {
                Outcome::Success
            } else {
                Outcome::ClientError
            };
            entry.error = (i % 2 == 1).then(|| "line one\nline two".to_owned());
            entry
        })
        .collect()
}

/// Splits `LEN SP MSG` frames; panics on anything else.
fn frames(mut bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let space = bytes.iter().position(|b| *b == b' ').expect("a length");
        let len: usize = std::str::from_utf8(&bytes[..space])
            .unwrap()
            .parse()
            .unwrap();
        let message = &bytes[space + 1..space + 1 + len];
        out.push(String::from_utf8(message.to_vec()).unwrap());
        bytes = &bytes[space + 1 + len..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_frames_count_octets_and_carry_one_message_each() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let collector = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        bytes
    });
    let spool = tempfile::tempdir().unwrap();
    let sink = SyslogSink::builder(Transport::Tcp, addr.to_string())
        .format(Format::Cef)
        .facility(Facility::AuthPriv)
        .app_name("bank api")
        .hostname("web-1")
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let auditor = Auditor::builder().build(sink).unwrap();
    let sent = entries(50);
    for entry in sent.clone() {
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let messages = frames(&collector.await.unwrap());
    assert_eq!(messages.len(), 50);
    for (message, entry) in messages.iter().zip(&sent) {
        // authpriv (10) * 8 + informational (6) or warning (4).
        let pri = if entry.outcome == Outcome::Success {
            86
        } else {
            84
        };
        assert!(
            message.starts_with(&format!(
                "<{pri}>1 {} web-1 bankapi {} audit [audit@32473 id=\"{}\"",
                entry.timestamp,
                std::process::id(),
                entry.id
            )),
            "{message}"
        );
        assert!(message.contains("] CEF:0|audited|"), "{message}");
        assert!(!message.contains('\n'), "a message is one line: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_sends_one_datagram_per_message() {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let sink = SyslogSink::builder(Transport::Udp, addr.to_string())
        .format(Format::Ecs)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let auditor = Auditor::builder().build(sink).unwrap();
    let sent = entries(5);
    for entry in sent.clone() {
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    for entry in &sent {
        let mut datagram = vec![0u8; 65536];
        let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut datagram))
            .await
            .unwrap()
            .unwrap();
        let message = std::str::from_utf8(&datagram[..n]).unwrap();
        assert!(message.starts_with("<1"), "{message}");
        let (_, json) = message.split_once("] ").unwrap();
        let doc: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(doc["event"]["id"], entry.id.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_away_at_first_gets_the_spool_first_and_everything_once() {
    // A port nobody listens on yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let spool = tempfile::tempdir().unwrap();
    let sink = SyslogSink::builder(Transport::Tcp, addr.to_string())
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let stats = sink.stats();
    let auditor = Auditor::builder().batch_size(16).build(sink).unwrap();
    let sent = entries(100);
    for entry in &sent[..60] {
        auditor.record(entry.clone()).await.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while auditor.stats().spooled < 60 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            auditor.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let collector = tokio::spawn(async move {
        let mut bytes = Vec::new();
        // The sink may connect more than once (a connection per attempt after a backoff).
        while let Ok(Ok((mut stream, _))) =
            tokio::time::timeout(Duration::from_secs(5), listener.accept()).await
        {
            stream.read_to_end(&mut bytes).await.unwrap();
        }
        bytes
    });
    // The backoff after the failed attempts is short at first; wait it out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for entry in &sent[60..] {
        auditor.record(entry.clone()).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let ids: Vec<String> = frames(&collector.await.unwrap())
        .iter()
        .map(|m| m.split("id=\"").nth(1).unwrap()[..36].to_owned())
        .collect();
    let expected: Vec<String> = sent.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        ids, expected,
        "every entry once, the spooled ones first, in order"
    );
    assert!(stats.replayed_batches() > 0);
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
}

/// A RELP collector of the test's own: its first session stores and answers the first
/// [`TAKEN_BEFORE_DYING`] messages, then ends the session without answering (or storing) the
/// rest, as a collector stopped mid-batch does; later sessions answer and store everything.
const TAKEN_BEFORE_DYING: usize = 5;

async fn flaky_relp_collector(
    listener: tokio::net::TcpListener,
) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    use tokio::io::AsyncWriteExt;
    let stored = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = stored.clone();
    tokio::spawn(async move {
        let mut sessions = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            sessions += 1;
            let stored = keep.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut taken = 0;
                loop {
                    let mut chunk = [0u8; 8192];
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // Frames: TXNR SP COMMAND SP LEN [SP DATA] LF.
                    loop {
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        let mut parts = text.splitn(4, ' ');
                        let (Some(txnr), Some(command), Some(rest)) =
                            (parts.next(), parts.next(), parts.next())
                        else {
                            break;
                        };
                        let len: usize = rest
                            .trim_end()
                            .split('\n')
                            .next()
                            .unwrap_or("")
                            .parse()
                            .unwrap_or(0);
                        let header = txnr.len()
                            + command.len()
                            + rest.split([' ', '\n']).next().unwrap().len()
                            + 2;
                        let total = header + if len > 0 { 1 + len } else { 0 } + 1;
                        if buf.len() < total {
                            break;
                        }
                        let data = String::from_utf8_lossy(&buf[header + 1..header + 1 + len])
                            .into_owned();
                        buf.drain(..total);
                        let answer = match command {
                            "open" => "200 OK\nrelp_version=0\ncommands=syslog".to_owned(),
                            "syslog" if sessions == 1 && taken == TAKEN_BEFORE_DYING => {
                                // Ends its side after the answers it gave (a reset would
                                // discard them before the sender reads them), and reads
                                // the rest without taking it.
                                let _ = stream.shutdown().await;
                                while stream.read(&mut chunk).await.unwrap_or(0) > 0 {}
                                return;
                            }
                            "syslog" => {
                                taken += 1;
                                stored.lock().unwrap().push(data);
                                "200 OK".to_owned()
                            }
                            _ => String::new(),
                        };
                        let frame = format!("{txnr} rsp {} {answer}\n", answer.len());
                        stream.write_all(frame.as_bytes()).await.unwrap();
                    }
                }
            });
        }
    });
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relp_session_that_dies_mid_replay_keeps_the_spool_exact() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let spool = tempfile::tempdir().unwrap();
    let sink = SyslogSink::builder(Transport::Relp, addr.to_string())
        .timeout(Duration::from_secs(2))
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let auditor = Auditor::builder().batch_size(10).build(sink).unwrap();
    let sent = entries(60);
    for entry in &sent[..30] {
        auditor.record(entry.clone()).await.unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while auditor.stats().spooled < 30 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            auditor.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = flaky_relp_collector(tokio::net::TcpListener::bind(addr).await.unwrap()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for entry in &sent[30..] {
        auditor.record(entry.clone()).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let ids: Vec<String> = stored
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.split("id=\"").nth(1).unwrap()[..36].to_owned())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    // The messages the first session answered are not sent again.
    assert_eq!(unique.len(), ids.len(), "nothing twice");
    assert_eq!(ids.len(), 60, "nothing lost");
    assert_eq!(std::fs::read_dir(spool.path()).unwrap().count(), 0);
}
