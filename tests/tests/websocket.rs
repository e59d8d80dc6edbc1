//! A websocket upgrade through the layer over HTTP/1.1, driven by tokio-tungstenite: the
//! upgrade works, the echo works, and the call is one entry with status 101.

mod support;

use audit_core::Outcome;
use audit_tower::AuditLayer;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use support::{auditor, entries, serve};
use tokio_tungstenite::tungstenite;

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Close(_)) || socket.send(message).await.is_err() {
            break;
        }
    }
}

#[tokio::test]
async fn a_websocket_upgrade_is_one_entry_and_still_works() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }),
        )
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    let (mut socket, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("upgrade");
    assert_eq!(response.status(), 101);
    for i in 0..3 {
        socket
            .send(tungstenite::Message::text(format!("hello {i}")))
            .await
            .unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        assert_eq!(reply.into_text().unwrap().as_str(), format!("hello {i}"));
    }
    socket.close(None).await.unwrap();
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.status_code, Some(101));
    assert_eq!(entry.outcome, Outcome::Success);
    assert_eq!(entry.route.as_deref(), Some("/ws"));
    assert_eq!(entry.headers.get("authorization"), None);
}
