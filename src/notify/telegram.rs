//! The Telegram [`Notifier`]: paces every request per chat, waits out 429 `retry_after` a few
//! times before handing the wait to the job queue, and classifies errors as transient or final.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use std::future::IntoFuture;
use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters};

use teloxide::payloads::{SendAudioSetters, SendDocumentSetters};
use teloxide::prelude::Requester;
use teloxide::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, InputMedia, InputMediaPhoto,
    MessageId, ParseMode, ReplyParameters, ThreadId,
};
use teloxide::{ApiError, Bot, RequestError};

use super::{ChatPacer, Keyboard, Notifier, NotifyError, Quietly, TextFormat};

/// Longest 429 wait handled in place; longer ones go back to the job queue.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(60);
const MAX_INLINE_RETRIES: usize = 3;

pub struct TelegramNotifier {
    bot: Bot,
    pacer: Arc<ChatPacer>,
    token: String,
}

impl TelegramNotifier {
    pub fn new(bot: Bot, pacer: Arc<ChatPacer>, token: &str) -> Self {
        Self {
            bot,
            pacer,
            token: token.to_string(),
        }
    }

    fn redact(&self, s: String) -> String {
        if self.token.is_empty() {
            s
        } else {
            s.replace(&self.token, "***")
        }
    }

    /// Runs `op` with pacing and in-place 429 retries.
    async fn paced<T, F, Fut>(&self, chat_id: i64, op: F) -> Result<T, NotifyError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, RequestError>>,
    {
        let mut tries = 0;
        loop {
            self.pacer.wait(chat_id).await;
            match op().await {
                Ok(v) => return Ok(v),
                Err(RequestError::RetryAfter(s)) => {
                    let wait = s.duration();
                    metrics::counter!("callops_telegram_429_total").increment(1);
                    self.pacer.penalise(chat_id, wait).await;
                    tries += 1;
                    if tries > MAX_INLINE_RETRIES || wait > MAX_INLINE_WAIT {
                        return Err(NotifyError::RetryAfter(wait));
                    }
                    tracing::warn!(
                        chat = chat_id,
                        wait_secs = wait.as_secs(),
                        "Telegram 429: waiting before retrying"
                    );
                }
                Err(e) => return Err(self.classify(e)),
            }
        }
    }

    fn classify(&self, e: RequestError) -> NotifyError {
        let text = self.redact(e.to_string());
        match e {
            // Refused before anything reached Telegram.
            RequestError::Network(n) if n.is_connect() || n.is_builder() => {
                NotifyError::Transient(text)
            }
            // A timeout or a connection cut after the request went out: it may have been posted.
            RequestError::Network(_) => NotifyError::InDoubt(text),
            RequestError::Io(_) => NotifyError::Transient(text),
            // Not Telegram's JSON: a proxy's error page. A gateway timeout may hide a delivery.
            RequestError::InvalidJson { raw, .. } => {
                if raw.contains("504") || raw.to_ascii_lowercase().contains("timeout") {
                    NotifyError::InDoubt(text)
                } else {
                    NotifyError::Transient(text)
                }
            }
            RequestError::MigrateToChatId(id) => NotifyError::Rejected(format!(
                "the group became a supergroup; use chat id {} instead",
                id.0
            )),
            RequestError::RetryAfter(s) => NotifyError::RetryAfter(s.duration()),
            RequestError::Api(api) => classify_api(api, text),
        }
    }
}

/// Telegram's own error answers: 400 (bad request), 401, 403 (bot blocked or removed from the
/// chat), 404 and 409 are final; 5xx ("Internal Server Error", "Bad Gateway") and anything
/// unrecognised are passing faults, retried a bounded number of times by the job.
fn classify_api(api: ApiError, text: String) -> NotifyError {
    match api {
        ApiError::Unknown(description) => {
            let final_prefixes = [
                "Bad Request",
                "Unauthorized",
                "Forbidden",
                "Not Found",
                "Conflict",
            ];
            if final_prefixes.iter().any(|p| description.starts_with(p)) {
                NotifyError::Rejected(text)
            } else {
                NotifyError::Transient(text)
            }
        }
        // Every error teloxide recognises by name is a 400/403-class refusal.
        _ => NotifyError::Rejected(text),
    }
}

/// Telegram inline buttons from a [`Keyboard`].
pub fn markup(k: &Keyboard) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(k.0.iter().map(|row| {
        row.iter()
            .map(|(label, data)| InlineKeyboardButton::callback(label.clone(), data.clone()))
            .collect::<Vec<_>>()
    }))
}

fn parse_mode(format: TextFormat) -> Option<ParseMode> {
    match format {
        TextFormat::Plain => None,
        TextFormat::Html => Some(ParseMode::Html),
    }
}

