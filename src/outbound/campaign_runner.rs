//! The campaign dialer. Each tick: settles contacts whose attempt ended without being settled (an
//! instance stopped), finishes campaigns with nobody left to call, and for each running campaign
//! (highest priority first) defers the due contacts outside their calling hours to the opening
//! and writes attempts for the rest within the campaign's and the global limits, then queues the
//! job that places each. The attempt is in the database before anything is dialled, and a
//! contact gets a new attempt only from `pending` or `retry`, so nobody is called twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::campaign::settle::{settle, AttemptEnd, Talk};
use super::queue::{enqueue_place, CAMPAIGN_PRIORITY};
use crate::agent::Scripts;
pub use crate::domain::CampaignAction;
use crate::domain::{CallingSchedule, Campaign, CampaignStatus, ContactCounts, OutboundCall};
use crate::store::{Store, StoreError};

/// How long an ended attempt is left to the instance that placed it before a tick settles it.
const SETTLE_GRACE: chrono::Duration = chrono::Duration::seconds(30);
/// How often contacts left behind by a stopped instance are looked for.
const RECONCILE_EVERY: Duration = Duration::from_secs(5);
/// How long the calls placed here may take to say goodbye on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// Contacts looked at per campaign and tick, beyond its free lines (some may be deferred).
const LOOKAHEAD: i64 = 5;

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Calls queued or under way at once across every instance (`CALL_CONCURRENCY`).
    pub global: i64,
    /// Days nobody is called (`CAMPAIGN_HOLIDAYS`).
    pub holidays: BTreeSet<NaiveDate>,
    /// The time between ticks when nothing wakes the runner.
    pub every: Duration,
    /// The script used for a campaign naming one that is no longer loaded (`AGENT_SCRIPT`).
    pub default_script: String,
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TickReport {
    /// When the tick began.
    pub began: Option<Instant>,
    /// Attempts written and queued: `(contact, attempt)`.
    pub started: Vec<(i64, i64)>,
    pub deferred: usize,
    pub settled: usize,
    /// Campaigns that finished in this tick.
    pub finished: Vec<Campaign>,
    /// Time spent writing attempts and queueing their jobs.
    pub start_time: Duration,
}

/// What a campaign had due in a tick.
enum Due {
    /// Nobody due now (maybe finished, maybe waiting for a time).
    None,
    Some,
    /// No line left under the global limit.
    GlobalFull,
}

/// What an action came to.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionResult {
    /// Done: the campaign's status now.
    Done(Campaign),
    /// A finished campaign cannot be started or changed.
    Finished,
    NotFound,
}

/// Places an attempt written by the runner (the dialer, seen through this so the runner does not
/// depend on it).
#[async_trait::async_trait]
pub trait Placer: Send + Sync {
    /// Places attempt `id` now; `hang_up` ends the call politely. False when it could not be
    /// placed now (the global limit reached by calls asked for by hand): it stays queued.
    async fn place_now(&self, id: i64, hang_up: CancellationToken) -> bool;
}

pub struct CampaignRunner {
    pub store: Arc<dyn Store>,
    pub scripts: Arc<Scripts>,
    pub settings: RunnerSettings,
    /// Wakes the worker pool after attempts are queued.
    pub jobs_waker: Arc<Notify>,
    /// Wakes the runner early (a line is free, a campaign was started).
    pub wake: Arc<Notify>,
    /// The time calling hours and retries are reckoned by (the wall clock; tests set their own).
    pub clock: Clock,
    /// Places attempts at once, in this process; without it (or when it cannot), an attempt
    /// goes to the `outbound.place` job.
    pub placer: std::sync::OnceLock<std::sync::Weak<dyn Placer>>,
    /// The calls placed directly, and their hang-up on shutdown.
    pub calls: tokio_util::task::TaskTracker,
    pub hang_up: CancellationToken,
    last_reconcile: std::sync::Mutex<Option<Instant>>,
}

/// Where the runner reads the time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The wall clock.
pub fn wall_clock() -> Clock {
    Arc::new(Utc::now)
}

