//! The voice-agent part: rehearsals in Telegram (scripts, the pipeline's LLM and speech-to-text,
//! a text-to-speech client), restored after a restart.

use std::sync::Arc;

use anyhow::Context;

use crate::agent::rehearsal::RehearsalDeps;
use crate::analysis::pipeline::PipelineDeps;
use crate::config::Config;

/// Rehearsals when the providers are configured, with those running before a restart restored.
pub(super) async fn rehearsal(
    cfg: &Config,
    pipeline: Option<&PipelineDeps>,
) -> anyhow::Result<Option<Arc<RehearsalDeps>>> {
    let rehearsal = build_rehearsal(cfg, pipeline)?;
    if let Some(r) = &rehearsal {
        match r.restore().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rehearsals = n, "rehearsals restored"),
            Err(e) => tracing::warn!(error = %e, "restoring rehearsals failed"),
        }
    }
    Ok(rehearsal)
}

/// Rehearsals use the pipeline's LLM and speech-to-text plus a text-to-speech client.
fn build_rehearsal(
    cfg: &Config,
    pipeline: Option<&PipelineDeps>,
) -> anyhow::Result<Option<Arc<RehearsalDeps>>> {
    let (Some(p), Some(key)) = (pipeline, cfg.openai.api_key.as_ref()) else {
        return Ok(None);
    };
    let scripts = crate::agent::Scripts::load(cfg.agent.scripts_dir.as_deref())
        .context("loading agent scripts")?;
    if scripts.get(&cfg.agent.script).is_none() {
        anyhow::bail!(
            "AGENT_SCRIPT={:?} is not a known script ({})",
            cfg.agent.script,
            scripts.names().join(", ")
        );
    }
    let tts = crate::speech::OpenAiTts::new(
        &cfg.openai.base_url,
        key.expose(),
        &cfg.openai.tts_model,
        &cfg.openai.tts_voice,
    );
    Ok(Some(Arc::new(RehearsalDeps::new(
        p.llm.clone(),
        p.stt.clone(),
        Arc::new(tts),
        Arc::new(scripts),
        cfg.agent.script.clone(),
        crate::agent::DialogSettings::from_section(&cfg.agent),
        p.store.clone(),
    ))))
}
