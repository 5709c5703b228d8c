//! A contact file sent to the bot (for `/dnc` and `/campaign`): downloaded within the size cap,
//! read, and any problem answered in the user's words.

use teloxide::prelude::*;
use teloxide::types::Document;

use super::chatops::Ctx;
use super::context::BotError;
use super::download::download_capped;
use crate::i18n::{t, t_args};
use crate::outbound::contacts::{self, ContactFileError, ContactList, MAX_FILE_BYTES};

/// The file's contacts; `None` when it could not be read (the user was told why).
pub async fn read_contact_file(
    ctx: &Ctx<'_>,
    doc: &Document,
) -> Result<Option<ContactList>, BotError> {
    let too_large = || {
        t_args(
            ctx.lang,
            "contacts-too-large",
            &[("max", (MAX_FILE_BYTES / (1024 * 1024)).into())],
        )
    };
    if doc.file.size as usize > MAX_FILE_BYTES {
        ctx.bot.send_message(ctx.chat, too_large()).await?;
        return Ok(None);
    }
    let Some(bytes) = download_capped(ctx.bot, doc.file.id.clone(), MAX_FILE_BYTES).await? else {
        ctx.bot.send_message(ctx.chat, too_large()).await?;
        return Ok(None);
    };
    match contacts::read(&bytes, &ctx.deps.numbering) {
        Ok(list) => Ok(Some(list)),
        Err(e) => {
            tracing::info!(user = ctx.user_id, error = %e, "a contact file was refused");
            ctx.bot.send_message(ctx.chat, file_error(ctx, &e)).await?;
            Ok(None)
        }
    }
}

/// A contact file's problem in the user's words.
pub fn file_error(ctx: &Ctx<'_>, e: &ContactFileError) -> String {
    let lang = ctx.lang;
    match e {
        ContactFileError::TooLarge { max_mb } => {
            t_args(lang, "contacts-too-large", &[("max", (*max_mb).into())])
        }
        ContactFileError::Empty => t(lang, "contacts-empty"),
        ContactFileError::NoPhoneColumn { columns } => t_args(
            lang,
            "contacts-no-phone-column",
            &[("columns", columns.join(", ").into())],
        ),
        ContactFileError::TooMany { max } => {
            t_args(lang, "contacts-too-many", &[("max", (*max).into())])
        }
        ContactFileError::Table(_) => t(lang, "contacts-unreadable"),
    }
}
