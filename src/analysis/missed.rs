//! The missed-call alert: an incoming call to one of our numbers that nobody answered is posted
//! to its chat at once («📵 Пропущенный от +7 … · 14:32»), with a «📞 Перезвонить» button that
//! starts `/call` when phone calls are configured. Only calls the PBX statistics report (the
//! poll) are alerted, since a webhook's signature covers too little to trust; each call once
//! (the post's key), and only recent ones, so a first poll that catches up on the day does not
//! flood the chat.

use chrono::Utc;

use super::pipeline::CallIntake;
use super::protocol::client_phone;
use crate::domain::{Call, CallbackData, Direction, PostKind};
use crate::i18n::{t, t_args, Lang};
use crate::notify::{post_job, Keyboard, PostRequest, TextFormat};
use crate::store::StoreError;

/// Calls that started longer ago than this are not alerted (the moment to call back has passed).
const ALERT_WITHIN: chrono::Duration = chrono::Duration::hours(3);

/// Queues the alert of a missed incoming `call` (idempotent per call).
pub async fn alert_missed(intake: &CallIntake, call: &Call) -> Result<(), StoreError> {
    let s = &intake.settings;
    if call.direction != Direction::Incoming || Utc::now() - call.started_at > ALERT_WITHIN {
        return Ok(());
    }
    let key = format!("call:{}:missed", call.id);
    // Every poll re-reads its window: a read spares the single writer once the alert is out.
    if intake.store.telegram_post(&key).await?.is_some() {
        return Ok(());
    }
    let Some(chat) = s.chat_for(call) else {
        return Ok(());
    };
    let lang = match intake.store.chat_language(chat).await? {
        Some(code) => Lang::from_code(Some(&code)),
        None => s.lang,
    };
    let time = call
        .started_at
        .with_timezone(&s.timezone)
        .format("%H:%M")
        .to_string();
    let text = t_args(
        lang,
        "missed-call",
        &[("phone", client_phone(call).into()), ("time", time.into())],
    );
    let digits = call
        .caller
        .phone()
        .and_then(|p| p.as_str().trim_start_matches('+').parse::<u64>().ok());
    let keyboard = match digits {
        Some(phone_digits) if s.offer_call_back => Some(Keyboard(vec![vec![(
            t(lang, "button-call-back"),
            CallbackData::CallBack { phone_digits }.to_string(),
        )]])),
        _ => None,
    };
    let req = PostRequest {
        post_key: key,
        chat_id: chat,
        text,
        format: TextFormat::Plain,
        call_id: Some(call.id),
        kind: PostKind::Notice,
        keyboard,
        reply_to: None,
        silent: false,
        topic: None,
    };
    let job = post_job(&req).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    intake.store.enqueue(job).await?;
    intake.waker.notify_waiters();
    tracing::info!(call = call.id, "missed call: alert queued");
    metrics::counter!("callops_missed_call_alerts_total").increment(1);
    Ok(())
}
