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

use crate::analysis::protocol::esc;
use crate::charts::{chart_png, labels, ChartKind};
use crate::domain::period::Period;
use crate::domain::{Departments, PostKind};
use crate::i18n::{t, t_args, Lang};
use crate::jobs::{JobError, JobHandler};
use crate::notify::{post_once, send_once, Notifier, PostRequest, TextFormat};
use crate::store::{period_from_rows, Job, NewJob, PeriodStats, Store, StoreError};

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
    /// A department's own chat gets the digest of its calls only.
    pub departments: Departments,
}

/// Whether a chart row is one of `dept`'s calls: by its operator, else by our number.
fn in_department(r: &crate::store::ChartRow, d: &Departments, dept: &str) -> bool {
    let ours = if r.direction == crate::domain::Direction::Outgoing.as_str() {
        &r.caller
    } else {
        &r.called
    };
    let ours = crate::domain::PhoneNumber::parse(ours).ok();
    d.of_call(ours.as_ref(), r.operator.as_deref())
        .is_some_and(|x| x.name == dept)
}

impl DigestSend {
    /// The figures of the day and the day before, and the objections: a department's own, or
    /// everyone's.
    async fn figures(
        &self,
        chat: i64,
        (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
        (pf, pt): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    ) -> Result<
        (
            PeriodStats,
            PeriodStats,
            Vec<serde_json::Value>,
            Option<String>,
        ),
        StoreError,
    > {
        if let Some(dept) = self.departments.with_chat(chat) {
            let name = dept.name.clone();
            let mine = |rows: Vec<crate::store::ChartRow>| {
                rows.into_iter()
                    .filter(|r| in_department(r, &self.departments, &name))
                    .collect::<Vec<_>>()
            };
            let st = period_from_rows(&mine(self.store.chart_rows(from, to).await?));
            let prev = period_from_rows(&mine(self.store.chart_rows(pf, pt).await?));
            // Objections are read per call only with their numbers; a department's digest
            // leaves them out rather than show everyone's.
            return Ok((st, prev, Vec::new(), Some(name)));
        }
        let st = self.store.period_stats(from, to).await?;
        let prev = self.store.period_stats(pf, pt).await?;
        let results = self.store.analysis_results(from, to, 5000).await?;
        Ok((st, prev, results, None))
    }
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
        let (st, prev, results, department) = self
            .figures(p.chat_id, day.bounds(tz), day.previous().bounds(tz))
            .await
            .map_err(retry)?;
        // The chat's language when it chose one in /settings, else the default.
        let lang = self
            .store
            .chat_language(p.chat_id)
            .await
            .map_err(retry)?
            .map_or(self.lang, |c| Lang::from_code(Some(&c)));
        let mut text = digest_text(lang, yesterday, &st, &prev, &top_objections(&results, 3));
        if let Some(name) = department {
            text = format!(
                "{}\n{text}",
                t_args(lang, "digest-department", &[("name", esc(&name).into())])
            );
        }
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
            let mut rows = self.store.chart_rows(wf, wt).await.map_err(retry)?;
            if let Some(dept) = self.departments.with_chat(p.chat_id) {
                let name = dept.name.clone();
                rows.retain(|r| in_department(r, &self.departments, &name));
            }
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

    #[test]
    fn a_departments_digest_counts_its_own_calls() {
        let d = Departments::parse_json(
            r#"[{"name": "Продажи", "numbers": ["+74951234567"], "operators": {"101": "Анна"}, "chat": -5}]"#,
        )
        .unwrap();
        let row = |called: &str, op: Option<&str>, cat: &str, rating: i32| crate::store::ChartRow {
            started_at: Utc::now(),
            duration_secs: 60,
            status: "analyzed".into(),
            direction: "incoming".into(),
            caller: "+79161234567".into(),
            called: called.into(),
            profile: Some("realty_lead".into()),
            category: Some(cat.into()),
            rating: Some(rating),
            last_feedback: None,
            posted_at: None,
            operator: op.map(str::to_string),
        };
        let rows = vec![
            row("+74951234567", None, "hot", 8),
            row("+74990000000", Some("101"), "warm", 6),
            row("+74990000000", Some("202"), "cold", 2),
        ];
        let mine: Vec<_> = rows
            .into_iter()
            .filter(|r| in_department(r, &d, "Продажи"))
            .collect();
        let st = period_from_rows(&mine);
        assert_eq!(st.total(), 2, "by number and by operator");
        assert_eq!(st.avg_rating, Some(7.0));
        assert_eq!(d.with_chat(-5).map(|x| x.name.as_str()), Some("Продажи"));
        assert!(d.with_chat(-6).is_none());
    }
}
