//! The quickstart under faults an operator meets: bad configuration at start, and a client
//! holding a half-sent request when SIGTERM comes.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::Quickstart;
use tokio::io::AsyncWriteExt;

/// #11 finding 6: one line naming the variable, the value and what is accepted; no debug dump.
#[test]
fn bad_configuration_is_one_line_a_person_can_act_on() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value, expect) in [
        (
            "AUDIT_OVERFLOW",
            "sometimes",
            "AUDIT_OVERFLOW=\"sometimes\" is not valid",
        ),
        (
            "AUDIT_SINK",
            "jsonl:/proc/forbidden/audit",
            "AUDIT_SINK=\"jsonl:/proc/forbidden/audit\"",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_quickstart"))
            .current_dir(dir.path())
            .env(var, value)
            .env("PORT", "0")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{var}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(
            !stderr.contains("Invalid {") && !stderr.contains("Sink {"),
            "{stderr}"
        );
    }
}

/// #11 finding 7: a client holding a half-sent request cannot keep the quickstart from
/// flushing its log and exiting; the grace period bounds the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_is_bounded_by_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let server = Quickstart::start_with(
        dir.path(),
        Some("jsonl:./audit_logs"),
        &[("SHUTDOWN_GRACE_SECS", "1")],
    );
    assert_eq!(
        server.call("GET", "/api/v1/sow/SOW-0001", "", &[]).await.0,
        404
    );
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        socket
            .write_all(
                b"POST /api/v1/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial",
            )
            .await
            .unwrap();
        held.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let log = std::fs::read_dir(dir.path().join("audit_logs")).unwrap();
    let text: String = log
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .collect();
    assert!(text.contains("\"path\":\"/api/v1/sow/SOW-0001\""), "{text}");
    drop(held);
}
