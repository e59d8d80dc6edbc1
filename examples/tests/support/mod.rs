//! Running the quickstart binary and calling it, for the tests that drive it as a user would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub mod rsyslog;

/// Every line of the quickstart's JSONL files in `dir/audit_logs`, by entry id: the source a
/// copy elsewhere (a SIEM, a table) is compared with.
pub fn logged_lines(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut lines = std::collections::BTreeMap::new();
    for file in std::fs::read_dir(dir.join("audit_logs")).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in std::fs::read_to_string(path).unwrap().lines() {
                let entry: audit_core::AuditEntry = serde_json::from_str(line).unwrap();
                lines.insert(entry.id.to_string(), line.to_owned());
            }
        }
    }
    lines
}

/// A quickstart process serving on `port`.
pub struct Quickstart {
    child: Child,
    /// Kept open: the quickstart prints every entry, and a closed pipe would fail its stdout sink.
    _stdout: BufReader<std::process::ChildStdout>,
    pub port: u16,
    /// Where its stderr goes (warnings), shown when it does not stop in time.
    stderr: std::path::PathBuf,
}

impl Quickstart {
    /// Starts the quickstart in `dir`, with `AUDIT_SINK` set to `sink` (or unset), and waits
    /// until it listens.
    pub fn start(dir: &Path, sink: Option<&str>) -> Quickstart {
        Self::start_with(dir, sink, &[])
    }

    /// [`Quickstart::start`] with more environment variables.
    pub fn start_with(dir: &Path, sink: Option<&str>, env: &[(&str, &str)]) -> Quickstart {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stderr = dir.join("quickstart.stderr");
        let mut command = Command::new(env!("CARGO_BIN_EXE_quickstart"));
        command
            .current_dir(dir)
            .env("PORT", port.to_string())
            .env_remove("AUDIT_ENABLED")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        match sink {
            Some(sink) => command.env("AUDIT_SINK", sink),
            None => command.env_remove("AUDIT_SINK"),
        };
        command.envs(env.iter().copied());
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("listening on") {
            line.clear();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "the quickstart exited early"
            );
        }
        Quickstart {
            child,
            _stdout: stdout,
            port,
            stderr,
        }
    }

    /// Sends one request with a JSON content type and `headers`; returns status and body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Bytes) {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{}{path}", self.port))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        let response = client.request(request).await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }

    /// Ctrl-C, as a user would: graceful shutdown flushes every entry. Asserts a clean exit
    /// within 20 s.
    pub async fn stop(self) {
        let Quickstart {
            mut child,
            _stdout,
            stderr,
            ..
        } = self;
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        let exited = tokio::time::timeout(
            Duration::from_secs(20),
            tokio::task::spawn_blocking(move || {
                let exited = child.wait();
                drop(_stdout);
                exited
            }),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the quickstart did not stop within 20 s; its stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            )
        })
        .unwrap()
        .unwrap();
        assert!(exited.success());
    }
}
