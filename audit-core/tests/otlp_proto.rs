//! The `otel` format and the HTTP sink's OTLP encoding read by OpenTelemetry's own protobuf
//! definitions (PyPI `opentelemetry-proto`, through `tests/tools/otlp_check.py`): what an
//! OpenTelemetry Collector's OTLP/HTTP JSON receiver unmarshals. A misspelled field or a value
//! of the wrong type fails the parse. `.ci/run` installs the package.
#![cfg(feature = "http")]

#[path = "common/receiver.rs"]
mod receiver;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use audit_core::format::Format;
use audit_core::http::{Encoding, HttpSink};
use audit_core::{AuditEntry, Auditor};
use receiver::Receiver;

/// Runs the checker on `lines` as `kind` (`record` or `request`).
fn run_check(kind: &str, lines: &[String]) -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/otlp_check.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(kind)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs the OTLP check");
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named"),
        "the OTLP check needs OpenTelemetry's protobuf definitions: pip install opentelemetry-proto (.ci/run does)\n{stderr}"
    );
    output
}

/// How many of `lines` parse as `kind`; fails on the first that does not.
fn parse_with_opentelemetry_proto(kind: &str, lines: &[String]) -> usize {
    let output = run_check(kind, lines);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{kind}: {stderr}");
    String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The entries of the format tests: every field, null and redacted ones, gRPC, operations,
/// chain links, IPv6 addresses.
fn entries() -> Vec<AuditEntry> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/format_entries.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn every_otel_record_is_an_opentelemetry_log_record() {
    let lines: Vec<String> = entries()
        .iter()
        .map(|entry| Format::Otel.render(entry))
        .collect();
    assert!(lines.len() >= 3);
    assert_eq!(
        parse_with_opentelemetry_proto("record", &lines),
        lines.len()
    );
}

/// The checker is not a rubber stamp: a record with a field OTLP does not have, and one with
/// a wrongly typed field, are refused.
#[test]
fn the_check_refuses_what_opentelemetry_would() {
    let line = Format::Otel.render(&entries()[0]);
    let mut misspelled: serde_json::Value = serde_json::from_str(&line).unwrap();
    misspelled["severityNumbr"] = 9.into();
    let mut mistyped: serde_json::Value = serde_json::from_str(&line).unwrap();
    mistyped["attributes"] = "not a list".into();
    for bad in [misspelled, mistyped] {
        let output = run_check("record", &[bad.to_string()]);
        assert!(!output.status.success(), "{bad} was accepted");
        assert!(String::from_utf8_lossy(&output.stderr).contains("line 1"));
    }
}

/// What the HTTP sink POSTs with `encoding=otlp` is an `ExportLogsServiceRequest`, as a
/// Collector's `/v1/logs` reads it (gzipped here, as a Collector accepts too).
#[tokio::test]
async fn otlp_bodies_are_export_logs_service_requests() {
    let receiver = Receiver::start().await;
    let spool = tempfile::tempdir().unwrap();
    let sink = HttpSink::builder(receiver.url("/v1/logs"))
        .format(Format::Otel)
        .encoding(Encoding::Otlp)
        .service("billing")
        .gzip(true)
        .spool_dir(spool.path())
        .open()
        .unwrap();
    let auditor = Auditor::builder().batch_size(2).build(sink).unwrap();
    for entry in entries() {
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let bodies: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body.to_string()
        })
        .collect();
    assert!(!bodies.is_empty());
    assert_eq!(
        parse_with_opentelemetry_proto("request", &bodies),
        bodies.len()
    );
}
