//! Job kind `telegram.send`: posts a message to a chat exactly once (see
//! [`crate::notify::post_once`]).

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::alerts::{alert_admins, in_doubt, ALERT_KIND};
use crate::jobs::{JobError, JobHandler};
use crate::notify::{post_once, Notifier, PostRequest};
use crate::store::{Job, NewJob, Store};

pub const KIND: &str = "telegram.send";

/// The job to post `req`; its post key is also the job's idempotency key.
pub fn job(req: &PostRequest) -> Result<NewJob, serde_json::Error> {
    Ok(NewJob::new(KIND, serde_json::to_value(req)?)
        .key(req.post_key.clone())
        .priority(10)
        .max_attempts(8))
}

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
        if req.kind == ALERT_KIND {
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
