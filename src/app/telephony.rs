//! The telephony part: with `SIP_SERVER` set (and the LLM and speech providers), the SIP user
//! agent (registered when asked), the RTP ports, the dialer with its `outbound.place` job, and the
//! sweeper that ends abandoned attempts as interrupted. Without `SIP_SERVER` nothing starts.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::telegram::Telegram;
use super::Parts;
use crate::agent::{AgentDeps, DialogSettings, Scripts};
use crate::analysis::pipeline::PipelineDeps;
use crate::config::{Config, SpeechUse};
use crate::domain::CampaignPlan;
use crate::domain::OutboundStatus;
use crate::i18n::Lang;
use crate::jobs::WorkerPool;
use crate::outbound::campaign_chat::CampaignChat;
use crate::outbound::campaign_import::CampaignDefaults;
use crate::outbound::campaign_runner::{wall_clock, CampaignRunner, Placer, RunnerSettings};
use crate::outbound::live::LiveChat;
use crate::outbound::queue::{enqueue_place, CAMPAIGN_PRIORITY, MANUAL_PRIORITY};
use crate::outbound::{Dialer, OutboundSettings};
use crate::speech::{Recognizer, Tts};
use crate::store::Store;
use crate::telephony::media::rtp_session::RtpPorts;
use crate::telephony::sip::{SipConfig, SipTrunk};
use crate::telephony::sip_line::SipDialer;
use crate::workers::place_call::PlaceCall;

/// How long an outbound attempt stays ours without a heartbeat.
const ATTEMPT_LEASE: Duration = Duration::from_secs(30);
/// How often the campaign runner looks for due contacts when nothing wakes it.
const CAMPAIGN_TICK: Duration = Duration::from_secs(1);

/// Starts phone calling when configured: the dialer, its job, the sweeper and the campaign
/// runner (with progress messages when the bot runs).
pub(super) async fn start(
    cfg: &Config,
    store: &Arc<dyn Store>,
    (pipeline, telegram, speech): (Option<&PipelineDeps>, Option<&Telegram>, &super::Speech),
    pool: &mut WorkerPool,
    parts: &mut Parts,
) -> anyhow::Result<Option<super::Calling>> {
    let Some(server) = cfg.sip.server.clone() else {
        tracing::info!("SIP_SERVER is not set: phone calls are off");
        return Ok(None);
    };
    let Some(p) = pipeline else {
        tracing::warn!("phone calls need OPENAI_API_KEY for the agent's LLM: off");
        return Ok(None);
    };
    let (Some(recognizer), Some(tts)) =
        (speech.recognizer(cfg)?, speech.tts(cfg, SpeechUse::Calls))
    else {
        tracing::warn!(
            "phone calls need credentials for AGENT_STT_PROVIDER/AGENT_TTS_PROVIDER: off"
        );
        return Ok(None);
    };
    let sip = SipTrunk::start(
        SipConfig::from_settings(&cfg.sip, server),
        parts.shutdown.child_token(),
    )
    .await
    .context("starting the SIP user agent (SIP_BIND)")?;
    if cfg.sip.register {
        sip.keep_registered(300, parts.shutdown.child_token());
    }
    let mut dialer = dialer(cfg, store, p, (recognizer, tts), sip)?;
    // Status messages of calls started from the chat are edited in the chat's language, Russian
    // by default.
    dialer.live = telegram.map(|t| LiveChat {
        notifier: t.notifier.clone(),
        default_lang: Lang::Ru,
    });
    let campaigns = Arc::new(CampaignRunner::new(
        store.clone(),
        dialer.scripts.clone(),
        runner_settings(cfg),
        pool.waker(),
        wall_clock(),
    ));
    dialer.campaigns = Some(campaigns.clone());
    let dialer = Arc::new(dialer);
    let placer: Arc<dyn Placer> = dialer.clone();
    campaigns.set_placer(&placer);
    pool.register(Arc::new(PlaceCall {
        dialer: dialer.clone(),
    }));
    parts.spawn(
        "outbound-sweeper",
        sweep_interrupted(store.clone(), pool.waker(), parts.shutdown.clone()),
    );
    let campaign_chat = telegram.map(|t| {
        Arc::new(CampaignChat::new(
            store.clone(),
            t.notifier.clone(),
            Lang::Ru,
            pool.waker(),
        ))
    });
    run_campaigns(&campaigns, campaign_chat.clone(), parts);
    tracing::info!("phone calls are on (SIP trunk)");
    Ok(Some(super::Calling {
        dialer,
        campaigns,
        campaign_chat,
        defaults: campaign_defaults(cfg),
    }))
}

