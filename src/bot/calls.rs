//! Phone calls from the chat: `/call +7… [script]` places one (asking first outside the calling
//! window, in the callee's local time), `/calls` lists those under way, ⏹ under a status message
//! hangs up, and a manager's reply to a status message becomes a hint for the agent's next turn.
//! The call itself runs wherever the `outbound.place` job runs; everything here goes through the
//! database, so it works whichever instance holds the call.

use std::sync::Arc;

use chrono::Utc;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, MessageId};

use super::access::Access;
use super::chatops::Ctx;
use super::context::{allowed, lang_of, language, role_required, BotDeps, BotError, Pressed};
use crate::domain::{CallbackData, NewOutboundCall, OutboundCall, PhoneNumber, Role, StopRequest};
use crate::i18n::{t, t_args, Lang};
use crate::notify::inline_markup;
use crate::outbound::status_view::{keyboard, render};
use crate::outbound::{Dialer, RequestError};
use crate::store::EffectClaim;

/// Splits `/call` arguments into the number (which may be written with spaces) and the script.
fn split_args(args: &str) -> (String, Option<String>) {
    let mut number = String::new();
    let mut rest = Vec::new();
    for word in args.split_whitespace() {
        let phone_like = word
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | '.'));
        if rest.is_empty() && phone_like {
            number.push_str(word);
        } else {
            rest.push(word);
        }
    }
    (number, rest.first().map(|s| s.to_string()))
}

/// `/call +7… [script]`.
pub async fn call(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let lang = ctx.lang;
    let Some(dialer) = ctx.deps.dialer.as_ref() else {
        ctx.bot
            .send_message(ctx.chat, t(lang, "call-not-configured"))
            .await?;
        return Ok(());
    };
    let (number, script) = split_args(args);
    if number.is_empty() {
        let text = t_args(
            lang,
            "call-usage",
            &[("scripts", dialer.scripts.names().join(", ").into())],
        );
        ctx.bot.send_message(ctx.chat, text).await?;
        return Ok(());
    }
    let phone = match PhoneNumber::parse(&number) {
        Ok(p) => p,
        Err(_) => {
            let text = t_args(lang, "call-bad-number", &[("input", number.into())]);
            ctx.bot.send_message(ctx.chat, text).await?;
            return Ok(());
        }
    };
    let script = script.unwrap_or_else(|| dialer.default_script.clone());
    let names = dialer.scripts.names();
    let Some(index) = names.iter().position(|n| *n == script) else {
        ctx.bot
            .send_message(ctx.chat, unknown_script(lang, &script, &names))
            .await?;
        return Ok(());
    };
    if let Some(question) = outside_window(ctx, &phone) {
        let data = |d: CallbackData| d.to_string();
        let confirm = phone
            .as_str()
            .trim_start_matches('+')
            .parse::<u64>()
            .ok()
            .zip(u8::try_from(index).ok());
        if let Some((digits, script)) = confirm {
            let kb = InlineKeyboardMarkup::new([[
                InlineKeyboardButton::callback(
                    t(lang, "call-button-confirm"),
                    data(CallbackData::ConfirmCall {
                        phone_digits: digits,
                        script,
                    }),
                ),
                InlineKeyboardButton::callback(
                    t(lang, "call-button-cancel"),
                    data(CallbackData::DropCall),
                ),
            ]]);
            ctx.bot
                .send_message(ctx.chat, question)
                .reply_markup(kb)
                .await?;
            return Ok(());
        }
    }
    place(ctx, dialer, phone, script).await
}

fn unknown_script(lang: Lang, script: &str, names: &[String]) -> String {
    t_args(
        lang,
        "call-unknown-script",
        &[
            ("script", script.to_string().into()),
            ("available", names.join(", ").into()),
        ],
    )
}

