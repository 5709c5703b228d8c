//! The call-analysis part: call sources (Novofon 1.0 and 2.0, Zadarma, Mango, T-Bank TQM), speech-to-text and the LLM, the
//! pipeline's job handlers and one poller per source.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;

use super::telegram::Telegram;
use super::Parts;
use crate::analysis::pipeline::{PipelineDeps, PipelineSettings};
use crate::analysis::Profiles;
use crate::config::Config;
use crate::i18n::Lang;
use crate::jobs::WorkerPool;
use crate::llm::LlmClient;
use crate::store::Store;
use crate::telephony::mango::{self, Mango, MangoConfig};
use crate::telephony::novofon_v1::{self, NovofonV1, NovofonV1Config};
use crate::telephony::novofon_v2::{NovofonV2, NovofonV2Config};
use crate::telephony::tbank::{self, Tbank, TbankConfig, TbankFields};
use crate::telephony::CallSource;
use crate::workers::poller;
use crate::workers::post_protocol::PostProtocol;
use crate::workers::process_call::ProcessCall;
use crate::workers::send_recording::SendRecording;
use crate::workers::sheets_row::SheetsRow;
use crate::workers::source_day::{Nightly, SourceDay};

/// The private chats of the administrators (a user's private chat id is their user id).
pub(super) fn admin_chats(cfg: &Config) -> Vec<i64> {
    cfg.telegram
        .admins
        .iter()
        .filter_map(|&a| i64::try_from(a).ok())
        .collect()
}

