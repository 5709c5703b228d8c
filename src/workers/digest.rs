//! The daily digest: at each chat's local time, one message comparing yesterday with the day
//! before (calls, hot leads, average rating, top objections, agreement), then an album of charts.
//! [`enqueue_due`] runs every minute (and once at start, so a digest missed while down is sent
//! once); each digest is a durable `digest.send` job keyed by chat and date, sent exactly once.

use crate::domain::period::parse_time;
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::charts::{chart_png, labels, ChartKind};
use crate::domain::period::Period;
use crate::domain::PostKind;
use crate::i18n::{t, t_args, Lang};
use crate::jobs::{JobError, JobHandler};
use crate::notify::{post_once, send_once, Notifier, PostRequest, TextFormat};
use crate::store::{Job, NewJob, PeriodStats, Store, StoreError};

pub const KIND: &str = "digest.send";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub chat_id: i64,
    /// The local date the digest is sent on; it reports the day before.
    pub date: NaiveDate,
    pub timezone: String,
}

/// Queues the digests due at `now`; returns the chats queued.
pub async fn enqueue_due(store: &dyn Store, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
    let mut queued = Vec::new();
    for s in store.digest_schedules().await? {
        let tz: Tz = s.timezone.parse().unwrap_or(chrono_tz::Europe::Moscow);
        let Some(at) = parse_time(&s.time) else {
            continue;
        };
        let local = now.with_timezone(&tz);
        let date = local.date_naive();
        let already = s
            .last_sent
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        if local.time() < at || already.is_some_and(|d| d >= date) {
            continue;
        }
        let payload = serde_json::to_value(Payload {
            chat_id: s.chat_id,
            date,
            timezone: s.timezone.clone(),
        })
        .unwrap_or_default();
        let job = NewJob::new(KIND, payload)
            .key(format!("digest:{}:{date}", s.chat_id))
            .max_attempts(6)
            .priority(5);
        if store.enqueue(job).await?.created {
            queued.push(s.chat_id);
        }
    }
    Ok(queued)
}

fn trend(now: f64, before: f64) -> &'static str {
    if now > before {
        "↑"
    } else if now < before {
        "↓"
    } else {
        "="
    }
}

fn hot(st: &PeriodStats) -> i64 {
    st.by_category
        .iter()
        .filter(|(k, _)| k == "hot")
        .map(|(_, n)| n)
        .sum()
}

/// The digest text for `day` compared with the day before it.
pub fn digest_text(
    lang: Lang,
    day: NaiveDate,
    st: &PeriodStats,
    prev: &PeriodStats,
    objections: &[(String, usize)],
) -> String {
    let mut lines = vec![format!(
        "<b>{}</b>",
        t_args(
            lang,
            "digest-header",
            &[("date", day.format("%d.%m.%Y").to_string().into())]
        )
    )];
    lines.push(t_args(
        lang,
        "digest-calls",
        &[
            ("n", st.total().into()),
            ("before", prev.total().into()),
            (
                "trend",
                trend(st.total() as f64, prev.total() as f64).into(),
            ),
        ],
    ));
    lines.push(t_args(
        lang,
        "digest-hot",
        &[
            ("n", hot(st).into()),
            ("before", hot(prev).into()),
            ("trend", trend(hot(st) as f64, hot(prev) as f64).into()),
        ],
    ));
    let avg = |s: &PeriodStats| s.avg_rating.map_or("—".to_string(), |a| format!("{a:.1}"));
    lines.push(t_args(
        lang,
        "digest-rating",
        &[("n", avg(st).into()), ("before", avg(prev).into())],
    ));
    let pct = |s: &PeriodStats| {
        s.agreement()
            .map_or("—".to_string(), |p| format!("{p:.0}%"))
    };
    lines.push(t_args(
        lang,
        "digest-agreement",
        &[("n", pct(st).into()), ("before", pct(prev).into())],
    ));
    if !objections.is_empty() {
        lines.push(format!("\n<b>{}</b>", t(lang, "digest-objections")));
        for (o, n) in objections {
            lines.push(format!("• {} ({n})", crate::analysis::protocol::esc(o)));
        }
    }
    lines.join("\n")
}

