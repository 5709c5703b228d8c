//! The JSON API (behind the API key): jobs for now; calls and stats join it with the pipeline.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::auth::{error, store_error};
use super::WebState;
use crate::store::Job;

pub fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/jobs", get(job_counts))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/requeue", post(requeue))
}

async fn job_counts(State(state): State<Arc<WebState>>) -> Response {
    match state.store.job_counts().await {
        Ok(counts) => {
            let items: Vec<_> = counts
                .iter()
                .map(|c| serde_json::json!({"kind": c.kind, "state": c.state, "count": c.count}))
                .collect();
            Json(serde_json::json!({ "jobs": items })).into_response()
        }
        Err(e) => store_error(e),
    }
}

fn job_json(j: &Job) -> serde_json::Value {
    serde_json::json!({
        "id": j.id, "kind": j.kind, "state": j.state, "attempts": j.attempts,
        "max_attempts": j.max_attempts, "last_error": j.last_error, "run_after": j.run_after,
        "idempotency_key": j.idempotency_key,
    })
}

async fn job(State(state): State<Arc<WebState>>, Path(id): Path<i64>) -> Response {
    match state.store.job(id).await {
        Ok(Some(j)) => Json(serde_json::json!({ "job": job_json(&j) })).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such job"),
        Err(e) => store_error(e),
    }
}

async fn requeue(State(state): State<Arc<WebState>>, Path(id): Path<i64>) -> Response {
    match state.store.requeue(id).await {
        Ok(true) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"requeued": id})),
        )
            .into_response(),
        Ok(false) => error(
            StatusCode::CONFLICT,
            "the job is not finished (or does not exist)",
        ),
        Err(e) => store_error(e),
    }
}
