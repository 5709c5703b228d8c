//! Job kind `call.post`: renders a call's protocol and posts it to its chat with the feedback
//! buttons, exactly once per analysis; a transcript too long for the message follows as a file.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::telegram_send::{alert_admins, in_doubt};
use crate::analysis::pipeline::PipelineDeps;
use crate::analysis::queue::{post_key, PostPayload, POST_KIND};
use crate::analysis::view::{chat_lang, feedback_keyboard, render_current, what_changed};
use crate::domain::call_end;
use crate::domain::PostKind;
use crate::i18n::t_args;
use crate::jobs::{JobError, JobHandler};
use crate::notify::{
    post_once, send_document_once, DocumentRequest, Notifier, PostRequest, TextFormat,
};
use crate::store::{Job, Store, StoreError};

pub struct PostProtocol {
    pub deps: Arc<PipelineDeps>,
    pub notifier: Arc<dyn Notifier>,
}

#[async_trait]
impl JobHandler for PostProtocol {
    fn kind(&self) -> &'static str {
        POST_KIND
    }

    async fn run(&self, job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let p: PostPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad call.post payload: {e}")))?;
        let store: &dyn Store = self.deps.store.as_ref();
        let retry = |e: StoreError| JobError::Retry(e.to_string());
        let call = store
            .call(p.call_id)
            .await
            .map_err(retry)?
            .ok_or_else(|| JobError::Permanent("no such call".into()))?;
        let current = store.current_analysis(p.call_id).await.map_err(retry)?;
        if current.as_ref().map(|a| a.id) != Some(p.analysis_id) {
            tracing::info!(
                call = p.call_id,
                "a newer analysis replaced this one; its own post will follow"
            );
            return Ok(());
        }
        let chat = self
            .deps
            .chat_for_call(&call)
            .await
            .map_err(retry)?
            .ok_or_else(|| {
                JobError::Permanent("no chat for protocols: set TELEGRAM_CHAT_ID".into())
            })?;
        let lang = chat_lang(&self.deps.views, chat).await.map_err(retry)?;
        let Some((rendered, _)) = render_current(&self.deps.views, p.call_id, lang)
            .await
            .map_err(retry)?
        else {
            return Err(JobError::Permanent(
                "the analysis or its profile is gone".into(),
            ));
        };
        let key = post_key(p.call_id, p.analysis_id);
        // A re-analysis answers the previous protocol and says what changed.
        let mut text = rendered.text;
        let mut reply_to = None;
        if let Some(prev) = store
            .previous_analysis(p.call_id, p.analysis_id)
            .await
            .map_err(retry)?
        {
            if let Some(post) = store
                .telegram_post(&post_key(p.call_id, prev.id))
                .await
                .map_err(retry)?
            {
                if post.chat_id == chat {
                    reply_to = Some(post.message_id);
                }
            }
            let now = current.as_ref();
            text = format!("{}\n\n{text}", what_changed(lang, &prev, now));
        }
        let req = PostRequest {
            post_key: key.clone(),
            chat_id: chat,
            text,
            format: TextFormat::Html,
            call_id: Some(p.call_id),
            kind: PostKind::Protocol,
            keyboard: Some(feedback_keyboard(
                lang,
                p.call_id,
                call.recording_ref.is_some(),
            )),
            reply_to,
            silent: current
                .as_ref()
                .and_then(|a| a.lead_category)
                .is_some_and(|c| !c.buzzes()),
            topic: self.deps.settings.topic_in(chat, &call),
        };
        post_once(store, self.notifier.as_ref(), &req, job.fence().as_ref())
            .await
            .map_err(JobError::from)?;
        store.mark_posted(p.call_id).await.map_err(retry)?;
        if let Some(file) = rendered.transcript_file {
            let caption = t_args(lang, "transcript-file-caption", &[("id", p.call_id.into())]);
            let doc = DocumentRequest {
                post_key: format!("{key}:transcript"),
                call_id: Some(p.call_id),
                chat_id: chat,
                file_name: format!("call-{}.txt", p.call_id),
                bytes: file,
                caption,
            };
            send_document_once(store, self.notifier.as_ref(), doc, job.fence().as_ref())
                .await
                .map_err(JobError::from)?;
        }
        if let Some((_, wav)) = store.recording(p.call_id).await.map_err(retry)? {
            // The service's own recording (a call the agent placed): stereo, agent left.
            let caption = t_args(lang, "recording-file-caption", &[("id", p.call_id.into())]);
            let doc = DocumentRequest {
                post_key: format!("{key}:recording"),
                call_id: Some(p.call_id),
                chat_id: chat,
                file_name: format!("call-{}.wav", p.call_id),
                bytes: wav,
                caption,
            };
            send_document_once(store, self.notifier.as_ref(), doc, job.fence().as_ref())
                .await
                .map_err(JobError::from)?;
        }
        let latency =
            (chrono::Utc::now() - call_end(call.started_at, call.duration_secs)).num_milliseconds();
        metrics::histogram!("callops_call_to_protocol_seconds")
            .record(latency.max(0) as f64 / 1000.0);
        tracing::info!(call = p.call_id, chat, "protocol posted");
        Ok(())
    }

    /// Tells the admins in private that the protocol was not posted (or may not have been).
    async fn give_up(&self, job: &Job, reason: &str) -> Result<(), JobError> {
        let Ok(p) = serde_json::from_value::<PostPayload>(job.payload.clone()) else {
            return Ok(());
        };
        let key = if in_doubt(reason) {
            "alert-protocol-in-doubt"
        } else {
            "alert-protocol-failed"
        };
        alert_admins(
            self.deps.store.as_ref(),
            &self.deps.settings.admins,
            &post_key(p.call_id, p.analysis_id),
            key,
            &[
                ("id", p.call_id.into()),
                (
                    "reason",
                    reason.chars().take(300).collect::<String>().into(),
                ),
            ],
        )
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
        self.deps.waker.notify_waiters();
        Ok(())
    }
}