/// The most frequent objections in analysis results.
pub fn top_objections(results: &[serde_json::Value], n: usize) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, (usize, String)> = HashMap::new();
    for r in results {
        for o in r["objections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
        {
            let key = o.trim().to_lowercase();
            if key.is_empty() {
                continue;
            }
            counts.entry(key).or_insert((0, o.trim().to_string())).0 += 1;
        }
    }
    let mut v: Vec<(String, usize)> = counts.into_values().map(|(n, text)| (text, n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

pub struct DigestSend {
    pub store: Arc<dyn Store>,
    pub notifier: Arc<dyn Notifier>,
    pub lang: Lang,
}

#[async_trait]
impl JobHandler for DigestSend {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn run(&self, job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let p: Payload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad digest payload: {e}")))?;
        let retry = |e: StoreError| JobError::Retry(e.to_string());
        let tz: Tz = p.timezone.parse().unwrap_or(chrono_tz::Europe::Moscow);
        let yesterday = p.date - Days::new(1);
        let day = Period {
            first: yesterday,
            last: yesterday,
        };
        let (from, to) = day.bounds(tz);
        let (pf, pt) = day.previous().bounds(tz);
        let st = self.store.period_stats(from, to).await.map_err(retry)?;
        let prev = self.store.period_stats(pf, pt).await.map_err(retry)?;
        let results = self
            .store
            .analysis_results(from, to, 5000)
            .await
            .map_err(retry)?;
        // The chat's language when it chose one in /settings, else the default.
        let lang = self
            .store
            .chat_language(p.chat_id)
            .await
            .map_err(retry)?
            .map_or(self.lang, |c| Lang::from_code(Some(&c)));
        let text = digest_text(lang, yesterday, &st, &prev, &top_objections(&results, 3));
        let key = format!("digest:{}:{}", p.chat_id, p.date);
        let req = PostRequest {
            post_key: key.clone(),
            chat_id: p.chat_id,
            text,
            format: TextFormat::Html,
            call_id: None,
            kind: PostKind::Digest,
            keyboard: None,
            reply_to: None,
            silent: false,
            topic: None,
        };
        post_once(
            self.store.as_ref(),
            self.notifier.as_ref(),
            &req,
            job.fence().as_ref(),
        )
        .await
        .map_err(JobError::from)?;

        let album_key = format!("{key}:album");
        if self
            .store
            .telegram_post(&album_key)
            .await
            .map_err(retry)?
            .is_none()
        {
            let week = Period::last_days(yesterday, 7);
            let (wf, wt) = week.bounds(tz);
            let rows = self.store.chart_rows(wf, wt).await.map_err(retry)?;
            let pictures = tokio::task::spawn_blocking(move || {
                [ChartKind::Leads, ChartKind::Funnel, ChartKind::Ratings]
                    .into_iter()
                    .map(|kind| {
                        let l = labels(lang, kind, &week);
                        chart_png(kind, &rows, tz, week.first, week.last, &l)
                            .map(|png| (format!("{kind}.png"), png))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?
            .map_err(|e| JobError::Permanent(e.to_string()))?;
            let caption = t_args(lang, "digest-charts", &[("period", week.label().into())]);
            send_once(
                self.store.as_ref(),
                &album_key,
                (None, PostKind::Digest, p.chat_id),
                job.fence().as_ref(),
                || self.notifier.send_album(p.chat_id, pictures, &caption),
            )
            .await
            .map_err(JobError::from)?;
        }
        self.store
            .mark_digest(p.chat_id, &p.date.format("%Y-%m-%d").to_string())
            .await
            .map_err(retry)?;
        tracing::info!(chat = p.chat_id, date = %p.date, "daily digest sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objections_are_counted_case_insensitively() {
        let r = vec![
            json!({"objections": ["Дорого", "Нет времени"]}),
            json!({"objections": ["дорого "]}),
            json!({"summary": "x"}),
        ];
        assert_eq!(
            top_objections(&r, 3),
            vec![("Дорого".to_string(), 2), ("Нет времени".to_string(), 1)]
        );
    }
}
