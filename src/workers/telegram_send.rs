//! Job kind `telegram.send`: posts a message to a chat exactly once (see
//! [`crate::notify::post_once`]), and the private alerts to administrators built on it: when a
//! post cannot be made, or may not have been, each admin gets a durable `telegram.send` of their
//! own (an alert's own failure alerts nobody, so a Telegram outage cannot loop).

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::domain::PostKind;
use crate::i18n::{t_args, FluentArg, Lang};
use crate::jobs::{JobError, JobHandler};
use crate::notify::{post_once, Notifier, PostRequest, TextFormat};
use crate::store::{Job, Store, StoreError};

pub use crate::notify::{post_job as job, POST_KIND as KIND};

pub struct TelegramSend {
    pub store: Arc<dyn Store>,
    pub notifier: Arc<dyn Notifier>,
    /// Told in private when a post cannot be made (`TELEGRAM_ADMINS`).
    pub admins: Vec<i64>,
}

#[async_trait]
impl JobHandler for TelegramSend {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let req: PostRequest = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad telegram.send payload: {e}")))?;
        match post_once(
            self.store.as_ref(),
            self.notifier.as_ref(),
            &req,
            job.fence().as_ref(),
        )
        .await
        {
            Ok(ids) => {
                tracing::info!(job = job.id, post = %req.post_key, chat = req.chat_id, parts = ids.len(), "posted to Telegram");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Tells the admins that a post was not made (or may not have been); alerts alert nobody.
    async fn give_up(&self, job: &Job, reason: &str) -> Result<(), JobError> {
        let Ok(req) = serde_json::from_value::<PostRequest>(job.payload.clone()) else {
            return Ok(());
        };
        if req.kind == PostKind::AdminAlert {
            return Ok(());
        }
        let key = if in_doubt(reason) {
            "alert-post-in-doubt"
        } else {
            "alert-post-failed"
        };
        let call = req
            .call_id
            .map_or_else(|| "—".to_string(), |c| format!("№{c}"));
        alert_admins(
            self.store.as_ref(),
            &self.admins,
            &req.post_key,
            key,
            &[
                ("chat", req.chat_id.to_string().into()),
                ("call", call.into()),
                (
                    "reason",
                    reason.chars().take(300).collect::<String>().into(),
                ),
            ],
        )
        .await
        .map_err(|e| JobError::Retry(e.to_string()))
    }
}

/// Queues `key`/`args` (a locale message) to every admin, in the language of their private chat.
pub async fn alert_admins(
    store: &dyn Store,
    admins: &[i64],
    post_key: &str,
    key: &str,
    args: &[(&'static str, FluentArg)],
) -> Result<(), StoreError> {
    for &admin in admins {
        let lang = store
            .chat_language(admin)
            .await?
            .map_or(Lang::Ru, |c| Lang::from_code(Some(&c)));
        let req = PostRequest {
            post_key: format!("{post_key}:alert:{admin}"),
            chat_id: admin,
            text: t_args(lang, key, args),
            format: TextFormat::Plain,
            call_id: None,
            kind: PostKind::AdminAlert,
            keyboard: None,
            reply_to: None,
            silent: false,
            topic: None,
        };
        match job(&req) {
            Ok(job) => {
                store.enqueue(job).await?;
            }
            Err(e) => tracing::error!(error = %e, "admin alert payload"),
        }
    }
    if admins.is_empty() {
        tracing::warn!(post = post_key, "nobody to alert: TELEGRAM_ADMINS is empty");
    }
    Ok(())
}

/// Whether a job's give-up reason says the send is in doubt (it may have been delivered).
pub fn in_doubt(reason: &str) -> bool {
    reason.contains("may or may not have been delivered")
}
