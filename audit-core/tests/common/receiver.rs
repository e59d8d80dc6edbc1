//! A local HTTP receiver for the HTTP sink's tests: a real hyper server on loopback that
//! records every body it takes (gunzipped) with its headers, and answers as scripted
//! (503 with `Retry-After`, 413 above a size, 401). Shared by the quickstart's HTTP test.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 503 with this `Retry-After` (seconds).
    Unavailable(u64),
    /// This status.
    Status(u16),
}

/// A request the receiver saw.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub headers: http::HeaderMap,
    /// The body, gunzipped when it was sent gzipped.
    pub body: Vec<u8>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    script: VecDeque<Answer>,
    max_body: Option<usize>,
    requests: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    /// Listens on a free loopback port.
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Listens on `addr` (a port a sink already points at).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        Self::serve(addr, None).await
    }

    /// Listens on a free loopback port for HTTPS, with this certificate chain and key.
    pub async fn start_tls(config: Arc<rustls::ServerConfig>) -> Receiver {
        Self::serve("127.0.0.1:0".parse().unwrap(), Some(config)).await
    }

    async fn serve(addr: SocketAddr, tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&state, request).await) }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
        });
        Receiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The URL by the name the test certificate carries.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// Answers the next requests so, in order; then 200.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().unwrap().script.extend(answers);
    }

    /// Answers 413 to bodies larger than `bytes` (before gzip is undone).
    pub fn max_body(&self, bytes: usize) {
        self.state.lock().unwrap().max_body = Some(bytes);
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The records of the bodies answered 2xx: NDJSON lines, JSON array items, or an OTLP
    /// request's log records.
    pub fn accepted_records(&self) -> Vec<serde_json::Value> {
        let mut records = Vec::new();
        for request in self.requests().iter().filter(|r| r.status < 300) {
            let body = std::str::from_utf8(&request.body).unwrap();
            if body.starts_with("{\"resourceLogs\"") {
                let request: serde_json::Value = serde_json::from_str(body).unwrap();
                for logs in request["resourceLogs"].as_array().unwrap() {
                    for scope in logs["scopeLogs"].as_array().unwrap() {
                        records.extend(scope["logRecords"].as_array().unwrap().iter().cloned());
                    }
                }
            } else if body.starts_with('[') {
                let items: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
                records.extend(items);
            } else {
                records.extend(body.lines().map(|l| serde_json::from_str(l).unwrap()));
            }
        }
        records
    }
}

async fn answer(
    state: &Mutex<State>,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let headers = request.headers().clone();
    let raw = request.into_body().collect().await.unwrap().to_bytes();
    let mut body = raw.to_vec();
    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut plain)
            .unwrap();
        body = plain;
    }
    let mut state = state.lock().unwrap();
    let (status, retry_after) = match state.max_body {
        Some(max) if raw.len() > max => (413, None),
        _ => match state.script.pop_front() {
            Some(Answer::Unavailable(seconds)) => (503, Some(seconds)),
            Some(Answer::Status(status)) => (status, None),
            None => (200, None),
        },
    };
    state.requests.push(Received {
        at: Instant::now(),
        headers,
        body,
        status,
    });
    let mut response = Response::builder().status(status);
    if let Some(seconds) = retry_after {
        response = response.header("retry-after", seconds.to_string());
    }
    response
        .body(Full::new(Bytes::from_static(b"{\"text\":\"scripted\"}")))
        .unwrap()
}
