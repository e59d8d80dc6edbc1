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

/// A second quickstart started in the same directory (a second replica, a forgotten one) is
/// refused at start instead of interleaving its chain with the first's and repairing the
/// first's "torn" lines; once the first has exited, the directory is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_log_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = Quickstart::start(dir.path(), None);
    let second = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .current_dir(dir.path())
        .env("PORT", "0")
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8(second.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("audit_logs is in use by another sink")
            && stderr.contains("give each sink its own directory"),
        "{stderr}"
    );
    first.stop().await;
    let third = Quickstart::start(dir.path(), None);
    third.stop().await;
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

/// #11 finding 4: a sink that cannot reach its store says so on stderr while it spools.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_visible_on_stderr() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spool = dir.path().join("spool");
    let sink = format!(
        "postgres://postgres@127.0.0.1:1/test?audit_spool={}",
        spool.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .current_dir(dir.path())
        .env("PORT", port.to_string())
        .env("AUDIT_SINK", &sink)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Reads stderr to its end (closing it early would make the quickstart's writes fail).
    let (seen, saw) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut found = None;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if found.is_none() && line.contains("spool") {
                let _ = seen.send(());
                found = Some(line);
            }
        }
        found
    });
    // Calls until the quickstart listens and the sink has tried the database.
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    for _ in 0..50 {
        let uri: http::Uri = format!("http://127.0.0.1:{port}/api/v1/sow/SOW-1")
            .parse()
            .unwrap();
        let _ = client.get(uri).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        if saw.try_recv().is_ok() {
            break;
        }
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let line = reader.join().unwrap();
    assert!(
        line.is_some_and(|l| l.contains("WARN")),
        "no spooling warning on stderr"
    );
    // The closing line does not count spooled entries as written.
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut printed).unwrap();
    let last = printed.lines().last().unwrap_or_default();
    assert!(
        last.contains("wait in the local spool") && !last.contains("entries written"),
        "closing line: {last}"
    );
}
