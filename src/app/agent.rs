//! The voice-agent part: rehearsals in Telegram (scripts, the pipeline's LLM, the live calls'
//! speech vendors), restored after a restart.

use std::sync::Arc;

use anyhow::Context;

use crate::agent::rehearsal::RehearsalDeps;
use crate::analysis::pipeline::PipelineDeps;
use crate::config::{Config, SpeechUse};

/// Rehearsals when the providers are configured, with those running before a restart restored.
pub(super) async fn rehearsal(
    cfg: &Config,
    pipeline: Option<&PipelineDeps>,
    speech: &super::Speech,
) -> anyhow::Result<Option<Arc<RehearsalDeps>>> {
    let rehearsal = build_rehearsal(cfg, pipeline, speech)?;
    if let Some(r) = &rehearsal {
        match r.restore().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rehearsals = n, "rehearsals restored"),
            Err(e) => tracing::warn!(error = %e, "restoring rehearsals failed"),
        }
    }
    Ok(rehearsal)
}

/// Rehearsals use the pipeline's LLM and the speech of live calls (`AGENT_*_PROVIDER`).
fn build_rehearsal(
    cfg: &Config,
    pipeline: Option<&PipelineDeps>,
    speech: &super::Speech,
) -> anyhow::Result<Option<Arc<RehearsalDeps>>> {
    let Some(p) = pipeline else {
        return Ok(None);
    };
    let (Some(stt), Some(tts)) = (
        speech.stt(cfg, SpeechUse::Calls),
        speech.tts(cfg, SpeechUse::Calls),
    ) else {
        tracing::warn!("rehearsals need the live calls' speech vendors configured: off");
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
    Ok(Some(Arc::new(RehearsalDeps::new(
        p.llm.clone(),
        stt,
        tts,
        Arc::new(scripts),
        cfg.agent.script.clone(),
        crate::agent::DialogSettings::from_section(&cfg.agent),
        p.store.clone(),
    ))))
}
