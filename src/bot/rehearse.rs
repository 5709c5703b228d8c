//! `/rehearse`, `/stop` and the messages of a running rehearsal: voice notes are fetched from
//! Telegram and sent to speech-to-text as they are (OGG/Opus); the agent answers with a voice note
//! captioned with its words (or the words alone when synthesis fails).

use std::sync::Arc;

use teloxide::net::Download;
use teloxide::prelude::*;
use teloxide::types::InputFile;

use super::context::{BotDeps, BotError};
use super::download::CappedBuffer;
use crate::agent::after_call::{record_call, CallParty};
use crate::agent::rehearsal::{Answer, RehearsalError};
use crate::domain::CallOrigin;
use crate::i18n::{t, t_args, Lang};

async fn reply(
    bot: &Bot,
    deps: &BotDeps,
    msg: &Message,
    answer: &Answer,
    lang: Lang,
) -> Result<(), BotError> {
    let chat = msg.chat.id;
    let caption: String = answer.text.chars().take(1000).collect();
    match &answer.voice {
        Some(v) => {
            bot.send_voice(chat, InputFile::memory(v.clone()).file_name("agent.ogg"))
                .caption(caption)
                .await?;
        }
        None => {
            bot.send_message(chat, format!("🗣 {}", answer.text)).await?;
        }
    }
    if answer.ended {
        let user = msg.from.as_ref().map_or(0, |u| u.id.0);
        if let Some(id) = finish(deps, chat, user).await? {
            bot.send_message(
                chat,
                t_args(lang, "rehearsal-ended-by-agent", &[("id", id.into())]),
            )
            .await?;
        }
    }
    Ok(())
}

/// What the manager reads when a rehearsal step fails (the technical detail goes to the log).
fn explain(e: &RehearsalError, lang: Lang) -> String {
    match e {
        RehearsalError::UnknownScript(name, available) => t_args(
            lang,
            "rehearsal-unknown-script",
            &[
                ("script", name.clone().into()),
                ("available", available.clone().into()),
            ],
        ),
        RehearsalError::NotRunning => t(lang, "rehearsal-not-running"),
        RehearsalError::Stt(_) => t(lang, "rehearsal-stt-failed"),
        RehearsalError::Llm(_) => t(lang, "rehearsal-llm-failed"),
    }
}

/// `/rehearse [script]`.
pub async fn start(
    bot: &Bot,
    deps: &BotDeps,
    msg: &Message,
    args: &str,
    lang: Lang,
) -> Result<(), BotError> {
    if !msg.chat.is_private() {
        bot.send_message(msg.chat.id, t(lang, "rehearsal-private-only"))
            .await?;
        return Ok(());
    }
    let (Some(r), Some(_)) = (deps.rehearsal.as_ref(), deps.intake.as_ref()) else {
        bot.send_message(msg.chat.id, t(lang, "rehearsal-unavailable"))
            .await?;
        return Ok(());
    };
    let script = args.split_whitespace().next();
    match r.start(msg.chat.id.0, script).await {
        Ok(answer) => {
            let name = script.unwrap_or(&r.default_script).to_string();
            bot.send_message(
                msg.chat.id,
                t_args(lang, "rehearsal-started", &[("script", name.into())]),
            )
            .await?;
            reply(bot, deps, msg, &answer, lang).await
        }
        Err(e) => {
            bot.send_message(msg.chat.id, explain(&e, lang)).await?;
            Ok(())
        }
    }
}

/// `/stop`.
pub async fn stop(bot: &Bot, deps: &BotDeps, msg: &Message, lang: Lang) -> Result<(), BotError> {
    if deps.rehearsal.is_none() || deps.intake.is_none() {
        bot.send_message(msg.chat.id, t(lang, "rehearsal-unavailable"))
            .await?;
        return Ok(());
    }
    let user = msg.from.as_ref().map_or(0, |u| u.id.0);
    match finish(deps, msg.chat.id, user).await {
        Err(e) => {
            // The session stays: the manager can send /stop again.
            tracing::warn!(error = %e, "recording a rehearsal failed");
            bot.send_message(msg.chat.id, t(lang, "internal-error"))
                .await?;
        }
        Ok(Some(id)) => {
            bot.send_message(
                msg.chat.id,
                t_args(lang, "rehearsal-stopped", &[("id", id.into())]),
            )
            .await?;
        }
        Ok(None) => {
            bot.send_message(msg.chat.id, t(lang, "rehearsal-not-running"))
                .await?;
        }
    }
    Ok(())
}

