//! Polls a call source every few seconds over a sliding window with overlap; every call goes
//! through [`super::ingest`], which takes each provider call once. Webhooks are faster; this is the
//! safety net that catches whatever they miss.

use std::sync::Arc;
use std::time::Duration;

use crate::jobs::leader::Fence;
use chrono::Utc;

use crate::analysis::ingest::{ingest, Ingested, Origin};
use crate::analysis::pipeline::PipelineDeps;
use crate::jobs::schedule::Schedules;
use crate::telephony::{CallSource, TelephonyError};

pub async fn run(
    deps: Arc<PipelineDeps>,
    source: Arc<dyn CallSource>,
    every: Duration,
    window: Duration,
    schedules: Arc<Schedules>,
    fence: Fence,
) {
    let cancel = fence.stop().clone();
    let name = format!("poll:{}", source.name());
    schedules.register(&name, every.as_secs());
    // Keep the PBX's pace across a change of leader: the last poll may have been elsewhere.
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = tokio::time::sleep(fence.first_wait(every)) => {}
    }
    loop {
        if !fence.mark_run().await {
            if cancel.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => continue,
            }
        }
        schedules.started(&name);
        let now = Utc::now();
        let from =
            now - chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::hours(2));
        let mut pause = every;
        match crate::telemetry::timed("pbx", "list_calls", source.list_calls(from, now)).await {
            Ok(calls) => {
                let (mut queued, mut skipped) = (0, 0);
                let mut store_error = None;
                for pc in &calls {
                    match ingest(&deps.intake, source.name(), pc, Origin::Poll).await {
                        Ok(Ingested::Queued(_)) => queued += 1,
                        Ok(Ingested::Skipped(..)) => skipped += 1,
                        Ok(Ingested::Known(_))
                        | Ok(Ingested::Unconfirmed(_))
                        | Ok(Ingested::AwaitingRecording(_)) => {}
                        Err(e) => store_error = Some(e.to_string()),
                    }
                }
                let next = Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default();
                match store_error {
                    None => {
                        tracing::info!(
                            source = source.name(),
                            seen = calls.len(),
                            queued,
                            skipped,
                            "poll done"
                        );
                        schedules.succeeded(&name, next);
                    }
                    Some(e) => {
                        tracing::error!(source = source.name(), error = %e, "poll: storing calls failed");
                        schedules.failed(&name, &e, next);
                    }
                }
            }
            Err(e) => {
                if let TelephonyError::RateLimited(d) = &e {
                    pause = pause.max(*d);
                }
                tracing::warn!(source = source.name(), error = %e, retry_in = ?pause, "poll failed");
                schedules.failed(
                    &name,
                    &e.to_string(),
                    Utc::now() + chrono::Duration::from_std(pause).unwrap_or_default(),
                );
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
