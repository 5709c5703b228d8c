//! The composition root: the only place that picks concrete backends and vendors. [`start`] wires
//! the store, the worker pool, the bot and the HTTP server and returns a handle; tests call it on
//! `127.0.0.1:0` against local fakes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use teloxide::dispatching::Dispatcher;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::Requester;
use teloxide::{ApiError, Bot, RequestError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::bot;
use crate::config::Config;
use crate::domain::Role;
use crate::jobs::{PoolOptions, WorkerPool};
use crate::notify::{ChatPacer, Notifier, TelegramNotifier};
use crate::store::{self, Store, User};
use crate::telemetry::metrics_handle;
use crate::web::{self, WebState};
use crate::workers::telegram_send::TelegramSend;

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

/// Opens the database and applies migrations.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = store::connect(&cfg.database_url).await.with_context(|| {
        format!(
            "cannot open database {}",
            store::redact_url(&cfg.database_url)
        )
    })?;
    store.migrate().await.context("database migration failed")?;
    Ok(store)
}

fn telegram_bot(cfg: &Config) -> anyhow::Result<Option<(Bot, String)>> {
    let Some(token) = cfg.telegram_bot_token.as_ref() else {
        return Ok(None);
    };
    let url = reqwest::Url::parse(&cfg.telegram_api_url).context("TELEGRAM_API_URL")?;
    let bot = Bot::new(token.expose()).set_api_url(url);
    Ok(Some((bot, token.expose().to_string())))
}

/// Starts everything configured; returns once the HTTP server listens.
pub async fn start(cfg: Config) -> anyhow::Result<RunningApp> {
    let started = Instant::now();
    let store = open_store(&cfg).await?;
    tracing::info!(backend = ?store.backend(), "database ready");
    for admin in &cfg.telegram_admins {
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

    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();

    let telegram = telegram_bot(&cfg)?;
    if let Some((bot, _)) = &telegram {
        check_token(bot).await?;
    }

    // Workers.
    let mut pool = WorkerPool::new(
        store.clone(),
        PoolOptions {
            name: "main".into(),
            concurrency: cfg.worker_concurrency,
            lease: Duration::from_secs(cfg.job_lease_secs),
            ..PoolOptions::default()
        },
    );
    if let Some((bot, token)) = &telegram {
        let pacer = Arc::new(ChatPacer::new(
            Duration::from_millis(cfg.telegram_chat_interval_ms),
            Duration::from_millis(cfg.telegram_group_interval_ms),
        ));
        let notifier: Arc<dyn Notifier> =
            Arc::new(TelegramNotifier::new(bot.clone(), pacer, token));
        pool.register(Arc::new(TelegramSend {
            store: store.clone(),
            notifier,
        }));
    }
    let pool_shutdown = shutdown.clone();
    tasks.push(("workers", tokio::spawn(pool.run(pool_shutdown))));

    // Bot.
    if let Some((bot, _)) = telegram {
        let deps = Arc::new(bot::BotDeps {
            store: store.clone(),
            admins: cfg.telegram_admins.clone(),
            team_chat: cfg.telegram_chat_id,
        });
        tasks.push(("bot", tokio::spawn(run_bot(bot, deps, shutdown.clone()))));
    } else {
        tracing::warn!("TELEGRAM_BOT_TOKEN is not set: the bot and Telegram posting are off");
    }

    // HTTP.
    if cfg.api_key.is_none() {
        tracing::warn!("API_KEY is not set: /api answers 403 until it is");
    }
    let state = Arc::new(WebState {
        store: store.clone(),
        started,
        metrics: metrics_handle(),
        api_key: cfg.api_key.clone(),
    });
    let listener = tokio::net::TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("cannot listen on HTTP_ADDR={}", cfg.http_addr))?;
    let http_addr = listener.local_addr()?;
    let http_shutdown = shutdown.clone();
    tasks.push((
        "http",
        tokio::spawn(async move {
            let server = axum::serve(listener, web::router(state))
                .with_graceful_shutdown(async move { http_shutdown.cancelled().await });
            if let Err(e) = server.await {
                tracing::error!(error = %e, "HTTP server failed");
            }
        }),
    ));
    tracing::info!(%http_addr, "callops started");
    Ok(RunningApp {
        http_addr,
        store,
        shutdown,
        tasks,
    })
}

/// Fails fast on a token Telegram rejects; network trouble is left to the poller's retries.
async fn check_token(bot: &Bot) -> anyhow::Result<()> {
    match bot.get_me().await {
        Ok(me) => {
            tracing::info!(bot = %me.username(), "Telegram bot authorised");
            Ok(())
        }
        Err(RequestError::Api(ApiError::InvalidToken)) => {
            anyhow::bail!("Telegram rejected TELEGRAM_BOT_TOKEN (check it with @BotFather)")
        }
        Err(RequestError::Api(ApiError::Unknown(text)))
            if text.contains("Not Found") || text.contains("Unauthorized") =>
        {
            anyhow::bail!("Telegram rejected TELEGRAM_BOT_TOKEN: {text} (check it with @BotFather)")
        }
        Err(e) => {
            tracing::warn!(error = %e, "Telegram is not reachable yet; the bot will keep trying");
            Ok(())
        }
    }
}

async fn run_bot(bot: Bot, deps: Arc<bot::BotDeps>, shutdown: CancellationToken) {
    // Wait for Telegram to answer before the dispatcher starts (it needs getMe).
    let mut delay = Duration::from_secs(1);
    loop {
        match bot.get_me().await {
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?delay, "Telegram getMe failed");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }
    }
    if let Err(e) = bot::register_commands(&bot).await {
        tracing::warn!(error = %e, "registering the command menu failed");
    }
    let mut dispatcher = Dispatcher::builder(bot, bot::schema())
        .dependencies(dptree::deps![deps])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("bot handler failed"))
        .build();
    let token = dispatcher.shutdown_token();
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        // The dispatcher may still be starting; retry until it accepts the request.
        for _ in 0..50 {
            match token.shutdown() {
                Ok(done) => {
                    done.await;
                    return;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    tracing::info!("bot polling for updates");
    dispatcher.dispatch().await;
    stopper.abort();
}
