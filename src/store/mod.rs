//! Storage: the [`Store`] trait and its two backends, SQLite (embedded default) and PostgreSQL
//! (production, several instances at once). The backend is chosen by the scheme of `DATABASE_URL`;
//! each backend owns its SQL and its migrations (`migrations/sqlite`, `migrations/postgres`).

mod postgres;
mod sqlite;
mod types;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::domain::{
    Analysis, Call, CallFilter, CallStatus, CallSummary, Feedback, NewAnalysis, NewCall, Role,
    Utterance,
};

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use types::{
    CallTokens, ChartRow, Correction, DigestSchedule, EffectClaim, Enqueued, Job, JobCount,
    JobState, LeaseFence, NewJob, PeriodStats, Stats, TelegramPost, TokenUsage, User,
};

/// A job whose worker stopped mid-job this many times is quarantined: given up, not run again.
pub const QUARANTINE_AFTER_CRASHES: i32 = 2;
/// A job whose give-up step keeps crashing too is dead-lettered without it at this count.
pub const DEAD_AFTER_CRASHES: i32 = 4;

/// Errors from a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported DATABASE_URL scheme in {0:?}: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Everything callops keeps durably. Both backends pass the same contract tests.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Applies this backend's pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Closes the pool; later calls fail.
    async fn close(&self);

    // ---- durable jobs ----
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
    /// Puts a dead or failed job back in the queue with fresh attempts.
    async fn requeue(&self, id: i64) -> Result<bool, StoreError>;

    // ---- side effects outside the process ----
    /// Claims `key` before performing its effect (see [`EffectClaim`]).
    async fn begin_effect(&self, key: &str) -> Result<EffectClaim, StoreError>;
    /// Records that the effect happened, with its result.
    async fn finish_effect(&self, key: &str, result: &str) -> Result<(), StoreError>;
    /// Withdraws a claim whose effect provably did not happen, so a retry may perform it.
    async fn abandon_effect(&self, key: &str) -> Result<(), StoreError>;

    // ---- users and chats ----
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

    // ---- Telegram posts (idempotency of every message the bot sends for a job) ----
    async fn telegram_post(&self, post_key: &str) -> Result<Option<TelegramPost>, StoreError>;
    /// Whether `message_id` in `chat_id` shows the protocol of `call_id` (its buttons are real).
    async fn is_protocol_message(
        &self,
        call_id: i64,
        chat_id: i64,
        message_id: i32,
    ) -> Result<bool, StoreError>;
    /// Stores a post; a second post with the same key keeps the first.
    async fn record_telegram_post(&self, post: &TelegramPost) -> Result<(), StoreError>;

    // ---- calls ----
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
    async fn set_recording_ref(&self, call_id: i64, recording_ref: &str) -> Result<(), StoreError>;
    /// Lists calls with their current analysis, newest first; returns the page and the total.
    async fn list_calls(&self, filter: &CallFilter) -> Result<(Vec<CallSummary>, i64), StoreError>;

    // ---- analyses and feedback ----
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

    // ---- the voice agent ----
    /// Stores the per-turn timings of an agent call (replacing any stored before).
    async fn save_agent_turns(
        &self,
        call_id: i64,
        turns: &[crate::domain::TurnTiming],
    ) -> Result<(), StoreError>;
    async fn agent_turns(&self, call_id: i64)
        -> Result<Vec<crate::domain::TurnTiming>, StoreError>;
    /// The chat a call's protocol goes to instead of the routing default (rehearsals).
    async fn set_call_chat(&self, call_id: i64, chat_id: i64) -> Result<(), StoreError>;
    async fn call_chat(&self, call_id: i64) -> Result<Option<i64>, StoreError>;
    /// Adds a number (E.164) to the do-not-call list; false if it was there already.
    async fn add_do_not_call(&self, phone: &str, reason: &str) -> Result<bool, StoreError>;
    async fn is_do_not_call(&self, phone: &str) -> Result<bool, StoreError>;
    /// Saves the state of a running rehearsal in a chat (replacing the previous one).
    async fn save_rehearsal(
        &self,
        chat_id: i64,
        session: &serde_json::Value,
    ) -> Result<(), StoreError>;
    async fn delete_rehearsal(&self, chat_id: i64) -> Result<(), StoreError>;
    /// Every running rehearsal, by chat.
    async fn rehearsals(&self) -> Result<Vec<(i64, serde_json::Value)>, StoreError>;

    // ---- provider cursors and accounting ----
    async fn cursor(&self, provider: &str) -> Result<Option<String>, StoreError>;
    async fn set_cursor(&self, provider: &str, value: &str) -> Result<(), StoreError>;
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
    /// The latest category corrections of a profile, newest first.
    async fn corrections(&self, profile: &str, limit: i64) -> Result<Vec<Correction>, StoreError>;
}

/// Opens the store named by `url` (`sqlite://path`, `sqlite::memory:`, `postgres://...`).
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// A database URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Clamps a duration to whole milliseconds as i64.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `url` with its search path set to `schema` (tests and benchmarks isolate themselves this way).
pub fn postgres_url_with_schema(url: &str, schema: &str) -> Result<String, StoreError> {
    let mut u = url::Url::parse(url)
        .map_err(|e| StoreError::UnsupportedUrl(format!("{}: {e}", redact_url(url))))?;
    u.query_pairs_mut()
        .append_pair("options", &format!("-c search_path={schema}"));
    Ok(u.to_string())
}
