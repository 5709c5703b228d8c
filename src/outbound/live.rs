//! Following one outbound call while it runs, on the instance that placed it: every half second
//! it picks up what the chat or the API asked (hang up, a manager's hint), writes each finished
//! transcript line to the database (so `/calls`, the API and any instance can show it), and edits
//! the call's status message in the chat that started it: on every change of status at once,
//! otherwise at most every [`EDIT_EVERY`], so Telegram's limits are never near.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::status_view::{keyboard, render};
use crate::agent::engine::Hints;
use crate::agent::CallEvent;
use crate::domain::{OutboundLine, OutboundStatus};
use crate::i18n::Lang;
use crate::notify::{Notifier, TextFormat};
use crate::store::Store;

/// How often the signals from the chat and the API are read.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// The least time between two edits of the status message (status changes go at once).
pub const EDIT_EVERY: Duration = Duration::from_secs(3);

/// Where status messages are edited: the chat's language falls back to `default_lang`.
#[derive(Clone)]
pub struct LiveChat {
    pub notifier: Arc<dyn Notifier>,
    pub default_lang: Lang,
}

/// One call being followed.
pub(super) struct Follow {
    pub store: Arc<dyn Store>,
    pub chat: Option<LiveChat>,
    pub id: i64,
    /// Cancelled when a hang-up is asked for.
    pub hang_up: CancellationToken,
    pub hints: Hints,
}

impl Follow {
    /// Runs until the dialer drops its side of `status` (the attempt has its final status).
    pub async fn run(
        self,
        mut events: mpsc::Receiver<CallEvent>,
        mut status: watch::Receiver<OutboundStatus>,
    ) {
        let mut poll = tokio::time::interval(POLL_EVERY);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut lines: Vec<OutboundLine> = Vec::new();
        let mut answered: Option<Instant> = None;
        let mut last_edit: Option<Instant> = None;
        let mut dirty = true;
        let mut events_open = true;
        loop {
            tokio::select! {
                _ = poll.tick() => {
                    self.take_signals().await;
                    let due = last_edit.is_none_or(|t| t.elapsed() >= EDIT_EVERY);
                    // The clock moves while talking: a quiet call is still redrawn now and then.
                    if due && (dirty || answered.is_some()) {
                        self.edit(answered, &lines).await;
                        last_edit = Some(Instant::now());
                        dirty = false;
                    }
                }
                ev = events.recv(), if events_open => match ev {
                    Some(CallEvent::Line(u)) => {
                        self.store_line(&mut lines, u).await;
                        dirty = true;
                    }
                    Some(_) => {}
                    None => events_open = false,
                },
                changed = status.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let now = *status.borrow_and_update();
                    if now.is_final() {
                        break;
                    }
                    if now == OutboundStatus::Talking && answered.is_none() {
                        answered = Some(Instant::now());
                    }
                    self.edit(answered, &lines).await;
                    last_edit = Some(Instant::now());
                    dirty = false;
                }
            }
        }
        // The dialog is over: its last lines (a goodbye cut by the hang-up) are still stored.
        while let Some(ev) = events.recv().await {
            if let CallEvent::Line(u) = ev {
                self.store_line(&mut lines, u).await;
            }
        }
        // The final status (with the outcome) is in the database now.
        self.edit(answered, &lines).await;
    }

    async fn store_line(&self, lines: &mut Vec<OutboundLine>, u: crate::domain::Utterance) {
        let line = OutboundLine {
            seq: i32::try_from(lines.len()).unwrap_or(i32::MAX),
            speaker: u.speaker,
            text: u.text,
            at_ms: u.start_ms,
        };
        if let Err(e) = self.store.append_outbound_line(self.id, &line).await {
            tracing::warn!(outbound = self.id, error = %e, "storing a live transcript line failed");
        }
        lines.push(line);
    }

    async fn take_signals(&self) {
        match self.store.take_outbound_signals(self.id).await {
            Ok(s) => {
                if s.stop && !self.hang_up.is_cancelled() {
                    tracing::info!(outbound = self.id, "hang-up requested");
                    self.hang_up.cancel();
                }
                for hint in s.hints {
                    tracing::info!(outbound = self.id, "a manager's hint for the agent");
                    self.hints.push(hint);
                }
            }
            Err(e) => {
                tracing::warn!(outbound = self.id, error = %e, "reading a call's signals failed")
            }
        }
    }

    /// Redraws the status message from the stored attempt (when it has one).
    async fn edit(&self, answered: Option<Instant>, lines: &[OutboundLine]) {
        let Some(chat) = &self.chat else { return };
        let call = match self.store.outbound_call(self.id).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(outbound = self.id, error = %e, "reading an outbound call failed");
                return;
            }
        };
        let (Some(chat_id), Some(message_id)) = (call.chat_id, call.status_message_id) else {
            return;
        };
        let lang = match self.store.chat_language(chat_id).await {
            Ok(Some(code)) => Lang::from_code(Some(&code)),
            _ => chat.default_lang,
        };
        let talked = answered.map(|a| a.elapsed());
        let text = render(lang, &call, talked, lines);
        let kb = keyboard(lang, &call);
        if let Err(e) = chat
            .notifier
            .edit_message(chat_id, message_id, &text, TextFormat::Plain, kb.as_ref())
            .await
        {
            tracing::warn!(outbound = self.id, error = %e, "editing a call's status message failed");
        }
    }
}