/// Records a rehearsal as a call (its protocol is queued for this chat) and ends it; `None`
/// when none is running. Recording is idempotent, and the session is dropped only after it.
async fn finish(deps: &BotDeps, chat: ChatId, user: u64) -> Result<Option<i64>, BotError> {
    let (Some(r), Some(intake)) = (deps.rehearsal.as_ref(), deps.intake.as_ref()) else {
        return Ok(None);
    };
    let Ok((script, key, report)) = r.report(chat.0).await else {
        return Ok(None);
    };
    let party = CallParty {
        ours: crate::domain::Endpoint::Other(script),
        callee: crate::domain::Endpoint::Other(format!("tg:{user}")),
        chat: Some(chat.0),
    };
    let id = record_call(
        intake,
        &r.llm.model,
        CallOrigin::Rehearsal,
        &key,
        &party,
        &report,
    )
    .await?;
    r.forget(chat.0).await?;
    tracing::info!(call = id, chat = chat.0, "rehearsal recorded");
    Ok(Some(id))
}

/// Whether a message belongs to a running rehearsal (private chat, not a command).
pub fn is_rehearsal_message(msg: Message, deps: Arc<BotDeps>) -> bool {
    msg.chat.is_private()
        && !msg.text().is_some_and(|t| t.starts_with('/'))
        && (msg.text().is_some() || msg.voice().is_some())
        && deps
            .rehearsal
            .as_ref()
            .is_some_and(|r| r.is_running(msg.chat.id.0))
}

/// The largest voice note taken (Telegram's own limit for bot downloads is 20 MB; a two-minute
/// Opus note is about 300 kB).
const MAX_VOICE_BYTES: u32 = 5 * 1024 * 1024;
/// The longest voice note taken, in seconds.
const MAX_VOICE_SECS: u32 = 120;

/// A line of the manager's part: text or a voice note.
pub async fn on_message(bot: Bot, msg: Message, deps: Arc<BotDeps>) -> Result<(), BotError> {
    let Some(r) = deps.rehearsal.as_ref() else {
        return Ok(());
    };
    let lang = super::context::language(&deps, &msg).await;
    let Some(user) = msg.from.as_ref() else {
        return Ok(());
    };
    let access = deps.access(user.id.0, msg.chat.id.0).await?;
    if !matches!(access, super::access::Access::Allowed(role) if role.allows(crate::domain::Role::Manager))
    {
        return Ok(());
    }
    let _ = bot
        .send_chat_action(msg.chat.id, teloxide::types::ChatAction::RecordVoice)
        .await;
    let result = if let Some(voice) = msg.voice() {
        if voice.file.size > MAX_VOICE_BYTES || voice.duration.seconds() > MAX_VOICE_SECS {
            bot.send_message(msg.chat.id, t(lang, "rehearsal-voice-too-long"))
                .await?;
            return Ok(());
        }
        let file = bot.get_file(voice.file.id.clone()).await?;
        if file.size > MAX_VOICE_BYTES {
            bot.send_message(msg.chat.id, t(lang, "rehearsal-voice-too-long"))
                .await?;
            return Ok(());
        }
        let mut sink = CappedBuffer::new(MAX_VOICE_BYTES as usize);
        let downloaded = bot.download_file(&file.path, &mut sink).await;
        let bytes = sink.into_inner();
        if let Err(e) = downloaded {
            tracing::warn!(error = %e, "downloading a voice note failed");
            bot.send_message(msg.chat.id, t(lang, "rehearsal-download-failed"))
                .await?;
            return Ok(());
        }
        r.voice_turn(msg.chat.id.0, bytes, voice.duration.seconds())
            .await
    } else {
        r.text_turn(msg.chat.id.0, msg.text().unwrap_or("")).await
    };
    match result {
        Ok(answer) => reply(&bot, &deps, &msg, &answer, lang).await,
        Err(e) => {
            tracing::warn!(error = %e, "rehearsal turn failed");
            bot.send_message(msg.chat.id, explain(&e, lang)).await?;
            Ok(())
        }
    }
}
