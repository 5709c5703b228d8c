//! `/health` (with `/health/live` and `/health/ready` for orchestrators) and `/metrics`.

use std::sync::Arc;
use std::time::Duration;

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

/// 200 while the process serves HTTP at all (a liveness probe restarts it otherwise).
pub async fn live() -> Response {
    (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))).into_response()
}

/// How long the worker pool may stay away from the queue before the instance is not ready.
fn stall_limit(idle_poll: Duration) -> Duration {
    (idle_poll * 3).max(Duration::from_secs(30))
}

/// 200 when this instance can do its work: the database answers, every migration of this
/// build is applied and the worker pool keeps visiting the queue; 503 with the failing checks.
pub async fn ready(State(state): State<Arc<WebState>>) -> Response {
    let limit = Duration::from_secs(3);
    let database = match tokio::time::timeout(limit, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "ready: the database does not answer");
            Err("does not answer".to_string())
        }
        Err(_) => Err("timed out".to_string()),
    };
    let migrations = match tokio::time::timeout(limit, state.store.pending_migrations()).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(n)) => Err(format!("{n} not applied")),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "ready: cannot read the applied migrations");
            Err("cannot be read".to_string())
        }
        Err(_) => Err("timed out".to_string()),
    };
    let queue = match &state.pool {
        Some(pool) if !pool.polled_within(stall_limit(state.idle_poll)) => {
            Err("the worker pool has not visited the queue lately".to_string())
        }
        _ => Ok(()),
    };
    let checks = [
        ("database", database),
        ("migrations", migrations),
        ("queue", queue),
    ];
    let ok = checks.iter().all(|(_, r)| r.is_ok());
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, r)| {
            (
                name.to_string(),
                r.err().unwrap_or_else(|| "ok".into()).into(),
            )
        })
        .collect();
    let mut body = serde_json::Value::Object(body);
    body["status"] = if ok { "ready" } else { "unavailable" }.into();
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Series read from the database and the process at scrape time: the oldest runnable job,
/// calls in progress, running campaigns, the periodic work's last success and the leases.
async fn scrape_time_series(state: &WebState) {
    match state.store.oldest_runnable_wait().await {
        Ok(wait) => {
            metrics::gauge!("callops_jobs_oldest_runnable_seconds").set(wait.unwrap_or(0.0))
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the oldest job failed"),
    }
    match state.store.open_outbound().await {
        Ok(open) => {
            let under_way = open
                .iter()
                .filter(|c| c.status != crate::domain::OutboundStatus::Queued)
                .count();
            metrics::gauge!("callops_calls_in_progress").set(under_way as f64);
            metrics::gauge!("callops_calls_queued").set((open.len() - under_way) as f64);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading open calls failed"),
    }
    if let Ok(campaigns) = state.store.running_campaigns().await {
        for c in campaigns {
            if let Ok(counts) = state.store.campaign_counts(c.id).await {
                let id = c.id.to_string();
                metrics::gauge!("callops_campaign_contacts", "campaign" => id.clone(), "state" => "total")
                    .set(counts.total() as f64);
                metrics::gauge!("callops_campaign_contacts", "campaign" => id, "state" => "finished")
                    .set(counts.finished() as f64);
            }
        }
    }
    for s in state.schedules.all() {
        if let Some(t) = s.last_success {
            metrics::gauge!("callops_schedule_last_success_timestamp_seconds", "name" => s.name.clone())
                .set(t.timestamp() as f64);
        }
        metrics::gauge!("callops_schedule_interval_seconds", "name" => s.name.clone())
            .set(s.every_secs as f64);
    }
    if let Ok(leaders) = state.store.leaders().await {
        for l in leaders {
            metrics::gauge!("callops_leader_token", "work" => l.name).set(l.token as f64);
        }
    }
}

/// Prometheus text: job counts by kind and state (read at scrape time) plus the recorded series.
pub async fn metrics(State(state): State<Arc<WebState>>) -> Response {
    scrape_time_series(&state).await;
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
