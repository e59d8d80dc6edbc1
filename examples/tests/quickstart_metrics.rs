//! The quickstart's `/metrics`, checked by real Prometheus tools (Debian's `prometheus`
//! package; `.ci/run` installs it): `promtool check metrics` accepts the exposition, and a
//! Prometheus server scraping the quickstart on a loopback port answers a query for the calls
//! counter with the number of requests sent.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use support::Quickstart;

const SOW: &str =
    r#"{"client_id":"CLIENT-001","product":"Real-Time Payments","quality_mode":"production"}"#;

fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is needed: install Debian's `prometheus` package (apt-get install prometheus; .ci/run does)"
    );
    name.to_owned()
}

async fn get(url: &str) -> (u16, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(url.parse().unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus server scraping `target` every second, killed when dropped.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, target: u16) -> Prometheus {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: quickstart\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Prometheus { child, port }
    }

    /// The value of an instant query's single sample, if there is one.
    async fn query(&self, query: &str) -> Option<f64> {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query?query={}",
            self.port,
            percent_encode(query)
        );
        let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
        let response = client.get(url.parse().ok()?).await.ok()?;
        let body = response.into_body().collect().await.ok()?.to_bytes();
        let answer: Value = serde_json::from_slice(&body).ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_quickstart_and_counts_every_call() {
    let root = tempfile::tempdir().unwrap();
    let quickstart = Quickstart::start(root.path(), Some("jsonl:./audit_logs"));
    let sent = 7;
    for _ in 0..sent {
        let (status, _) = quickstart
            .call("POST", "/api/v1/sow/create", SOW, &[])
            .await;
        assert_eq!(status, 200);
    }
    let trip = r#"{"destination":"Lisbon","fail_at":"reserve_car"}"#;
    let (status, _) = quickstart.call("POST", "/api/v1/trips", trip, &[]).await;
    assert_eq!(status, 409);
    let (status, _) = quickstart.call("GET", "/no/such/page/12345", "", &[]).await;
    assert_eq!(status, 404);

    // The writer counts entries as it takes them: wait until it took all of them.
    let metrics_url = format!("http://127.0.0.1:{}/metrics", quickstart.port);
    let expected = [
        format!("audit_calls_total{{endpoint=\"sow_create\",method=\"POST\",outcome=\"success\"}} {sent}"),
        // A path no route matches is counted as `unmatched`, never under its raw path.
        "audit_calls_total{endpoint=\"unmatched\",method=\"GET\",outcome=\"client_error\"} 1".to_owned(),
        "audit_calls_total{endpoint=\"trip_book\",method=\"POST\",outcome=\"client_error\"} 1".to_owned(),
        "audit_operations_total{action=\"reserve_car\",outcome=\"error\"} 1".to_owned(),
        "audit_operations_total{action=\"reserve_flight.compensate\",outcome=\"success\"} 1".to_owned(),
        "audit_call_duration_seconds_bucket{endpoint=\"sow_create\",le=\"0.005\"}".to_owned(),
    ];
    let mut exposition = String::new();
    for _ in 0..100 {
        let (status, body) = get(&metrics_url).await;
        assert_eq!(status, 200);
        exposition = body;
        if expected
            .iter()
            .all(|line| exposition.contains(line.as_str()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for line in &expected {
        assert!(exposition.contains(line.as_str()), "{line} in {exposition}");
    }
    assert!(
        !exposition.contains("12345"),
        "raw paths never become labels: {exposition}"
    );
    // `/metrics` itself is not audited.
    assert!(
        !exposition.contains("endpoint=\"/metrics\""),
        "{exposition}"
    );

    // promtool: the exposition format and Prometheus' naming conventions.
    let file = root.path().join("metrics.txt");
    std::fs::write(&file, &exposition).unwrap();
    let checked = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {checked:?}"
    );

    // A real Prometheus server scrapes it and answers with the number of calls sent.
    let prometheus = Prometheus::start(root.path(), quickstart.port);
    let query = "sum(audit_calls_total{endpoint=\"sow_create\",outcome=\"success\"})";
    let mut answer = None;
    for _ in 0..120 {
        answer = prometheus.query(query).await;
        if answer.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(answer, Some(sent as f64), "{query}");
    let up = prometheus.query("up{job=\"quickstart\"}").await;
    assert_eq!(up, Some(1.0));
    drop(prometheus);
    quickstart.stop().await;
}
