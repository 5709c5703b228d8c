//! Taking a provider's call in: normalise numbers, decide direction, apply the filters (our numbers,
//! answered, recorded, long enough), store the call once, and queue its processing after the
//! recording has had time to be saved. Polls and webhooks both come through here.

use chrono::Utc;

use super::missed::alert_missed;
use super::pipeline::CallIntake;
use super::queue::enqueue_process;
use crate::domain::{bounded_call_secs, CallStatus, Direction, Endpoint, NewCall, SkipReason};
use crate::store::StoreError;
use crate::telephony::ProviderCall;

/// Where a provider call came from: the polled statistics are the truth; a webhook alone only
/// announces a call (its signature covers too little to trust the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Poll,
    Webhook,
}

/// What happened to an ingested call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// New and queued for processing.
    Queued(i64),
    /// Stored as skipped with this reason.
    Skipped(i64, SkipReason),
    /// Stored as waiting for its recording (analysed once the PBX has it).
    AwaitingRecording(i64),
    /// Already known; nothing new to do.
    Known(i64),
    /// Announced by a webhook; analysed once the PBX's statistics confirm it.
    Unconfirmed(i64),
}

/// Ingests one provider call.
pub async fn ingest(
    intake: &CallIntake,
    provider: &str,
    pc: &ProviderCall,
    origin: Origin,
) -> Result<Ingested, StoreError> {
    let s = &intake.settings;
    let caller = Endpoint::parse(&pc.caller);
    let called = Endpoint::parse(&pc.called);
    let is_ours = |e: &Endpoint| e.phone().is_some_and(|n| s.our_numbers.contains(n));
    let direction = pc.direction.unwrap_or(if is_ours(&caller) {
        Direction::Outgoing
    } else {
        Direction::Incoming
    });
    // Most polled calls are known already: a read spares the single writer.
    let known = intake
        .store
        .call_by_provider_id(provider, &pc.provider_call_id)
        .await?;
    let (call, created) = match known {
        Some(call) => (call, false),
        None => {
            intake
                .store
                .insert_call(&NewCall {
                    provider: provider.to_string(),
                    provider_call_id: pc.provider_call_id.clone(),
                    direction,
                    caller: caller.clone(),
                    called: called.clone(),
                    started_at: pc.started_at,
                    duration_secs: bounded_call_secs(pc.duration_secs),
                    recording_ref: pc.recording_ref.clone(),
                    operator: pc.operator.clone(),
                })
                .await?
        }
    };

    if !created {
        // A call first announced by a webhook, now reported by the statistics as missed.
        if origin == Origin::Poll
            && !pc.answered
            && call.status == CallStatus::Skipped
            && (s.our_numbers.is_empty() || is_ours(&caller) || is_ours(&called))
        {
            alert_missed(intake, &call).await?;
        }
        if call.recording_ref.is_none() {
            if let Some(r) = &pc.recording_ref {
                intake.store.set_recording_ref(call.id, r).await?;
            }
        }
        let revive = call.status == CallStatus::AwaitingRecording && pc.recorded;
        let confirmed = origin == Origin::Poll && call.status == CallStatus::Unconfirmed;
        if confirmed {
            tracing::info!(
                call = call.id,
                provider,
                "webhook call confirmed by the statistics"
            );
        }
        if revive || confirmed {
            intake
                .store
                .set_call_status(call.id, CallStatus::New, None)
                .await?;
        }
        if revive || call.status == CallStatus::New {
            // Queueing is idempotent: this also repairs a crash between storing and queueing.
            enqueue_process(intake, call.id, pc, false).await?;
            return Ok(Ingested::Queued(call.id));
        }
        return Ok(Ingested::Known(call.id));
    }

    let reason = if !s.our_numbers.is_empty() && !is_ours(&caller) && !is_ours(&called) {
        Some(SkipReason::NotOurNumber)
    } else if !pc.answered {
        Some(SkipReason::NotAnswered(pc.disposition.clone()))
    } else if pc.duration_secs < s.min_call_secs {
        Some(SkipReason::TooShort(s.min_call_secs))
    } else {
        None
    };
    match reason {
        None if !pc.recorded => {
            intake
                .store
                .set_call_status(call.id, CallStatus::AwaitingRecording, None)
                .await?;
            tracing::info!(
                call = call.id,
                provider,
                "call stored; analysed once its recording is ready"
            );
            metrics::counter!("callops_calls_ingested_total", "outcome" => "awaiting_recording")
                .increment(1);
            Ok(Ingested::AwaitingRecording(call.id))
        }
        Some(r) => {
            intake
                .store
                .set_call_status(call.id, CallStatus::Skipped, Some(&r.to_string()))
                .await?;
            tracing::info!(call = call.id, provider, reason = %r, "call skipped");
            metrics::counter!("callops_calls_ingested_total", "outcome" => "skipped").increment(1);
            if origin == Origin::Poll && matches!(r, SkipReason::NotAnswered(_)) {
                alert_missed(intake, &call).await?;
            }
            Ok(Ingested::Skipped(call.id, r))
        }
        None if origin == Origin::Webhook => {
            intake
                .store
                .set_call_status(
                    call.id,
                    CallStatus::Unconfirmed,
                    Some("announced by a webhook, not confirmed by the PBX statistics"),
                )
                .await?;
            tracing::info!(
                call = call.id,
                provider,
                "webhook call stored; analysed once the statistics confirm it"
            );
            metrics::counter!("callops_calls_ingested_total", "outcome" => "unconfirmed")
                .increment(1);
            Ok(Ingested::Unconfirmed(call.id))
        }
        None => {
            enqueue_process(intake, call.id, pc, false).await?;
            tracing::info!(call = call.id, provider, "call queued for analysis");
            metrics::counter!("callops_calls_ingested_total", "outcome" => "queued").increment(1);
            Ok(Ingested::Queued(call.id))
        }
    }
}

/// NOTIFY_RECORD: the recording of a known call is ready; process it now if it was waiting.
pub async fn recording_ready(
    intake: &CallIntake,
    provider: &str,
    provider_call_id: &str,
    recording_ref: &str,
) -> Result<Option<i64>, StoreError> {
    let Some(call) = intake
        .store
        .call_by_provider_id(provider, provider_call_id)
        .await?
    else {
        return Ok(None);
    };
    if !recording_ref.is_empty() {
        intake
            .store
            .set_recording_ref(call.id, recording_ref)
            .await?;
    }
    let waiting = matches!(call.status, CallStatus::New | CallStatus::AwaitingRecording);
    if waiting {
        intake
            .store
            .set_call_status(call.id, CallStatus::New, None)
            .await?;
        let pc = ProviderCall {
            provider_call_id: call.provider_call_id.clone(),
            recording_ref: Some(recording_ref.to_string()),
            direction: Some(call.direction),
            caller: call.caller.to_string(),
            called: call.called.to_string(),
            // The recording is ready now: no further wait.
            started_at: Utc::now() - chrono::Duration::hours(1),
            duration_secs: 0,
            answered: true,
            disposition: String::new(),
            recorded: true,
            operator: call.operator.clone(),
        };
        enqueue_process(intake, call.id, &pc, false).await?;
    }
    Ok(Some(call.id))
}
