//! Row types exchanged with the store.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::Role;

/// The state of a durable job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    /// An attempt failed; waits for `run_after` to be tried again.
    Failed,
    /// Gave up after `max_attempts` or a permanent error.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Dead,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Unique per kind: enqueueing the same key twice yields one job.
    pub idempotency_key: Option<String>,
    pub max_attempts: i32,
    /// Delay before the first attempt.
    pub delay: std::time::Duration,
    /// Higher runs first among runnable jobs (default 0).
    pub priority: i32,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            idempotency_key: None,
            max_attempts: 5,
            delay: std::time::Duration::ZERO,
            priority: 0,
        }
    }
    pub fn priority(mut self, p: i32) -> Self {
        self.priority = p;
        self
    }
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    pub fn delay(mut self, d: std::time::Duration) -> Self {
        self.delay = d;
        self
    }
}

/// The result of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: i64,
    /// False when the idempotency key already named a job.
    pub created: bool,
}

/// A job row.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease_token: Option<Uuid>,
    pub last_error: Option<String>,
    pub idempotency_key: Option<String>,
    pub run_after: DateTime<Utc>,
    pub priority: i32,
    /// Times a worker stopped mid-job (its lease expired).
    pub crashes: i32,
    /// Set when the job is to be given up: its handler's give-up step runs with this reason.
    pub give_up: Option<String>,
    /// The lease this claim holds (set by `claim`).
    pub lease: Option<std::time::Duration>,
}

impl Job {
    /// The fence of this claim: a side effect outside the process checks it right before it runs.
    pub fn fence(&self) -> Option<LeaseFence> {
        Some(LeaseFence {
            job_id: self.id,
            token: self.lease_token?,
            lease: self.lease?,
        })
    }
}

/// A job's claim, checked (and renewed to its full length) right before a side effect, so a worker
/// that stalled past its lease does not act for a job someone else now owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseFence {
    pub job_id: i64,
    pub token: Uuid,
    pub lease: std::time::Duration,
}

/// What claiming a side effect found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectClaim {
    /// Ours to perform now.
    Begun,
    /// Already performed; its stored result.
    Done(Option<String>),
    /// Someone began it and never said how it ended: it may or may not have happened.
    InDoubt { since: DateTime<Utc> },
}

/// How many jobs of a kind are in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCount {
    pub kind: String,
    pub state: JobState,
    pub count: i64,
}

/// A leader lease just taken: the fencing token and when the work last ran under any leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderLease {
    pub token: i64,
    pub last_run: Option<DateTime<Utc>>,
}

/// A leader lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderRow {
    pub name: String,
    pub holder: String,
    pub token: i64,
    pub expires_at: DateTime<Utc>,
    pub last_run: Option<DateTime<Utc>>,
}

/// A number on the do-not-call list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoNotCallEntry {
    pub phone: crate::domain::PhoneNumber,
    /// Why: `opt_out` (the callee asked during a call), `manual:<telegram id>`, `file:<name>`.
    pub reason: String,
    pub added_at: chrono::DateTime<chrono::Utc>,
}

/// A Telegram user known to the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub telegram_id: i64,
    pub role: Role,
    pub name: Option<String>,
    pub added_by: Option<i64>,
}

/// A message the bot has posted, keyed so a retried job finds it instead of posting again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramPost {
    pub post_key: String,
    pub call_id: Option<i64>,
    pub kind: crate::domain::PostKind,
    pub chat_id: i64,
    /// The first (or only) message.
    pub message_id: i32,
    /// Further messages of a split post.
    pub extra_ids: Vec<i32>,
}

/// Tokens spent on one LLM or STT request.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUsage {
    pub call_id: Option<i64>,
    pub purpose: String,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
}

pub(crate) fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

pub(crate) fn split_ids(s: &str) -> Vec<i32> {
    s.split(',').filter_map(|p| p.trim().parse().ok()).collect()
}

/// Tokens and cost spent on one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallTokens {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
}

/// Aggregate figures for `/api/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub by_status: Vec<(String, i64)>,
    pub by_category: Vec<(String, i64)>,
    pub tokens: CallTokens,
}

/// Figures over calls that started in a period (for `/stats` and digests).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeriodStats {
    pub by_status: Vec<(String, i64)>,
    pub by_category: Vec<(String, i64)>,
    pub avg_rating: Option<f64>,
    /// Calls whose AI category a person rated (latest feedback per call).
    pub rated: i64,
    /// Of those, how many the person confirmed or picked the AI's category.
    pub agreed: i64,
    /// `(profile, rated, agreed)` for each profile with rated calls.
    pub agreement_by_profile: Vec<(String, i64, i64)>,
    pub tokens: CallTokens,
}

impl PeriodStats {
    pub fn count(&self, status: &str) -> i64 {
        self.by_status
            .iter()
            .filter(|(s, _)| s == status)
            .map(|(_, n)| n)
            .sum()
    }
    pub fn total(&self) -> i64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }
    /// AI–human agreement in percent, when anything was rated.
    pub fn agreement(&self) -> Option<f64> {
        (self.rated > 0).then(|| self.agreed as f64 * 100.0 / self.rated as f64)
    }
}

/// A category the team corrected: a labelled example for the profile's prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correction {
    pub ai_category: Option<String>,
    pub human_category: String,
    pub summary: String,
}

/// One call of a period with what the charts need.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartRow {
    pub started_at: DateTime<Utc>,
    pub duration_secs: i64,
    pub status: String,
    pub direction: String,
    pub caller: String,
    pub called: String,
    pub profile: Option<String>,
    pub category: Option<String>,
    pub rating: Option<i32>,
    /// The latest feedback choice (`confirm` or a category).
    pub last_feedback: Option<String>,
    /// When the first protocol of the call reached the chat.
    pub posted_at: Option<DateTime<Utc>>,
    /// The operator as the PBX names them (see [`crate::domain::Departments::operator_label`]).
    pub operator: Option<String>,
}

/// A chat's daily digest schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSchedule {
    pub chat_id: i64,
    /// Local `HH:MM`.
    pub time: String,
    pub timezone: String,
    /// Local date (`YYYY-MM-DD`) of the last digest sent.
    pub last_sent: Option<String>,
}

/// What writing a campaign's attempts came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptsStarted {
    /// `(contact, attempt)` of each attempt written.
    pub started: Vec<(i64, i64)>,
    /// No line is left under the global limit (lower-priority campaigns wait).
    pub global_full: bool,
}