/// The question to ask when it is outside the calling window for the callee now.
fn outside_window(ctx: &Ctx<'_>, phone: &PhoneNumber) -> Option<String> {
    let window = ctx.deps.call_window;
    let place = ctx.deps.numbering.place(phone);
    let (zone, known) = match place {
        Some(p) => (p.zone, true),
        None => (ctx.deps.timezone, false),
    };
    let zone_name = match place.and_then(|p| p.region) {
        Some(region) => format!("{region}, {}", zone.name()),
        None => zone.name().to_string(),
    };
    let now = Utc::now();
    if window.contains(now, zone) {
        return None;
    }
    let local = now.with_timezone(&zone).format("%H:%M").to_string();
    let key = if known {
        "call-outside-window"
    } else {
        "call-outside-window-team-zone"
    };
    Some(t_args(
        ctx.lang,
        key,
        &[
            ("local", local.into()),
            ("zone", zone_name.into()),
            ("window", window.to_string().into()),
        ],
    ))
}

/// Requests the call and shows its status message (the follower edits it from then on).
async fn place(
    ctx: &Ctx<'_>,
    dialer: &Dialer,
    phone: PhoneNumber,
    script: String,
) -> Result<(), BotError> {
    let lang = ctx.lang;
    let request = NewOutboundCall {
        phone,
        script,
        variables: serde_json::json!({}),
        requested_by: i64::try_from(ctx.user_id).ok(),
        chat_id: Some(ctx.chat.0),
    };
    let queued = match dialer.request(request).await {
        Ok(q) => q,
        Err(RequestError::DoNotCall) => {
            ctx.bot
                .send_message(ctx.chat, t(lang, "call-do-not-call"))
                .await?;
            return Ok(());
        }
        Err(RequestError::UnknownScript(name, _)) => {
            let text = unknown_script(lang, &name, &dialer.scripts.names());
            ctx.bot.send_message(ctx.chat, text).await?;
            return Ok(());
        }
        Err(RequestError::Store(e)) => return Err(e.into()),
    };
    let sent = ctx
        .bot
        .send_message(ctx.chat, render(lang, &queued, None, &[]))
        .reply_markup(inline_markup(&keyboard(lang, &queued).unwrap_or_default()))
        .await?;
    ctx.deps
        .store
        .set_outbound_message(queued.id, sent.id.0)
        .await?;
    // A call that moved on before the message was known is drawn once here; the follower draws
    // every later change.
    if let Some(now) = ctx.deps.store.outbound_call(queued.id).await? {
        if now.status != queued.status {
            redraw(ctx.bot, lang, &now, sent.id).await;
        }
    }
    Ok(())
}

async fn redraw(bot: &Bot, lang: Lang, call: &OutboundCall, message: MessageId) {
    let Some(chat) = call.chat_id else { return };
    let edit = bot
        .edit_message_text(ChatId(chat), message, render(lang, call, None, &[]))
        .reply_markup(inline_markup(&keyboard(lang, call).unwrap_or_default()));
    if let Err(e) = edit.await {
        tracing::debug!(outbound = call.id, error = %e, "redrawing a call's status failed");
    }
}

/// `/calls`: the calls queued or under way.
pub async fn calls(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let lang = ctx.lang;
    if ctx.deps.dialer.is_none() {
        ctx.bot
            .send_message(ctx.chat, t(lang, "call-not-configured"))
            .await?;
        return Ok(());
    }
    let open = ctx.deps.store.open_outbound().await?;
    if open.is_empty() {
        ctx.bot
            .send_message(ctx.chat, t(lang, "calls-none"))
            .await?;
        return Ok(());
    }
    let mut text = t(lang, "calls-header");
    for c in &open {
        let status = t(
            lang,
            &format!("calls-state-{}", c.status.as_str().replace('_', "-")),
        );
        text.push('\n');
        text.push_str(&t_args(
            lang,
            "calls-item",
            &[
                ("id", c.id.into()),
                ("phone", c.phone.pretty().into()),
                ("script", c.script.clone().into()),
                ("status", status.into()),
            ],
        ));
    }
    ctx.bot.send_message(ctx.chat, text).await?;
    Ok(())
}

