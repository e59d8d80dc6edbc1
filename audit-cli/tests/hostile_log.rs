//! The `audit` command on a log that an attacker wrote into: user names and paths holding
//! terminal escapes, carriage returns, forged lines, bidi overrides, a formula for spreadsheets
//! and a 70,000-character cell. Every human format escapes them; none panics.

use std::process::{Command, Output};

use audit_core::{AuditEntry, Outcome};

const HOSTILE_USERS: &[&str] = &[
    "EVIL\x1b[31mRED\x1b[0m\r",
    "x\n12:00:00.000 POST /api/v1/admin 200 0.1ms admin_delete user=root",
    "abc\u{202E}fdp.exe",
    "=1+2*cmd|' /C calc'!A0",
    "line\u{2028}separator",
];

fn write_log(dir: &std::path::Path) -> usize {
    let mut users: Vec<String> = HOSTILE_USERS.iter().map(|u| (*u).to_owned()).collect();
    users.push("w".repeat(70_000));
    let mut text = String::new();
    for user in &users {
        let mut entry = AuditEntry::new("login");
        entry.method = Some("POST".into());
        entry.path = Some(format!("/login/{}", &user[..user.len().min(20)]));
        entry.user = user.clone();
        entry.status_code = Some(200);
        entry.outcome = Outcome::Success;
        text.push_str(&serde_json::to_string(&entry).unwrap());
        text.push('\n');
    }
    std::fs::write(dir.join("audit_2026-02-05.jsonl"), text).unwrap();
    users.len()
}

fn audit(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "audit {args:?}: {output:?}");
    output
}

fn assert_safe(output: &Output, lines: usize, what: &str) {
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    for bad in ['\x1b', '\r', '\u{202E}', '\u{2028}'] {
        assert!(!text.contains(bad), "{what}: raw {bad:?} in {text}");
    }
    assert_eq!(text.lines().count(), lines, "{what}: {text}");
    assert!(
        text.lines().all(|l| l.chars().count() < 1000),
        "{what}: a line too long to read"
    );
}

#[test]
fn human_formats_escape_what_the_log_holds_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let n = write_log(dir.path());
    let log = dir.path().to_str().unwrap();
    assert_safe(&audit(&["tail", log, "-n", "100"]), n, "tail");
    assert_safe(&audit(&["query", log, "--format", "table"]), n + 1, "table");
    assert_safe(&audit(&["stats", log, "--by", "user"]), n + 1, "stats");
    let tail = String::from_utf8(audit(&["tail", log]).stdout).unwrap();
    assert!(tail.contains(r"user=EVIL\x1b[31mRED\x1b[0m\r"), "{tail}");
    assert!(tail.contains(r"abc\u{202e}fdp.exe"), "{tail}");
    // The data itself stays whole in JSONL.
    let jsonl = String::from_utf8(audit(&["query", log, "--format", "jsonl"]).stdout).unwrap();
    assert!(jsonl.contains(&"w".repeat(70_000)));
}

#[test]
fn csv_quotes_and_neutralises_formulas() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path());
    let output = audit(&["query", dir.path().to_str().unwrap(), "--format", "csv"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains(",'=1+2*cmd|' /C calc'!A0,"), "{text}");
    // Line breaks inside a field are quoted, so every record still parses.
    let mut reader = text.as_bytes();
    let records = csv_records(&mut reader);
    assert_eq!(records, 1 + HOSTILE_USERS.len() + 1);
}

/// Counts CSV records, honouring quotes (RFC 4180).
fn csv_records(input: &mut &[u8]) -> usize {
    let (mut records, mut quoted) = (0, false);
    for &b in input.iter() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => records += 1,
            _ => {}
        }
    }
    records
}