/// The call sources configured (Novofon 1.0 and/or 2.0).
pub fn call_sources(cfg: &Config) -> HashMap<String, Arc<dyn CallSource>> {
    let mut sources: HashMap<String, Arc<dyn CallSource>> = HashMap::new();
    let backoff = Duration::from_millis(cfg.service.retry_base_ms);
    if let (Some(key), Some(secret)) = (&cfg.pbx.novofon_api_key, &cfg.pbx.novofon_api_secret) {
        let src = NovofonV1::new(NovofonV1Config {
            provider: novofon_v1::PROVIDER,
            base_url: cfg.pbx.novofon_api_url.clone(),
            key: key.expose().to_string(),
            secret: secret.expose().to_string(),
            timezone: cfg.pbx.novofon_timezone,
            stats_interval: Duration::from_millis(cfg.pbx.novofon_stats_interval_ms),
            backoff: backoff.max(Duration::from_millis(100)),
            page_size: 1000,
            max_recording_bytes: cfg.analysis.max_recording_bytes(),
        });
        sources.insert(src.name().to_string(), Arc::new(src));
    }
    if let (Some(key), Some(secret)) = (&cfg.pbx.zadarma_api_key, &cfg.pbx.zadarma_api_secret) {
        let src = NovofonV1::new(NovofonV1Config {
            provider: novofon_v1::ZADARMA,
            base_url: cfg.pbx.zadarma_api_url.clone(),
            key: key.expose().to_string(),
            secret: secret.expose().to_string(),
            timezone: cfg.pbx.zadarma_timezone,
            stats_interval: Duration::from_millis(cfg.pbx.novofon_stats_interval_ms),
            backoff: backoff.max(Duration::from_millis(100)),
            page_size: 1000,
            max_recording_bytes: cfg.analysis.max_recording_bytes(),
        });
        sources.insert(src.name().to_string(), Arc::new(src));
    }
    if let (Some(key), Some(salt)) = (&cfg.pbx.mango_api_key, &cfg.pbx.mango_api_salt) {
        let mut mcfg = MangoConfig::new(
            &cfg.pbx.mango_api_url,
            key.expose(),
            salt.expose(),
            backoff.max(Duration::from_millis(100)),
            cfg.analysis.max_recording_bytes(),
        );
        mcfg.result_poll = Duration::from_millis(cfg.pbx.mango_result_poll_ms);
        mcfg.stats_interval = mcfg.stats_interval.min(mcfg.result_poll);
        let src = Mango::new(mcfg);
        sources.insert(src.name().to_string(), Arc::new(src));
    }
    if let (Some(login), Some(password)) = (&cfg.pbx.tbank_login, &cfg.pbx.tbank_password) {
        let src = Tbank::new(TbankConfig {
            base_url: cfg.pbx.tbank_api_url.clone(),
            login: login.clone(),
            password: password.expose().to_string(),
            timezone: cfg.service.timezone,
            fields: TbankFields::new(&cfg.pbx.tbank_fields),
            page_size: 1000,
            channel_roles: cfg.analysis.channel_roles.clone(),
        });
        sources.insert(src.name().to_string(), Arc::new(src));
    }
    if let Some(token) = &cfg.pbx.novofon_access_token {
        let src = NovofonV2::new(NovofonV2Config {
            data_api_url: cfg.pbx.novofon_data_api_url.clone(),
            media_url: cfg.pbx.novofon_media_url.clone(),
            access_token: token.expose().to_string(),
            timezone: cfg.pbx.novofon_timezone,
            backoff: backoff.max(Duration::from_millis(100)),
            page_size: 1000,
            max_recording_bytes: cfg.analysis.max_recording_bytes(),
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
    speech: &super::Speech,
) -> anyhow::Result<Option<Arc<PipelineDeps>>> {
    let Some(key) = &cfg.openai.api_key else {
        return Ok(None);
    };
    let profiles =
        Profiles::load(cfg.analysis.prompts_dir.as_deref()).context("loading analysis profiles")?;
    for name in std::iter::once(&cfg.analysis.profile)
        .chain(cfg.analysis.profile_by_number.iter().map(|(_, p)| p))
        .chain(
            cfg.analysis
                .departments
                .list()
                .iter()
                .filter_map(|d| d.profile.as_ref()),
        )
    {
        if profiles.get(name).is_none() {
            anyhow::bail!(
                "unknown analysis profile {name:?} (PROFILE / PROFILE_BY_NUMBER / a department's profile); known: {}",
                profiles.names().join(", ")
            );
        }
    }
    let stt = speech
        .stt(cfg, crate::config::SpeechUse::Recordings)
        .context("STT_PROVIDER has no credentials (OPENAI_API_KEY or SALUTE_AUTH_KEY)")?;
    let llm = LlmClient::new(
        &cfg.openai.base_url,
        key.expose(),
        &cfg.openai.llm_model,
        cfg.openai.json_mode,
        cfg.openai.prices.clone(),
    );
    let mut deps = PipelineDeps::new(
        store.clone(),
        sources,
        stt,
        Arc::new(llm),
        Arc::new(profiles),
        PipelineSettings {
            our_numbers: cfg.pbx.novofon_numbers.clone(),
            min_call_secs: cfg.analysis.min_call_secs,
            recording_delay: Duration::from_secs(cfg.analysis.recording_delay_secs),
            max_recording: Duration::from_secs(
                cfg.analysis.max_recording_minutes.saturating_mul(60),
            ),
            channel_roles: cfg.analysis.channel_roles.clone(),
            default_profile: cfg.analysis.profile.clone(),
            profile_by_number: cfg.analysis.profile_by_number.clone(),
            team_chat: cfg.telegram.chat_id,
            admins: admin_chats(cfg),
            chat_by_number: cfg.analysis.chat_by_number.clone(),
            departments: cfg.analysis.departments.clone(),
            timezone: cfg.service.timezone,
            lang: Lang::Ru,
            fewshot_examples: cfg.analysis.fewshot_examples,
            offer_call_back: cfg.sip.server.is_some(),
        },
        waker,
    );
    deps.sheets = sheets_link(cfg, store)?;
    Ok(Some(Arc::new(deps)))
}

/// The team's Google Sheets, when a service account and a Sheet are configured.
fn sheets_link(
    cfg: &Config,
    store: Arc<dyn Store>,
) -> anyhow::Result<Option<Arc<crate::analysis::sheets::SheetsLink>>> {
    use crate::analysis::sheets::{SheetRef, SheetsLink};
    let a = &cfg.analysis;
    let sheet = |id: &Option<String>, range: &str| {
        id.as_ref().map(|id| SheetRef {
            id: id.clone(),
            range: range.to_string(),
        })
    };
    let criteria = sheet(&a.sheets_criteria_id, &a.sheets_criteria_range);
    let results = sheet(&a.sheets_results_id, &a.sheets_results_range);
    if criteria.is_none() && results.is_none() {
        return Ok(None);
    }
    let file = a.google_service_account_file.as_ref().context(
        "SHEETS_CRITERIA_ID / SHEETS_RESULTS_ID need GOOGLE_SERVICE_ACCOUNT_FILE (a service account key)",
    )?;
    let account =
        crate::sheets::ServiceAccount::from_file(file).context("GOOGLE_SERVICE_ACCOUNT_FILE")?;
    let policy =
        crate::retry::RetryPolicy::new(Duration::from_millis(cfg.service.retry_base_ms.max(50)), 5);
    let tokens = Arc::new(crate::sheets::TokenSource::new(account, policy));
    let client = crate::sheets::SheetsClient::new(&a.sheets_api_url, tokens, policy);
    Ok(Some(Arc::new(SheetsLink::new(
        client, criteria, results, store,
    ))))
}

/// Registers the pipeline's handlers and starts a poller per source (when analysis is on).
pub(super) fn start(
    cfg: &Config,
    pool: &mut WorkerPool,
    pipeline: Option<&Arc<PipelineDeps>>,
    sources: &HashMap<String, Arc<dyn CallSource>>,
    telegram: Option<&Telegram>,
    parts: &mut Parts,
) {
    let Some(p) = pipeline else {
        tracing::warn!("OPENAI_API_KEY is not set: call analysis is off");
        return;
    };
    pool.register(Arc::new(ProcessCall { deps: p.clone() }));
    start_batches_and_sheets(cfg, pool, p, sources, parts);
    match telegram {
        Some(t) => {
            pool.register(Arc::new(PostProtocol {
                deps: p.clone(),
                notifier: t.notifier.clone(),
            }));
            pool.register(Arc::new(SendRecording {
                deps: p.clone(),
                notifier: t.notifier.clone(),
            }));
        }
        None => tracing::warn!("no Telegram token: protocols are stored but not posted"),
    }
    if cfg.telegram.chat_id.is_none()
        && cfg.analysis.chat_by_number.is_empty()
        && cfg.analysis.departments.is_empty()
    {
        tracing::warn!("TELEGRAM_CHAT_ID is not set: protocols have no chat to go to");
    }
    for source in sources.values() {
        let (p, source, schedules) = (p.clone(), source.clone(), parts.schedules.clone());
        let secs = match source.name() {
            novofon_v1::ZADARMA => cfg.pbx.zadarma_poll_secs,
            mango::PROVIDER => cfg.pbx.mango_poll_secs,
            tbank::PROVIDER => cfg.pbx.tbank_poll_secs,
            _ => cfg.pbx.novofon_poll_secs,
        };
        let every = Duration::from_secs(secs.max(1));
        let window = Duration::from_secs(cfg.pbx.novofon_window_mins.max(1) * 60);
        let name = format!("poll:{}", source.name());
        let run = parts
            .leadership
            .clone()
            .run(name, parts.shutdown.clone(), move |fence| {
                poller::run(
                    p.clone(),
                    source.clone(),
                    every,
                    window,
                    schedules.clone(),
                    fence,
                )
            });
        parts.spawn("poller", run);
    }
    if sources.is_empty() {
        tracing::warn!(
            "no telephony source configured (NOVOFON_API_KEY/SECRET, NOVOFON_ACCESS_TOKEN, ZADARMA_API_KEY/SECRET, MANGO_API_KEY/SALT or TBANK_LOGIN/PASSWORD)"
        );
    }
}

/// The day batches (T-Bank's nightly one) and the Google Sheets link (checklist refresh, results
/// rows).
fn start_batches_and_sheets(
    cfg: &Config,
    pool: &mut WorkerPool,
    p: &Arc<PipelineDeps>,
    sources: &HashMap<String, Arc<dyn CallSource>>,
    parts: &mut Parts,
) {
    pool.register(Arc::new(SourceDay { deps: p.clone() }));
    if let Some(link) = &p.sheets {
        pool.register(Arc::new(SheetsRow { deps: p.clone() }));
        if link.criteria.is_some() {
            let every = Duration::from_secs(cfg.analysis.sheets_refresh_secs);
            parts.spawn(
                "sheets",
                link.clone().keep_fresh(every, parts.shutdown.clone()),
            );
        }
    }
    if sources.contains_key(tbank::PROVIDER) && cfg.pbx.tbank_nightly_days_ago > 0 {
        let nightly = Nightly {
            source: tbank::PROVIDER.into(),
            days_ago: cfg.pbx.tbank_nightly_days_ago,
            hour: cfg.pbx.tbank_nightly_hour,
            timezone: cfg.service.timezone,
        };
        parts.spawn(
            "nightly",
            nightly.run(p.intake.clone(), parts.shutdown.clone()),
        );
    }
}
