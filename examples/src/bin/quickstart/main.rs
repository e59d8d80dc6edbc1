//! The quickstart: a small "statement of work" service, audited with one layer; each handler
//! names its endpoint with `#[audited("…")]`.
//!
//! ```sh
//! cargo run -p examples --bin quickstart          # listens on 127.0.0.1:3000 (PORT to change)
//! curl -s localhost:3000/api/v1/sow/create -H 'content-type: application/json' \
//!   -d '{"client_id":"CLIENT-001","product":"Real-Time Payments","quality_mode":"production"}'
//! jq 'select(.endpoint == "sow_create")' audit_logs/audit_*.jsonl
//! ```
//!
//! Ctrl-C or SIGTERM shuts it down gracefully, waiting at most `SHUTDOWN_GRACE_SECS` (default
//! 10) for open connections before the audit log is flushed anyway.
//!
//! The sinks come from `AUDIT_SINK` (default here: `jsonl:./audit_logs,stdout:pretty`), so the
//! same program writes elsewhere per environment without a code change.
//!
//! `POST /api/v1/trips` books a trip as a saga of audited operations (`trips.rs`), and
//! `GET /metrics` serves the audit metrics in Prometheus' format (`metrics.rs`; not audited).

mod metrics;
mod trips;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use audit_core::{audited, Auditor, EnvConfig};
use audit_tower::{AuditCall, AuditLayer, AuditLevel, Rule};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

const DEFAULT_SINKS: &str = "jsonl:./audit_logs,stdout:pretty";

#[derive(Clone)]
struct AppState {
    sows: Arc<Mutex<HashMap<String, serde_json::Value>>>,
    auditor: Auditor,
}

impl axum::extract::FromRef<AppState> for Auditor {
    fn from_ref(state: &AppState) -> Auditor {
        state.auditor.clone()
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line a person can act on, not Rust's debug output.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The audit log's faults (a failing sink, spooling, recovery, dropped entries) are tracing
    // warnings: show them on stderr (RUST_LOG to change the level).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A closed stderr must not make the subscriber panic (it reports its own write errors
        // with `eprintln!` otherwise), least of all inside the audit writer.
        .log_internal_errors(false)
        .init();
    let config =
        EnvConfig::from_lookup_with_default(|name| std::env::var(name).ok(), DEFAULT_SINKS)?;
    for sink in &config.sinks {
        println!("audit log -> {sink}");
    }
    let metrics = metrics::install()?;
    let auditor = config.build()?;

    let app = Router::new()
        .route("/api/v1/sow/create", post(sow_create))
        .route("/api/v1/sow/{id}", get(sow_get))
        .route("/api/v1/login", post(login))
        .route("/api/v1/report", get(report))
        .route(
            "/api/v1/upload",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/panic", get(panics))
        .route("/api/v1/trips", post(trips::book_trip))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(move || metrics::render(metrics.clone())))
        .with_state(AppState {
            sows: Arc::default(),
            auditor: auditor.clone(),
        })
        // One line audits every route; health checks and scrapes are left out.
        .layer(
            AuditLayer::new(auditor.clone())
                .rule(Rule::prefix("/health", AuditLevel::None))
                .rule(Rule::prefix("/metrics", AuditLevel::None)),
        );

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // Graceful shutdown waits for open connections, but not for ever: a client holding a
    // half-sent request must not keep the audit log from being flushed before the orchestrator's
    // SIGKILL. After SHUTDOWN_GRACE_SECS (default 10) the auditor is shut down anyway.
    let grace = std::env::var("SHUTDOWN_GRACE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(
            std::time::Duration::from_secs(10),
            std::time::Duration::from_secs,
        );
    let (stopping, stopped) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stopping.send(true);
    });
    let deadline = async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|stop| *stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served?,
        () = deadline => eprintln!(
            "quickstart: connections still open {}s after the signal; flushing the audit log without them",
            grace.as_secs()
        ),
    }

    // Drain the queue and flush every sink: no entry recorded before this point is lost.
    auditor.shutdown().await?;
    let stats = auditor.stats();
    if stats.spooled == 0 {
        println!("audit log flushed: {} entries written", stats.written);
    } else {
        // Spooled entries are safe on disk but not yet where the operator looks for them.
        println!(
            "audit log flushed: {} entries accepted; {} wait in the local spool for the sink's store and are replayed at the next start",
            stats.written, stats.spooled
        );
    }
    Ok(())
}

