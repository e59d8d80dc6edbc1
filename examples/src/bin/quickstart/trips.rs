//! `POST /api/v1/trips`: booking a trip is a saga of three reservations; when one fails, the
//! ones already made are cancelled, last first. Each step and each cancellation is an audited
//! operation linked to the saga, and the saga shares the request's correlation id:
//!
//! ```sh
//! curl -s localhost:3000/api/v1/trips -H 'content-type: application/json' \
//!   -d '{"destination":"Lisbon","fail_at":"reserve_car"}'
//! audit operations audit_logs --compensated
//! audit show audit_logs <the saga's operation id, in the response>
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use audit_core::{audited, Auditor};
use audit_tower::AuditCall;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct TripRequest {
    destination: String,
    /// For trying it out: the step that finds no availability.
    #[serde(default)]
    fail_at: Option<String>,
}

static RESERVATIONS: AtomicU64 = AtomicU64::new(1);

/// A reservation at a provider: fails when the request asked this step to.
async fn reserve(step: &str, destination: &str, fail_at: Option<&str>) -> Result<String, String> {
    if fail_at == Some(step) {
        return Err(format!("no availability for {destination}"));
    }
    let id = RESERVATIONS.fetch_add(1, Ordering::Relaxed);
    Ok(format!("{}-{id}", &step["reserve_".len()..].to_uppercase()))
}

/// Cancels a reservation (the compensation).
async fn cancel(reservation: String) -> Result<(), String> {
    tracing::info!(%reservation, "reservation cancelled");
    Ok(())
}

#[audited("trip_book")]
pub async fn book_trip(
    State(auditor): State<Auditor>,
    audit: AuditCall,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request: TripRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"detail": format!("expected {{destination, fail_at?}}: {e}")})),
            )
                .into_response()
        }
    };
    let mut saga = auditor
        .operation("trip_saga")
        .tenant("demo")
        .tag("booking")
        .input(json!({"destination": request.destination}));
    // The request's correlation id (the layer sets one when the client sent none).
    if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        saga = saga.correlation_id(id);
    }
    let mut saga = saga.start_saga();
    let saga_id = saga.id().map(|id| id.to_string());
    audit.field("saga_id", saga_id.clone());
    let (destination, fail_at) = (&request.destination, request.fail_at.as_deref());
    let mut booked = Vec::new();
    for step in ["reserve_flight", "reserve_hotel", "reserve_car"] {
        match saga
            .step_compensable(step, reserve(step, destination, fail_at), |r: &String| {
                cancel(r.clone())
            })
            .await
        {
            Ok(reservation) => booked.push(reservation),
            Err(failure) => {
                let cancelled: Vec<String> = failure
                    .compensations()
                    .iter()
                    .map(|c| c.step.clone())
                    .collect();
                return (
                    StatusCode::CONFLICT,
                    Json(json!({
                        "detail": failure.to_string(),
                        "saga_id": saga_id,
                        "compensated": cancelled,
                    })),
                )
                    .into_response();
            }
        }
    }
    saga.complete(json!({"reservations": booked}));
    (
        StatusCode::CREATED,
        Json(json!({"saga_id": saga_id, "reservations": booked})),
    )
        .into_response()
}
