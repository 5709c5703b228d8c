//! Update handlers and the dispatcher schema.

use std::sync::Arc;

use teloxide::dispatching::{HandlerExt, UpdateFilterExt, UpdateHandler};
use teloxide::prelude::*;
use teloxide::types::BotCommandScope;

use super::access::Access;
use super::commands::Command;
use crate::analysis::pipeline::PipelineDeps;
use crate::domain::Role;
use crate::i18n::{t, t_args, Lang};
use crate::notify::Notifier;
use crate::store::Store;

/// What handlers need, injected through dptree.
pub struct BotDeps {
    pub store: Arc<dyn Store>,
    pub admins: Vec<u64>,
    pub team_chat: Option<i64>,
    /// Every team chat: `team_chat` and the chats protocols are routed to by number.
    pub team_chats: Vec<i64>,
    /// The analysis pipeline, when configured (protocol redraws after feedback).
    pub pipeline: Option<Arc<PipelineDeps>>,
    pub notifier: Option<Arc<dyn Notifier>>,
    /// Time zone of periods and dates in replies.
    pub timezone: chrono_tz::Tz,
    /// Voice-agent rehearsals, when the providers are configured.
    pub rehearsal: Option<Arc<crate::agent::rehearsal::RehearsalDeps>>,
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

/// The whole update tree.
pub fn schema() -> UpdateHandler<BotError> {
    dptree::entry()
        .branch(
            Update::filter_message()
                .branch(
                    dptree::entry()
                        .filter_command::<Command>()
                        .endpoint(on_command),
                )
                .branch(dptree::filter(is_unknown_command).endpoint(on_unknown_command))
                .branch(
                    dptree::filter(super::rehearse::is_rehearsal_message)
                        .endpoint(super::rehearse::on_message),
                ),
        )
        .branch(Update::filter_callback_query().endpoint(super::feedback::on_callback))
}

pub(super) async fn language(deps: &BotDeps, msg: &Message) -> Lang {
    if let Ok(Some(code)) = deps.store.chat_language(msg.chat.id.0).await {
        return Lang::from_code(Some(&code));
    }
    Lang::from_code(msg.from.as_ref().and_then(|u| u.language_code.as_deref()))
}

fn role_name(lang: Lang, role: Role) -> String {
    t(lang, &format!("role-{}", role.as_str()))
}

/// A `/word` that is none of our commands (a typo, or a command not built yet). A command
/// addressed to another bot (`/x@other_bot`) is not ours to answer.
fn is_unknown_command(msg: Message) -> bool {
    msg.text()
        .and_then(|t| t.split_whitespace().next())
        .is_some_and(|w| w.len() > 1 && w.starts_with('/') && !w.contains('@'))
}

/// Answers an unknown command with a hint instead of silence (only to people who may use the bot).
async fn on_unknown_command(bot: Bot, msg: Message, deps: Arc<BotDeps>) -> Result<(), BotError> {
    let Some(user) = msg.from.as_ref() else {
        return Ok(());
    };
    if deps.access(user.id.0, msg.chat.id.0).await? == Access::Denied {
        return Ok(());
    }
    let lang = language(&deps, &msg).await;
    let word: String = msg
        .text()
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or("")
        .chars()
        .take(40)
        .collect();
    bot.send_message(
        msg.chat.id,
        t_args(lang, "unknown-command", &[("command", word.into())]),
    )
    .await?;
    Ok(())
}

async fn on_command(
    bot: Bot,
    msg: Message,
    cmd: Command,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let lang = language(&deps, &msg).await;
    let Some(user) = msg.from.as_ref() else {
        return Ok(());
    };
    let access = deps.access(user.id.0, msg.chat.id.0).await?;
    let role = match access {
        Access::Allowed(role) => role,
        Access::Denied => {
            tracing::info!(user = user.id.0, chat = msg.chat.id.0, command = ?cmd, "refused: user has no access");
            let text = t_args(lang, "access-denied", &[("id", user.id.0.into())]);
            bot.send_message(msg.chat.id, text).await?;
            return Ok(());
        }
    };
    let needed = cmd.required_role();
    if !role.allows(needed) {
        tracing::info!(user = user.id.0, chat = msg.chat.id.0, command = ?cmd, %role, "refused: role too low");
        let text = t_args(
            lang,
            "role-required",
            &[("role", role_name(lang, needed).into())],
        );
        bot.send_message(msg.chat.id, text).await?;
        return Ok(());
    }
    tracing::info!(user = user.id.0, chat = msg.chat.id.0, command = ?cmd, %role, "command");
    let ctx = super::chatops::Ctx {
        bot: &bot,
        deps: &deps,
        chat: msg.chat.id,
        lang,
        user_id: user.id.0,
        reply_to_user: replied_to_user(&msg),
    };
    match cmd {
        Command::Leads(args) => super::chatops::leads(&ctx, &args).await?,
        Command::Lead(args) => super::chatops::lead(&ctx, &args).await?,
        Command::Stats(args) => super::chatops::stats(&ctx, &args).await?,
        Command::Chart(args) => super::chatops::chart(&ctx, &args).await?,
        Command::Digest(args) => super::chatops::digest(&ctx, &args).await?,
        Command::Settings => super::settings::settings(&bot, &deps, msg.chat.id, lang).await?,
        Command::Export(args) => super::chatops::export(&ctx, &args).await?,
        Command::Reanalyze(args) => super::chatops::reanalyze(&ctx, &args).await?,
        Command::Users(args) => super::chatops::users(&ctx, &args).await?,
        Command::Rehearse(args) => super::rehearse::start(&bot, &deps, &msg, &args, lang).await?,
        Command::Stop => super::rehearse::stop(&bot, &deps, &msg, lang).await?,
        Command::Start => {
            let text = format!(
                "{}\n\n{}",
                t(lang, "start-welcome"),
                t_args(
                    lang,
                    "start-role",
                    &[("role", role_name(lang, role).into())]
                )
            );
            bot.send_message(msg.chat.id, text).await?;
        }
        Command::Help => {
            bot.send_message(msg.chat.id, Command::help_text(lang, role))
                .await?;
        }
    }
    Ok(())
}

/// Registers the command menu in Russian (default) and English.
pub async fn register_commands(bot: &Bot) -> Result<(), teloxide::RequestError> {
    bot.set_my_commands(Command::menu(Lang::Ru))
        .scope(BotCommandScope::Default)
        .await?;
    bot.set_my_commands(Command::menu(Lang::En))
        .scope(BotCommandScope::Default)
        .language_code("en")
        .await?;
    Ok(())
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
