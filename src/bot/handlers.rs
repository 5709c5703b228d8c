//! The dispatcher schema and the command handler (each command's work lives in its module).

use std::sync::Arc;

use teloxide::dispatching::{HandlerExt, UpdateFilterExt, UpdateHandler};
use teloxide::prelude::*;
use teloxide::types::BotCommandScope;

use super::access::Access;
use super::commands::Command;
use super::context::{language, replied_to_user, role_name, role_required, BotDeps, BotError};
use crate::i18n::{t, t_args, Lang};

/// The whole update tree.
pub fn schema() -> UpdateHandler<BotError> {
    dptree::entry()
        .filter_async(first_sight)
        .branch(
            Update::filter_message()
                .branch(
                    dptree::entry()
                        .filter_command::<Command>()
                        .endpoint(on_command),
                )
                .branch(dptree::filter_map(caption_command).endpoint(on_command))
                .branch(dptree::filter(is_unknown_command).endpoint(on_unknown_command))
                .branch(
                    dptree::filter_map_async(super::calls::hint_target)
                        .endpoint(super::calls::on_hint),
                )
                .branch(
                    dptree::filter(super::rehearse::is_rehearsal_message)
                        .endpoint(super::rehearse::on_message),
                ),
        )
        .branch(super::feedback::callbacks())
}

/// Whether this instance is the first to see the update: Telegram delivers an update again when
/// our answer did not reach it, perhaps to another instance (webhook mode behind a load balancer;
/// a long-polling leader killed before its next `getUpdates` confirmed the offset). When the
/// database cannot answer, the update is handled: a rare duplicate beats a lost command.
async fn first_sight(update: Update, deps: Arc<BotDeps>) -> bool {
    let id = i64::from(update.id.0);
    match deps.store.first_sight_of_update(id).await {
        Ok(first) => {
            if !first {
                tracing::info!(
                    update_id = id,
                    "Telegram update delivered again; handled already"
                );
            }
            first
        }
        Err(e) => {
            tracing::warn!(error = %e, update_id = id, "recording a Telegram update failed; handling it anyway");
            true
        }
    }
}

/// A command written as the caption of a file (`/dnc` with a list of numbers).
fn caption_command(msg: Message, me: teloxide::types::Me) -> Option<Command> {
    use teloxide::utils::command::BotCommands;
    msg.document()?;
    Command::parse(msg.caption()?, me.username()).ok()
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
        bot.send_message(msg.chat.id, role_required(lang, needed))
            .await?;
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
        Command::Chart(args) => match super::campaign::chart_of(&args) {
            Some(id) => super::campaign::chart(&ctx, id).await?,
            None => super::chatops::chart(&ctx, &args).await?,
        },
        Command::Digest(args) => super::chatops::digest(&ctx, &args).await?,
        Command::Settings => super::settings::settings(&bot, &deps, msg.chat.id, lang).await?,
        Command::Export(args) => super::chatops::export(&ctx, &args).await?,
        Command::Reanalyze(args) => super::chatops::reanalyze(&ctx, &args).await?,
        Command::Pull(args) => super::chatops::pull(&ctx, &args).await?,
        Command::Users(args) => super::chatops::users(&ctx, &args).await?,
        Command::Rehearse(args) => super::rehearse::start(&bot, &deps, &msg, &args, lang).await?,
        Command::Stop => super::rehearse::stop(&bot, &deps, &msg, lang).await?,
        Command::Call(args) => super::calls::call(&ctx, &args).await?,
        Command::Calls => super::calls::calls(&ctx).await?,
        Command::Dnc(args) => match msg.document() {
            Some(doc) => super::dnc::file(&ctx, doc).await?,
            None => super::dnc::dnc(&ctx, &args).await?,
        },
        Command::Campaign(args) => match msg.document() {
            Some(doc) => super::campaign::file(&ctx, doc, &args).await?,
            None => super::campaign::campaign(&ctx, &args).await?,
        },
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
