//! The Telegram part: the bot (its token checked at start), the notifier workers post through,
//! and the update listener: long polling, or a webhook route mounted on our HTTP server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use teloxide::dispatching::Dispatcher;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::Requester;
use teloxide::{ApiError, Bot, RequestError};
use tokio_util::sync::CancellationToken;

use super::Parts;
use crate::agent::rehearsal::RehearsalDeps;
use crate::analysis::pipeline::PipelineDeps;
use crate::bot;
use crate::config::Config;
use crate::notify::{ChatPacer, Notifier, TelegramNotifier};
use crate::store::Store;

/// The bot and the notifier built on it.
pub(super) struct Telegram {
    pub bot: Bot,
    pub notifier: Arc<dyn Notifier>,
}

/// The bot when a token is configured (a token Telegram rejects stops the start).
pub(super) async fn connect(cfg: &Config) -> anyhow::Result<Option<Telegram>> {
    let Some((bot, token)) = telegram_bot(cfg)? else {
        return Ok(None);
    };
    check_token(&bot).await?;
    let pacer = Arc::new(ChatPacer::new(
        Duration::from_millis(cfg.telegram.chat_interval_ms),
        Duration::from_millis(cfg.telegram.group_interval_ms),
    ));
    let notifier = Arc::new(TelegramNotifier::new(bot.clone(), pacer, &token));
    Ok(Some(Telegram { bot, notifier }))
}

fn telegram_bot(cfg: &Config) -> anyhow::Result<Option<(Bot, String)>> {
    let Some(token) = cfg.telegram.bot_token.as_ref() else {
        return Ok(None);
    };
    let url = reqwest::Url::parse(&cfg.telegram.api_url).context("TELEGRAM_API_URL")?;
    let bot = Bot::with_client(token.expose(), telegram_client()?).set_api_url(url);
    Ok(Some((bot, token.expose().to_string())))
}

/// teloxide's HTTP client (its own reqwest), trusting `EXTRA_CA_CERTS` too (a Bot API proxy
/// behind a Russian certificate).
fn telegram_client() -> anyhow::Result<reqwest012::Client> {
    let Some(pem) = crate::http::extra_ca_pem() else {
        return Ok(teloxide::net::client_from_env());
    };
    let mut builder = teloxide::net::default_reqwest_settings();
    for cert in reqwest012::Certificate::from_pem_bundle(pem).context("EXTRA_CA_CERTS")? {
        builder = builder.add_root_certificate(cert);
    }
    builder.build().context("building the Telegram client")
}

/// The other parts the bot serves, each when configured.
pub(super) struct BotParts {
    pub pipeline: Option<Arc<PipelineDeps>>,
    pub rehearsal: Option<Arc<RehearsalDeps>>,
    pub calling: Option<super::Calling>,
    pub numbering: Arc<crate::domain::numbering::Numbering>,
}

/// Starts the bot; in webhook mode returns the route to mount on the HTTP server.
pub(super) async fn start_bot(
    cfg: &Config,
    telegram: Telegram,
    store: &Arc<dyn Store>,
    edges: BotParts,
    parts: &mut Parts,
) -> anyhow::Result<Option<axum::Router>> {
    let Telegram { bot, notifier } = telegram;
    let deps = bot_deps(cfg, store, notifier, edges);
    let Some(url) = &cfg.telegram.webhook_url else {
        // Telegram answers 409 to a second long poller: one instance polls at a time.
        let run = parts.leadership.clone().run(
            "telegram-polling",
            parts.shutdown.clone(),
            move |fence| run_bot(bot.clone(), deps.clone(), fence.stop().clone()),
        );
        parts.spawn("bot", run);
        return Ok(None);
    };
    let url = reqwest::Url::parse(url).context("TELEGRAM_WEBHOOK_URL")?;
    let mut opts = teloxide::update_listeners::webhooks::Options::new(cfg.service.http_addr, url);
    // Every instance must give Telegram the same secret, or only the last one started would
    // accept updates (teloxide would make up a random one per process).
    let secret = match &cfg.telegram.webhook_secret {
        Some(secret) => secret.expose().to_string(),
        None => derived_webhook_secret(cfg.telegram.bot_token.as_ref().map_or("", |t| t.expose())),
    };
    opts = opts.secret_token(secret);
    let (listener, _stop, router) =
        teloxide::update_listeners::webhooks::axum_to_router(bot.clone(), opts)
            .await
            .map_err(|e| anyhow::anyhow!("setWebhook failed: {e}"))?;
    tracing::info!("Telegram webhook mode: updates arrive on our HTTP server");
    let shutdown = parts.shutdown.clone();
    parts.spawn("bot", async move {
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
    });
    Ok(Some(router))
}

/// The webhook secret when none is configured: an HMAC of the bot token, so every instance of one
/// bot checks the same secret, and it changes with the token.
fn derived_webhook_secret(token: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"callops telegram webhook");
    hex::encode(mac.finalize().into_bytes())
}

/// What the bot's handlers get.
fn bot_deps(
    cfg: &Config,
    store: &Arc<dyn Store>,
    notifier: Arc<dyn Notifier>,
    edges: BotParts,
) -> Arc<bot::BotDeps> {
    let BotParts {
        pipeline,
        rehearsal,
        calling,
        numbering,
    } = edges;
    Arc::new(bot::BotDeps {
        store: store.clone(),
        admins: cfg.telegram.admins.clone(),
        team_chat: cfg.telegram.chat_id,
        team_chats: cfg
            .telegram
            .chat_id
            .into_iter()
            .chain(cfg.analysis.chat_by_number.iter().map(|(_, c)| *c))
            .chain(
                cfg.analysis
                    .departments
                    .list()
                    .iter()
                    .filter_map(|d| d.chat),
            )
            .collect(),
        intake: pipeline.as_ref().map(|p| p.intake.clone()),
        views: pipeline.as_ref().map(|p| p.views.clone()),
        sources: pipeline
            .as_ref()
            .map(|p| {
                let mut names: Vec<String> = p.sources.keys().cloned().collect();
                names.sort();
                names
            })
            .unwrap_or_default(),
        notifier: Some(notifier),
        timezone: cfg.service.timezone,
        rehearsal,
        dialer: calling.as_ref().map(|c| c.dialer.clone()),
        call_window: cfg.outbound.window,
        numbering,
        campaigns: calling.as_ref().map(|c| c.campaigns.clone()),
        campaign_chat: calling.as_ref().and_then(|c| c.campaign_chat.clone()),
        campaign_defaults: calling.map(|c| c.defaults),
        speech_prices: cfg.speech.prices(),
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

#[cfg(test)]
mod tests {
    use super::derived_webhook_secret;

    #[test]
    fn the_derived_webhook_secret_is_stable_per_token_and_in_telegrams_alphabet() {
        let a = derived_webhook_secret("123:abc");
        assert_eq!(a, derived_webhook_secret("123:abc"));
        assert_ne!(a, derived_webhook_secret("123:abd"));
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
