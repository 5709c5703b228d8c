//! The composition root: the only place that picks concrete backends and vendors. [`start`] wires
//! the store, the worker pool, the bot and the HTTP server and returns a handle; tests call it on
//! `127.0.0.1:0` against local fakes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use teloxide::dispatching::Dispatcher;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::Requester;
use teloxide::{ApiError, Bot, RequestError};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::analysis::pipeline::{PipelineDeps, PipelineSettings};
use crate::analysis::Profiles;
use crate::bot;
use crate::config::Config;
use crate::domain::Role;
use crate::i18n::Lang;
use crate::jobs::schedule::Schedules;
use crate::jobs::{PoolOptions, WorkerPool};
use crate::llm::LlmClient;
use crate::notify::{ChatPacer, Notifier, TelegramNotifier};
use crate::speech::OpenAiStt;
use crate::store::{self, Store, User};
use crate::telemetry::metrics_handle;
use crate::telephony::novofon_v1::{NovofonV1, NovofonV1Config};
use crate::telephony::novofon_v2::{NovofonV2, NovofonV2Config};
use crate::telephony::CallSource;
use crate::web::{self, WebState};
use crate::workers::digest::{self, DigestSend};
use crate::workers::poller;
use crate::workers::post_protocol::PostProtocol;
use crate::workers::process_call::ProcessCall;
use crate::workers::telegram_send::TelegramSend;
use chrono::Utc;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

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

/// The private chats of the administrators (a user's private chat id is their user id).
fn admin_chats(cfg: &Config) -> Vec<i64> {
    cfg.telegram_admins
        .iter()
        .filter_map(|&a| i64::try_from(a).ok())
        .collect()
}

/// The call sources configured (Novofon 1.0 and/or 2.0).
pub fn call_sources(cfg: &Config) -> HashMap<String, Arc<dyn CallSource>> {
    let mut sources: HashMap<String, Arc<dyn CallSource>> = HashMap::new();
    let backoff = Duration::from_millis(cfg.retry_base_ms);
    if let (Some(key), Some(secret)) = (&cfg.novofon_api_key, &cfg.novofon_api_secret) {
        let src = NovofonV1::new(NovofonV1Config {
            base_url: cfg.novofon_api_url.clone(),
            key: key.expose().to_string(),
            secret: secret.expose().to_string(),
            timezone: cfg.novofon_timezone,
            stats_interval: Duration::from_millis(cfg.novofon_stats_interval_ms),
            backoff: backoff.max(Duration::from_millis(100)),
            page_size: 1000,
            max_recording_bytes: cfg.max_recording_bytes(),
        });
        sources.insert(src.name().to_string(), Arc::new(src));
    }
    if let Some(token) = &cfg.novofon_access_token {
        let src = NovofonV2::new(NovofonV2Config {
            data_api_url: cfg.novofon_data_api_url.clone(),
            media_url: cfg.novofon_media_url.clone(),
            access_token: token.expose().to_string(),
            timezone: cfg.novofon_timezone,
            backoff: backoff.max(Duration::from_millis(100)),
            page_size: 1000,
            max_recording_bytes: cfg.max_recording_bytes(),
        });
        sources.insert(src.name().to_string(), Arc::new(src));
    }
    sources
}

