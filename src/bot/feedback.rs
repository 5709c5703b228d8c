//! Button presses: every callback is parsed once, its presser's access resolved once, and routed
//! by dptree to its endpoint (settings, lead pages, feedback). The protocol's feedback buttons store who
//! chose what and redraw the protocol; people without the role get an alert.

use std::sync::Arc;

use teloxide::prelude::*;

use super::access::Access;
use super::context::{allowed, lang_of, role_required, BotDeps, BotError, Pressed};
use crate::analysis::view::{chat_lang, feedback_keyboard, render_current};
use crate::domain::PostKind;
use crate::domain::{CallbackData, Feedback, Role};
use crate::i18n::t;
use crate::notify::TextFormat;

/// The callback branch: the data is parsed once, the caller's access resolved once, and each kind
/// of button goes to its own endpoint.
pub fn callbacks() -> teloxide::dispatching::UpdateHandler<BotError> {
    use teloxide::dispatching::UpdateFilterExt;
    Update::filter_callback_query()
        .branch(
            dptree::filter_map(|q: CallbackQuery| {
                let data = q.data.as_deref()?.parse::<CallbackData>().ok()?;
                let m = q.message.as_ref()?;
                Some((
                    data,
                    Pressed {
                        chat: m.chat().id,
                        message: m.id(),
                    },
                ))
            })
            .map(|(data, _): (CallbackData, Pressed)| data)
            .map(|(_, pressed): (CallbackData, Pressed)| pressed)
            .map_async(caller_access)
            .branch(
                dptree::filter(|d: CallbackData| matches!(d, CallbackData::Settings(_)))
                    .endpoint(on_settings),
            )
            .branch(
                dptree::filter(|d: CallbackData| {
                    matches!(
                        d,
                        CallbackData::LeadsPage { .. } | CallbackData::OpenLead { .. }
                    )
                })
                .endpoint(on_leads),
            )
            .branch(
                dptree::filter(|d: CallbackData| {
                    matches!(
                        d,
                        CallbackData::HangUp { .. }
                            | CallbackData::ConfirmCall { .. }
                            | CallbackData::CallBack { .. }
                            | CallbackData::DropCall
                    )
                })
                .endpoint(super::calls::on_press),
            )
            .branch(
                dptree::filter(|d: CallbackData| matches!(d, CallbackData::Campaign { .. }))
                    .endpoint(super::campaign::on_press),
            )
            .branch(
                dptree::filter(|d: CallbackData| matches!(d, CallbackData::Recording { .. }))
                    .endpoint(super::recording::on_press),
            )
            .endpoint(on_feedback),
        )
        .endpoint(on_unknown)
}

/// The presser's access in the chat of the message (a store failure counts as no access, logged).
async fn caller_access(q: CallbackQuery, pressed: Pressed, deps: Arc<BotDeps>) -> Access {
    match deps.access(q.from.id.0, pressed.chat.0).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "resolving a button press's access failed");
            Access::Denied
        }
    }
}

async fn on_unknown(bot: Bot, q: CallbackQuery) -> Result<(), BotError> {
    tracing::warn!(data = ?q.data, "unknown callback data");
    bot.answer_callback_query(q.id.clone()).await?;
    Ok(())
}

async fn on_settings(
    bot: Bot,
    q: CallbackQuery,
    data: CallbackData,
    pressed: Pressed,
    access: Access,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let lang = lang_of(&q);
    let CallbackData::Settings(action) = data else {
        return Ok(());
    };
    if !allowed(
        &bot,
        &q,
        access,
        Role::Admin,
        role_required(lang, Role::Admin),
    )
    .await?
    {
        return Ok(());
    }
    bot.answer_callback_query(q.id.clone()).await?;
    super::settings::on_press(&bot, &deps, lang, pressed.chat, pressed.message, action).await
}

async fn on_leads(
    bot: Bot,
    q: CallbackQuery,
    data: CallbackData,
    pressed: Pressed,
    access: Access,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let lang = lang_of(&q);
    let refusal = crate::i18n::t_args(lang, "access-denied", &[("id", q.from.id.0.into())]);
    if !allowed(&bot, &q, access, Role::Viewer, refusal).await? {
        return Ok(());
    }
    bot.answer_callback_query(q.id.clone()).await?;
    match data {
        CallbackData::OpenLead { call_id } => {
            let ctx = super::chatops::Ctx {
                bot: &bot,
                deps: &deps,
                chat: pressed.chat,
                lang,
                user_id: q.from.id.0,
                reply_to_user: None,
            };
            super::chatops::show_lead(&ctx, call_id).await
        }
        page => {
            super::chatops::leads_page(&bot, &deps, lang, (pressed.chat, pressed.message), page)
                .await
        }
    }
}

async fn on_feedback(
    bot: Bot,
    q: CallbackQuery,
    data: CallbackData,
    pressed: Pressed,
    access: Access,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let lang = lang_of(&q);
    let CallbackData::Feedback { call_id, choice } = data else {
        return on_unknown(bot, q).await;
    };
    let chat_id = pressed.chat.0;
    if !allowed(&bot, &q, access, Role::Manager, t(lang, "feedback-denied")).await? {
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
    let kinds = deps
        .store
        .message_kinds(call_id, chat_id, pressed.message.0)
        .await?;
    if !kinds.into_iter().any(PostKind::carries_rating_buttons) {
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
            choice,
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
    if let (Some(views), Some(notifier)) = (&deps.views, &deps.notifier) {
        let chat_lang = chat_lang(views, chat_id).await?;
        if let Some((rendered, _)) = render_current(views, call_id, chat_lang).await? {
            let recording = deps
                .store
                .call(call_id)
                .await?
                .is_some_and(|c| c.recording_ref.is_some());
            let keyboard = feedback_keyboard(chat_lang, call_id, recording);
            if let Err(e) = notifier
                .edit_message(
                    chat_id,
                    pressed.message.0,
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
