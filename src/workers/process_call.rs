//! Job kind `call.process`: fetch the recording, transcribe it with speakers told apart, analyse
//! it with the call's profile, store everything, then queue the protocol post. A call that fails
//! for good is marked failed with its reason, and the team chat hears about it (once).

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::analysis::analyze::{analyse, examples_text, AnalysisFailure};
use crate::analysis::pipeline::PipelineDeps;
use crate::analysis::protocol::client_phone;
use crate::analysis::queue::{enqueue_post, enqueue_sheets_row, ProcessPayload, PROCESS_KIND};
use crate::analysis::results::{explain_failure, record_tokens, save_analysed};
use crate::analysis::transcribe::{transcribe, TranscribeError};
use crate::analysis::view::chat_lang;
use crate::domain::PostKind;
use crate::domain::Speaker;
use crate::domain::{Call, CallStatus, Utterance};
use crate::i18n::t_args;
use crate::jobs::{JobError, JobHandler};
use crate::notify::{PostRequest, TextFormat};
use crate::speech::audio::AudioLimits;
use crate::speech::SttError;
use crate::store::{Job, StoreError};
use crate::telephony::TelephonyError;

/// The profile a team's Sheet checklist replaces the criteria of.
const QA_PROFILE: &str = "qa_checklist";

pub struct ProcessCall {
    pub deps: Arc<PipelineDeps>,
}

/// A failure of one attempt: retry later, or give up with a reason for people.
enum Failure {
    Retry(String),
    Final(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Retry(e.to_string())
    }
}

impl ProcessCall {
    async fn process(&self, call: &Call, payload: &ProcessPayload) -> Result<(), Failure> {
        let deps = &self.deps;
        let store = &deps.store;
        store
            .set_call_status(call.id, CallStatus::Processing, None)
            .await?;

        let existing = if payload.force {
            store.utterances(call.id).await?
        } else {
            Vec::new()
        };
        let (utterances, mono) = if !existing.is_empty() {
            let mono = existing.iter().all(|u| u.speaker == Speaker::Unknown);
            (existing, mono)
        } else {
            let source = deps.sources.get(&call.provider).ok_or_else(|| {
                Failure::Final(format!(
                    "no call source is configured for provider {:?}",
                    call.provider
                ))
            })?;
            let unavailable = |e: TelephonyError| match e {
                TelephonyError::Rejected(m) => {
                    Failure::Final(format!("the recording is not available: {m}"))
                }
                TelephonyError::TooLarge(m) => Failure::Final(m),
                other => Failure::Retry(other.to_string()),
            };
            let ready = source
                .fetch_transcript(&call.provider_call_id, call.recording_ref.as_deref())
                .await
                .map_err(unavailable)?;
            if let Some(utterances) = ready.filter(|u| !u.is_empty()) {
                store.replace_utterances(call.id, &utterances).await?;
                let mono = utterances.iter().all(|u| u.speaker == Speaker::Unknown);
                return self.analyse_and_post(call, payload, utterances, mono).await;
            }
            let (bytes, ext) = source
                .fetch_recording(&call.provider_call_id, call.recording_ref.as_deref())
                .await
                .map_err(unavailable)?;
            let limits = AudioLimits::for_call(call.duration_secs, deps.settings.max_recording);
            let transcript = transcribe(
                deps.stt.as_ref(),
                bytes,
                Some(&ext),
                &deps.settings.channel_roles,
                limits,
            )
            .await
            .map_err(|e| match e {
                TranscribeError::Audio(a) => Failure::Final(format!("bad audio file: {a}")),
                TranscribeError::Stt(SttError::Transient(m)) => Failure::Retry(m),
                TranscribeError::Stt(SttError::Rejected(m)) => {
                    Failure::Final(format!("speech-to-text refused the audio: {m}"))
                }
            })?;
            store
                .replace_utterances(call.id, &transcript.utterances)
                .await?;
            (transcript.utterances, transcript.mono)
        };
        self.analyse_and_post(call, payload, utterances, mono).await
    }