/// The analysis pipeline, when an LLM key is configured.
pub fn build_pipeline(
    cfg: &Config,
    store: Arc<dyn Store>,
    sources: HashMap<String, Arc<dyn CallSource>>,
    waker: Arc<Notify>,
) -> anyhow::Result<Option<Arc<PipelineDeps>>> {
    let Some(key) = &cfg.openai_api_key else {
        return Ok(None);
    };
    let profiles =
        Profiles::load(cfg.prompts_dir.as_deref()).context("loading analysis profiles")?;
    for name in std::iter::once(&cfg.profile).chain(cfg.profile_by_number.iter().map(|(_, p)| p)) {
        if profiles.get(name).is_none() {
            anyhow::bail!(
                "unknown analysis profile {name:?} (PROFILE / PROFILE_BY_NUMBER); known: {}",
                profiles.names().join(", ")
            );
        }
    }
    let backoff = Duration::from_millis(cfg.retry_base_ms);
    let stt = OpenAiStt::new(&cfg.openai_base_url, key.expose(), &cfg.stt_model)
        .with_backoff(backoff, Duration::from_secs(300));
    let llm = LlmClient::new(
        &cfg.openai_base_url,
        key.expose(),
        &cfg.llm_model,
        cfg.llm_json_mode,
        cfg.llm_prices.clone(),
    );
    Ok(Some(Arc::new(PipelineDeps {
        store,
        sources,
        stt: Arc::new(stt),
        llm: Arc::new(llm),
        profiles: Arc::new(profiles),
        settings: PipelineSettings {
            our_numbers: cfg.novofon_numbers.clone(),
            min_call_secs: cfg.min_call_secs,
            recording_delay: Duration::from_secs(cfg.recording_delay_secs),
            max_recording: Duration::from_secs(cfg.max_recording_minutes.saturating_mul(60)),
            channel_roles: cfg.channel_roles.clone(),
            default_profile: cfg.profile.clone(),
            profile_by_number: cfg.profile_by_number.clone(),
            team_chat: cfg.telegram_chat_id,
            admins: admin_chats(cfg),
            chat_by_number: cfg.chat_by_number.clone(),
            timezone: cfg.timezone,
            lang: Lang::Ru,
            fewshot_examples: cfg.fewshot_examples,
        },
        waker,
    })))
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
    let schedules = Arc::new(Schedules::default());

    let telegram = telegram_bot(&cfg)?;
    if let Some((bot, _)) = &telegram {
        check_token(bot).await?;
    }
    let notifier: Option<Arc<dyn Notifier>> = telegram.as_ref().map(|(bot, token)| {
        let pacer = Arc::new(ChatPacer::new(
            Duration::from_millis(cfg.telegram_chat_interval_ms),
            Duration::from_millis(cfg.telegram_group_interval_ms),
        ));
        Arc::new(TelegramNotifier::new(bot.clone(), pacer, token)) as Arc<dyn Notifier>
    });

    // Workers.
    let mut pool = WorkerPool::new(
        store.clone(),
        PoolOptions {
            name: "main".into(),
            concurrency: cfg.worker_concurrency,
            lease: Duration::from_secs(cfg.job_lease_secs),
            backoff: crate::jobs::Backoff {
                base: Duration::from_millis(cfg.job_retry_base_ms.max(1)),
                cap: Duration::from_secs(15 * 60),
            },
            ..PoolOptions::default()
        },
    );
    let sources = call_sources(&cfg);
    let pipeline = build_pipeline(&cfg, store.clone(), sources.clone(), pool.waker())?;
    if let Some(n) = &notifier {
        pool.register(Arc::new(TelegramSend {
            store: store.clone(),
            notifier: n.clone(),
            admins: admin_chats(&cfg),
        }));
        pool.register(Arc::new(DigestSend {
            store: store.clone(),
            notifier: n.clone(),
            lang: Lang::Ru,
        }));
        tasks.push((
            "digests",
            tokio::spawn(run_digest_scheduler(
                store.clone(),
                pool.waker(),
                schedules.clone(),
                shutdown.clone(),
            )),
        ));
    }
    match &pipeline {
        Some(p) => {
            pool.register(Arc::new(ProcessCall { deps: p.clone() }));
            match &notifier {
                Some(n) => pool.register(Arc::new(PostProtocol {
                    deps: p.clone(),
                    notifier: n.clone(),
                })),
                None => tracing::warn!("no Telegram token: protocols are stored but not posted"),
            }
            if cfg.telegram_chat_id.is_none() && cfg.chat_by_number.is_empty() {
                tracing::warn!("TELEGRAM_CHAT_ID is not set: protocols have no chat to go to");
            }
            for source in sources.values() {
                tasks.push((
                    "poller",
                    tokio::spawn(poller::run(
                        p.clone(),
                        source.clone(),
                        Duration::from_secs(cfg.novofon_poll_secs.max(1)),
                        Duration::from_secs(cfg.novofon_window_mins.max(1) * 60),
                        schedules.clone(),
                        shutdown.clone(),
                    )),
                ));
            }
            if sources.is_empty() {
                tracing::warn!("no telephony source configured (NOVOFON_API_KEY/SECRET or NOVOFON_ACCESS_TOKEN)");
            }
        }
        None => tracing::warn!("OPENAI_API_KEY is not set: call analysis is off"),
    }
    let pool_shutdown = shutdown.clone();
    tasks.push(("workers", tokio::spawn(pool.run(pool_shutdown))));

    // Bot: long polling, or a webhook route on our HTTP server.
    let mut webhook_router = None;
    if let Some((bot, _)) = telegram {
        let rehearsal = build_rehearsal(&cfg, pipeline.as_deref())?;
        if let Some(r) = &rehearsal {
            match r.restore().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rehearsals = n, "rehearsals restored"),
                Err(e) => tracing::warn!(error = %e, "restoring rehearsals failed"),
            }
        }
        let deps = Arc::new(bot::BotDeps {
            store: store.clone(),
            admins: cfg.telegram_admins.clone(),
            team_chat: cfg.telegram_chat_id,
            team_chats: cfg
                .telegram_chat_id
                .into_iter()
                .chain(cfg.chat_by_number.iter().map(|(_, c)| *c))
                .collect(),
            pipeline: pipeline.clone(),
            notifier: notifier.clone(),
            timezone: cfg.timezone,
            rehearsal,
        });
        match &cfg.telegram_webhook_url {
            None => tasks.push(("bot", tokio::spawn(run_bot(bot, deps, shutdown.clone())))),
            Some(url) => {
                let url = reqwest::Url::parse(url).context("TELEGRAM_WEBHOOK_URL")?;
                let mut opts =
                    teloxide::update_listeners::webhooks::Options::new(cfg.http_addr, url);
                if let Some(secret) = &cfg.telegram_webhook_secret {
                    opts = opts.secret_token(secret.expose().to_string());
                }
                let (listener, _stop, router) =
                    teloxide::update_listeners::webhooks::axum_to_router(bot.clone(), opts)
                        .await
                        .map_err(|e| anyhow::anyhow!("setWebhook failed: {e}"))?;
                tracing::info!("Telegram webhook mode: updates arrive on our HTTP server");
                webhook_router = Some(router);
                let shutdown = shutdown.clone();
                tasks.push((
                    "bot",
                    tokio::spawn(async move {
                        if let Err(e) = bot::register_commands(&bot).await {
                            tracing::warn!(error = %e, "registering the command menu failed");
                        }
                        let mut dispatcher = build_dispatcher(bot, deps);
                        let token = dispatcher.shutdown_token();
                        tokio::spawn(stop_dispatcher(token, shutdown));
                        dispatcher
                            .dispatch_with_listener(
                                listener,
                                LoggingErrorHandler::with_custom_text("webhook listener"),
                            )
                            .await;
                    }),
                ));
            }
        }
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
        pipeline,
        schedules,
        novofon_secret: cfg
            .novofon_api_key
            .as_ref()
            .and(cfg.novofon_api_secret.clone()),
        novofon_window: Duration::from_secs(cfg.novofon_window_mins.max(1) * 60),
        novofon_timezone: cfg.novofon_timezone,
        timezone: cfg.timezone,
    });
    let listener = tokio::net::TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("cannot listen on HTTP_ADDR={}", cfg.http_addr))?;
    let http_addr = listener.local_addr()?;
    let http_shutdown = shutdown.clone();
    tasks.push((
        "http",
        tokio::spawn(async move {
            let mut app = web::router(state);
            if let Some(router) = webhook_router {
                app = app.merge(router);
            }
            let server = axum::serve(listener, app)
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

/// Checks every minute (tokio-cron-scheduler) which chats' digests are due, and once right away
/// so a digest missed while the process was down goes out once on start.
async fn run_digest_scheduler(
    store: Arc<dyn Store>,
    waker: Arc<Notify>,
    schedules: Arc<Schedules>,
    shutdown: CancellationToken,
) {
    const NAME: &str = "digest";
    schedules.register(NAME, 60);
    let tick = {
        let (store, waker, schedules) = (store.clone(), waker.clone(), schedules.clone());
        move || {
            let (store, waker, schedules) = (store.clone(), waker.clone(), schedules.clone());
            async move {
                schedules.started(NAME);
                let next = Utc::now() + chrono::Duration::seconds(60);
                match digest::enqueue_due(store.as_ref(), Utc::now()).await {
                    Ok(chats) => {
                        if !chats.is_empty() {
                            tracing::info!(?chats, "daily digests queued");
                            waker.notify_waiters();
                        }
                        schedules.succeeded(NAME, next);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "checking digests failed");
                        schedules.failed(NAME, &e.to_string(), next);
                    }
                }
            }
        }
    };
    tick().await;
    let mut scheduler = match JobScheduler::new().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "the digest scheduler could not start");
            return;
        }
    };
    let job = CronJob::new_async("0 * * * * *", move |_id, _sched| {
        let tick = tick.clone();
        Box::pin(async move { tick().await })
    });
    let started = match job {
        Ok(job) => scheduler.add(job).await.is_ok() && scheduler.start().await.is_ok(),
        Err(_) => false,
    };
    if !started {
        tracing::error!("the digest scheduler could not start");
        return;
    }
    shutdown.cancelled().await;
    let _ = scheduler.shutdown().await;
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

fn build_dispatcher(
    bot: Bot,
    deps: Arc<bot::BotDeps>,
) -> Dispatcher<Bot, bot::BotError, teloxide::dispatching::DefaultKey> {
    Dispatcher::builder(bot, bot::schema())
        .dependencies(dptree::deps![deps])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("bot handler failed"))
        .build()
}

