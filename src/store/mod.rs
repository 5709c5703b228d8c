//! Storage: the [`Store`] traits (one per area, in `traits`) and their two backends, SQLite (embedded default) and PostgreSQL
//! (production, several instances at once). The backend is chosen by the scheme of `DATABASE_URL`;
//! each backend owns its SQL and its migrations (`migrations/sqlite`, `migrations/postgres`).

mod fold;
pub use fold::period_from_rows;
mod postgres;
mod sqlite;
mod traits;
mod types;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use traits::{
    AgentStore, CallStore, CampaignStore, ChatStore, DialClaim, DialerStore, EffectStore, JobStore,
    LeaderStore, OutboundStore, StatsStore,
};
pub use types::{
    AttemptsStarted, CallTokens, ChartRow, Correction, DigestSchedule, DoNotCallEntry, EffectClaim,
    Enqueued, Job, JobCount, JobState, LeaderLease, LeaderRow, LeaseFence, NewJob, PeriodStats,
    Stats, TelegramPost, TokenUsage, User,
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
pub trait Store:
    JobStore
    + EffectStore
    + ChatStore
    + CallStore
    + StatsStore
    + AgentStore
    + OutboundStore
    + CampaignStore
    + DialerStore
    + LeaderStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;
    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Applies this backend's pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// How many of this build's migrations the database has not applied.
    async fn pending_migrations(&self) -> Result<usize, StoreError>;
    /// Closes the pool; later calls fail.
    async fn close(&self);
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