/// The call buttons: ⏹ and the answers to the calling-window question. Managers only.
pub async fn on_press(
    bot: Bot,
    q: CallbackQuery,
    data: CallbackData,
    pressed: Pressed,
    access: Access,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let lang = lang_of(&q);
    if !allowed(
        &bot,
        &q,
        access,
        Role::Manager,
        role_required(lang, Role::Manager),
    )
    .await?
    {
        return Ok(());
    }
    match data {
        CallbackData::HangUp { outbound_id } => {
            hang_up(&bot, &q, &deps, pressed, outbound_id, lang).await
        }
        CallbackData::ConfirmCall {
            phone_digits,
            script,
        } => confirm(&bot, &q, &deps, pressed, (phone_digits, script), lang).await,
        CallbackData::CallBack { phone_digits } => {
            call_back(&bot, &q, &deps, pressed, phone_digits, lang).await
        }
        _ => {
            bot.answer_callback_query(q.id.clone()).await?;
            bot.edit_message_text(pressed.chat, pressed.message, t(lang, "call-cancelled"))
                .await?;
            Ok(())
        }
    }
}

async fn hang_up(
    bot: &Bot,
    q: &CallbackQuery,
    deps: &BotDeps,
    pressed: Pressed,
    id: i64,
    lang: Lang,
) -> Result<(), BotError> {
    // Buttons can be forged: only the call's own status message hangs it up.
    let call = deps
        .store
        .outbound_by_message(pressed.chat.0, pressed.message.0)
        .await?;
    if call.as_ref().map(|c| c.id) != Some(id) {
        tracing::warn!(
            user = q.from.id.0,
            outbound = id,
            "hang-up refused: not the call's status message"
        );
        bot.answer_callback_query(q.id.clone()).await?;
        return Ok(());
    }
    let answer = match deps.store.request_outbound_stop(id).await? {
        Some(StopRequest::Cancelled) => {
            if let Some(now) = deps.store.outbound_call(id).await? {
                redraw(bot, lang, &now, pressed.message).await;
            }
            "hangup-cancelled"
        }
        Some(StopRequest::Flagged) => "hangup-requested",
        Some(StopRequest::AlreadyOver(_)) | None => "hangup-already-over",
    };
    tracing::info!(user = q.from.id.0, outbound = id, answer, "hang-up pressed");
    bot.answer_callback_query(q.id.clone())
        .text(t(lang, answer))
        .await?;
    Ok(())
}

async fn confirm(
    bot: &Bot,
    q: &CallbackQuery,
    deps: &BotDeps,
    pressed: Pressed,
    (digits, script): (u64, u8),
    lang: Lang,
) -> Result<(), BotError> {
    bot.answer_callback_query(q.id.clone()).await?;
    let Some(dialer) = deps.dialer.as_ref() else {
        bot.send_message(pressed.chat, t(lang, "call-not-configured"))
            .await?;
        return Ok(());
    };
    // Two presses (or two instances receiving one) must not place two calls.
    let key = format!("call-confirm:{}:{}", pressed.chat.0, pressed.message.0);
    if deps.store.begin_effect(&key).await? != EffectClaim::Begun {
        return Ok(());
    }
    let names = dialer.scripts.names();
    let (Ok(phone), Some(script)) = (
        PhoneNumber::parse(&format!("+{digits}")),
        names.get(usize::from(script)).cloned(),
    ) else {
        bot.edit_message_text(
            pressed.chat,
            pressed.message,
            t(lang, "call-confirm-expired"),
        )
        .await?;
        return Ok(());
    };
    bot.edit_message_text(pressed.chat, pressed.message, t(lang, "call-confirmed"))
        .await?;
    let chat_lang = match deps.store.chat_language(pressed.chat.0).await? {
        Some(code) => Lang::from_code(Some(&code)),
        None => lang,
    };
    let ctx = Ctx {
        bot,
        deps,
        chat: pressed.chat,
        lang: chat_lang,
        user_id: q.from.id.0,
        reply_to_user: None,
    };
    let placed = place(&ctx, dialer, phone, script).await;
    deps.store.finish_effect(&key, "placed").await?;
    placed
}

