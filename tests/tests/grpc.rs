//! A tonic gRPC service behind the layer (`Server::builder().layer(AuditLayer::new(..))`),
//! called by tonic's own clients over HTTP/2 and by tonic-web's client over HTTP/1.1: status
//! and outcome from `grpc-status` wherever it travels, deadlines, panics answered as gRPC,
//! the peer from tonic's connect info, health checks not audited, `grpc-encoding` recorded.

mod support;

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use audit_core::{AuditEntry, Outcome};
use audit_tower::AuditLayer;
use futures_util::{Stream, StreamExt};
use interop_tests::proto::echo_client::EchoClient;
use interop_tests::proto::echo_server::{Echo, EchoServer};
use interop_tests::proto::{EchoReply, EchoRequest};
use support::{auditor, entries};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Server};
use tonic::{Code, Request, Response, Status};

#[derive(Default)]
struct EchoService;

fn status_of(req: &EchoRequest) -> Status {
    Status::new(
        Code::from_i32(req.fail_with),
        format!("failed as asked: {}", req.message),
    )
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let req = request.into_inner();
        tokio::time::sleep(Duration::from_millis(req.delay_ms.into())).await;
        if req.panic {
            panic!("the echo handler exploded");
        }
        if req.fail_with != 0 {
            return Err(status_of(&req));
        }
        Ok(Response::new(EchoReply {
            message: req.message,
        }))
    }

    type ServerStreamStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

    async fn server_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::ServerStreamStream>, Status> {
        let req = request.into_inner();
        let end = (req.fail_with != 0).then(|| Err(status_of(&req)));
        let message = req.message;
        let replies = (0..req.count).map(move |i| {
            Ok(EchoReply {
                message: format!("{message} {i}"),
            })
        });
        Ok(Response::new(Box::pin(futures_util::stream::iter(
            replies.chain(end),
        ))))
    }
}

fn request(message: &str, fail_with: Code) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        fail_with: fail_with as i32,
        ..EchoRequest::default()
    }
}

/// Serves Echo (with gzip both ways) and the standard health service behind the layer.
async fn serve_grpc(layer: AuditLayer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(health)
            .add_service(
                EchoServer::new(EchoService)
                    .accept_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Gzip),
            )
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    addr
}

async fn client(addr: SocketAddr) -> EchoClient<Channel> {
    EchoClient::connect(format!("http://{addr}")).await.unwrap()
}

fn by_endpoint<'a>(entries: &'a [AuditEntry], endpoint: &str, n: usize) -> Vec<&'a AuditEntry> {
    let found: Vec<_> = entries.iter().filter(|e| e.endpoint == endpoint).collect();
    assert_eq!(found.len(), n, "{endpoint}: {entries:#?}");
    found
}