/// Stops the dispatcher when the process shuts down (retrying while it is still starting).
async fn stop_dispatcher(token: teloxide::dispatching::ShutdownToken, shutdown: CancellationToken) {
    shutdown.cancelled().await;
    for _ in 0..50 {
        match token.shutdown() {
            Ok(done) => {
                done.await;
                return;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
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
    let mut dispatcher = build_dispatcher(bot, deps);
    let stopper = tokio::spawn(stop_dispatcher(dispatcher.shutdown_token(), shutdown));
    tracing::info!("bot polling for updates");
    dispatcher.dispatch().await;
    stopper.abort();
}

/// Rehearsals use the pipeline's LLM and speech-to-text plus a text-to-speech client.
fn build_rehearsal(
    cfg: &Config,
    pipeline: Option<&PipelineDeps>,
) -> anyhow::Result<Option<Arc<crate::agent::rehearsal::RehearsalDeps>>> {
    let (Some(p), Some(key)) = (pipeline, cfg.openai_api_key.as_ref()) else {
        return Ok(None);
    };
    let scripts = crate::agent::Scripts::load(cfg.agent_scripts_dir.as_deref())
        .context("loading agent scripts")?;
    if scripts.get(&cfg.agent_script).is_none() {
        anyhow::bail!(
            "AGENT_SCRIPT={:?} is not a known script ({})",
            cfg.agent_script,
            scripts.names().join(", ")
        );
    }
    let tts = crate::speech::OpenAiTts::new(
        &cfg.openai_base_url,
        key.expose(),
        &cfg.tts_model,
        &cfg.tts_voice,
    );
    Ok(Some(Arc::new(crate::agent::rehearsal::RehearsalDeps::new(
        p.llm.clone(),
        p.stt.clone(),
        Arc::new(tts),
        Arc::new(scripts),
        cfg.agent_script.clone(),
        cfg.max_dialog_turns,
        p.store.clone(),
    ))))
}