/// «Перезвонить» under a missed-call alert: `/call` to that number from the presser, as if
/// typed (the calling window is asked about as usual). Once per alert, whoever presses.
async fn call_back(
    bot: &Bot,
    q: &CallbackQuery,
    deps: &BotDeps,
    pressed: Pressed,
    digits: u64,
    lang: Lang,
) -> Result<(), BotError> {
    let key = format!("call-back:{}:{}", pressed.chat.0, pressed.message.0);
    if deps.store.begin_effect(&key).await? != EffectClaim::Begun {
        bot.answer_callback_query(q.id.clone())
            .text(t(lang, "call-back-taken"))
            .await?;
        return Ok(());
    }
    bot.answer_callback_query(q.id.clone()).await?;
    // The button is spent: take it off the alert (a message gone meanwhile changes nothing).
    if let Err(e) = bot
        .edit_message_reply_markup(pressed.chat, pressed.message)
        .await
    {
        tracing::debug!(error = %e, "the call-back button could not be taken off");
    }
    let chat_lang = match deps.store.chat_language(pressed.chat.0).await? {
        Some(code) => Lang::from_code(Some(&code)),
        None => lang,
    };
    let ctx = Ctx {
        bot,
        deps,
        chat: pressed.chat,
        lang: chat_lang,
        user_id: q.from.id.0,
        reply_to_user: None,
    };
    let placed = call(&ctx, &format!("+{digits}")).await;
    deps.store.finish_effect(&key, "asked").await?;
    placed
}

/// The call whose status message `msg` replies to, when it is a text for the agent.
pub async fn hint_target(msg: Message, deps: Arc<BotDeps>) -> Option<OutboundCall> {
    deps.dialer.as_ref()?;
    let text = msg.text()?;
    if text.starts_with('/') {
        return None;
    }
    let replied = msg.reply_to_message()?;
    deps.store
        .outbound_by_message(msg.chat.id.0, replied.id.0)
        .await
        .ok()
        .flatten()
}

/// A manager's reply to a status message: a hint the agent uses in its next turn.
pub async fn on_hint(
    bot: Bot,
    msg: Message,
    call: OutboundCall,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let Some(user) = msg.from.as_ref() else {
        return Ok(());
    };
    let lang = language(&deps, &msg).await;
    let access = deps.access(user.id.0, msg.chat.id.0).await?;
    if !matches!(access, Access::Allowed(r) if r.allows(Role::Manager)) {
        return Ok(());
    }
    let text: String = msg.text().unwrap_or("").chars().take(500).collect();
    let by = i64::try_from(user.id.0).ok();
    let key = if deps.store.add_outbound_hint(call.id, &text, by).await? {
        tracing::info!(
            user = user.id.0,
            outbound = call.id,
            "hint left for the agent"
        );
        "hint-taken"
    } else {
        "hint-too-late"
    };
    bot.send_message(msg.chat.id, t(lang, key))
        .reply_parameters(
            teloxide::types::ReplyParameters::new(msg.id).allow_sending_without_reply(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_may_have_spaces_and_the_script_follows() {
        assert_eq!(
            split_args("+7 916 123-45-67 realty_cold"),
            ("+7916123-45-67".into(), Some("realty_cold".into()))
        );
        assert_eq!(split_args("89161234567"), ("89161234567".into(), None));
        assert_eq!(split_args(""), (String::new(), None));
        assert_eq!(
            split_args("8 (916) 123 45 67"),
            ("8(916)1234567".into(), None)
        );
    }
}
