//! What every bot handler shares: the injected dependencies (with the one access check), the
//! error type handlers end with, and the language a reply is written in.

use std::sync::Arc;

use teloxide::prelude::*;

use super::access::Access;
use crate::analysis::pipeline::{CallIntake, ProtocolViews};
use crate::domain::Role;
use crate::i18n::Lang;
use crate::notify::Notifier;
use crate::store::Store;

/// What handlers need, injected through dptree.
pub struct BotDeps {
    pub store: Arc<dyn Store>,
    pub admins: Vec<u64>,
    pub team_chat: Option<i64>,
    /// Every team chat: `team_chat` and the chats protocols are routed to by number.
    pub team_chats: Vec<i64>,
    /// Queueing work on calls (re-analysis, recording a rehearsal), when analysis is on.
    pub intake: Option<Arc<CallIntake>>,
    /// Showing protocols and choosing profiles, when analysis is on.
    pub views: Option<Arc<ProtocolViews>>,
    /// The call sources polled (provider names), for `/pull`.
    pub sources: Vec<String>,
    pub notifier: Option<Arc<dyn Notifier>>,
    /// Time zone of periods and dates in replies.
    pub timezone: chrono_tz::Tz,
    /// Voice-agent rehearsals, when the providers are configured.
    pub rehearsal: Option<Arc<crate::agent::rehearsal::RehearsalDeps>>,
    /// Phone calls by the agent, when a SIP trunk is configured.
    pub dialer: Option<Arc<crate::outbound::Dialer>>,
    /// Hours in which `/call` dials without asking (the callee's local time).
    pub call_window: crate::domain::CallWindow,
    /// Number → region → time zone (the numbering plan registry).
    pub numbering: Arc<crate::domain::numbering::Numbering>,
    /// The campaign dialer, when phone calls are on.
    pub campaigns: Option<Arc<crate::outbound::campaign_runner::CampaignRunner>>,
    /// Progress messages of campaigns.
    pub campaign_chat: Option<Arc<crate::outbound::campaign_chat::CampaignChat>>,
    /// What a new campaign gets unless its caption says otherwise.
    pub campaign_defaults: Option<crate::outbound::campaign_import::CampaignDefaults>,
    /// What speech costs per vendor (the agent's figures in `/stats`).
    pub speech_prices: crate::speech::SpeechPrices,
}

impl BotDeps {
    /// What `user` may do in `chat`.
    pub async fn access(&self, user: u64, chat: i64) -> Result<Access, crate::store::StoreError> {
        super::access::resolve_access(
            self.store.as_ref(),
            &self.admins,
            &self.team_chats,
            user,
            chat,
        )
        .await
    }
}

/// The chat and message a button was pressed under, when Telegram still shows it.
#[derive(Debug, Clone, Copy)]
pub struct Pressed {
    pub chat: ChatId,
    pub message: teloxide::types::MessageId,
}

/// A role's name in `lang`.
pub(super) fn role_name(lang: Lang, role: Role) -> String {
    crate::i18n::t(lang, &format!("role-{}", role.as_str()))
}

/// «Доступно роли …»: what someone below `role` is told.
pub(super) fn role_required(lang: Lang, role: Role) -> String {
    crate::i18n::t_args(
        lang,
        "role-required",
        &[("role", role_name(lang, role).into())],
    )
}

/// Whether `access` allows `needed`; if not, the presser gets `refusal` as an alert.
pub(super) async fn allowed(
    bot: &Bot,
    q: &CallbackQuery,
    access: Access,
    needed: Role,
    refusal: String,
) -> Result<bool, BotError> {
    if matches!(access, Access::Allowed(role) if role.allows(needed)) {
        return Ok(true);
    }
    tracing::info!(
        user = q.from.id.0,
        needed = needed.as_str(),
        "button press refused"
    );
    bot.answer_callback_query(q.id.clone())
        .text(refusal)
        .show_alert(true)
        .await?;
    Ok(false)
}

/// The language of the person who pressed a button.
pub(super) fn lang_of(q: &CallbackQuery) -> Lang {
    Lang::from_code(q.from.language_code.as_deref())
}

/// Errors a handler can end with (logged by the dispatcher).
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Telegram(#[from] teloxide::RequestError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Internal(String),
}

/// The author of the message `msg` answers. In a forum topic every message "replies" to the
/// topic's service message (its creation); that is no answer to anyone.
pub fn replied_to_user(msg: &Message) -> Option<u64> {
    let replied = msg.reply_to_message()?;
    if replied.forum_topic_created().is_some() {
        return None;
    }
    replied.from.as_ref().map(|u| u.id.0)
}

/// The language of a reply: the chat's setting, else the user's Telegram language.
pub async fn language(deps: &BotDeps, msg: &Message) -> Lang {
    if let Ok(Some(code)) = deps.store.chat_language(msg.chat.id.0).await {
        return Lang::from_code(Some(&code));
    }
    Lang::from_code(msg.from.as_ref().and_then(|u| u.language_code.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(json: &str) -> Message {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_message_in_a_forum_topic_answers_nobody() {
        let in_topic = message(
            r#"{"chat":{"id":-1001847508954,"is_forum":true,"title":"t","type":"supergroup"},"date":1675229140,
            "from":{"first_name":"Анна","id":11,"is_bot":false},"is_topic_message":true,"message_id":5,"message_thread_id":4,
            "reply_to_message":{"chat":{"id":-1001847508954,"is_forum":true,"title":"t","type":"supergroup"},"date":1675229139,
              "forum_topic_created":{"icon_color":9367192,"name":"Лиды"},"from":{"first_name":"Creator","id":99,"is_bot":false},
              "is_topic_message":true,"message_id":4,"message_thread_id":4},
            "text":"/users add manager"}"#,
        );
        assert_eq!(replied_to_user(&in_topic), None);
        let reply = message(
            r#"{"chat":{"id":-1001847508954,"is_forum":true,"title":"t","type":"supergroup"},"date":1675229140,
            "from":{"first_name":"Анна","id":11,"is_bot":false},"is_topic_message":true,"message_id":7,"message_thread_id":4,
            "reply_to_message":{"chat":{"id":-1001847508954,"is_forum":true,"title":"t","type":"supergroup"},"date":1675229139,
              "from":{"first_name":"Пётр","id":42,"is_bot":false},"is_topic_message":true,"message_id":6,"message_thread_id":4,
              "text":"привет"},
            "text":"/users add manager"}"#,
        );
        assert_eq!(replied_to_user(&reply), Some(42));
    }
}