/// Finding 4: every gRPC failure was recorded as a success.
#[tokio::test]
async fn grpc_status_decides_the_outcome_wherever_it_travels() {
    let (auditor, sink) = auditor();
    let addr = serve_grpc(AuditLayer::new(auditor)).await;
    let mut echo = client(addr).await;
    assert_eq!(
        echo.unary(request("hi", Code::Ok))
            .await
            .unwrap()
            .into_inner()
            .message,
        "hi"
    );
    for code in [
        Code::NotFound,
        Code::PermissionDenied,
        Code::Internal,
        Code::InvalidArgument,
    ] {
        let err = echo.unary(request("x", code)).await.unwrap_err();
        assert_eq!(err.code(), code);
    }
    // Two messages, then the status in the trailers.
    let mut stream = echo
        .server_stream(EchoRequest {
            count: 2,
            ..request("tick", Code::PermissionDenied)
        })
        .await
        .unwrap()
        .into_inner();
    let mut received = 0;
    let failure = loop {
        match stream.next().await {
            Some(Ok(_)) => received += 1,
            Some(Err(status)) => break status,
            None => panic!("the stream ended without its status"),
        }
    };
    assert_eq!((received, failure.code()), (2, Code::PermissionDenied));
    let ok_stream: Vec<_> = echo
        .server_stream(EchoRequest {
            count: 3,
            ..request("ok", Code::Ok)
        })
        .await
        .unwrap()
        .into_inner()
        .collect()
        .await;
    assert_eq!(ok_stream.len(), 3);

    let entries = entries(&sink, 7).await;
    let unary = by_endpoint(&entries, "/interop.Echo/Unary", 5);
    let ok = unary
        .iter()
        .find(|e| e.grpc.as_ref().unwrap().code == 0)
        .unwrap();
    assert_eq!(
        (ok.status_code, ok.outcome, ok.error.as_deref()),
        (Some(200), Outcome::Success, None)
    );
    assert_eq!(ok.grpc.as_ref().unwrap().status, "OK");
    assert!(
        ok.peer_addr.as_deref().unwrap().starts_with("127.0.0.1:"),
        "tonic's TcpConnectInfo"
    );
    for (code, name, outcome) in [
        (5, "NOT_FOUND", Outcome::ClientError),
        (7, "PERMISSION_DENIED", Outcome::ClientError),
        (13, "INTERNAL", Outcome::ServerError),
        (3, "INVALID_ARGUMENT", Outcome::ClientError),
    ] {
        let e = unary
            .iter()
            .find(|e| e.grpc.as_ref().unwrap().code == code)
            .unwrap();
        assert_eq!(e.grpc.as_ref().unwrap().status, name);
        assert_eq!(
            e.grpc.as_ref().unwrap().message.as_deref(),
            Some("failed as asked: x")
        );
        assert_eq!((e.status_code, e.outcome), (Some(200), outcome), "{e:#?}");
        assert_eq!(
            e.error.as_deref(),
            Some(format!("{name}: failed as asked: x").as_str())
        );
    }
    let streams = by_endpoint(&entries, "/interop.Echo/ServerStream", 2);
    let failed = streams
        .iter()
        .find(|e| e.outcome != Outcome::Success)
        .unwrap();
    assert_eq!(failed.grpc.as_ref().unwrap().status, "PERMISSION_DENIED");
    assert_eq!(failed.outcome, Outcome::ClientError);
    assert!(failed.response_bytes.unwrap() > 0);
    let good = streams
        .iter()
        .find(|e| e.outcome == Outcome::Success)
        .unwrap();
    assert_eq!(good.grpc.as_ref().unwrap().code, 0);
}

/// An interceptor's refusal and a method nobody serves.
#[tokio::test]
async fn interceptor_refusals_and_unimplemented_methods_are_failures() {
    let (auditor, sink) = auditor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let check = |req: Request<()>| match req.metadata().get("authorization") {
        Some(token) if token == "Bearer let-me-in-0123456789" => Ok(req),
        _ => Err(Status::unauthenticated("no valid token")),
    };
    tokio::spawn(
        Server::builder()
            .layer(AuditLayer::new(auditor))
            .add_service(EchoServer::with_interceptor(EchoService, check))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let mut echo = client(addr).await;
    let err = echo.unary(request("x", Code::Ok)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut authorised = Request::new(request("x", Code::Ok));
    authorised.metadata_mut().insert(
        "authorization",
        "Bearer let-me-in-0123456789".parse().unwrap(),
    );
    echo.unary(authorised).await.unwrap();
    // A method the server does not have.
    let mut grpc = tonic::client::Grpc::new(
        Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<EchoRequest, EchoReply>::default();
    let path = http::uri::PathAndQuery::from_static("/interop.Nope/Missing");
    let err = grpc
        .unary(Request::new(request("x", Code::Ok)), path, codec)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);

    let entries = entries(&sink, 3).await;
    let unary = by_endpoint(&entries, "/interop.Echo/Unary", 2);
    let refused = unary
        .iter()
        .find(|e| e.outcome != Outcome::Success)
        .unwrap();
    assert_eq!(refused.grpc.as_ref().unwrap().status, "UNAUTHENTICATED");
    assert_eq!(refused.outcome, Outcome::ClientError);
    let tokens: Vec<_> = unary
        .iter()
        .filter_map(|e| e.headers.get("authorization"))
        .collect();
    assert_eq!(tokens, ["[REDACTED]"]);
    let missing = by_endpoint(&entries, "/interop.Nope/Missing", 1)[0];
    assert_eq!(missing.grpc.as_ref().unwrap().status, "UNIMPLEMENTED");
    assert_eq!(missing.outcome, Outcome::ServerError);
}

/// A call past its `grpc-timeout` is a deadline, not a client that went away.
#[tokio::test]
async fn deadlines_are_recorded_as_deadlines() {
    let (auditor, sink) = auditor();
    let addr = serve_grpc(AuditLayer::new(auditor)).await;
    let mut echo = client(addr).await;
    let mut slow = Request::new(EchoRequest {
        delay_ms: 2000,
        ..request("slow", Code::Ok)
    });
    slow.set_timeout(Duration::from_millis(100));
    let err = echo.unary(slow).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{err:?}"
    );
    let entry = entries(&sink, 1).await.remove(0);
    let grpc = entry.grpc.as_ref().unwrap();
    assert_eq!(grpc.status, "DEADLINE_EXCEEDED");
    assert_eq!(entry.outcome, Outcome::ServerError);
    assert!(
        entry.error.as_deref().unwrap().contains("grpc-timeout 100"),
        "{entry:#?}"
    );
    assert_eq!(
        entry.headers["grpc-timeout"]
            .as_str()
            .map(|t| t.starts_with("10")),
        Some(true)
    );
}

/// A panicking handler: the gRPC client gets `INTERNAL` it can read, not a plain-text 500.
#[tokio::test]
async fn panics_are_answered_with_a_grpc_status() {
    let (auditor, sink) = auditor();
    let addr = serve_grpc(AuditLayer::new(auditor)).await;
    let mut echo = client(addr).await;
    let err = echo
        .unary(EchoRequest {
            panic: true,
            ..request("boom", Code::Ok)
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal, "{err:?}");
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.outcome, Outcome::Panic);
    assert_eq!(entry.error.as_deref(), Some("the echo handler exploded"));
    assert_eq!(entry.grpc.as_ref().unwrap().status, "INTERNAL");
    assert_eq!(entry.status_code, Some(200));
}

/// Health checks are probes, not audited calls; compression is recorded.
#[tokio::test]
async fn health_checks_are_not_audited_and_grpc_encoding_is_recorded() {
    let (auditor, sink) = auditor();
    let addr = serve_grpc(AuditLayer::new(auditor)).await;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for _ in 0..5 {
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
    }
    let mut echo = EchoClient::new(channel)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    echo.unary(request(&"compressible ".repeat(100), Code::Ok))
        .await
        .unwrap();
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.endpoint, "/interop.Echo/Unary");
    assert_eq!(entry.headers["grpc-encoding"], "gzip");
    assert_eq!(entry.response_encoding.as_deref(), Some("gzip"));
}

