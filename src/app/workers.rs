//! The worker part: the pool, the messaging handlers (one-off posts, daily digests) and the
//! digest schedule.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};
use tokio_util::sync::CancellationToken;

use super::pipeline::admin_chats;
use super::telegram::Telegram;
use super::Parts;
use crate::config::Config;
use crate::i18n::Lang;
use crate::jobs::schedule::Schedules;
use crate::jobs::{PoolOptions, WorkerPool};
use crate::store::Store;
use crate::workers::digest::{self, DigestSend};
use crate::workers::telegram_send::TelegramSend;

/// The worker pool of this process. With phone calls on, it has a slot more for every call
/// allowed at once (`CALL_CONCURRENCY`): a call's job holds its slot for the whole call, and the
/// other work must not wait behind them.
pub(super) fn pool(cfg: &Config, store: Arc<dyn Store>) -> WorkerPool {
    let calls = if cfg.sip.server.is_some() {
        usize::try_from(cfg.outbound.concurrency).unwrap_or(0)
    } else {
        0
    };
    WorkerPool::new(
        store,
        PoolOptions {
            name: "main".into(),
            concurrency: cfg.service.worker_concurrency + calls,
            lease: Duration::from_secs(cfg.service.job_lease_secs),
            backoff: crate::jobs::Backoff {
                base: Duration::from_millis(cfg.service.job_retry_base_ms.max(1)),
                cap: Duration::from_secs(15 * 60),
            },
            ..PoolOptions::default()
        },
    )
}

/// Posting and digests, when Telegram is configured.
pub(super) fn register_messaging(
    cfg: &Config,
    pool: &mut WorkerPool,
    store: &Arc<dyn Store>,
    telegram: Option<&Telegram>,
    parts: &mut Parts,
) {
    let Some(t) = telegram else {
        return;
    };
    pool.register(Arc::new(TelegramSend {
        store: store.clone(),
        notifier: t.notifier.clone(),
        admins: admin_chats(cfg),
    }));
    pool.register(Arc::new(DigestSend {
        store: store.clone(),
        notifier: t.notifier.clone(),
        lang: Lang::Ru,
        departments: cfg.analysis.departments.clone(),
    }));
    let (store, waker, schedules) = (store.clone(), pool.waker(), parts.schedules.clone());
    let run = parts
        .leadership
        .clone()
        .run("digests", parts.shutdown.clone(), move |fence| {
            run_digest_scheduler(
                store.clone(),
                waker.clone(),
                schedules.clone(),
                fence.stop().clone(),
            )
        });
    parts.spawn("digests", run);
}

/// Checks every minute (tokio-cron-scheduler) which chats' digests are due, and once right away
/// so a digest missed while the process was down goes out once on start.
async fn run_digest_scheduler(
    store: Arc<dyn Store>,
    waker: Arc<Notify>,
    schedules: Arc<Schedules>,
    shutdown: CancellationToken,
) {
    const NAME: &str = "digest";
    schedules.register(NAME, 60);
    let tick = {
        let (store, waker, schedules) = (store.clone(), waker.clone(), schedules.clone());
        move || {
            let (store, waker, schedules) = (store.clone(), waker.clone(), schedules.clone());
            async move {
                schedules.started(NAME);
                let next = Utc::now() + chrono::Duration::seconds(60);
                match digest::enqueue_due(store.as_ref(), Utc::now()).await {
                    Ok(chats) => {
                        if !chats.is_empty() {
                            tracing::info!(?chats, "daily digests queued");
                            waker.notify_waiters();
                        }
                        schedules.succeeded(NAME, next);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "checking digests failed");
                        schedules.failed(NAME, &e.to_string(), next);
                    }
                }
            }
        }
    };
    tick().await;
    let mut scheduler = match JobScheduler::new().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "the digest scheduler could not start");
            return;
        }
    };
    let job = CronJob::new_async("0 * * * * *", move |_id, _sched| {
        let tick = tick.clone();
        Box::pin(async move { tick().await })
    });
    let started = match job {
        Ok(job) => scheduler.add(job).await.is_ok() && scheduler.start().await.is_ok(),
        Err(_) => false,
    };
    if !started {
        tracing::error!("the digest scheduler could not start");
        return;
    }
    shutdown.cancelled().await;
    let _ = scheduler.shutdown().await;
}
