//! `/health` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::auth::has_api_key;
use super::WebState;
use crate::store::JobState;

/// 200 with version and uptime when the database answers; 503 otherwise. The database's own
/// error text goes to the log and to callers with the API key, not to anyone who asks.
pub async fn health(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let db = tokio::time::timeout(std::time::Duration::from_secs(3), state.store.ping()).await;
    let (status, database) = match db {
        Ok(Ok(())) => (StatusCode::OK, "ok".to_string()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: the database does not answer");
            let shown = if has_api_key(&state, &headers) {
                format!("error: {e}")
            } else {
                "error".to_string()
            };
            (StatusCode::SERVICE_UNAVAILABLE, shown)
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "error: timed out".to_string(),
        ),
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
        "database": database,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.started.elapsed().as_secs(),
    });
    (status, Json(body)).into_response()
}

/// Prometheus text: job counts by kind and state (read at scrape time) plus the recorded series.
pub async fn metrics(State(state): State<Arc<WebState>>) -> Response {
    match state.store.job_counts().await {
        Ok(counts) => {
            let kinds: std::collections::BTreeSet<String> =
                counts.iter().map(|c| c.kind.clone()).collect();
            for kind in kinds {
                for st in JobState::ALL {
                    let n = counts
                        .iter()
                        .find(|c| c.kind == kind && c.state == st)
                        .map_or(0, |c| c.count);
                    metrics::gauge!("callops_jobs", "kind" => kind.clone(), "state" => st.as_str())
                        .set(n as f64);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: counting jobs failed"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
