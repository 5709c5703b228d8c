//! «🎧 Запись» under a protocol: anyone who may read protocols asks for the call's recording, and
//! a job fetches it from the PBX and sends it as audio answering the protocol (once per chat).

use std::sync::Arc;

use teloxide::prelude::*;

use super::access::Access;
use super::context::{allowed, lang_of, role_required, BotDeps, BotError, Pressed};
use crate::analysis::queue::{enqueue_recording, RecordingPayload};
use crate::domain::{CallbackData, Role};
use crate::i18n::t;

pub async fn on_press(
    bot: Bot,
    q: CallbackQuery,
    data: CallbackData,
    pressed: Pressed,
    access: Access,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let lang = lang_of(&q);
    let CallbackData::Recording { call_id } = data else {
        return Ok(());
    };
    if !allowed(
        &bot,
        &q,
        access,
        Role::Viewer,
        role_required(lang, Role::Viewer),
    )
    .await?
    {
        return Ok(());
    }
    let Some(intake) = deps.intake.as_ref() else {
        bot.answer_callback_query(q.id.clone())
            .text(t(lang, "analysis-off"))
            .await?;
        return Ok(());
    };
    let payload = RecordingPayload {
        call_id,
        chat_id: pressed.chat.0,
        reply_to: Some(pressed.message.0),
    };
    let text = if enqueue_recording(intake, payload).await? {
        tracing::info!(call = call_id, "recording asked for");
        t(lang, "recording-sending")
    } else {
        t(lang, "recording-asked-before")
    };
    bot.answer_callback_query(q.id.clone()).text(text).await?;
    Ok(())
}
