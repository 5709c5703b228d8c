//! Durable jobs: what a job handler is, how failures are classified, and the worker pool that runs
//! them with leases, heartbeats, retries with backoff and a dead-letter state.

pub mod leader;
mod pool;
pub mod schedule;

use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::store::Job;

pub use crate::retry::Backoff;
pub use pool::{PoolOptions, PoolStats, WorkerPool};

/// Why a job attempt did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobError {
    /// A passing fault (network, 5xx, timeout): retry with backoff.
    #[error("{0}")]
    Retry(String),
    /// The remote side asked us to wait: retry after at least this long.
    #[error("{0} (retry after {1:?})")]
    RetryAfter(String, Duration),
    /// Retrying cannot help (bad input, forbidden): dead-letter now.
    #[error("{0}")]
    Permanent(String),
}

impl From<crate::notify::NotifyError> for JobError {
    /// Telegram's 429 waits, a refusal is final, a send in doubt is never repeated (it is given
    /// up, and the give-up step tells an admin), anything else is worth retrying.
    fn from(e: crate::notify::NotifyError) -> Self {
        use crate::notify::NotifyError;
        match e {
            NotifyError::RetryAfter(d) => JobError::RetryAfter("Telegram 429".into(), d),
            NotifyError::Rejected(_) | NotifyError::InDoubt(_) => {
                JobError::Permanent(e.to_string())
            }
            other => JobError::Retry(other.to_string()),
        }
    }
}

/// Runs jobs of one kind. Handlers must be idempotent: a job whose worker died after the side
/// effect but before completion runs again.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The job kind this handler takes.
    fn kind(&self) -> &'static str;
    /// Runs one attempt. `cancel` fires when the process shuts down or the lease is lost.
    async fn run(&self, job: &Job, cancel: CancellationToken) -> Result<(), JobError>;

    /// The job's last step when it is given up: after a permanent error, after its last attempt,
    /// and when its workers kept dying (quarantine: `run` is not tried again). It makes the failure
    /// visible (mark the call failed, tell the chat). It must be idempotent: it runs again if the
    /// process dies during it. Default: nothing.
    async fn give_up(&self, _job: &Job, _reason: &str) -> Result<(), JobError> {
        Ok(())
    }
}