    /// Picks the profile, analyses the transcript, stores the result and queues the post.
    async fn analyse_and_post(
        &self,
        call: &Call,
        payload: &ProcessPayload,
        utterances: Vec<Utterance>,
        mono: bool,
    ) -> Result<(), Failure> {
        let deps = &self.deps;
        let store = &deps.store;
        let chosen = match crate::analysis::pipeline::our_side(call) {
            Some(ours) => store
                .number_profiles()
                .await?
                .into_iter()
                .find(|(n, _)| n == ours.as_str())
                .map(|(_, p)| p),
            None => None,
        };
        let profile_name = payload
            .profile
            .clone()
            .or(chosen)
            .unwrap_or_else(|| deps.settings.profile_for(call));
        let profile = deps
            .profiles
            .get(&profile_name)
            .ok_or_else(|| Failure::Final(format!("unknown analysis profile {profile_name:?}")))?;
        // The team's checklist from its Google Sheet, when there is one.
        let team_checklist = match deps.sheets.as_ref().filter(|_| profile.name == QA_PROFILE) {
            Some(s) => s.checklist_now().await.map(|c| profile.with_checklist(&c)),
            None => None,
        };
        let profile = team_checklist.as_ref().unwrap_or(profile);
        let corrections = if deps.settings.fewshot_examples > 0 {
            store
                .corrections(&profile.name, deps.settings.fewshot_examples)
                .await?
        } else {
            Vec::new()
        };
        let examples = examples_text(&corrections);
        let analysed = match analyse(&deps.llm, profile, &utterances, mono, &examples).await {
            Ok(a) => a,
            Err(AnalysisFailure {
                reason,
                transient,
                replies,
            }) => {
                record_tokens(deps.store.as_ref(), call.id, "analysis", &replies).await;
                return Err(if transient {
                    Failure::Retry(reason)
                } else {
                    Failure::Final(reason)
                });
            }
        };
        record_tokens(deps.store.as_ref(), call.id, "analysis", &analysed.replies).await;
        let analysis_id =
            save_analysed(deps, call.id, profile, &analysed.result, &analysed.replies).await?;
        enqueue_post(&deps.intake, call.id, analysis_id).await?;
        if deps.sheets.as_ref().is_some_and(|s| s.results.is_some()) {
            enqueue_sheets_row(&deps.intake, call.id, analysis_id).await?;
        }
        Ok(())
    }

    /// Marks the call failed and tells its chat, once per job.
    async fn fail_call(&self, job: &Job, call: &Call, reason: &str) -> Result<(), StoreError> {
        let store = &self.deps.store;
        store
            .set_call_status(call.id, CallStatus::Failed, Some(reason))
            .await?;
        let Some(chat) = self.deps.chat_for_call(call).await? else {
            return Ok(());
        };
        let lang = chat_lang(&self.deps.views, chat).await?;
        let text = t_args(
            lang,
            "call-failed",
            &[
                ("id", call.id.into()),
                ("phone", client_phone(call).into()),
                ("reason", explain_failure(lang, reason).into()),
            ],
        );
        let req = PostRequest {
            post_key: format!("call:{}:failed:{}", call.id, job.id),
            chat_id: chat,
            text,
            format: TextFormat::Plain,
            call_id: Some(call.id),
            kind: PostKind::Failure,
            keyboard: None,
            reply_to: None,
            silent: false,
            topic: self.deps.settings.topic_in(chat, call),
        };
        match super::telegram_send::job(&req) {
            Ok(j) => {
                store.enqueue(j).await?;
                self.deps.waker.notify_waiters();
            }
            Err(e) => tracing::error!(error = %e, "failure notice payload"),
        }
        Ok(())
    }
}

#[async_trait]
impl JobHandler for ProcessCall {
    fn kind(&self) -> &'static str {
        PROCESS_KIND
    }

    async fn run(&self, job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let payload: ProcessPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad call.process payload: {e}")))?;
        let store = &self.deps.store;
        let call = store
            .call(payload.call_id)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?
            .ok_or_else(|| {
                JobError::Permanent(format!("call {} does not exist", payload.call_id))
            })?;
        if !payload.force && call.status == CallStatus::Analyzed {
            // A retry after a crash between storing the analysis and finishing the job.
            if let Some(a) = store
                .current_analysis(call.id)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?
            {
                enqueue_post(&self.deps.intake, call.id, a.id)
                    .await
                    .map_err(|e| JobError::Retry(e.to_string()))?;
                return Ok(());
            }
        }
        let started = std::time::Instant::now();
        let result = self.process(&call, &payload).await;
        metrics::histogram!("callops_call_processing_seconds")
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                tracing::info!(
                    call = call.id,
                    secs = started.elapsed().as_secs_f64(),
                    "call analysed"
                );
                Ok(())
            }
            Err(Failure::Retry(m)) if job.attempts < job.max_attempts => {
                let _ = store
                    .set_call_status(call.id, CallStatus::Processing, Some(&m))
                    .await;
                Err(JobError::Retry(m))
            }
            Err(Failure::Retry(m)) | Err(Failure::Final(m)) => {
                tracing::warn!(call = call.id, reason = %m, "call failed");
                Err(JobError::Permanent(m))
            }
        }
    }

    /// Also runs when the job was quarantined (its worker kept dying on this call).
    async fn give_up(&self, job: &Job, reason: &str) -> Result<(), JobError> {
        let Ok(payload) = serde_json::from_value::<ProcessPayload>(job.payload.clone()) else {
            return Ok(());
        };
        let retry = |e: StoreError| JobError::Retry(e.to_string());
        let Some(call) = self.deps.store.call(payload.call_id).await.map_err(retry)? else {
            return Ok(());
        };
        self.fail_call(job, &call, reason).await.map_err(retry)
    }
}