impl CampaignRunner {
    pub fn new(
        store: Arc<dyn Store>,
        scripts: Arc<Scripts>,
        settings: RunnerSettings,
        jobs_waker: Arc<Notify>,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            scripts,
            settings,
            jobs_waker,
            wake: Arc::new(Notify::new()),
            clock,
            placer: std::sync::OnceLock::new(),
            calls: tokio_util::task::TaskTracker::new(),
            hang_up: CancellationToken::new(),
            last_reconcile: std::sync::Mutex::new(None),
        }
    }

    /// Lets the runner place its attempts itself through `placer` (held weakly: the dialer
    /// holds the runner).
    pub fn set_placer(&self, placer: &Arc<dyn Placer>) {
        let _ = self.placer.set(Arc::downgrade(placer));
    }

    pub fn schedule(&self, c: &Campaign) -> CallingSchedule {
        CallingSchedule {
            window: c.plan.window,
            days: c.plan.days,
            holidays: self.settings.holidays.clone(),
        }
    }

    /// Runs ticks until `stop`: every [`RunnerSettings::every`], or at once when woken.
    /// `after_tick` sees each tick's report (progress messages, summaries).
    pub async fn run<F, Fut>(self: Arc<Self>, stop: CancellationToken, after_tick: F)
    where
        F: Fn(TickReport) -> Fut + Send,
        Fut: std::future::Future<Output = ()> + Send,
    {
        loop {
            match self.tick((self.clock)()).await {
                Ok(report) => {
                    if !report.started.is_empty() {
                        tracing::debug!(
                            attempts = report.started.len(),
                            "campaign attempts queued"
                        );
                    }
                    after_tick(report).await;
                }
                Err(e) => tracing::warn!(error = %e, "the campaign tick failed"),
            }
            tokio::select! {
                _ = stop.cancelled() => {
                    self.drain(SHUTDOWN_GRACE).await;
                    return;
                }
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.every) => {}
            }
        }
    }

    /// One pass over the running campaigns at `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
        let mut report = TickReport {
            began: Some(Instant::now()),
            ..TickReport::default()
        };
        if self.reconcile_due() {
            report.settled = self.settle_left_behind().await?;
        }
        for campaign in self.store.running_campaigns().await? {
            match self.start_due(&campaign, now, &mut report).await? {
                // No line left across the instances: lower priorities wait.
                Due::GlobalFull => break,
                Due::Some => {}
                Due::None => {
                    if self.store.finish_campaign(campaign.id).await? {
                        tracing::info!(campaign = campaign.id, "campaign finished");
                        report.finished.push(campaign);
                    }
                }
            }
        }
        Ok(report)
    }

    /// Whether it is time to look for contacts left behind (at most every [`RECONCILE_EVERY`]).
    fn reconcile_due(&self) -> bool {
        let mut last = self
            .last_reconcile
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < RECONCILE_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Settles contacts whose attempt ended without being settled; returns how many.
    async fn settle_left_behind(&self) -> Result<usize, StoreError> {
        let mut settled = 0;
        for (contact, attempt) in self.store.unsettled_contacts(100).await? {
            // Attempts end by the database's clock, whatever the runner's says. One the dialer
            // ended is left to it for a while (it settles with what the agent established);
            // an interrupted one has nobody else to settle it.
            let ended = attempt.ended_at.unwrap_or_else(Utc::now);
            let interrupted = attempt.status == crate::domain::OutboundStatus::Interrupted;
            if !interrupted && ended > Utc::now() - SETTLE_GRACE {
                continue;
            }
            if self.settle(&attempt, None, ended).await? {
                tracing::info!(
                    campaign = contact.campaign_id,
                    contact = contact.id,
                    attempt = attempt.id,
                    status = %attempt.status,
                    "a campaign contact settled after its instance stopped"
                );
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// Starts what is due in one campaign.
    async fn start_due(
        &self,
        campaign: &Campaign,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<Due, StoreError> {
        // Only as many as there are lines free (and a few more, some may be deferred).
        let free = campaign.concurrency - self.store.calling_contacts(campaign.id).await?;
        if free <= 0 {
            return Ok(Due::Some);
        }
        let due = self
            .store
            .due_contacts(campaign.id, now, free + LOOKAHEAD)
            .await?;
        if due.is_empty() {
            return Ok(Due::None);
        }
        let schedule = self.schedule(campaign);
        let mut deferred = Vec::new();
        let mut ready = Vec::new();
        for k in &due {
            let tz = k.zone.unwrap_or(campaign.zone);
            if schedule.allows(now, tz) {
                let script = campaign
                    .script(k.variant)
                    .filter(|s| self.scripts.get(s).is_some())
                    .unwrap_or(&self.settings.default_script);
                ready.push((k.id, script.to_string()));
            } else {
                // A schedule with no open day left waits a day and is looked at again.
                let open = schedule
                    .next_open(now, tz)
                    .unwrap_or(now + chrono::Duration::days(1));
                deferred.push((k.id, open));
            }
        }
        if !deferred.is_empty() {
            self.store.defer_contacts(&deferred).await?;
            report.deferred += deferred.len();
        }
        if ready.is_empty() {
            return Ok(Due::Some);
        }
        let t = Instant::now();
        let written = self
            .store
            .start_attempts(campaign, &ready, self.settings.global)
            .await?;
        let started = written.started;
        for (_, attempt) in &started {
            self.place(*attempt).await?;
        }
        report.start_time += t.elapsed();
        report.started.extend(started);
        Ok(if written.global_full {
            Due::GlobalFull
        } else {
            Due::Some
        })
    }

    /// Places an attempt in this process at once, or queues its job.
    async fn place(&self, attempt: i64) -> Result<(), StoreError> {
        let placer = self.placer.get().and_then(std::sync::Weak::upgrade);
        let Some(placer) = placer.filter(|_| !self.hang_up.is_cancelled()) else {
            return enqueue_place(
                self.store.as_ref(),
                &self.jobs_waker,
                attempt,
                CAMPAIGN_PRIORITY,
            )
            .await;
        };
        let (store, waker, hang_up) = (
            self.store.clone(),
            self.jobs_waker.clone(),
            self.hang_up.child_token(),
        );
        self.calls.spawn(async move {
            if !placer.place_now(attempt, hang_up).await {
                // Still queued: the job tries again until a line is free.
                if let Err(e) =
                    enqueue_place(store.as_ref(), &waker, attempt, CAMPAIGN_PRIORITY).await
                {
                    tracing::warn!(attempt, error = %e, "queueing a campaign call failed");
                }
            }
        });
        Ok(())
    }

    /// On shutdown: the calls placed here say goodbye and hang up; waits for them up to `grace`.
    pub async fn drain(&self, grace: Duration) {
        self.hang_up.cancel();
        self.calls.close();
        if tokio::time::timeout(grace, self.calls.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                calls = self.calls.len(),
                "campaign calls still running at shutdown"
            );
        }
    }

    /// Applies the end of a campaign attempt at `ended` to its contact (once); `talk` is what the
    /// agent established, when this instance ran the conversation. Wakes the runner: a line is
    /// free.
    pub async fn settle(
        &self,
        attempt: &OutboundCall,
        talk: Option<Talk>,
        ended: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let Some(contact_id) = attempt.campaign_contact_id else {
            return Ok(false);
        };
        let Some(contact) = self.store.campaign_contact(contact_id).await? else {
            return Ok(false);
        };
        let Some(campaign) = self.store.campaign(contact.campaign_id).await? else {
            return Ok(false);
        };
        let end = AttemptEnd {
            status: attempt.status,
            reason: attempt.reason.clone(),
            answered_by: attempt.answered_by,
            agent_outcome: attempt.outcome.clone(),
            talk,
            ended,
        };
        let mut s = settle(&end, &contact, &campaign, &self.schedule(&campaign));
        if let Some(c) = s.conversation.as_mut() {
            c.call_id = c.call_id.or(attempt.call_id);
        }
        let done = self
            .store
            .settle_contact(contact.id, attempt.id, &s)
            .await?;
        if done {
            tracing::info!(
                campaign = campaign.id,
                contact = contact.id,
                attempt = attempt.id,
                state = %s.state,
                outcome = s.outcome.map(|o| o.as_str()).unwrap_or("-"),
                "campaign contact settled"
            );
        }
        self.wake.notify_one();
        Ok(done)
    }

    /// Starts (▶), pauses (⏸) or stops (⏹) a campaign. Pausing and stopping cancel the attempts
    /// not dialled yet (their contacts wait again); calls under way finish as usual.
    pub async fn act(&self, id: i64, action: CampaignAction) -> Result<ActionResult, StoreError> {
        let Some(c) = self.store.campaign(id).await? else {
            return Ok(ActionResult::NotFound);
        };
        if c.status == CampaignStatus::Finished {
            return Ok(ActionResult::Finished);
        }
        let to = match action {
            CampaignAction::Start => CampaignStatus::Running,
            CampaignAction::Pause => CampaignStatus::Paused,
            CampaignAction::Stop => CampaignStatus::Stopped,
        };
        self.store.set_campaign_status(id, to).await?;
        if to != CampaignStatus::Running {
            let cancelled = self.store.cancel_queued_attempts(id).await?;
            tracing::info!(campaign = id, status = %to, cancelled, "campaign {}", to);
        } else {
            tracing::info!(campaign = id, "campaign started");
        }
        self.wake.notify_one();
        Ok(match self.store.campaign(id).await? {
            Some(c) => ActionResult::Done(c),
            None => ActionResult::NotFound,
        })
    }

    /// A campaign's counts by state (for progress and the API).
    pub async fn counts(&self, id: i64) -> Result<ContactCounts, StoreError> {
        self.store.campaign_counts(id).await
    }
}
