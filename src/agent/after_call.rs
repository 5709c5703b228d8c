//! After every agent call, real or rehearsed: the call is stored with its labelled transcript and
//! per-turn timings, an opt-out puts the number on the do-not-call list, and the `cold_call`
//! analysis is queued so the protocol reaches the chat like any inbound call's.

use super::engine::CallReport;
use crate::analysis::pipeline::CallIntake;
use crate::analysis::queue::{ProcessPayload, PROCESS_KIND};
use crate::domain::{CallOrigin, Direction, Endpoint, NewCall};
use crate::store::{NewJob, StoreError, TokenUsage};

/// Who was called and where the protocol goes.
#[derive(Debug, Clone)]
pub struct CallParty {
    /// Our number (the caller ID), or the script name for rehearsals.
    pub ours: Endpoint,
    /// The callee: a phone number, or `tg:<user id>` for rehearsals.
    pub callee: Endpoint,
    /// Overrides the routing chat (rehearsals post to the manager's private chat).
    pub chat: Option<i64>,
}

/// Stores a finished call (its tokens spent on `model`) and queues its analysis; returns the call
/// id. Idempotent per `key`.
pub async fn record_call(
    intake: &CallIntake,
    model: &str,
    origin: CallOrigin,
    key: &str,
    party: &CallParty,
    report: &CallReport,
) -> Result<i64, StoreError> {
    let store = &intake.store;
    let (call, new) = store
        .insert_call(&NewCall {
            provider: origin.provider().unwrap_or("agent").into(),
            provider_call_id: key.to_string(),
            direction: Direction::Outgoing,
            caller: party.ours.clone(),
            called: party.callee.clone(),
            started_at: report.started_at,
            duration_secs: report.duration.as_secs() as i64,
            recording_ref: None,
            operator: None,
        })
        .await?;
    if let Some(chat) = party.chat {
        store.set_call_chat(call.id, chat).await?;
    }
    let transcript: Vec<_> = report
        .transcript
        .iter()
        .filter(|u| !u.text.trim().is_empty())
        .cloned()
        .collect();
    store.replace_utterances(call.id, &transcript).await?;
    if let Some(wav) = &report.recording {
        // Saved before the analysis is queued, so the protocol finds it.
        store.save_recording(call.id, "audio/wav", wav).await?;
    }
    store.save_agent_turns(call.id, &report.turns).await?;
    if new && report.prompt_tokens + report.completion_tokens > 0 {
        store
            .record_token_usage(&TokenUsage {
                call_id: Some(call.id),
                purpose: "agent".into(),
                model: model.to_string(),
                prompt_tokens: report.prompt_tokens,
                completion_tokens: report.completion_tokens,
                cost_usd: report.cost_usd,
            })
            .await?;
    }
    let opted_out_number = party
        .callee
        .phone()
        .filter(|_| report.state.opted_out && origin == CallOrigin::Agent);
    if let Some(number) = opted_out_number {
        if store
            .add_do_not_call(number, "просил больше не звонить")
            .await?
        {
            tracing::info!(call = call.id, "number added to the do-not-call list");
        }
    }
    if transcript.is_empty() {
        store
            .set_call_status(
                call.id,
                crate::domain::CallStatus::Skipped,
                Some("no conversation took place"),
            )
            .await?;
        return Ok(call.id);
    }
    let payload = serde_json::to_value(ProcessPayload {
        call_id: call.id,
        force: true,
        profile: Some("cold_call".into()),
    })
    .unwrap_or_default();
    store
        .enqueue(
            NewJob::new(PROCESS_KIND, payload)
                .key(format!("call:{}:process", call.id))
                .max_attempts(6),
        )
        .await?;
    intake.waker.notify_waiters();
    Ok(call.id)
}
