//! The statistics requests of a PBX, paced and retried: PBXs limit them (Novofon and Zadarma 3 a
//! minute, Mango one per 2 s), so each request waits its turn after the previous one, and a 429
//! waits (as long as the PBX asks, within the cap) and tries again, a few times.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::TelephonyError;
use crate::retry::{Backoff, RetryPolicy};

/// Keeps one source's statistics requests `interval` apart.
pub struct StatsPace {
    interval: Duration,
    backoff: Backoff,
    last: Mutex<Option<Instant>>,
}

impl StatsPace {
    /// `backoff`: the first wait after a 429 without `Retry-After`; `cap`: the longest wait.
    pub fn new(interval: Duration, backoff: Duration, cap: Duration) -> Self {
        Self {
            interval,
            backoff: Backoff { base: backoff, cap },
            last: Mutex::new(None),
        }
    }

    /// Runs `request` in its turn, again after a 429 (four attempts in all).
    pub async fn run<T, F, Fut>(&self, what: &str, request: F) -> Result<T, TelephonyError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, TelephonyError>>,
    {
        let policy = RetryPolicy {
            backoff: self.backoff,
            max_attempts: 4,
        };
        let mut attempt = 1;
        loop {
            {
                let mut last = self.last.lock().await;
                if let Some(t) = *last {
                    let since = t.elapsed();
                    if since < self.interval {
                        tokio::time::sleep(self.interval - since).await;
                    }
                }
                *last = Some(Instant::now());
            }
            match request().await {
                Err(TelephonyError::RateLimited(after)) if policy.again_after(attempt) => {
                    let pause = policy
                        .wait(attempt, None)
                        .max(after.min(policy.backoff.cap));
                    tracing::warn!(attempt, pause = ?pause, what, "statistics: 429, backing off");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
