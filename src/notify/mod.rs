//! How workers post to chats: the [`Notifier`] trait (one Telegram message at a time), the
//! Telegram implementation with pacing and 429 handling, and [`post_once`], which splits a long
//! text and records every part so a retried job never posts a part twice.

mod pacer;
mod split;
mod telegram;

use std::time::Duration;

use async_trait::async_trait;

use crate::store::{Store, StoreError, TelegramPost};

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
    #[error(transparent)]
    Store(#[from] std::sync::Arc<StoreError>),
}

impl From<StoreError> for NotifyError {
    fn from(e: StoreError) -> Self {
        NotifyError::Store(std::sync::Arc::new(e))
    }
}

/// Inline buttons under a message: rows of (label, callback data).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Keyboard(pub Vec<Vec<(String, String)>>);

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
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Buttons under the last part.
    #[serde(default)]
    pub keyboard: Option<Keyboard>,
    /// A message the first part answers.
    #[serde(default)]
    pub reply_to: Option<i32>,
}

fn default_kind() -> String {
    "notice".into()
}

/// Posts `req`, split at Telegram's limit on line boundaries. Each part is recorded under
/// `post_key#n` right after Telegram accepts it, so a retry sends only the parts still missing.
/// Returns the message ids of all parts.
pub async fn post_once(
    store: &dyn Store,
    notifier: &dyn Notifier,
    req: &PostRequest,
) -> Result<Vec<i32>, NotifyError> {
    let parts = split_message(&req.text, TELEGRAM_TEXT_LIMIT);
    let mut ids = Vec::with_capacity(parts.len());
    for (n, part) in parts.iter().enumerate() {
        let key = if n == 0 {
            req.post_key.clone()
        } else {
            format!("{}#{n}", req.post_key)
        };
        if let Some(existing) = store.telegram_post(&key).await? {
            ids.push(existing.message_id);
            continue;
        }
        let keyboard = if n + 1 == parts.len() {
            req.keyboard.as_ref()
        } else {
            None
        };
        let reply_to = if n == 0 { req.reply_to } else { None };
        let id = notifier
            .send_message(req.chat_id, part, req.format, keyboard, reply_to)
            .await?;
        store
            .record_telegram_post(&TelegramPost {
                post_key: key,
                call_id: req.call_id,
                kind: req.kind.clone(),
                chat_id: req.chat_id,
                message_id: id,
                extra_ids: Vec::new(),
            })
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

/// Sends a document exactly once under its `post_key`.
pub async fn send_document_once(
    store: &dyn Store,
    notifier: &dyn Notifier,
    doc: DocumentRequest,
) -> Result<i32, NotifyError> {
    if let Some(existing) = store.telegram_post(&doc.post_key).await? {
        return Ok(existing.message_id);
    }
    let id = notifier
        .send_document(doc.chat_id, &doc.file_name, doc.bytes, &doc.caption)
        .await?;
    store
        .record_telegram_post(&TelegramPost {
            post_key: doc.post_key,
            call_id: doc.call_id,
            kind: "document".into(),
            chat_id: doc.chat_id,
            message_id: id,
            extra_ids: Vec::new(),
        })
        .await?;
    Ok(id)
}
