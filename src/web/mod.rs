//! The HTTP server (axum): `/health`, `/metrics` and the JSON API under `/api` (which needs the
//! `X-API-Key` header). Provider webhooks and Telegram webhook mode mount here too.

mod api;
mod auth;
mod calls;
mod campaigns;
mod health;
mod outbound;
mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::analysis::pipeline::{CallIntake, ProtocolViews};
use crate::config::Secret;
use crate::jobs::schedule::Schedules;
use crate::store::Store;

/// Shared state of every route.
pub struct WebState {
    pub store: Arc<dyn Store>,
    pub started: Instant,
    pub metrics: PrometheusHandle,
    pub api_key: Option<Secret>,
    /// Taking calls in (webhooks) and queueing re-analyses, when analysis is on.
    pub intake: Option<Arc<CallIntake>>,
    /// The call sources polled (their provider names), when analysis is on.
    pub sources: Vec<String>,
    /// The analysis profiles, when analysis is on.
    pub views: Option<Arc<ProtocolViews>>,
    pub schedules: Arc<Schedules>,
    /// The worker pool's counters, for readiness (`None` in tools that run no pool).
    pub pool: Option<Arc<crate::jobs::PoolStats>>,
    /// How often the pool visits an idle queue.
    pub idle_poll: std::time::Duration,
    /// Verifies Novofon webhooks; set only when the statistics are polled too (they confirm
    /// every webhook call).
    pub novofon_secret: Option<Secret>,
    pub novofon_timezone: chrono_tz::Tz,
    /// The polling window: a webhook about a call that started earlier (or in the future) is a
    /// replay and is refused.
    pub novofon_window: std::time::Duration,
    /// Verifies Zadarma webhooks (set only when Zadarma is polled too).
    pub zadarma_secret: Option<Secret>,
    pub zadarma_timezone: chrono_tz::Tz,
    /// Verifies Mango's events: its key and salt (set only when Mango is polled too).
    pub mango: Option<(Secret, Secret)>,
    pub timezone: chrono_tz::Tz,
    /// Places outbound calls, when telephony is configured.
    pub dialer: Option<Arc<crate::outbound::Dialer>>,
    /// Where the protocols of calls placed through the API go.
    pub team_chat: Option<i64>,
    /// The campaign dialer, when telephony is configured.
    pub campaigns: Option<Arc<crate::outbound::campaign_runner::CampaignRunner>>,
    pub campaign_defaults: Option<crate::outbound::campaign_import::CampaignDefaults>,
    /// Number → region → time zone, for contacts sent through the API.
    pub numbering: Arc<crate::domain::numbering::Numbering>,
}

/// The whole HTTP app.
pub fn router(state: Arc<WebState>) -> Router {
    let api = api::routes()
        .route("/calls", get(calls::list).post(outbound::create))
        .route("/calls/{id}", get(outbound::detail))
        .route("/calls/{id}/messages", get(outbound::messages))
        .route("/calls/{id}/hangup", post(outbound::hangup))
        .route("/calls/{id}/reanalyze", post(calls::reanalyze))
        .route("/sources/{name}/days/{day}", post(calls::read_day))
        .merge(campaign_routes())
        .route("/stats", get(calls::stats))
        .route("/scheduler", get(calls::scheduler))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ));
    Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route(
            "/webhooks/novofon",
            get(webhooks::novofon_echo).post(webhooks::novofon_event),
        )
        .route(
            "/webhooks/zadarma",
            get(webhooks::novofon_echo).post(webhooks::zadarma_event),
        )
        .route("/webhooks/mango/{*event}", post(webhooks::mango_event))
        .nest("/api", api)
        .layer(middleware::from_fn(track_requests))
        .with_state(state)
}

/// `/api/campaigns…`, whose bodies (bulk contacts) may be larger than the default limit.
fn campaign_routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/campaigns", get(campaigns::list).post(campaigns::create))
        .route("/campaigns/{id}", get(campaigns::detail))
        .route("/campaigns/{id}/contacts", post(campaigns::add))
        .route("/campaigns/{id}/{action}", post(campaigns::act))
        .layer(axum::extract::DefaultBodyLimit::max(campaigns::BODY_LIMIT))
}

/// Counts requests by route template and status, and times them.
async fn track_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("callops_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("callops_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    resp
}