#[derive(Deserialize)]
struct SowRequest {
    client_id: String,
    product: String,
    #[serde(default = "default_quality")]
    quality_mode: String,
}

fn default_quality() -> String {
    "draft".into()
}

/// 422 with a message, the answer to a body that is not the expected JSON.
fn unprocessable(message: String) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": message})),
    )
        .into_response()
}

#[audited("sow_create")]
async fn sow_create(State(state): State<AppState>, audit: AuditCall, body: Bytes) -> Response {
    let request: SowRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return unprocessable(format!(
                "expected {{client_id, product, quality_mode}}: {e}"
            ))
        }
    };
    let sow_text = format!(
        "Statement of work for {} — {}.\n{}",
        request.client_id,
        request.product,
        "Scope, deliverables, milestones and acceptance criteria. ".repeat(90)
    );
    let cost_usd = if request.quality_mode == "production" {
        0.23
    } else {
        0.06
    };
    let id = format!(
        "SOW-{:04}",
        state.sows.lock().map(|s| s.len()).unwrap_or(0) + 1
    );
    let sow = json!({
        "sow_id": id,
        "sow_text": sow_text,
        "cost_usd": cost_usd,
        "llm_calls": 3,
        "quality_mode": request.quality_mode,
    });
    if let Ok(mut sows) = state.sows.lock() {
        sows.insert(id, sow.clone());
    }
    audit.field("cost_usd", cost_usd);
    Json(sow).into_response()
}

#[audited("sow_get")]
async fn sow_get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state
        .sows
        .lock()
        .ok()
        .and_then(|sows| sows.get(&id).cloned())
    {
        Some(sow) => Json(sow).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"detail": format!("no SOW {id}")})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

#[audited("login")]
async fn login(audit: AuditCall, body: Bytes) -> Response {
    let login: Login = match serde_json::from_slice(&body) {
        Ok(login) => login,
        Err(e) => return unprocessable(format!("expected {{username, password}}: {e}")),
    };
    // The password is redacted in the log by default; the user is the one who logged in.
    audit.user(login.username.clone());
    if login.password.is_empty() {
        audit.error("empty password");
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": "invalid credentials"})),
        )
            .into_response();
    }
    Json(json!({"access_token": format!("demo-token-for-{}", login.username), "token_type": "bearer"}))
        .into_response()
}

#[derive(Deserialize)]
struct ReportQuery {
    #[serde(default = "default_rows")]
    rows: usize,
}

fn default_rows() -> usize {
    10
}

/// A streaming response of N lines, produced chunk by chunk.
#[audited("report")]
async fn report(audit: AuditCall, Query(query): Query<ReportQuery>) -> Response {
    audit.field("rows", query.rows);
    let rows = futures_util::stream::unfold(0usize, move |i| async move {
        if i == query.rows {
            return None;
        }
        if i % 1000 == 999 {
            tokio::task::yield_now().await;
        }
        Some((
            Ok::<_, std::io::Error>(Bytes::from(format!("row {i},value {}\n", i * 7))),
            i + 1,
        ))
    });
    ([("content-type", "text/csv")], Body::from_stream(rows)).into_response()
}

/// Accepts a body of any size, streaming it, and answers with its byte count.
#[audited("upload")]
async fn upload(body: Body) -> Response {
    let mut stream = body.into_data_stream();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => bytes += chunk.len() as u64,
            Err(e) => {
                return (StatusCode::BAD_REQUEST, format!("upload failed: {e}")).into_response()
            }
        }
    }
    Json(json!({"bytes": bytes})).into_response()
}

#[audited("panic_demo")]
async fn panics() -> &'static str {
    panic!("this handler panics on purpose")
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    println!("shutting down: finishing requests and flushing the audit log");
}
