//! How workers post to chats: the [`Notifier`] trait (one Telegram message at a time), the
//! Telegram implementation with pacing and 429 handling, and [`post_once`], which splits a long
//! text and records every part so a retried job never posts a part twice.
//!
//! Every send is a side effect outside the process, so [`send_once`] claims it durably before the
//! request ("started"), checks the job's lease right before it, and stores the message id right
//! after. When a send fails in a way that proves nothing was posted (Telegram answered with an
//! error, or could not be reached), the claim is withdrawn and a retry may send. When it is unclear
//! (the request may have reached Telegram: a timeout, a connection cut mid-answer, a worker that
//! stalled or died during the request), the claim stays and the post is **in doubt**: we take the
//! conservative side and never send it again, because Telegram has no idempotency key and a
//! duplicate protocol misleads a team more than a missing one that an admin is told about.

mod pacer;
mod split;
mod telegram;

use std::time::Duration;

use async_trait::async_trait;

use crate::store::{EffectClaim, LeaseFence, Store, StoreError, TelegramPost};

use crate::domain::PostKind;
pub use pacer::ChatPacer;
pub use split::{split_message, utf16_len, TELEGRAM_TEXT_LIMIT};
pub use telegram::{markup as inline_markup, TelegramNotifier};

/// How the text is to be parsed by Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextFormat {
    #[default]
    Plain,
    Html,
}

/// Why a message could not be delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotifyError {
    /// Telegram kept answering 429; try again after this long.
    #[error("Telegram rate limit: retry after {0:?}")]
    RetryAfter(Duration),
    /// Network trouble or a server error: worth retrying.
    #[error("Telegram unreachable: {0}")]
    Transient(String),
    /// Telegram refused the request (chat not found, bot blocked, bad text): retrying won't help.
    #[error("Telegram refused the message: {0}")]
    Rejected(String),
    /// The request may have reached Telegram and no answer came back: the message may be there.
    #[error("the message may or may not have been delivered: {0}")]
    InDoubt(String),
    /// This worker no longer holds its job's lease, so it must not send for the job.
    #[error("the job's lease was lost before sending")]
    LeaseLost,
    #[error(transparent)]
    Store(#[from] std::sync::Arc<StoreError>),
}

impl NotifyError {
    /// Whether the failed request provably posted nothing (so sending again is safe).
    pub fn nothing_sent(&self) -> bool {
        !matches!(self, NotifyError::InDoubt(_))
    }
}

impl From<StoreError> for NotifyError {
    fn from(e: StoreError) -> Self {
        NotifyError::Store(std::sync::Arc::new(e))
    }
}

/// Inline buttons under a message: rows of (label, callback data).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Keyboard(pub Vec<Vec<(String, String)>>);

/// How a message is delivered besides its text: the message it answers, and whether it buzzes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quietly {
    pub reply_to: Option<i32>,
    pub silent: bool,
}

/// Sends and edits single chat messages (each within Telegram's limits).
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Sends one message; returns its id.
    async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
        reply_to: Option<i32>,
    ) -> Result<i32, NotifyError>;
    /// Sends one message without a sound or a banner (`disable_notification`); returns its id.
    /// Notifiers that cannot be quiet send it as usual.
    async fn send_silent_message(
        &self,
        chat_id: i64,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
        reply_to: Option<i32>,
    ) -> Result<i32, NotifyError> {
        self.send_message(chat_id, text, format, keyboard, reply_to)
            .await
    }
    /// Sends one message into a forum topic of a supergroup (`message_thread_id`), quietly when
    /// `silent`; returns its id. Notifiers without topics send it to the chat.
    async fn send_to_topic(
        &self,
        chat_id: i64,
        topic: i32,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
        how: Quietly,
    ) -> Result<i32, NotifyError> {
        let _ = topic;
        if how.silent {
            self.send_silent_message(chat_id, text, format, keyboard, how.reply_to)
                .await
        } else {
            self.send_message(chat_id, text, format, keyboard, how.reply_to)
                .await
        }
    }
    /// Replaces a message's text; "message is not modified" counts as success.
    async fn edit_message(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
    ) -> Result<(), NotifyError>;
    /// Sends 2–10 PNG pictures as one album (the first carries `caption`); returns the first id.
    async fn send_album(
        &self,
        chat_id: i64,
        pictures: Vec<(String, Vec<u8>)>,
        caption: &str,
    ) -> Result<i32, NotifyError>;
    /// Sends a file; returns the message id.
    async fn send_document(
        &self,
        chat_id: i64,
        file_name: &str,
        bytes: Vec<u8>,
        caption: &str,
    ) -> Result<i32, NotifyError>;
    /// Sends audio to play in the chat (`sendAudio`), answering `reply_to`; returns the message
    /// id. Notifiers without a player send it as a file.
    async fn send_audio(
        &self,
        chat_id: i64,
        file_name: &str,
        bytes: Vec<u8>,
        caption: &str,
        reply_to: Option<i32>,
    ) -> Result<i32, NotifyError> {
        let _ = reply_to;
        self.send_document(chat_id, file_name, bytes, caption).await
    }
}

