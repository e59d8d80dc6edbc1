//! tonic's helloworld Greeter, audited with the same layer as the axum quickstart: one entry
//! per RPC, with the gRPC status (`grpc.code`, `grpc.status`) deciding the outcome. The
//! standard health service runs beside it and is not audited (a probe, not a call).
//!
//! ```sh
//! cargo run -p examples --bin grpc_greeter                  # serves on 127.0.0.1:50051 (PORT)
//! cargo run -p examples --bin grpc_greeter -- call Alice    # OK
//! cargo run -p examples --bin grpc_greeter -- call ""       # INVALID_ARGUMENT
//! cargo run -p examples --bin grpc_greeter -- call slow     # DEADLINE_EXCEEDED (500 ms timeout)
//! cargo run -p examples --bin grpc_greeter -- call panic    # INTERNAL: the handler panicked
//! jq -c '{endpoint, outcome, grpc, error}' audit_logs/audit_*.jsonl
//! ```

use std::time::Duration;

use audit_core::EnvConfig;
use audit_tower::AuditLayer;
use tonic::transport::Server;
use tonic::{Request, Response, Status};

pub mod helloworld {
    tonic::include_proto!("helloworld");
}

use helloworld::greeter_client::GreeterClient;
use helloworld::greeter_server::{Greeter, GreeterServer};
use helloworld::{HelloReply, HelloRequest};

const DEFAULT_SINKS: &str = "jsonl:./audit_logs,stdout:pretty";

#[derive(Default)]
struct MyGreeter;

#[tonic::async_trait]
impl Greeter for MyGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        match name.as_str() {
            "" => Err(Status::invalid_argument("name must not be empty")),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(Response::new(HelloReply {
                    message: "Hello, eventually".into(),
                }))
            }
            "panic" => panic!("the greeter fell over"),
            _ => Ok(Response::new(HelloReply {
                message: format!("Hello {name}!"),
            })),
        }
    }
}

fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(50051)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, name] = args.as_slice() {
        if mode == "call" {
            return call(name).await;
        }
    }

    let config =
        EnvConfig::from_lookup_with_default(|name| std::env::var(name).ok(), DEFAULT_SINKS)?;
    for sink in &config.sinks {
        println!("audit log -> {sink}");
    }
    let auditor = config.build()?;
    let (_health_reporter, health) = tonic_health::server::health_reporter();

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port()));
    println!("listening on {addr}");
    Server::builder()
        // One line audits every RPC; grpc.health.v1 is left out by default.
        .layer(AuditLayer::new(auditor.clone()))
        .add_service(health)
        .add_service(GreeterServer::new(MyGreeter))
        .serve_with_shutdown(addr, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;

    let stats = auditor.stats();
    auditor.shutdown().await?;
    println!("audit log flushed: {} entries written", stats.written);
    Ok(())
}

/// The client side: one SayHello with a 500 ms deadline, printing the reply or the status.
async fn call(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut client = GreeterClient::connect(format!("http://127.0.0.1:{}", port())).await?;
    let mut request = Request::new(HelloRequest {
        name: name.to_owned(),
    });
    request.set_timeout(Duration::from_millis(500));
    match client.say_hello(request).await {
        Ok(reply) => println!("{}", reply.into_inner().message),
        Err(status) => println!("{:?}: {}", status.code(), status.message()),
    }
    Ok(())
}
