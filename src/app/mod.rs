//! The composition root: the only place that picks concrete backends and vendors. [`start`] is a
//! short list of steps, one module per part: `telegram` (the bot and the notifier), `pipeline`
//! (call sources, speech-to-text, the LLM, pollers), `agent` (rehearsals), `workers` (the pool and
//! its handlers, the digest schedule) and `http`. The telephony of outbound calling joins as a
//! part of its own. Tests call [`start`] on `127.0.0.1:0` against local fakes.

mod agent;
mod http;
mod pipeline;
mod speech;
mod telegram;
mod telephony;
mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::domain::Role;
use crate::jobs::leader::Leadership;
use crate::jobs::schedule::Schedules;
use crate::store::{self, Store, User};

pub use pipeline::{build_pipeline, call_sources};
pub use speech::Speech;

/// A running callops process.
pub struct RunningApp {
    /// Where the HTTP server listens (useful with port 0).
    pub http_addr: SocketAddr,
    pub store: Arc<dyn Store>,
    /// Cancel to shut everything down.
    pub shutdown: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

impl RunningApp {
    /// Shuts down and waits for every part to stop.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.wait().await;
    }

    /// Waits until every part has stopped (after `shutdown` is cancelled).
    pub async fn wait(self) {
        for (name, task) in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(part = name, error = %e, "task ended abnormally");
            }
        }
        self.store.close().await;
        tracing::info!("callops stopped");
    }
}

/// What the parts started share: the shutdown signal, their tasks and the schedule registry.
pub(crate) struct Parts {
    shutdown: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
    schedules: Arc<Schedules>,
    /// This process's claim to singleton work (pollers, schedules, the campaign tick, polling).
    leadership: Arc<Leadership>,
    /// The worker pool's counters (its last visit to the queue tells readiness).
    pool_stats: Option<Arc<crate::jobs::PoolStats>>,
}

impl Parts {
    fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push((name, tokio::spawn(task)));
    }
}

/// Opens the database and applies migrations.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = store::connect(&cfg.service.database_url)
        .await
        .with_context(|| {
            format!(
                "cannot open database {}",
                store::redact_url(&cfg.service.database_url)
            )
        })?;
    store.migrate().await.context("database migration failed")?;
    Ok(store)
}

/// Makes every `TELEGRAM_ADMINS` user an admin in the store.
async fn seed_admins(cfg: &Config, store: &dyn Store) -> anyhow::Result<()> {
    for admin in &cfg.telegram.admins {
        if let Ok(id) = i64::try_from(*admin) {
            store
                .upsert_user(&User {
                    telegram_id: id,
                    role: Role::Admin,
                    name: None,
                    added_by: None,
                })
                .await?;
        }
    }
    Ok(())
}

/// The shipped numbering plan ranges, with those imported into the database in their place.
pub(super) async fn load_numbering(store: &dyn Store) -> crate::domain::numbering::Numbering {
    use crate::domain::numbering::Numbering;
    let mut numbering = Numbering::shipped().clone();
    match store.numbering_tables().await {
        Ok(tables) => {
            for text in tables {
                match Numbering::parse_table(&text) {
                    Ok(imported) => numbering = numbering.updated_by(&imported),
                    Err(e) => {
                        tracing::warn!(error = %e, "an imported numbering table is unreadable; the shipped ranges stay")
                    }
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the imported numbering tables; the shipped ranges stay")
        }
    }
    tracing::info!(ranges = numbering.len(), "numbering plan loaded");
    numbering
}

/// Phone calling as the edges use it: single calls, campaigns and their chat messages.
#[derive(Clone)]
pub(super) struct Calling {
    pub dialer: Arc<crate::outbound::Dialer>,
    pub campaigns: Arc<crate::outbound::campaign_runner::CampaignRunner>,
    pub campaign_chat: Option<Arc<crate::outbound::campaign_chat::CampaignChat>>,
    pub defaults: crate::outbound::campaign_import::CampaignDefaults,
}

/// Starts everything configured; returns once the HTTP server listens.
pub async fn start(cfg: Config) -> anyhow::Result<RunningApp> {
    let started = Instant::now();
    let store = open_store(&cfg).await?;
    tracing::info!(backend = ?store.backend(), "database ready");
    seed_admins(&cfg, store.as_ref()).await?;
    let mut parts = Parts {
        shutdown: CancellationToken::new(),
        tasks: Vec::new(),
        schedules: Arc::new(Schedules::default()),
        leadership: Arc::new(Leadership::new(
            store.clone(),
            std::time::Duration::from_secs(cfg.service.leader_lease_secs),
        )),
        pool_stats: None,
    };
    let telegram = telegram::connect(&cfg).await?;
    let mut pool = workers::pool(&cfg, store.clone());
    parts.pool_stats = Some(pool.stats());
    let sources = call_sources(&cfg);
    let speech = Speech::new(&cfg);
    let pipeline = build_pipeline(&cfg, store.clone(), sources.clone(), pool.waker(), &speech)?;
    workers::register_messaging(&cfg, &mut pool, &store, telegram.as_ref(), &mut parts);
    pipeline::start(
        &cfg,
        &mut pool,
        pipeline.as_ref(),
        &sources,
        telegram.as_ref(),
        &mut parts,
    );
    let on = (pipeline.as_deref(), telegram.as_ref(), &speech);
    let calling = telephony::start(&cfg, &store, on, &mut pool, &mut parts).await?;
    let numbering = Arc::new(load_numbering(store.as_ref()).await);
    let shutdown = parts.shutdown.clone();
    parts.spawn("workers", pool.run(shutdown));
    let webhook = match telegram {
        Some(t) => {
            let rehearsal = agent::rehearsal(&cfg, pipeline.as_deref(), &speech).await?;
            let edges = telegram::BotParts {
                pipeline: pipeline.clone(),
                rehearsal,
                calling: calling.clone(),
                numbering: numbering.clone(),
            };
            telegram::start_bot(&cfg, t, &store, edges, &mut parts).await?
        }
        None => {
            tracing::warn!("TELEGRAM_BOT_TOKEN is not set: the bot and Telegram posting are off");
            None
        }
    };
    let http_addr = http::serve(
        &cfg,
        store.clone(),
        started,
        pipeline,
        webhook,
        (calling, numbering),
        &mut parts,
    )
    .await?;
    tracing::info!(%http_addr, "callops started");
    Ok(RunningApp {
        http_addr,
        store,
        shutdown: parts.shutdown,
        tasks: parts.tasks,
    })
}
