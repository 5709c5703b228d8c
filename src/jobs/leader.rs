//! Singleton work across instances: a named leader lease in the database, renewed while held,
//! fenced by a token that grows at every change of leader. [`Leadership::run`] keeps trying to
//! lead; while it leads it runs the work with a [`Fence`] whose token is cancelled the moment the
//! lease is lost or the process stops. On shutdown the lease is given up at once, so a standby
//! instance takes over within one poll instead of waiting out the lease.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// How long a running work may take to stop after it lost its lease or the process stops.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// This process's claim to singleton work.
pub struct Leadership {
    store: Arc<dyn Store>,
    holder: String,
    ttl: Duration,
}

/// The work's view of its lease: when it must stop, and the fence before each outside request.
#[derive(Clone)]
pub struct Fence {
    store: Arc<dyn Store>,
    name: Arc<str>,
    token: i64,
    last_run: Option<DateTime<Utc>>,
    stop: CancellationToken,
}

impl Fence {
    /// Cancelled when the lease is lost or the process stops.
    pub fn stop(&self) -> &CancellationToken {
        &self.stop
    }

    /// When the work last ran under any leader (to keep a rate limit across a change of leader).
    pub fn last_run(&self) -> Option<DateTime<Utc>> {
        self.last_run
    }

    /// Checks that this instance still leads and records the run; false (and the work is told
    /// to stop) when another instance took over. Call it right before an outside request.
    pub async fn mark_run(&self) -> bool {
        match self.store.mark_leader_run(&self.name, self.token).await {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(work = %self.name, "fenced off: another instance leads now");
                self.stop.cancel();
                false
            }
            Err(e) => {
                tracing::warn!(work = %self.name, error = %e, "cannot check the lease; skipping this run");
                false
            }
        }
    }

    /// How long to wait before the first run so runs stay `every` apart across leaders.
    pub fn first_wait(&self, every: Duration) -> Duration {
        let Some(last) = self.last_run else {
            return Duration::ZERO;
        };
        let since = (Utc::now() - last).to_std().unwrap_or(Duration::ZERO);
        every.saturating_sub(since)
    }
}

impl Leadership {
    /// `ttl` is how long a lease lasts without renewal: a dead leader's work resumes elsewhere
    /// within it (plus one standby poll).
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
        let holder = format!(
            "{host}:{}:{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Self { store, holder, ttl }
    }

    /// Who this process is in the lease table.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// How often a standby instance tries to take a lease over.
    fn standby_poll(&self) -> Duration {
        (self.ttl / 10).clamp(Duration::from_millis(200), Duration::from_secs(2))
    }

    /// Runs `work` whenever this instance leads `name`, until `shutdown`. The work must return
    /// soon after its fence's `stop()` is cancelled.
    pub async fn run<F, Fut>(
        self: Arc<Self>,
        name: impl Into<String>,
        shutdown: CancellationToken,
        work: F,
    ) where
        F: Fn(Fence) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let name: Arc<str> = Arc::from(name.into());
        let label = name.to_string();
        let mut logged_standby = false;
        while !shutdown.is_cancelled() {
            match self
                .store
                .acquire_leader(&name, &self.holder, self.ttl)
                .await
            {
                Ok(Some(lease)) => {
                    logged_standby = false;
                    tracing::info!(work = %name, token = lease.token, "leading");
                    metrics::gauge!("callops_leader", "work" => label.clone()).set(1.0);
                    let fence = Fence {
                        store: self.store.clone(),
                        name: name.clone(),
                        token: lease.token,
                        last_run: lease.last_run,
                        stop: shutdown.child_token(),
                    };
                    let stop = fence.stop.clone();
                    let mut task = tokio::spawn(work(fence));
                    let ended = self.keep(&name, lease.token, &stop, &mut task).await;
                    stop.cancel();
                    if !ended && tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                        tracing::warn!(work = %name, "the work did not stop in time; aborting it");
                        task.abort();
                    }
                    if let Err(e) = self
                        .store
                        .release_leader(&name, &self.holder, lease.token)
                        .await
                    {
                        tracing::warn!(work = %name, error = %e, "giving the lease up failed; it expires by itself");
                    }
                    metrics::gauge!("callops_leader", "work" => label.clone()).set(0.0);
                    tracing::info!(work = %name, "no longer leading");
                }
                Ok(None) => {
                    if !logged_standby {
                        tracing::info!(work = %name, "standby: another instance leads");
                        logged_standby = true;
                    }
                    metrics::gauge!("callops_leader", "work" => label.clone()).set(0.0);
                }
                Err(e) => tracing::warn!(work = %name, error = %e, "cannot reach the lease table"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.standby_poll()) => {}
            }
        }
    }

    /// Renews the lease every third of its time while the work runs; returns true when the
    /// work ended by itself, false when the lease was lost or `stop` fired.
    async fn keep(
        &self,
        name: &str,
        token: i64,
        stop: &CancellationToken,
        task: &mut tokio::task::JoinHandle<()>,
    ) -> bool {
        let mut tick = tokio::time::interval(self.ttl / 3);
        tick.tick().await;
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return false,
                r = &mut *task => {
                    if let Err(e) = r {
                        tracing::error!(work = %name, error = %e, "the work ended abnormally");
                    }
                    return true;
                }
                _ = tick.tick() => {}
            }
            match self
                .store
                .renew_leader(name, &self.holder, token, self.ttl)
                .await
            {
                Ok(true) => {
                    renewed = Instant::now();
                    // Set again at each renewal: a recorder installed after the lease was taken
                    // still shows who leads.
                    metrics::gauge!("callops_leader", "work" => name.to_string()).set(1.0);
                }
                Ok(false) => {
                    tracing::warn!(work = %name, "lease lost: another instance took over");
                    return false;
                }
                Err(e) if renewed.elapsed() >= self.ttl / 2 => {
                    tracing::warn!(work = %name, error = %e, "lease renewals failing for half the lease: stopping the work");
                    return false;
                }
                Err(e) => tracing::warn!(work = %name, error = %e, "renewing the lease failed"),
            }
        }
    }
}