/// grpc-web over HTTP/1.1 (tonic-web on both ends): the status comes from the response head
/// for an immediate failure and from the trailer frame inside the body after messages.
#[tokio::test]
async fn grpc_web_status_is_read_from_the_head_and_the_trailer_frame() {
    let (auditor, sink) = auditor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .accept_http1(true)
            .layer(AuditLayer::new(auditor))
            .layer(tonic_web::GrpcWebLayer::new())
            .add_service(EchoServer::new(EchoService))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<tonic_web::GrpcWebCall<tonic::body::Body>>();
    let service = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebClientLayer::new())
        .service(http);
    let mut echo = EchoClient::with_origin(service, format!("http://{addr}").parse().unwrap());
    echo.unary(request("web", Code::Ok)).await.unwrap();
    let err = echo
        .unary(request("web", Code::NotFound))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mut stream = echo
        .server_stream(EchoRequest {
            count: 2,
            ..request("web", Code::Aborted)
        })
        .await
        .unwrap()
        .into_inner();
    let mut last = None;
    while let Some(item) = stream.next().await {
        last = Some(item);
    }
    assert_eq!(last.unwrap().unwrap_err().code(), Code::Aborted);

    let entries = entries(&sink, 3).await;
    let statuses: Vec<_> = entries
        .iter()
        .map(|e| (e.grpc.as_ref().unwrap().status.as_str(), e.outcome))
        .collect();
    assert!(statuses.contains(&("OK", Outcome::Success)), "{entries:#?}");
    assert!(
        statuses.contains(&("NOT_FOUND", Outcome::ClientError)),
        "{entries:#?}"
    );
    assert!(
        statuses.contains(&("ABORTED", Outcome::ClientError)),
        "{entries:#?}"
    );
    assert!(entries.iter().all(|e| e.headers["content-type"]
        .as_str()
        .unwrap()
        .starts_with("application/grpc-web")));
}

/// Many calls, one entry each.
#[tokio::test]
async fn a_thousand_calls_give_a_thousand_entries() {
    let (auditor, sink) = auditor();
    let addr = serve_grpc(AuditLayer::new(auditor)).await;
    let echo = client(addr).await;
    let calls = (0..1000).map(|i| {
        let mut echo = echo.clone();
        async move {
            echo.unary(request(&i.to_string(), Code::Ok))
                .await
                .map(|_| ())
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    let entries = entries(&sink, 1000).await;
    assert!(entries
        .iter()
        .all(|e| e.outcome == Outcome::Success && e.grpc.as_ref().unwrap().code == 0));
}