/// Runs the campaign runner until shutdown, its progress messages after each tick.
fn run_campaigns(
    campaigns: &Arc<CampaignRunner>,
    chat: Option<Arc<CampaignChat>>,
    parts: &mut Parts,
) {
    let campaigns = campaigns.clone();
    let run = parts
        .leadership
        .clone()
        .run("campaign-tick", parts.shutdown.clone(), move |fence| {
            let chat = chat.clone();
            campaigns.clone().run(fence.stop().clone(), move |report| {
                let chat = chat.clone();
                async move {
                    if let Some(chat) = chat {
                        chat.after_tick(&report).await;
                    }
                }
            })
        });
    parts.spawn("campaigns", run);
}

fn runner_settings(cfg: &Config) -> RunnerSettings {
    RunnerSettings {
        global: cfg.outbound.concurrency,
        holidays: cfg.outbound.campaign_holidays.clone(),
        every: CAMPAIGN_TICK,
        default_script: cfg.agent.script.clone(),
    }
}

/// What a new campaign gets from the settings.
fn campaign_defaults(cfg: &Config) -> CampaignDefaults {
    CampaignDefaults {
        concurrency: cfg.outbound.campaign_concurrency,
        plan: CampaignPlan {
            retries: cfg.outbound.campaign_retries,
            retry_min: cfg.outbound.campaign_retry_min,
            window: cfg.outbound.window,
            days: cfg.outbound.campaign_days,
            voicemail_retries: 0,
            screened_retries: 0,
        },
        zone: cfg.service.timezone,
        script: cfg.agent.script.clone(),
    }
}

/// The dialer over the SIP trunk, with the agent on the pipeline's LLM and speech-to-text.
fn dialer(
    cfg: &Config,
    store: &Arc<dyn Store>,
    p: &PipelineDeps,
    (recognizer, tts): (Arc<dyn Recognizer>, Arc<dyn Tts>),
    sip: Arc<SipTrunk>,
) -> anyhow::Result<Dialer> {
    let media_ip: IpAddr = cfg.sip.bind.ip();
    let advertised_ip = cfg.sip.public_ip.unwrap_or_else(|| {
        if media_ip.is_unspecified() {
            local_ip().unwrap_or(media_ip)
        } else {
            media_ip
        }
    });
    let trunk = SipDialer {
        sip,
        ports: Arc::new(RtpPorts::new(cfg.sip.rtp_port_min, cfg.sip.rtp_port_max)),
        media_ip,
        advertised_ip,
        number_format: cfg.sip.number_format,
    };
    Ok(Dialer {
        store: store.clone(),
        trunk: Arc::new(trunk),
        agent: AgentDeps {
            recognizer,
            llm: p.llm.clone(),
            tts,
        },
        scripts: Arc::new(
            Scripts::load(cfg.agent.scripts_dir.as_deref()).context("loading agent scripts")?,
        ),
        default_script: cfg.agent.script.clone(),
        dialog: DialogSettings::from_section(&cfg.agent),
        intake: p.intake.clone(),
        model: p.llm.model.clone(),
        owner: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        settings: OutboundSettings {
            concurrency: cfg.outbound.concurrency,
            ring_timeout: Duration::from_secs(cfg.outbound.ring_timeout_sec),
            lease: ATTEMPT_LEASE,
            caller_id: cfg.sip.caller_id.clone(),
        },
        live: None,
        campaigns: None,
    })
}

/// Ends as interrupted the attempts whose instance stopped during them (never redialled), and
/// makes sure every queued attempt has its job (a crash between writing one and queueing its job
/// would otherwise leave it waiting forever; queueing is idempotent).
async fn sweep_interrupted(
    store: Arc<dyn Store>,
    waker: Arc<tokio::sync::Notify>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        match store.interrupt_expired_outbound().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                calls = n,
                "outbound calls interrupted by a stopped instance"
            ),
            Err(e) => tracing::warn!(error = %e, "sweeping interrupted calls failed"),
        }
        if let Ok(open) = store.open_outbound().await {
            // Those queued a while ago (a fresh one is being placed by whoever wrote it).
            let stuck =
                chrono::Utc::now() - chrono::Duration::from_std(ATTEMPT_LEASE).unwrap_or_default();
            for a in open
                .iter()
                .filter(|a| a.status == OutboundStatus::Queued && a.created_at < stuck)
            {
                let priority = if a.campaign_contact_id.is_some() {
                    CAMPAIGN_PRIORITY
                } else {
                    MANUAL_PRIORITY
                };
                if let Err(e) = enqueue_place(store.as_ref(), &waker, a.id, priority).await {
                    tracing::warn!(outbound = a.id, error = %e, "queueing an outbound call failed");
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(ATTEMPT_LEASE / 3) => {}
        }
    }
}

/// The address this machine reaches the internet from (no packet is sent).
fn local_ip() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    Some(s.local_addr().ok()?.ip())
}
