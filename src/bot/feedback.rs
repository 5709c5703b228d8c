//! The protocol's feedback buttons: a manager's press stores who chose what, answers the callback
//! and redraws the protocol with the confirmed or corrected category; others get an alert.

use std::sync::Arc;

use teloxide::prelude::*;

use super::access::Access;
use super::context::{BotDeps, BotError};
use crate::analysis::view::{chat_lang, feedback_keyboard, render_current};
use crate::domain::{CallbackData, Feedback, Role};
use crate::i18n::{t, Lang};
use crate::notify::TextFormat;

pub async fn on_callback(bot: Bot, q: CallbackQuery, deps: Arc<BotDeps>) -> Result<(), BotError> {
    let lang = Lang::from_code(q.from.language_code.as_deref());
    let parsed = q.data.as_deref().map(str::parse::<CallbackData>);
    if let (Some(Ok(CallbackData::Settings(action))), Some(message)) = (&parsed, q.message.as_ref())
    {
        let chat_id = message.chat().id;
        let access = deps.access(q.from.id.0, chat_id.0).await?;
        if !matches!(access, Access::Allowed(role) if role.allows(Role::Admin)) {
            let needed = t(lang, "role-admin");
            bot.answer_callback_query(q.id.clone())
                .text(crate::i18n::t_args(
                    lang,
                    "role-required",
                    &[("role", needed.into())],
                ))
                .show_alert(true)
                .await?;
            return Ok(());
        }
        bot.answer_callback_query(q.id.clone()).await?;
        super::settings::on_press(&bot, &deps, lang, chat_id, message.id(), *action).await?;
        return Ok(());
    }
    if let (
        Some(Ok(data @ (CallbackData::LeadsPage { .. } | CallbackData::OpenLead { .. }))),
        Some(message),
    ) = (&parsed, q.message.as_ref())
    {
        let chat_id = message.chat().id;
        let access = deps.access(q.from.id.0, chat_id.0).await?;
        if !matches!(access, Access::Allowed(_)) {
            bot.answer_callback_query(q.id.clone())
                .text(crate::i18n::t_args(
                    lang,
                    "access-denied",
                    &[("id", q.from.id.0.into())],
                ))
                .show_alert(true)
                .await?;
            return Ok(());
        }
        bot.answer_callback_query(q.id.clone()).await?;
        match *data {
            CallbackData::OpenLead { call_id } => {
                let ctx = super::chatops::Ctx {
                    bot: &bot,
                    deps: &deps,
                    chat: chat_id,
                    lang,
                    user_id: q.from.id.0,
                    reply_to_user: None,
                };
                super::chatops::show_lead(&ctx, call_id).await?;
            }
            page => {
                super::chatops::leads_page(&bot, &deps, lang, (chat_id, message.id()), page).await?
            }
        }
        return Ok(());
    }
    let (Some(Ok(CallbackData::Feedback { call_id, choice })), Some(message)) =
        (parsed, q.message.as_ref())
    else {
        tracing::warn!(data = ?q.data, "unknown callback data");
        bot.answer_callback_query(q.id.clone()).await?;
        return Ok(());
    };
    let chat_id = message.chat().id.0;
    let access = deps.access(q.from.id.0, chat_id).await?;
    if !matches!(access, Access::Allowed(role) if role.allows(Role::Manager)) {
        tracing::info!(
            user = q.from.id.0,
            call = call_id,
            "feedback refused: not a manager"
        );
        bot.answer_callback_query(q.id.clone())
            .text(t(lang, "feedback-denied"))
            .show_alert(true)
            .await?;
        return Ok(());
    }
    if deps.store.call(call_id).await?.is_none() {
        bot.answer_callback_query(q.id.clone())
            .text(t(lang, "feedback-unknown-call"))
            .show_alert(true)
            .await?;
        return Ok(());
    }
    // Buttons can be forged on any message the bot sent: only the call's own protocol counts.
    if !deps
        .store
        .is_protocol_message(call_id, chat_id, message.id().0)
        .await?
    {
        tracing::warn!(
            user = q.from.id.0,
            call = call_id,
            "feedback refused: the message is not this call's protocol"
        );
        bot.answer_callback_query(q.id.clone())
            .text(t(lang, "feedback-not-protocol"))
            .show_alert(true)
            .await?;
        return Ok(());
    }
    let name = q
        .from
        .username
        .clone()
        .map(|u| format!("@{u}"))
        .unwrap_or_else(|| q.from.full_name());
    deps.store
        .add_feedback(&Feedback {
            call_id,
            user_id: i64::try_from(q.from.id.0).unwrap_or(i64::MAX),
            user_name: Some(name),
            choice: choice.as_str().to_string(),
            created_at: chrono::Utc::now(),
        })
        .await?;
    tracing::info!(
        user = q.from.id.0,
        call = call_id,
        choice = choice.as_str(),
        "feedback stored"
    );
    bot.answer_callback_query(q.id.clone())
        .text(t(lang, "feedback-saved"))
        .await?;
    if let (Some(pipeline), Some(notifier)) = (&deps.pipeline, &deps.notifier) {
        let chat_lang = chat_lang(pipeline, chat_id).await?;
        if let Some((rendered, _)) = render_current(pipeline, call_id, chat_lang).await? {
            let keyboard = feedback_keyboard(chat_lang, call_id);
            if let Err(e) = notifier
                .edit_message(
                    chat_id,
                    message.id().0,
                    &rendered.text,
                    TextFormat::Html,
                    Some(&keyboard),
                )
                .await
            {
                tracing::warn!(call = call_id, error = %e, "redrawing the protocol failed");
            }
        }
    }
    Ok(())
}