impl TelegramNotifier {
    /// `sendMessage`, quietly when `silent`.
    async fn send(
        &self,
        chat_id: i64,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
        how: Quietly,
        topic: Option<i32>,
    ) -> Result<i32, NotifyError> {
        let (reply_to, silent) = (how.reply_to, how.silent);
        let msg = self
            .paced(chat_id, || {
                let mut req = self.bot.send_message(ChatId(chat_id), text);
                if silent {
                    req = req.disable_notification(true);
                }
                if let Some(t) = topic {
                    req = req.message_thread_id(ThreadId(MessageId(t)));
                }
                if let Some(mode) = parse_mode(format) {
                    req = req.parse_mode(mode);
                }
                if let Some(k) = keyboard {
                    req = req.reply_markup(markup(k));
                }
                if let Some(id) = reply_to {
                    req = req.reply_parameters(
                        ReplyParameters::new(MessageId(id)).allow_sending_without_reply(),
                    );
                }
                req.into_future()
            })
            .await?;
        metrics::counter!("callops_telegram_messages_total", "op" => "send").increment(1);
        Ok(msg.id.0)
    }
}

#[async_trait]
impl Notifier for TelegramNotifier {
    async fn send_message(
        &self,
        chat_id: i64,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
        reply_to: Option<i32>,
    ) -> Result<i32, NotifyError> {
        let how = Quietly {
            reply_to,
            silent: false,
        };
        self.send(chat_id, text, format, keyboard, how, None).await
    }

    async fn send_silent_message(
        &self,
        chat_id: i64,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
        reply_to: Option<i32>,
    ) -> Result<i32, NotifyError> {
        let how = Quietly {
            reply_to,
            silent: true,
        };
        self.send(chat_id, text, format, keyboard, how, None).await
    }

    async fn send_to_topic(
        &self,
        chat_id: i64,
        topic: i32,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
        how: Quietly,
    ) -> Result<i32, NotifyError> {
        self.send(chat_id, text, format, keyboard, how, Some(topic))
            .await
    }

    async fn edit_message(
        &self,
        chat_id: i64,
        message_id: i32,
        text: &str,
        format: TextFormat,
        keyboard: Option<&Keyboard>,
    ) -> Result<(), NotifyError> {
        let result = self
            .paced(chat_id, || async {
                let mut req =
                    self.bot
                        .edit_message_text(ChatId(chat_id), MessageId(message_id), text);
                if let Some(mode) = parse_mode(format) {
                    req = req.parse_mode(mode);
                }
                if let Some(k) = keyboard {
                    req = req.reply_markup(markup(k));
                }
                match req.await {
                    Ok(_) | Err(RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await;
        metrics::counter!("callops_telegram_messages_total", "op" => "edit").increment(1);
        result
    }

    async fn send_document(
        &self,
        chat_id: i64,
        file_name: &str,
        bytes: Vec<u8>,
        caption: &str,
    ) -> Result<i32, NotifyError> {
        let msg = self
            .paced(chat_id, || {
                self.bot
                    .send_document(
                        ChatId(chat_id),
                        InputFile::memory(bytes.clone()).file_name(file_name.to_string()),
                    )
                    .caption(caption)
                    .into_future()
            })
            .await?;
        metrics::counter!("callops_telegram_messages_total", "op" => "document").increment(1);
        Ok(msg.id.0)
    }

    async fn send_audio(
        &self,
        chat_id: i64,
        file_name: &str,
        bytes: Vec<u8>,
        caption: &str,
        reply_to: Option<i32>,
    ) -> Result<i32, NotifyError> {
        let msg = self
            .paced(chat_id, || {
                let mut req = self
                    .bot
                    .send_audio(
                        ChatId(chat_id),
                        InputFile::memory(bytes.clone()).file_name(file_name.to_string()),
                    )
                    .caption(caption);
                if let Some(id) = reply_to {
                    req = req.reply_parameters(
                        ReplyParameters::new(MessageId(id)).allow_sending_without_reply(),
                    );
                }
                req.into_future()
            })
            .await?;
        metrics::counter!("callops_telegram_messages_total", "op" => "audio").increment(1);
        Ok(msg.id.0)
    }

    async fn send_album(
        &self,
        chat_id: i64,
        pictures: Vec<(String, Vec<u8>)>,
        caption: &str,
    ) -> Result<i32, NotifyError> {
        let messages = self
            .paced(chat_id, || {
                let media: Vec<InputMedia> = pictures
                    .iter()
                    .enumerate()
                    .map(|(i, (name, bytes))| {
                        let photo = InputMediaPhoto::new(
                            InputFile::memory(bytes.clone()).file_name(name.clone()),
                        );
                        InputMedia::Photo(if i == 0 {
                            photo.caption(caption)
                        } else {
                            photo
                        })
                    })
                    .collect();
                self.bot
                    .send_media_group(ChatId(chat_id), media)
                    .into_future()
            })
            .await?;
        metrics::counter!("callops_telegram_messages_total", "op" => "album").increment(1);
        Ok(messages.first().map_or(0, |m| m.id.0))
    }
}
