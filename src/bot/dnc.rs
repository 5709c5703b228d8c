//! `/dnc`: the do-not-call list from the chat. `/dnc` (or `/dnc list`) shows how many numbers it
//! holds and the latest ones; `/dnc add +7… [причина]` and `/dnc remove +7…` change it (Russian
//! words work too: «добавить», «удалить», «список»); a CSV or Excel file sent with the caption
//! `/dnc` adds every number in it. Opt-outs during calls land on the same list. Managers and
//! admins only. The dialer checks the list when a call is requested and again just before it
//! dials.

use teloxide::prelude::*;
use teloxide::types::Document;

use super::chatops::Ctx;
use super::contact_file::read_contact_file;
use super::context::BotError;
use crate::domain::PhoneNumber;
use crate::i18n::{t, t_args};

/// Entries shown by `/dnc list`.
const SHOWN: i64 = 30;

async fn say(ctx: &Ctx<'_>, text: String) -> Result<(), BotError> {
    ctx.bot.send_message(ctx.chat, text).await?;
    Ok(())
}

pub async fn dnc(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let lang = ctx.lang;
    let (verb, rest) = args
        .trim()
        .split_once(char::is_whitespace)
        .map(|(v, r)| (v, r.trim()))
        .unwrap_or((args.trim(), ""));
    match verb.to_lowercase().as_str() {
        "" | "list" | "список" => list(ctx).await,
        "add" | "добавить" => {
            let (number, reason) = split_number(rest);
            let Ok(phone) = PhoneNumber::parse(&number) else {
                return say(ctx, t(lang, "dnc-usage")).await;
            };
            let reason = if reason.is_empty() {
                t_args(lang, "dnc-reason-manual", &[("user", ctx.user_id.into())])
            } else {
                reason
            };
            let added = ctx.deps.store.add_do_not_call(&phone, &reason).await?;
            tracing::info!(user = ctx.user_id, phone = %phone.masked(), added, "do-not-call: add");
            let key = if added { "dnc-added" } else { "dnc-already" };
            say(ctx, t_args(lang, key, &[("phone", phone.pretty().into())])).await
        }
        "remove" | "delete" | "удалить" | "убрать" => {
            let Ok(phone) = PhoneNumber::parse(rest) else {
                return say(ctx, t(lang, "dnc-usage")).await;
            };
            let removed = ctx.deps.store.remove_do_not_call(&phone).await?;
            tracing::info!(user = ctx.user_id, phone = %phone.masked(), removed, "do-not-call: remove");
            let key = if removed {
                "dnc-removed"
            } else {
                "dnc-not-listed"
            };
            say(ctx, t_args(lang, key, &[("phone", phone.pretty().into())])).await
        }
        _ => say(ctx, t(lang, "dnc-usage")).await,
    }
}

/// The number at the start of `rest` (it may be written with spaces) and the words after it.
fn split_number(rest: &str) -> (String, String) {
    let mut number = String::new();
    let mut words = rest.split_whitespace().peekable();
    while let Some(w) = words.peek() {
        if w.chars().any(|c| c.is_alphabetic()) {
            break;
        }
        number.push_str(w);
        words.next();
    }
    (number, words.collect::<Vec<_>>().join(" "))
}

async fn list(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let lang = ctx.lang;
    let (entries, total) = ctx.deps.store.list_do_not_call(SHOWN).await?;
    if total == 0 {
        return say(ctx, t(lang, "dnc-empty")).await;
    }
    let mut text = t_args(lang, "dnc-header", &[("total", total.into())]);
    for e in &entries {
        let day = e
            .added_at
            .with_timezone(&ctx.deps.timezone)
            .format("%d.%m.%Y")
            .to_string();
        text.push('\n');
        text.push_str(&t_args(
            lang,
            "dnc-line",
            &[
                ("phone", e.phone.pretty().into()),
                ("reason", e.reason.clone().into()),
                ("date", day.into()),
            ],
        ));
    }
    if total > entries.len() as i64 {
        text.push('\n');
        text.push_str(&t_args(
            lang,
            "dnc-more",
            &[("more", (total - entries.len() as i64).into())],
        ));
    }
    say(ctx, text).await
}

/// A file sent with the caption `/dnc`: every number in it goes on the list.
pub async fn file(ctx: &Ctx<'_>, doc: &Document) -> Result<(), BotError> {
    let lang = ctx.lang;
    let name = doc.file_name.clone().unwrap_or_default();
    let Some(list) = read_contact_file(ctx, doc).await? else {
        return Ok(());
    };
    let reason = t_args(lang, "dnc-reason-file", &[("name", name.clone().into())]);
    let mut added = 0usize;
    for c in &list.contacts {
        if ctx.deps.store.add_do_not_call(&c.phone, &reason).await? {
            added += 1;
        }
    }
    tracing::info!(
        user = ctx.user_id,
        added,
        read = list.contacts.len(),
        "do-not-call: file"
    );
    let mut text = t_args(
        lang,
        "dnc-file-done",
        &[
            ("read", list.contacts.len().into()),
            ("added", added.into()),
            ("already", (list.contacts.len() - added).into()),
        ],
    );
    if !list.invalid.is_empty() {
        let lines: Vec<String> = list
            .invalid
            .iter()
            .take(20)
            .map(|i| i.line.to_string())
            .collect();
        text.push('\n');
        text.push_str(&t_args(
            lang,
            "contacts-invalid",
            &[
                ("count", list.invalid.len().into()),
                ("lines", lines.join(", ").into()),
            ],
        ));
    }
    say(ctx, text).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_may_be_written_with_spaces_before_the_reason() {
        assert_eq!(
            split_number("+7 916 123-45-67 сам попросил"),
            ("+7916123-45-67".to_string(), "сам попросил".to_string())
        );
        assert_eq!(
            split_number("8 (916) 123 45 67"),
            ("8(916)1234567".to_string(), String::new())
        );
    }
}
