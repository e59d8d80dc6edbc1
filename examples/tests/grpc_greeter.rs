//! Drives the gRPC example as a user would (its own client, then Ctrl-C) and checks the log.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use audit_core::{AuditEntry, Outcome};

fn call(port: u16, name: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_grpc_greeter"))
        .args(["call", name])
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_grpc_example_records_each_rpc_with_its_grpc_status() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_grpc_greeter"))
        .current_dir(dir.path())
        .env("PORT", port.to_string())
        .env("AUDIT_SINK", "jsonl:./audit_logs")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the example exited early"
        );
    }

    assert_eq!(call(port, "Alice"), "Hello Alice!");
    assert_eq!(call(port, ""), "InvalidArgument: name must not be empty");
    assert!(call(port, "panic").starts_with("Internal"));
    let slow = call(port, "slow");
    assert!(
        slow.starts_with("Cancelled") || slow.starts_with("DeadlineExceeded"),
        "{slow}"
    );

    Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
    let mut entries = Vec::new();
    for file in std::fs::read_dir(dir.path().join("audit_logs")).unwrap() {
        for line in std::fs::read_to_string(file.unwrap().path())
            .unwrap()
            .lines()
        {
            let entry: AuditEntry = serde_json::from_str(line).unwrap();
            if !entry.endpoint.starts_with("audit.") {
                entries.push(entry);
            }
        }
    }
    let statuses: Vec<_> = entries
        .iter()
        .map(|e| (e.grpc.as_ref().unwrap().status.as_str(), e.outcome))
        .collect();
    assert_eq!(entries.len(), 4, "{entries:#?}");
    for expected in [
        ("OK", Outcome::Success),
        ("INVALID_ARGUMENT", Outcome::ClientError),
        ("INTERNAL", Outcome::Panic),
        ("DEADLINE_EXCEEDED", Outcome::ServerError),
    ] {
        assert!(statuses.contains(&expected), "{expected:?} in {statuses:?}");
    }
    assert!(entries
        .iter()
        .all(|e| e.endpoint == "/helloworld.Greeter/SayHello"));
    assert!(entries.iter().all(|e| e.peer_addr.is_some()));
}
