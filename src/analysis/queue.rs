//! The analysis pipeline's durable steps: the job kinds and payloads of processing a call and
//! posting its protocol, and how they are queued (idempotent per call and per analysis). Job
//! handlers in `workers/` run them; edges (bot, web, webhooks, agent) queue them through here.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::pipeline::{CallIntake, PipelineSettings};
use crate::domain::call_end;
use crate::store::{NewJob, StoreError};
use crate::telephony::ProviderCall;

/// The job that transcribes and analyses one call.
pub const PROCESS_KIND: &str = "call.process";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessPayload {
    pub call_id: i64,
    /// Re-run the analysis even if the call was analysed (re-analysis).
    #[serde(default)]
    pub force: bool,
    /// A profile other than the call's default.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Queues a call's processing (idempotent per call), after its recording has had time to be saved.
pub async fn enqueue_process(
    intake: &CallIntake,
    call_id: i64,
    pc: &ProviderCall,
    force: bool,
) -> Result<(), StoreError> {
    let delay = recording_wait(&intake.settings, pc);
    let payload = serde_json::to_value(ProcessPayload {
        call_id,
        force,
        profile: None,
    })
    .unwrap_or_default();
    intake
        .store
        .enqueue(
            NewJob::new(PROCESS_KIND, payload)
                .key(format!("call:{call_id}:process"))
                .delay(delay)
                .max_attempts(6),
        )
        .await?;
    intake.waker.notify_waiters();
    Ok(())
}

/// Queues a re-analysis (a new job every time it is asked for).
pub async fn enqueue_reanalysis(
    intake: &CallIntake,
    call_id: i64,
    profile: Option<String>,
) -> Result<i64, StoreError> {
    let payload = serde_json::to_value(ProcessPayload {
        call_id,
        force: true,
        profile,
    })
    .unwrap_or_default();
    let key = format!("call:{call_id}:reanalyze:{}", uuid::Uuid::new_v4().simple());
    let id = intake
        .store
        .enqueue(NewJob::new(PROCESS_KIND, payload).key(key).max_attempts(4))
        .await?
        .id;
    intake.waker.notify_waiters();
    Ok(id)
}

/// The job that posts one analysis's protocol.
pub const POST_KIND: &str = "call.post";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostPayload {
    pub call_id: i64,
    pub analysis_id: i64,
}

pub fn post_key(call_id: i64, analysis_id: i64) -> String {
    format!("call:{call_id}:protocol:{analysis_id}")
}

/// Queues the post of an analysis (idempotent per analysis).
pub async fn enqueue_post(
    intake: &CallIntake,
    call_id: i64,
    analysis_id: i64,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(PostPayload {
        call_id,
        analysis_id,
    })
    .unwrap_or_default();
    intake
        .store
        .enqueue(
            NewJob::new(POST_KIND, payload)
                .key(post_key(call_id, analysis_id))
                .priority(10)
                .max_attempts(10),
        )
        .await?;
    intake.waker.notify_waiters();
    Ok(())
}

/// The job kind that sends a call's recording to a chat (the «🎧 Запись» button).
pub const RECORDING_KIND: &str = "call.recording";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordingPayload {
    pub call_id: i64,
    pub chat_id: i64,
    /// The protocol it answers.
    pub reply_to: Option<i32>,
}

/// The key of a call's recording sent to a chat: once per chat, however often it is asked for.
pub fn recording_key(call_id: i64, chat_id: i64) -> String {
    format!("call:{call_id}:recording:{chat_id}")
}

/// Queues sending the recording of `call_id` to `chat_id` (idempotent per chat); false when it
/// was asked for before.
pub async fn enqueue_recording(
    intake: &CallIntake,
    payload: RecordingPayload,
) -> Result<bool, StoreError> {
    let key = recording_key(payload.call_id, payload.chat_id);
    let body = serde_json::to_value(&payload).unwrap_or_default();
    let job = intake
        .store
        .enqueue(
            NewJob::new(RECORDING_KIND, body)
                .key(key)
                .priority(5)
                .max_attempts(6),
        )
        .await?;
    intake.waker.notify_waiters();
    Ok(job.created)
}

/// The job that reads one local day of a source's calls again (T-Bank's nightly batch, or a
/// re-run asked for through the API): each call is taken in as a poll would, so calls already
/// known stay as they are and only the missing ones are analysed.
pub const DAY_KIND: &str = "source.day";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayPayload {
    /// The source's provider name (`tbank`, `novofon`…).
    pub source: String,
    /// The day, in the service's time zone.
    pub day: chrono::NaiveDate,
}

/// Queues reading `payload`'s day; `run` names the run (`nightly`, or the minute it was asked
/// for), so the nightly batch runs once however many instances schedule it, and a re-run asked
/// twice in a minute runs once. Returns the job id and whether it is new.
pub async fn enqueue_day(
    intake: &CallIntake,
    payload: &DayPayload,
    run: &str,
) -> Result<(i64, bool), StoreError> {
    let key = format!("day:{}:{}:{run}", payload.source, payload.day);
    let body = serde_json::to_value(payload).unwrap_or_default();
    let job = intake
        .store
        .enqueue(
            NewJob::new(DAY_KIND, body)
                .key(key)
                .priority(3)
                .max_attempts(8),
        )
        .await?;
    intake.waker.notify_waiters();
    Ok((job.id, job.created))
}

/// The job that appends an analysis to the results Sheet.
pub const SHEETS_ROW_KIND: &str = "sheets.row";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetsRowPayload {
    pub call_id: i64,
    pub analysis_id: i64,
}

/// Queues the results row of an analysis (once per analysis).
pub async fn enqueue_sheets_row(
    intake: &CallIntake,
    call_id: i64,
    analysis_id: i64,
) -> Result<(), StoreError> {
    let body = serde_json::to_value(SheetsRowPayload {
        call_id,
        analysis_id,
    })
    .unwrap_or_default();
    intake
        .store
        .enqueue(
            NewJob::new(SHEETS_ROW_KIND, body)
                .key(format!("analysis:{analysis_id}:sheets"))
                .priority(1)
                .max_attempts(10),
        )
        .await?;
    intake.waker.notify_waiters();
    Ok(())
}

/// How long to wait before fetching the recording: at least `recording_delay` after the call ended.
pub fn recording_wait(settings: &PipelineSettings, pc: &ProviderCall) -> std::time::Duration {
    let ended = call_end(pc.started_at, pc.duration_secs);
    let ready = chrono::Duration::from_std(settings.recording_delay)
        .ok()
        .and_then(|d| ended.checked_add_signed(d))
        .unwrap_or(ended);
    (ready - Utc::now()).to_std().unwrap_or_default()
}
