//! Job kind `call.recording`: the «🎧 Запись» button's work. The call's recording is fetched from
//! its PBX, as for transcription, and sent to the chat as audio answering the protocol, once per
//! chat. A recording over Telegram's 50 MB limit for bots, or one the PBX no longer has, gets a
//! message saying so instead.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::analysis::pipeline::PipelineDeps;
use crate::analysis::protocol::client_phone;
use crate::analysis::queue::{recording_key, RecordingPayload, RECORDING_KIND};
use crate::analysis::view::chat_lang;
use crate::domain::PostKind;
use crate::i18n::t_args;
use crate::jobs::{JobError, JobHandler};
use crate::notify::{post_once, send_once, Notifier, PostRequest, TextFormat};
use crate::store::{Job, StoreError};
use crate::telephony::TelephonyError;

/// The largest file a bot may send.
pub const TELEGRAM_UPLOAD_LIMIT: usize = 50 * 1024 * 1024;

pub struct SendRecording {
    pub deps: Arc<PipelineDeps>,
    pub notifier: Arc<dyn Notifier>,
}

#[async_trait]
impl JobHandler for SendRecording {
    fn kind(&self) -> &'static str {
        RECORDING_KIND
    }

    async fn run(&self, job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let p: RecordingPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad call.recording payload: {e}")))?;
        let store = self.deps.store.as_ref();
        let retry = |e: StoreError| JobError::Retry(e.to_string());
        let call = store
            .call(p.call_id)
            .await
            .map_err(retry)?
            .ok_or_else(|| JobError::Permanent("no such call".into()))?;
        let lang = chat_lang(&self.deps.views, p.chat_id)
            .await
            .map_err(retry)?;
        let key = recording_key(p.call_id, p.chat_id);
        let fence = job.fence();
        let notice = |text: String| PostRequest {
            post_key: format!("{key}:notice"),
            chat_id: p.chat_id,
            text,
            format: TextFormat::Plain,
            call_id: Some(p.call_id),
            kind: PostKind::Notice,
            keyboard: None,
            reply_to: p.reply_to,
            silent: true,
            topic: None,
        };
        let source = self.deps.sources.get(&call.provider).ok_or_else(|| {
            JobError::Permanent(format!("no call source for provider {:?}", call.provider))
        })?;
        let fetched = source
            .fetch_recording(&call.provider_call_id, call.recording_ref.as_deref())
            .await;
        let (bytes, ext) = match fetched {
            Ok(r) => r,
            Err(e @ (TelephonyError::Rejected(_) | TelephonyError::TooLarge(_))) => {
                let text = t_args(
                    lang,
                    "recording-unavailable",
                    &[("id", p.call_id.into()), ("reason", e.to_string().into())],
                );
                post_once(store, self.notifier.as_ref(), &notice(text), fence.as_ref()).await?;
                return Ok(());
            }
            Err(e) => return Err(JobError::Retry(e.to_string())),
        };
        if bytes.len() > TELEGRAM_UPLOAD_LIMIT {
            let text = t_args(lang, "recording-too-large", &[("id", p.call_id.into())]);
            post_once(store, self.notifier.as_ref(), &notice(text), fence.as_ref()).await?;
            return Ok(());
        }
        let caption = t_args(
            lang,
            "recording-audio-caption",
            &[
                ("id", p.call_id.into()),
                ("phone", client_phone(&call).into()),
            ],
        );
        let file_name = format!("call-{}.{}", p.call_id, ext.trim_start_matches('.'));
        send_once(
            store,
            &format!("{key}:audio"),
            (Some(p.call_id), PostKind::Document, p.chat_id),
            fence.as_ref(),
            || {
                self.notifier
                    .send_audio(p.chat_id, &file_name, bytes, &caption, p.reply_to)
            },
        )
        .await?;
        tracing::info!(call = p.call_id, "recording sent to the chat");
        Ok(())
    }
}
