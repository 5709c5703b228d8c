//! The store's traits, one per area; [`Store`] is all of them plus the connection itself.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    CallTokens, ChartRow, Correction, DigestSchedule, EffectClaim, Enqueued, Job, JobCount, NewJob,
    PeriodStats, Stats, StoreError, TelegramPost, TokenUsage, User,
};
use crate::domain::{
    Analysis, AnsweredBy, Call, CallFilter, CallStatus, CallSummary, Feedback, NewAnalysis,
    NewCall, NewOutboundCall, OutboundCall, OutboundLine, OutboundSignals, OutboundStatus,
    PhoneNumber, PostKind, Role, StopRequest, Utterance,
};

/// The store's part for the durable job queue: enqueue, lease, heartbeat, complete, fail, reclaim.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Adds a job; with an idempotency key already used for the kind, returns the existing id.
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued, StoreError>;
    /// Leases up to `limit` runnable jobs of the given kinds for `lease`, highest priority first,
    /// then oldest.
    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError>;
    /// Extends a lease still held with `token`; false when it was lost.
    async fn renew(&self, id: i64, token: Uuid, lease: Duration) -> Result<bool, StoreError>;
    /// Marks a job done; false when the lease was lost (someone else owns it now).
    async fn complete(&self, id: i64, token: Uuid) -> Result<bool, StoreError>;
    /// Marks several jobs done in one round trip; returns the ids whose lease was still held.
    async fn complete_many(&self, done: &[(i64, Uuid)]) -> Result<Vec<i64>, StoreError> {
        let mut completed = Vec::with_capacity(done.len());
        for (id, token) in done {
            if self.complete(*id, *token).await? {
                completed.push(*id);
            }
        }
        Ok(completed)
    }
    /// Wakes `wake` whenever another instance queues a job, until `stop`; returns at once on a
    /// backend with one instance (its in-process wakers are enough).
    async fn listen_for_jobs(
        &self,
        _wake: std::sync::Arc<tokio::sync::Notify>,
        _stop: tokio_util::sync::CancellationToken,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    /// Records a failed attempt: retried after `retry_in`. With `None`, or past its attempts, the
    /// job is set to be given up (runnable at once for its give-up step, reason `error`); a job
    /// whose give-up step has run is dead-lettered.
    async fn fail(
        &self,
        id: i64,
        token: Uuid,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool, StoreError>;
    /// Gives a job back unrun (shutdown): queued again, the attempt not counted.
    async fn release(&self, id: i64, token: Uuid) -> Result<bool, StoreError>;
    /// Turns jobs whose lease ran out into retryable failures, counting the crash. Past their
    /// attempts, or on their second crash (quarantine), they are set to be given up; a give-up
    /// step that itself keeps crashing is dead-lettered.
    async fn reclaim_expired(&self) -> Result<u64, StoreError>;
    async fn job(&self, id: i64) -> Result<Option<Job>, StoreError>;
    async fn job_counts(&self) -> Result<Vec<JobCount>, StoreError>;
    /// Seconds the oldest runnable job (queued or failed, due) has waited; `None` when none.
    async fn oldest_runnable_wait(&self) -> Result<Option<f64>, StoreError>;
    /// Puts a dead or failed job back in the queue with fresh attempts.
    async fn requeue(&self, id: i64) -> Result<bool, StoreError>;
}

/// The store's part for side effects outside the process (effect claims) and the Telegram posts made for jobs.
#[async_trait]
pub trait EffectStore: Send + Sync {
    /// Claims `key` before performing its effect (see [`EffectClaim`]).
    async fn begin_effect(&self, key: &str) -> Result<EffectClaim, StoreError>;
    /// Records that the effect happened, with its result.
    async fn finish_effect(&self, key: &str, result: &str) -> Result<(), StoreError>;
    /// Withdraws a claim whose effect provably did not happen, so a retry may perform it.
    async fn abandon_effect(&self, key: &str) -> Result<(), StoreError>;
    async fn telegram_post(&self, post_key: &str) -> Result<Option<TelegramPost>, StoreError>;
    /// The kinds of the posts that `message_id` in `chat_id` belongs to for `call_id` (none when the
    /// bot never sent it for that call).
    async fn message_kinds(
        &self,
        call_id: i64,
        chat_id: i64,
        message_id: i32,
    ) -> Result<Vec<PostKind>, StoreError>;
    /// Stores a post; a second post with the same key keeps the first. Nothing else changes.
    async fn record_telegram_post(&self, post: &TelegramPost) -> Result<(), StoreError>;
}

/// The store's part for users and roles, chat settings (language, time zone, digest), number profiles.
#[async_trait]
pub trait ChatStore: Send + Sync {
    async fn user_role(&self, telegram_id: i64) -> Result<Option<Role>, StoreError>;
    async fn upsert_user(&self, user: &User) -> Result<(), StoreError>;
    async fn remove_user(&self, telegram_id: i64) -> Result<bool, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    async fn chat_language(&self, chat_id: i64) -> Result<Option<String>, StoreError>;
    async fn set_chat_language(&self, chat_id: i64, language: &str) -> Result<(), StoreError>;
    /// Sets a chat's time zone (an IANA name such as `Europe/Moscow`).
    async fn set_chat_timezone(&self, chat_id: i64, timezone: &str) -> Result<(), StoreError>;
    /// A chat's time zone, when set.
    async fn chat_timezone(&self, chat_id: i64) -> Result<Option<String>, StoreError>;
    /// Profiles chosen per our number (E.164 -> profile).
    async fn number_profiles(&self) -> Result<Vec<(String, String)>, StoreError>;
    /// Sets (or with `None` clears) the profile of one of our numbers.
    async fn set_number_profile(
        &self,
        number: &str,
        profile: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Sets (or with `None` clears) a chat's digest time `HH:MM`.
    async fn set_digest_time(&self, chat_id: i64, time: Option<&str>) -> Result<(), StoreError>;
    /// Every chat with a digest time.
    async fn digest_schedules(&self) -> Result<Vec<DigestSchedule>, StoreError>;
    /// Records that the digest of local `date` went to the chat; false if it already had.
    async fn mark_digest(&self, chat_id: i64, date: &str) -> Result<bool, StoreError>;
    /// Records a Telegram update as seen; false when it was already (Telegram delivered it again,
    /// perhaps to another instance). Now and then prunes what is older than two days.
    async fn first_sight_of_update(&self, update_id: i64) -> Result<bool, StoreError>;
}

/// The store's part for calls, transcripts, analyses, feedback and provider cursors.
#[async_trait]
pub trait CallStore: Send + Sync {
    /// Keeps a recording the service made of a call (a second save replaces it).
    async fn save_recording(
        &self,
        call_id: i64,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError>;
    /// A recording the service made: (content type, bytes).
    async fn recording(&self, call_id: i64) -> Result<Option<(String, Vec<u8>)>, StoreError>;
    /// Inserts a call once per (provider, provider_call_id); returns it and whether it is new.
    async fn insert_call(&self, call: &NewCall) -> Result<(Call, bool), StoreError>;
    async fn call(&self, id: i64) -> Result<Option<Call>, StoreError>;
    async fn set_call_status(
        &self,
        id: i64,
        status: CallStatus,
        reason: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Replaces a call's transcript.
    async fn replace_utterances(&self, call_id: i64, items: &[Utterance])
        -> Result<(), StoreError>;
    async fn utterances(&self, call_id: i64) -> Result<Vec<Utterance>, StoreError>;
    async fn call_by_provider_id(
        &self,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>, StoreError>;
    /// Stamps the time the call's protocol first reached its chat (a later stamp keeps the first).
    async fn mark_posted(&self, call_id: i64) -> Result<(), StoreError>;
    async fn set_recording_ref(&self, call_id: i64, recording_ref: &str) -> Result<(), StoreError>;
    /// Lists calls with their current analysis, newest first; returns the page and the total.
    async fn list_calls(&self, filter: &CallFilter) -> Result<(Vec<CallSummary>, i64), StoreError>;
    /// Stores an analysis as the call's current one; returns its id.
    async fn save_analysis(&self, analysis: &NewAnalysis) -> Result<i64, StoreError>;
    async fn current_analysis(&self, call_id: i64) -> Result<Option<Analysis>, StoreError>;
    /// The analysis that was current before `analysis_id` (for "what changed").
    async fn previous_analysis(
        &self,
        call_id: i64,
        analysis_id: i64,
    ) -> Result<Option<Analysis>, StoreError>;
    async fn add_feedback(&self, feedback: &Feedback) -> Result<(), StoreError>;
    async fn feedback(&self, call_id: i64) -> Result<Vec<Feedback>, StoreError>;
    async fn cursor(&self, provider: &str) -> Result<Option<String>, StoreError>;
    async fn set_cursor(&self, provider: &str, value: &str) -> Result<(), StoreError>;
}

/// The store's part for token accounting, statistics, chart rows, analysis results and corrections.
#[async_trait]
pub trait StatsStore: Send + Sync {
    async fn record_token_usage(&self, usage: &TokenUsage) -> Result<(), StoreError>;
    async fn call_tokens(&self, call_id: i64) -> Result<CallTokens, StoreError>;
    /// Counts by status and category of calls started since `since`, and tokens spent since then.
    async fn stats_since(&self, since: chrono::DateTime<chrono::Utc>) -> Result<Stats, StoreError>;
    /// Figures over calls that started in `[from, to)`.
    async fn period_stats(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<PeriodStats, StoreError>;
    /// Calls that started in `[from, to)` with their analysis, latest feedback and post time.
    async fn chart_rows(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<ChartRow>, StoreError>;
    /// The current analysis results of calls that started in `[from, to)` (at most `limit`).
    async fn analysis_results(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError>;
    /// The operators and current results of calls analysed by `profile` that started in
    /// `[from, to)` (at most `limit`): per-operator checklist figures.
    async fn operator_results(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        profile: &str,
        limit: i64,
    ) -> Result<Vec<(Option<String>, serde_json::Value)>, StoreError>;
    /// The latest category corrections of a profile, newest first.
    async fn corrections(&self, profile: &str, limit: i64) -> Result<Vec<Correction>, StoreError>;
}

/// The store's part for the voice agent: turn timings, a call's chat, the do-not-call list, rehearsals.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Stores the per-turn timings of an agent call (replacing any stored before).
    async fn save_agent_turns(
        &self,
        call_id: i64,
        turns: &[crate::domain::TurnTiming],
    ) -> Result<(), StoreError>;
    async fn agent_turns(&self, call_id: i64)
        -> Result<Vec<crate::domain::TurnTiming>, StoreError>;
    /// The turns of the agent calls that started in `[from, to)`.
    async fn agent_turns_between(
        &self,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<crate::domain::TurnTiming>, StoreError>;
    /// The chat a call's protocol goes to instead of the routing default (rehearsals).
    async fn set_call_chat(&self, call_id: i64, chat_id: i64) -> Result<(), StoreError>;
    async fn call_chat(&self, call_id: i64) -> Result<Option<i64>, StoreError>;
    /// Adds a number (E.164) to the do-not-call list; false if it was there already.
    async fn add_do_not_call(&self, phone: &PhoneNumber, reason: &str) -> Result<bool, StoreError>;
    async fn is_do_not_call(&self, phone: &PhoneNumber) -> Result<bool, StoreError>;
    /// Takes a number off the list; false if it was not on it.
    async fn remove_do_not_call(&self, phone: &PhoneNumber) -> Result<bool, StoreError>;
    /// The latest `limit` entries, newest first, and how many there are in all.
    async fn list_do_not_call(
        &self,
        limit: i64,
    ) -> Result<(Vec<crate::store::DoNotCallEntry>, i64), StoreError>;
    /// Saves the state of a running rehearsal in a chat (replacing the previous one).
    async fn save_rehearsal(
        &self,
        chat_id: i64,
        session: &serde_json::Value,
    ) -> Result<(), StoreError>;
    async fn delete_rehearsal(&self, chat_id: i64) -> Result<(), StoreError>;
    /// Every running rehearsal, by chat.
    async fn rehearsals(&self) -> Result<Vec<(i64, serde_json::Value)>, StoreError>;
}

/// What claiming an attempt for dialling found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialClaim {
    /// This owner holds it now: it may dial, once.
    Started,
    /// As many calls as allowed are under way across all instances; it stays queued.
    AtCapacity,
    /// It is not queued (dialled already, or ended).
    NotQueued(OutboundStatus),
}

/// The store's part for outbound calls: attempts written before dialling, claimed once, leased
/// while under way.
#[async_trait]
pub trait OutboundStore: Send + Sync {
    /// Writes a queued attempt.
    async fn queue_outbound(&self, call: &NewOutboundCall) -> Result<OutboundCall, StoreError>;
    async fn outbound_call(&self, id: i64) -> Result<Option<OutboundCall>, StoreError>;
    /// Moves a queued attempt to dialling for `owner`, leased for `lease`, if fewer than
    /// `max_active` attempts are under way across every instance (one atomic step).
    async fn claim_dial(
        &self,
        id: i64,
        owner: &str,
        lease: Duration,
        max_active: i64,
    ) -> Result<DialClaim, StoreError>;
    /// Moves an attempt `owner` holds to `status` and renews its lease; a final status ends it.
    /// False when `owner` no longer holds it (its lease ran out and it was interrupted).
    async fn update_outbound(
        &self,
        id: i64,
        owner: &str,
        status: OutboundStatus,
        reason: Option<&str>,
        outcome: Option<&str>,
        lease: Duration,
    ) -> Result<bool, StoreError>;
    /// Links the stored call (transcript, analysis) to its attempt.
    async fn link_outbound_call(&self, id: i64, call_id: i64) -> Result<(), StoreError>;
    /// Ends as interrupted every attempt under way whose lease ran out; returns how many.
    async fn interrupt_expired_outbound(&self) -> Result<u64, StoreError>;
    /// Attempts queued or under way, oldest first.
    async fn open_outbound(&self) -> Result<Vec<OutboundCall>, StoreError>;
    /// Remembers the chat message that shows the attempt's status.
    async fn set_outbound_message(&self, id: i64, message_id: i32) -> Result<(), StoreError>;
    /// The attempt whose status message is `message_id` in `chat_id`.
    async fn outbound_by_message(
        &self,
        chat_id: i64,
        message_id: i32,
    ) -> Result<Option<OutboundCall>, StoreError>;
    /// Asks for an attempt to end: a queued one ends at once as failed (it is never dialled); one
    /// under way is flagged for the instance that placed it. `None` when there is no such attempt.
    async fn request_outbound_stop(&self, id: i64) -> Result<Option<StopRequest>, StoreError>;
    /// Leaves a hint for the agent of an attempt under way; false when it is not under way.
    async fn add_outbound_hint(
        &self,
        id: i64,
        text: &str,
        by: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// The stop flag and the hints not taken yet (now taken, so each is delivered once).
    async fn take_outbound_signals(&self, id: i64) -> Result<OutboundSignals, StoreError>;
    /// Adds a line to the live transcript (a repeated `seq` is ignored).
    async fn append_outbound_line(&self, id: i64, line: &OutboundLine) -> Result<(), StoreError>;
    /// The live transcript, in order.
    async fn outbound_lines(&self, id: i64) -> Result<Vec<OutboundLine>, StoreError>;
    /// Records who picked up.
    async fn set_outbound_answered_by(&self, id: i64, who: AnsweredBy) -> Result<(), StoreError>;
    /// Keeps the imported numbering table of national numbers starting with `digit`.
    async fn save_numbering_table(&self, digit: u8, table: &str) -> Result<(), StoreError>;
    /// Every imported numbering table.
    async fn numbering_tables(&self) -> Result<Vec<String>, StoreError>;
}

/// The store's part for calling campaigns: campaigns and their contacts' durable states.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Writes a campaign (paused) with its contacts in one transaction; contacts repeating a
    /// number are kept once.
    async fn create_campaign(
        &self,
        campaign: &crate::domain::NewCampaign,
        contacts: &[crate::domain::NewCampaignContact],
    ) -> Result<crate::domain::Campaign, StoreError>;
    async fn campaign(&self, id: i64) -> Result<Option<crate::domain::Campaign>, StoreError>;
    /// Every campaign, newest first.
    async fn campaigns(&self) -> Result<Vec<crate::domain::Campaign>, StoreError>;
    /// How many of a campaign's contacts are in each state.
    async fn campaign_counts(&self, id: i64) -> Result<crate::domain::ContactCounts, StoreError>;
    /// Moves a campaign to `status`; false if it has no such campaign.
    async fn set_campaign_status(
        &self,
        id: i64,
        status: crate::domain::CampaignStatus,
    ) -> Result<bool, StoreError>;
    /// Adds contacts to a campaign (numbers it has already are kept once); returns how many
    /// were added.
    async fn add_campaign_contacts(
        &self,
        campaign: i64,
        contacts: &[crate::domain::NewCampaignContact],
    ) -> Result<u64, StoreError>;
    async fn campaign_contact(
        &self,
        id: i64,
    ) -> Result<Option<crate::domain::CampaignContact>, StoreError>;
    /// Every contact of a campaign, in the order of its file.
    async fn campaign_contacts(
        &self,
        campaign: i64,
    ) -> Result<Vec<crate::domain::CampaignContact>, StoreError>;
    /// Remembers the chat message that shows a campaign's progress.
    async fn set_campaign_message(&self, id: i64, message_id: i32) -> Result<(), StoreError>;
}

/// The store's part for the campaign dialer: which contacts are due, writing their attempts
/// within the limits, and what each attempt's end does to its contact.
#[async_trait]
pub trait DialerStore: Send + Sync {
    /// Running campaigns, highest priority first, then oldest.
    async fn running_campaigns(&self) -> Result<Vec<crate::domain::Campaign>, StoreError>;
    /// Up to `limit` contacts of a campaign due at `now`: pending or retry, with no `next_at`
    /// or one passed; soonest first.
    async fn due_contacts(
        &self,
        campaign: i64,
        now: chrono::DateTime<chrono::Utc>,
        limit: i64,
    ) -> Result<Vec<crate::domain::CampaignContact>, StoreError>;
    /// How many of a campaign's contacts have an attempt out (queued or under way).
    async fn calling_contacts(&self, campaign: i64) -> Result<i64, StoreError>;
    /// Sets the `next_at` of contacts still waiting (those outside their calling hours now).
    async fn defer_contacts(
        &self,
        until: &[(i64, chrono::DateTime<chrono::Utc>)],
    ) -> Result<(), StoreError>;
    /// Writes a queued attempt for each `(contact, script)` still waiting, in one transaction
    /// and in order, while fewer than the campaign's concurrency of its contacts are calling and
    /// fewer than `global` attempts are queued or under way across every instance.
    async fn start_attempts(
        &self,
        campaign: &crate::domain::Campaign,
        contacts: &[(i64, String)],
        global: i64,
    ) -> Result<super::AttemptsStarted, StoreError>;
    /// Applies the end of attempt `outbound` to its contact, if the contact is still calling on
    /// it; false otherwise (settled already).
    async fn settle_contact(
        &self,
        contact: i64,
        outbound: i64,
        settlement: &crate::domain::Settlement,
    ) -> Result<bool, StoreError>;
    /// Contacts still calling on an attempt that has ended (a settlement lost to a crash, an
    /// attempt interrupted with its instance), up to `limit`.
    async fn unsettled_contacts(
        &self,
        limit: i64,
    ) -> Result<Vec<(crate::domain::CampaignContact, crate::domain::OutboundCall)>, StoreError>;
    /// Ends a campaign's attempts that were not dialled yet and puts their contacts back to
    /// waiting (they do not count as tries); returns how many.
    async fn cancel_queued_attempts(&self, campaign: i64) -> Result<u64, StoreError>;
    /// Marks a running campaign finished when no contact waits or is calling; true if this call
    /// did it.
    async fn finish_campaign(&self, id: i64) -> Result<bool, StoreError>;
}

/// The store's part for singleton work across instances: leader leases with fencing tokens.
#[async_trait]
pub trait LeaderStore: Send + Sync {
    /// Takes the lease `name` for `holder` if nobody holds it (or it expired), for `ttl`; the
    /// token is one more than the last leader's. `None` while another holder's lease runs.
    async fn acquire_leader(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<super::LeaderLease>, StoreError>;
    /// Extends a lease still held with `token`; false when another instance took it over.
    async fn renew_leader(
        &self,
        name: &str,
        holder: &str,
        token: i64,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    /// Records that the work ran now, if `token` still leads (the fence before an outside
    /// request); false when it was taken over.
    async fn mark_leader_run(&self, name: &str, token: i64) -> Result<bool, StoreError>;
    /// Gives the lease up at once (on shutdown), if still held with `token`.
    async fn release_leader(&self, name: &str, holder: &str, token: i64) -> Result<(), StoreError>;
    /// Every lease, for `/metrics` and `callops check`.
    async fn leaders(&self) -> Result<Vec<super::LeaderRow>, StoreError>;
}
