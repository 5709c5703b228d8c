//! Storing what the pipeline produced: an analysis as the call's current one, the tokens it cost,
//! and failure reasons in words a sales manager reads.

use super::analyze::promote;
use super::pipeline::PipelineDeps;
use super::profile::Profile;
use crate::domain::CallStatus;
use crate::i18n::t;
use crate::llm::LlmReply;
use crate::store::{Store, StoreError, TokenUsage};

/// Records the tokens and cost of LLM replies against a call (failures are logged, not fatal).
pub async fn record_tokens(store: &dyn Store, call_id: i64, purpose: &str, replies: &[LlmReply]) {
    for r in replies {
        let usage = TokenUsage {
            call_id: Some(call_id),
            purpose: purpose.to_string(),
            model: r.model.clone(),
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cost_usd: r.cost_usd,
        };
        if let Err(e) = store.record_token_usage(&usage).await {
            tracing::warn!(call = call_id, error = %e, "recording token usage failed");
        }
    }
}

/// Stores an analysis as the call's current one (with the model that answered last) and marks
/// the call analysed; returns the analysis id.
pub async fn save_analysed(
    deps: &PipelineDeps,
    call_id: i64,
    profile: &Profile,
    result: &serde_json::Value,
    replies: &[LlmReply],
) -> Result<i64, StoreError> {
    let model = replies
        .last()
        .map_or(deps.llm.model.clone(), |r| r.model.clone());
    let id = deps
        .store
        .save_analysis(&promote(call_id, profile, result, &model))
        .await?;
    deps.store
        .set_call_status(call_id, CallStatus::Analyzed, None)
        .await?;
    Ok(id)
}

/// A failure reason as a Russian sales manager reads it: what happened in words, then the
/// technical detail (kept short).
pub fn explain_failure(lang: crate::i18n::Lang, reason: &str) -> String {
    let key = if reason.contains("sample rate") {
        Some("failure-bad-rate")
    } else if reason.contains("longer than the allowed") {
        Some("failure-too-long")
    } else if reason.contains("MAX_RECORDING_MB") {
        Some("failure-too-large")
    } else if reason.starts_with("quarantined") || reason.starts_with("out of attempts") {
        Some("failure-crashed")
    } else if reason.starts_with("bad audio") {
        Some("failure-bad-audio")
    } else {
        None
    };
    let detail: String = reason.chars().take(300).collect();
    match key {
        Some(k) => format!("{} ({detail})", t(lang, k)),
        None => detail,
    }
}
