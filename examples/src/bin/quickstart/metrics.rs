//! The quickstart's `/metrics`: the audit library's metrics (and any the application adds)
//! through `metrics-exporter-prometheus`, with the buckets `audit_core::metrics` documents.

use std::time::Duration;

use audit_core::metrics::{
    CALLS_DURATION, CALL_BUCKETS, OPERATIONS_DURATION, OPERATION_BUCKETS, WRITE_BUCKETS,
    WRITE_DURATION,
};
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Installs the Prometheus recorder for the whole process and keeps its histograms drained.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(CALLS_DURATION.into()), CALL_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(OPERATIONS_DURATION.into()), OPERATION_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(WRITE_DURATION.into()), WRITE_BUCKETS)?
        .install_recorder()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// `GET /metrics` in Prometheus' text format.
pub async fn render(handle: PrometheusHandle) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}
