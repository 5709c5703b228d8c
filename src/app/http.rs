//! The HTTP part: health, metrics, the API and provider webhooks (and Telegram's webhook route
//! when the bot runs in webhook mode), served until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::Parts;
use crate::analysis::pipeline::PipelineDeps;
use crate::config::Config;
use crate::store::Store;
use crate::telemetry::metrics_handle;
use crate::web::{self, WebState};

/// Binds `HTTP_ADDR` and serves; returns the address it listens on.
pub(super) async fn serve(
    cfg: &Config,
    store: Arc<dyn Store>,
    started: Instant,
    pipeline: Option<Arc<PipelineDeps>>,
    webhook: Option<axum::Router>,
    (calling, numbering): (
        Option<super::Calling>,
        Arc<crate::domain::numbering::Numbering>,
    ),
    parts: &mut Parts,
) -> anyhow::Result<SocketAddr> {
    if cfg.service.api_key.is_none() {
        tracing::warn!("API_KEY is not set: /api answers 403 until it is");
    }
    let state = Arc::new(WebState {
        dialer: calling.as_ref().map(|c| c.dialer.clone()),
        campaigns: calling.as_ref().map(|c| c.campaigns.clone()),
        campaign_defaults: calling.as_ref().map(|c| c.defaults.clone()),
        numbering,
        team_chat: cfg.telegram.chat_id,
        store,
        started,
        metrics: metrics_handle(),
        api_key: cfg.service.api_key.clone(),
        intake: pipeline.as_ref().map(|p| p.intake.clone()),
        views: pipeline.as_ref().map(|p| p.views.clone()),
        sources: pipeline
            .as_ref()
            .map(|p| p.sources.keys().cloned().collect())
            .unwrap_or_default(),
        schedules: parts.schedules.clone(),
        pool: parts.pool_stats.clone(),
        idle_poll: Duration::from_millis(500),
        novofon_secret: cfg
            .pbx
            .novofon_api_key
            .as_ref()
            .and(cfg.pbx.novofon_api_secret.clone()),
        novofon_window: Duration::from_secs(cfg.pbx.novofon_window_mins.max(1) * 60),
        novofon_timezone: cfg.pbx.novofon_timezone,
        zadarma_secret: cfg
            .pbx
            .zadarma_api_key
            .as_ref()
            .and(cfg.pbx.zadarma_api_secret.clone()),
        zadarma_timezone: cfg.pbx.zadarma_timezone,
        mango: cfg
            .pbx
            .mango_api_key
            .clone()
            .zip(cfg.pbx.mango_api_salt.clone()),
        timezone: cfg.service.timezone,
    });
    let listener = tokio::net::TcpListener::bind(cfg.service.http_addr)
        .await
        .with_context(|| format!("cannot listen on HTTP_ADDR={}", cfg.service.http_addr))?;
    let http_addr = listener.local_addr()?;
    let shutdown = parts.shutdown.clone();
    parts.spawn("http", async move {
        let mut app = web::router(state);
        if let Some(router) = webhook {
            app = app.merge(router);
        }
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = server.await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });
    Ok(http_addr)
}
