//! `/settings`: an inline menu for the chat's language, time zone and daily digest time. Buttons
//! edit the same message; every press is re-checked for the admin role.

use teloxide::payloads::{EditMessageTextSetters, SendMessageSetters};
use teloxide::prelude::*;
use teloxide::types::{MessageId, ParseMode};

use super::context::{BotDeps, BotError};
use crate::domain::{CallbackData, SettingsAction};
use crate::i18n::{t, t_args, Lang};
use crate::notify::{inline_markup, Keyboard};

/// Time zones offered (Russia, west to east).
pub const TIMEZONES: [&str; 11] = [
    "Europe/Kaliningrad",
    "Europe/Moscow",
    "Europe/Samara",
    "Asia/Yekaterinburg",
    "Asia/Omsk",
    "Asia/Novosibirsk",
    "Asia/Krasnoyarsk",
    "Asia/Irkutsk",
    "Asia/Yakutsk",
    "Asia/Vladivostok",
    "Asia/Kamchatka",
];

const DIGEST_PRESETS: [Option<&str>; 5] = [
    None,
    Some("08:00"),
    Some("09:00"),
    Some("10:00"),
    Some("18:00"),
];

/// Our numbers that can get their own profile (NOVOFON_NUMBERS, then PROFILE_BY_NUMBER).
fn our_numbers(deps: &BotDeps) -> Vec<crate::domain::PhoneNumber> {
    let mut out = Vec::new();
    if let Some(p) = &deps.views {
        for n in p
            .settings
            .our_numbers
            .iter()
            .chain(p.settings.profile_by_number.iter().map(|(n, _)| n))
        {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
    }
    out.truncate(20);
    out
}

/// The profile a number gets: chosen here, else PROFILE_BY_NUMBER, else the default.
fn profile_of(
    deps: &BotDeps,
    chosen: &[(String, String)],
    number: &crate::domain::PhoneNumber,
) -> String {
    chosen
        .iter()
        .find(|(n, _)| n == number.as_str())
        .map(|(_, p)| p.clone())
        .or_else(|| {
            deps.views.as_ref().and_then(|p| {
                p.settings
                    .profile_by_number
                    .iter()
                    .find(|(n, _)| n == number)
                    .map(|(_, p)| p.clone())
            })
        })
        .or_else(|| {
            deps.views
                .as_ref()
                .map(|p| p.settings.default_profile.clone())
        })
        .unwrap_or_default()
}

fn button(label: String, action: SettingsAction) -> (String, String) {
    (label, CallbackData::Settings(action).to_string())
}

/// The menu's text and buttons for `chat_id`.
pub async fn view(
    deps: &BotDeps,
    chat_id: i64,
    lang: Lang,
) -> Result<(String, Keyboard), BotError> {
    let store = &deps.store;
    let chat_lang = store
        .chat_language(chat_id)
        .await?
        .map(|c| Lang::from_code(Some(&c)))
        .unwrap_or(Lang::Ru);
    let tz = store
        .chat_timezone(chat_id)
        .await?
        .unwrap_or_else(|| "Europe/Moscow".into());
    let digest = store
        .digest_schedules()
        .await?
        .into_iter()
        .find(|s| s.chat_id == chat_id)
        .map(|s| s.time);
    let lang_name = t(lang, &format!("lang-{}", chat_lang.code()));
    let digest_text = digest
        .clone()
        .unwrap_or_else(|| t(lang, "settings-digest-off"));
    let mut text = format!(
        "<b>{}</b>\n{}\n{}\n{}",
        t(lang, "settings-header"),
        t_args(
            lang,
            "settings-language",
            &[("lang", lang_name.clone().into())]
        ),
        t_args(lang, "settings-timezone", &[("tz", tz.clone().into())]),
        t_args(
            lang,
            "settings-digest",
            &[("time", digest_text.clone().into())]
        ),
    );
    if let Some(p) = &deps.views {
        let numbers: String = p
            .settings
            .profile_by_number
            .iter()
            .map(|(n, prof)| format!("\n   {} → {prof}", n.pretty()))
            .collect();
        text.push_str(&format!(
            "\n{}\n<i>{}</i>",
            t_args(
                lang,
                "settings-profiles",
                &[
                    ("default", p.settings.default_profile.clone().into()),
                    ("numbers", numbers.into())
                ]
            ),
            t(lang, "settings-profiles-note")
        ));
    }
    let mut rows = vec![
        vec![button(
            format!("🌐 {lang_name}"),
            SettingsAction::ToggleLanguage,
        )],
        vec![button(format!("🕒 {tz}"), SettingsAction::ChooseTimezone)],
        vec![button(
            format!("📅 {digest_text}"),
            SettingsAction::CycleDigest,
        )],
    ];
    let chosen = store.number_profiles().await?;
    for (i, number) in our_numbers(deps).iter().enumerate() {
        let profile = profile_of(deps, &chosen, number);
        rows.push(vec![button(
            format!("🧠 {}: {profile}", number.pretty()),
            SettingsAction::CycleProfile(i as u8),
        )]);
    }
    let keyboard = Keyboard(rows);
    Ok((text, keyboard))
}

/// `/settings`.
pub async fn settings(bot: &Bot, deps: &BotDeps, chat: ChatId, lang: Lang) -> Result<(), BotError> {
    let (text, keyboard) = view(deps, chat.0, lang).await?;
    bot.send_message(chat, text)
        .parse_mode(ParseMode::Html)
        .reply_markup(inline_markup(&keyboard))
        .await?;
    Ok(())
}

/// A press on a settings button (the caller checked the admin role).
pub async fn on_press(
    bot: &Bot,
    deps: &BotDeps,
    lang: Lang,
    chat: ChatId,
    message: MessageId,
    action: SettingsAction,
) -> Result<(), BotError> {
    let store = &deps.store;
    let mut lang = lang;
    match action {
        SettingsAction::ToggleLanguage => {
            let now = store
                .chat_language(chat.0)
                .await?
                .map(|c| Lang::from_code(Some(&c)))
                .unwrap_or(Lang::Ru);
            let next = if now == Lang::Ru { Lang::En } else { Lang::Ru };
            store.set_chat_language(chat.0, next.code()).await?;
            lang = next;
        }
        SettingsAction::ChooseTimezone => {
            let rows = TIMEZONES
                .chunks(2)
                .enumerate()
                .map(|(r, pair)| {
                    pair.iter()
                        .enumerate()
                        .map(|(c, tz)| {
                            button(
                                (*tz).to_string(),
                                SettingsAction::SetTimezone((r * 2 + c) as u8),
                            )
                        })
                        .collect()
                })
                .collect();
            return edit(
                bot,
                chat,
                message,
                t(lang, "settings-choose-tz"),
                &Keyboard(rows),
            )
            .await;
        }
        SettingsAction::SetTimezone(i) => {
            if let Some(tz) = TIMEZONES.get(usize::from(i)) {
                store.set_chat_timezone(chat.0, tz).await?;
            }
        }
        SettingsAction::CycleDigest => {
            let current = store
                .digest_schedules()
                .await?
                .into_iter()
                .find(|s| s.chat_id == chat.0)
                .map(|s| s.time);
            let pos = DIGEST_PRESETS
                .iter()
                .position(|p| p.map(str::to_string) == current)
                .unwrap_or(0);
            let next = DIGEST_PRESETS[(pos + 1) % DIGEST_PRESETS.len()];
            store.set_digest_time(chat.0, next).await?;
        }
        SettingsAction::CycleProfile(i) => {
            let numbers = our_numbers(deps);
            let (Some(number), Some(views)) = (numbers.get(usize::from(i)), &deps.views) else {
                return Ok(());
            };
            let names = views.profiles.names();
            let chosen = store.number_profiles().await?;
            let current = chosen
                .iter()
                .find(|(n, _)| n == number.as_str())
                .map(|(_, p)| p.clone());
            // The cycle: each profile in turn, then back to the configured default.
            let next = match current.and_then(|c| names.iter().position(|n| *n == c)) {
                None => names.first().cloned(),
                Some(pos) => names.get(pos + 1).cloned(),
            };
            store
                .set_number_profile(number.as_str(), next.as_deref())
                .await?;
        }
    }
    tracing::info!(chat = chat.0, ?action, "chat settings changed");
    let (text, keyboard) = view(deps, chat.0, lang).await?;
    edit(bot, chat, message, text, &keyboard).await
}

async fn edit(
    bot: &Bot,
    chat: ChatId,
    message: MessageId,
    text: String,
    keyboard: &Keyboard,
) -> Result<(), BotError> {
    match bot
        .edit_message_text(chat, message, text)
        .parse_mode(ParseMode::Html)
        .reply_markup(inline_markup(keyboard))
        .await
    {
        Ok(_) | Err(teloxide::RequestError::Api(teloxide::ApiError::MessageNotModified)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
