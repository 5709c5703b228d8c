//! Job kind `source.day`: one local day of a source's calls read again, as T-Bank's nightly batch
//! reads "the calls of N days ago" (and as a re-run asked for through the API). Every call goes
//! through the same intake as a poll: a known call stays as it is, a missing one is stored and
//! analysed. Running it twice does no harm.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use crate::analysis::ingest::{ingest, Ingested, Origin};
use crate::analysis::pipeline::PipelineDeps;
use crate::analysis::queue::{DayPayload, DAY_KIND};
use crate::jobs::{JobError, JobHandler};
use crate::store::Job;

pub struct SourceDay {
    pub deps: Arc<PipelineDeps>,
}

/// What reading a day found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DayTally {
    pub listed: usize,
    pub queued: usize,
    pub known: usize,
    pub skipped: usize,
}

#[async_trait]
impl JobHandler for SourceDay {
    fn kind(&self) -> &'static str {
        DAY_KIND
    }

    async fn run(&self, job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let p: DayPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad source.day payload: {e}")))?;
        let source = self.deps.sources.get(&p.source).ok_or_else(|| {
            JobError::Permanent(format!("no call source {:?} is configured", p.source))
        })?;
        let tz = self.deps.settings.timezone;
        let midnight = p.day.and_hms_opt(0, 0, 0).unwrap_or_default();
        let from = tz
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| JobError::Permanent(format!("{} has no midnight", p.day)))?;
        let calls = source
            .list_calls(from, from + TimeDelta::days(1))
            .await
            .map_err(|e| {
                if e.is_transient() {
                    JobError::Retry(e.to_string())
                } else {
                    JobError::Permanent(e.to_string())
                }
            })?;
        let mut tally = DayTally {
            listed: calls.len(),
            ..DayTally::default()
        };
        for pc in &calls {
            match ingest(&self.deps.intake, &p.source, pc, Origin::Poll).await {
                Ok(Ingested::Queued(_)) => tally.queued += 1,
                Ok(Ingested::Skipped(..)) => tally.skipped += 1,
                Ok(_) => tally.known += 1,
                Err(e) => return Err(JobError::Retry(e.to_string())),
            }
        }
        tracing::info!(
            source = %p.source,
            day = %p.day,
            listed = tally.listed,
            queued = tally.queued,
            known = tally.known,
            skipped = tally.skipped,
            "a day of calls read again"
        );
        Ok(())
    }
}

/// The nightly batch's plan: which day to read and when.
#[derive(Debug, Clone)]
pub struct Nightly {
    pub source: String,
    /// Read the calls of this many days ago (CallQ reads yesterday's: 1).
    pub days_ago: u32,
    /// The local hour it runs at.
    pub hour: u32,
    pub timezone: chrono_tz::Tz,
}

impl Nightly {
    /// The day a run at local `now` reads, and whether today's run time has come.
    pub fn due(&self, now: chrono::DateTime<Utc>) -> (chrono::NaiveDate, bool) {
        let local = now.with_timezone(&self.timezone);
        let day = local.date_naive() - TimeDelta::days(i64::from(self.days_ago));
        (day, chrono::Timelike::hour(&local) >= self.hour)
    }

    /// The next time its hour comes, after `now`.
    pub fn next_run(&self, now: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
        let local = now.with_timezone(&self.timezone);
        let at = |d: chrono::NaiveDate| {
            d.and_hms_opt(self.hour.min(23), 0, 0)
                .and_then(|t| self.timezone.from_local_datetime(&t).earliest())
                .map(|t| t.with_timezone(&Utc))
        };
        let today = local.date_naive();
        match at(today).filter(|t| *t > now) {
            Some(t) => t,
            None => at(today + TimeDelta::days(1)).unwrap_or(now + TimeDelta::days(1)),
        }
    }

    /// Queues each night's day (and, on start, tonight's if its hour has passed: a restart does
    /// not skip a night). The job's key names the day and `nightly`, so any number of instances
    /// queue it once.
    pub async fn run(
        self,
        intake: Arc<crate::analysis::pipeline::CallIntake>,
        stop: CancellationToken,
    ) {
        loop {
            let now = Utc::now();
            let (day, came) = self.due(now);
            if came {
                let payload = DayPayload {
                    source: self.source.clone(),
                    day,
                };
                match crate::analysis::queue::enqueue_day(&intake, &payload, "nightly").await {
                    Ok((job, true)) => {
                        tracing::info!(source = %self.source, %day, job, "nightly batch queued")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(source = %self.source, error = %e, "nightly batch not queued; trying again in a minute")
                    }
                }
            }
            let wait = (self.next_run(now) - now)
                .to_std()
                .unwrap_or_default()
                .min(std::time::Duration::from_secs(60));
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nightly_batch_reads_n_days_ago_from_its_hour() {
        let n = Nightly {
            source: "tbank".into(),
            days_ago: 1,
            hour: 3,
            timezone: chrono_tz::Europe::Moscow,
        };
        // 23:30 UTC on the 27th is 02:30 in Moscow on the 28th: not yet.
        let before = Utc.with_ymd_and_hms(2026, 11, 27, 23, 30, 0).unwrap();
        let (day, came) = n.due(before);
        assert_eq!(day.to_string(), "2026-11-27");
        assert!(!came);
        assert_eq!(
            n.next_run(before),
            Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
        );
        let after = Utc.with_ymd_and_hms(2026, 11, 28, 0, 5, 0).unwrap();
        assert_eq!(n.due(after), (day, true));
        assert_eq!(
            n.next_run(after),
            Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap()
        );
    }
}
