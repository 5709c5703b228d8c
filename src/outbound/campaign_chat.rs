//! A campaign in its chat: the progress message edited as the campaign runs (when its counts
//! change, at most every [`EDIT_EVERY`]), redrawn at once after ▶ ⏸ ⏹, and the summary posted
//! exactly once when it finishes (a durable `telegram.send` job keyed by the campaign).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::campaign::kpi::kpis;
use super::campaign_runner::TickReport;
use super::campaign_view::{keyboard, progress, summary};
use crate::domain::{Campaign, ContactCounts, PostKind};
use crate::i18n::Lang;
use crate::notify::{post_job, Notifier, PostRequest, TextFormat};
use crate::store::{Store, StoreError};

/// The least time between two edits of a progress message.
pub const EDIT_EVERY: Duration = Duration::from_secs(5);
/// Summaries of campaigns finished this recently are queued again at start (idempotent), in
/// case the process stopped between finishing one and queueing its summary.
const SUMMARY_CATCH_UP: chrono::Duration = chrono::Duration::days(1);

/// What was last drawn of a campaign, and the pace it is going at.
struct Drawn {
    at: Instant,
    counts: ContactCounts,
    /// When this process first saw it running, and how many contacts were finished then.
    since: (Instant, i64),
}

pub struct CampaignChat {
    pub store: Arc<dyn Store>,
    pub notifier: Arc<dyn Notifier>,
    pub default_lang: Lang,
    /// Wakes the worker pool after a summary is queued.
    pub jobs_waker: Arc<Notify>,
    drawn: Mutex<HashMap<i64, Drawn>>,
    caught_up: std::sync::atomic::AtomicBool,
}

impl CampaignChat {
    pub fn new(
        store: Arc<dyn Store>,
        notifier: Arc<dyn Notifier>,
        default_lang: Lang,
        jobs_waker: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            notifier,
            default_lang,
            jobs_waker,
            drawn: Mutex::new(HashMap::new()),
            caught_up: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn lang(&self, chat: i64) -> Lang {
        match self.store.chat_language(chat).await {
            Ok(Some(code)) => Lang::from_code(Some(&code)),
            _ => self.default_lang,
        }
    }

    /// After a tick: summaries of campaigns that finished, progress of those running.
    pub async fn after_tick(&self, report: &TickReport) {
        if let Err(e) = self.summaries(report).await {
            tracing::warn!(error = %e, "queueing campaign summaries failed");
        }
        let running = match self.store.running_campaigns().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "reading running campaigns failed");
                return;
            }
        };
        for c in running {
            if let Err(e) = self.redraw(&c, false).await {
                tracing::warn!(campaign = c.id, error = %e, "editing a campaign's progress failed");
            }
        }
    }

    async fn summaries(&self, report: &TickReport) -> Result<(), StoreError> {
        let mut done: Vec<Campaign> = report.finished.clone();
        if !self
            .caught_up
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let since = chrono::Utc::now() - SUMMARY_CATCH_UP;
            done.extend(
                self.store
                    .campaigns()
                    .await?
                    .into_iter()
                    .filter(|c| c.finished_at.is_some_and(|t| t > since)),
            );
        }
        for c in done {
            let Some(chat) = c.chat_id else { continue };
            // Read again: finished since the tick read it.
            let Some(c) = self.store.campaign(c.id).await? else {
                continue;
            };
            let lang = self.lang(chat).await;
            let contacts = self.store.campaign_contacts(c.id).await?;
            let req = PostRequest {
                post_key: format!("campaign:{}:summary", c.id),
                chat_id: chat,
                text: summary(lang, &c, &kpis(&contacts, c.scripts.len())),
                format: TextFormat::Plain,
                call_id: None,
                kind: PostKind::Notice,
                keyboard: None,
                reply_to: c.status_message_id,
                silent: false,
                topic: None,
            };
            if let Ok(job) = post_job(&req) {
                self.store.enqueue(job).await?;
                self.jobs_waker.notify_waiters();
            }
            self.redraw(&c, true).await?;
        }
        Ok(())
    }

    /// Redraws a campaign's progress message: `now` at once (a button, the end), otherwise only
    /// when its counts changed and the last edit is old enough.
    pub async fn redraw(&self, c: &Campaign, now: bool) -> Result<(), StoreError> {
        let (Some(chat), Some(message)) = (c.chat_id, c.status_message_id) else {
            return Ok(());
        };
        // Too soon since the last edit: not even the counts are read (ticks come often).
        let recent = self
            .drawn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&c.id)
            .is_some_and(|d| d.at.elapsed() < EDIT_EVERY);
        if !now && recent {
            return Ok(());
        }
        let counts = self.store.campaign_counts(c.id).await?;
        let eta = {
            let mut drawn = self.drawn.lock().unwrap_or_else(|p| p.into_inner());
            let entry = drawn.entry(c.id).or_insert_with(|| Drawn {
                at: Instant::now() - EDIT_EVERY * 2,
                counts: ContactCounts::default(),
                since: (Instant::now(), counts.finished()),
            });
            if !now && (entry.counts == counts || entry.at.elapsed() < EDIT_EVERY) {
                return Ok(());
            }
            entry.at = Instant::now();
            entry.counts = counts.clone();
            let (t0, f0) = entry.since;
            let gone = counts.finished() - f0;
            let elapsed = t0.elapsed();
            let left = counts.total() - counts.finished();
            (gone > 0 && elapsed > Duration::from_secs(30))
                .then(|| elapsed.mul_f64(left as f64 / gone as f64))
        };
        let lang = self.lang(chat).await;
        let contacts = self.store.campaign_contacts(c.id).await?;
        let text = progress(lang, c, &counts, &kpis(&contacts, c.scripts.len()), eta);
        if let Err(e) = self
            .notifier
            .edit_message(
                chat,
                message,
                &text,
                TextFormat::Plain,
                keyboard(lang, c).as_ref(),
            )
            .await
        {
            tracing::warn!(campaign = c.id, error = %e, "editing a campaign's progress failed");
        }
        Ok(())
    }
}