/// A post that must reach a chat exactly once.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PostRequest {
    /// Unique name of this post, e.g. `call:42:protocol`.
    pub post_key: String,
    pub chat_id: i64,
    pub text: String,
    #[serde(default)]
    pub format: TextFormat,
    #[serde(default)]
    pub call_id: Option<i64>,
    /// What the post is (`protocol`, `notice`...), for the record.
    #[serde(default)]
    pub kind: PostKind,
    /// Buttons under the last part.
    #[serde(default)]
    pub keyboard: Option<Keyboard>,
    /// A message the first part answers.
    #[serde(default)]
    pub reply_to: Option<i32>,
    /// Delivered without a sound (a cold lead, a refusal): the chat buzzes for what matters.
    #[serde(default)]
    pub silent: bool,
    /// The forum topic of a supergroup it goes to (a department's topic).
    #[serde(default)]
    pub topic: Option<i32>,
}

/// The job kind that posts a [`PostRequest`] (handled by `workers::telegram_send`).
pub const POST_KIND: &str = "telegram.send";

/// The job to post `req`; its post key is also the job's idempotency key.
pub fn post_job(req: &PostRequest) -> Result<crate::store::NewJob, serde_json::Error> {
    Ok(
        crate::store::NewJob::new(POST_KIND, serde_json::to_value(req)?)
            .key(req.post_key.clone())
            .priority(10)
            .max_attempts(8),
    )
}

/// Sends one message at most once under `key`: an existing record is returned as is; otherwise the
/// job's lease (`fence`) is checked and renewed, the send is claimed, `send` runs, and its message
/// id is stored. See the module header for what happens when a send is in doubt.
pub async fn send_once<F, Fut>(
    store: &dyn Store,
    key: &str,
    meta: (Option<i64>, PostKind, i64),
    fence: Option<&LeaseFence>,
    send: F,
) -> Result<i32, NotifyError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<i32, NotifyError>>,
{
    let (call_id, kind, chat_id) = meta;
    if let Some(existing) = store.telegram_post(key).await? {
        return Ok(existing.message_id);
    }
    if let Some(f) = fence {
        if !store.renew(f.job_id, f.token, f.lease).await? {
            return Err(NotifyError::LeaseLost);
        }
    }
    let record = |message_id: i32| TelegramPost {
        post_key: key.to_string(),
        call_id,
        kind,
        chat_id,
        message_id,
        extra_ids: Vec::new(),
    };
    match store.begin_effect(key).await? {
        EffectClaim::Begun => {}
        EffectClaim::Done(result) => {
            if let Some(id) = result.and_then(|r| r.parse::<i32>().ok()) {
                store.record_telegram_post(&record(id)).await?;
                return Ok(id);
            }
            return Err(NotifyError::InDoubt(format!(
                "{key} was sent but its message id was not kept"
            )));
        }
        EffectClaim::InDoubt { since } => {
            return Err(NotifyError::InDoubt(format!(
                "an earlier attempt began sending {key} at {} and never recorded the result; not sending it again",
                since.format("%Y-%m-%d %H:%M:%S UTC")
            )));
        }
    }
    match send().await {
        Ok(id) => {
            store.record_telegram_post(&record(id)).await?;
            store.finish_effect(key, &id.to_string()).await?;
            Ok(id)
        }
        Err(e) if e.nothing_sent() => {
            store.abandon_effect(key).await?;
            Err(e)
        }
        Err(e) => {
            tracing::error!(post = key, chat = chat_id, error = %e, "a send is in doubt: it will not be repeated");
            Err(e)
        }
    }
}

/// Posts `req`, split at Telegram's limit on line boundaries, each part once under `post_key#n`
/// (see [`send_once`]), so a retry sends only the parts still missing. `fence` is the posting
/// job's lease (none outside jobs). Returns the message ids of all parts.
pub async fn post_once(
    store: &dyn Store,
    notifier: &dyn Notifier,
    req: &PostRequest,
    fence: Option<&LeaseFence>,
) -> Result<Vec<i32>, NotifyError> {
    let parts = split_message(&req.text, TELEGRAM_TEXT_LIMIT);
    let mut ids = Vec::with_capacity(parts.len());
    for (n, part) in parts.iter().enumerate() {
        let key = if n == 0 {
            req.post_key.clone()
        } else {
            format!("{}#{n}", req.post_key)
        };
        let keyboard = if n + 1 == parts.len() {
            req.keyboard.as_ref()
        } else {
            None
        };
        let reply_to = if n == 0 { req.reply_to } else { None };
        let id = send_once(
            store,
            &key,
            (req.call_id, req.kind, req.chat_id),
            fence,
            || async {
                if let Some(topic) = req.topic {
                    let how = Quietly {
                        reply_to,
                        silent: req.silent,
                    };
                    notifier
                        .send_to_topic(req.chat_id, topic, part, req.format, keyboard, how)
                        .await
                } else if req.silent {
                    notifier
                        .send_silent_message(req.chat_id, part, req.format, keyboard, reply_to)
                        .await
                } else {
                    notifier
                        .send_message(req.chat_id, part, req.format, keyboard, reply_to)
                        .await
                }
            },
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// A file to post exactly once.
#[derive(Debug, Clone)]
pub struct DocumentRequest {
    pub post_key: String,
    pub call_id: Option<i64>,
    pub chat_id: i64,
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub caption: String,
}

/// Sends a document once under its `post_key` (see [`send_once`]).
pub async fn send_document_once(
    store: &dyn Store,
    notifier: &dyn Notifier,
    doc: DocumentRequest,
    fence: Option<&LeaseFence>,
) -> Result<i32, NotifyError> {
    let DocumentRequest {
        post_key,
        call_id,
        chat_id,
        file_name,
        bytes,
        caption,
    } = doc;
    send_once(
        store,
        &post_key,
        (call_id, PostKind::Document, chat_id),
        fence,
        || notifier.send_document(chat_id, &file_name, bytes, &caption),
    )
    .await
}
