//! SQLite: token accounting, statistics, chart rows, analysis results and corrections.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::{parse_time, rfc3339, SqliteStore};
use crate::store::fold::{fold_period, StatsGroup};
use crate::store::StatsStore;
use crate::store::{CallTokens, ChartRow, Correction, PeriodStats, Stats, StoreError, TokenUsage};

#[async_trait]
impl StatsStore for SqliteStore {
    async fn record_token_usage(&self, usage: &TokenUsage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO token_usage (call_id, purpose, model, prompt_tokens, completion_tokens, cost_usd, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(usage.call_id)
        .bind(&usage.purpose)
        .bind(&usage.model)
        .bind(usage.prompt_tokens)
        .bind(usage.completion_tokens)
        .bind(usage.cost_usd)
        .bind(rfc3339(Utc::now()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn call_tokens(&self, call_id: i64) -> Result<CallTokens, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0) AS p, COALESCE(SUM(completion_tokens), 0) AS c,
                    COALESCE(SUM(cost_usd), 0.0) AS cost FROM token_usage WHERE call_id = ?",
        )
        .bind(call_id)
        .fetch_one(&self.reader)
        .await?;
        Ok(CallTokens {
            prompt_tokens: row.try_get("p")?,
            completion_tokens: row.try_get("c")?,
            cost_usd: row.try_get("cost")?,
        })
    }

    async fn stats_since(&self, since: DateTime<Utc>) -> Result<Stats, StoreError> {
        let since = rfc3339(since);
        let pairs = |rows: Vec<SqliteRow>| -> Result<Vec<(String, i64)>, StoreError> {
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>("k")?, r.try_get::<i64, _>("n")?)))
                .collect()
        };
        let by_status = pairs(
            sqlx::query("SELECT status AS k, COUNT(*) AS n FROM calls WHERE started_at >= ? GROUP BY status ORDER BY status")
                .bind(&since)
                .fetch_all(&self.reader)
                .await?,
        )?;
        let by_category = pairs(
            sqlx::query(
                "SELECT a.lead_category AS k, COUNT(*) AS n FROM calls c CROSS JOIN analyses a ON a.call_id = c.id
                 WHERE a.is_current = 1 AND a.lead_category IS NOT NULL AND c.started_at >= ?
                 GROUP BY a.lead_category ORDER BY a.lead_category",
            )
            .bind(&since)
            .fetch_all(&self.reader)
            .await?,
        )?;
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0) AS p, COALESCE(SUM(completion_tokens), 0) AS c,
                    COALESCE(SUM(cost_usd), 0.0) AS cost FROM token_usage WHERE created_at >= ?",
        )
        .bind(&since)
        .fetch_one(&self.reader)
        .await?;
        Ok(Stats {
            by_status,
            by_category,
            tokens: CallTokens {
                prompt_tokens: row.try_get("p")?,
                completion_tokens: row.try_get("c")?,
                cost_usd: row.try_get("cost")?,
            },
        })
    }

    async fn period_stats(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<PeriodStats, StoreError> {
        let (from, to) = (rfc3339(from), rfc3339(to));
        // One pass over the period's calls; the figures are summed up in Rust (store::fold).
        let groups = sqlx::query(
            "SELECT status, lead_category, profile, last_feedback, COUNT(*) AS n,
                    SUM(interest_rating) AS rating_sum, COUNT(interest_rating) AS rating_n
             FROM calls WHERE started_at >= ?1 AND started_at < ?2
             GROUP BY status, lead_category, profile, last_feedback",
        )
        .bind(&from)
        .bind(&to)
        .fetch_all(&self.reader)
        .await?;
        let groups = groups
            .iter()
            .map(|g| {
                Ok(StatsGroup {
                    status: g.try_get("status")?,
                    category: g.try_get("lead_category")?,
                    profile: g.try_get("profile")?,
                    last_feedback: g.try_get("last_feedback")?,
                    calls: g.try_get("n")?,
                    rating_sum: g.try_get::<Option<i64>, _>("rating_sum")?.unwrap_or(0),
                    rated_by_ai: g.try_get("rating_n")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let tokens = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0) AS p, COALESCE(SUM(completion_tokens), 0) AS c,
                    COALESCE(SUM(cost_usd), 0.0) AS cost FROM token_usage WHERE created_at >= ?1 AND created_at < ?2",
        )
        .bind(&from)
        .bind(&to)
        .fetch_one(&self.reader)
        .await?;
        Ok(fold_period(
            groups,
            CallTokens {
                prompt_tokens: tokens.try_get("p")?,
                completion_tokens: tokens.try_get("c")?,
                cost_usd: tokens.try_get("cost")?,
            },
        ))
    }

    async fn chart_rows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ChartRow>, StoreError> {
        // sqlx hands SQLite rows over one at a time (a few µs each); a week of a busy PBX is
        // tens of thousands of rows, so they come back joined into one text value instead
        // (fields split by U+001F, rows by U+001E, NULL as an empty field) and are split here.
        let packed: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(
                        started_at || char(31) || duration_secs || char(31) || status || char(31) ||
                        direction || char(31) || caller || char(31) || called || char(31) ||
                        ifnull(profile, '') || char(31) || ifnull(lead_category, '') || char(31) ||
                        ifnull(interest_rating, '') || char(31) || ifnull(last_feedback, '') || char(31) ||
                        ifnull(posted_at, '') || char(31) || ifnull(operator, ''),
                        char(30))
             FROM (SELECT * FROM calls WHERE started_at >= ?1 AND started_at < ?2 ORDER BY started_at)",
        )
        .bind(rfc3339(from))
        .bind(rfc3339(to))
        .fetch_one(&self.reader)
        .await?;
        let Some(packed) = packed else {
            return Ok(Vec::new());
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        packed
            .split('\u{1e}')
            .map(|row| {
                let f: Vec<&str> = row.split('\u{1f}').collect();
                if f.len() != 12 {
                    return Err(StoreError::Corrupt(format!(
                        "chart row with {} fields",
                        f.len()
                    )));
                }
                Ok(ChartRow {
                    started_at: parse_time(f[0])?,
                    duration_secs: f[1].parse().unwrap_or(0),
                    status: f[2].to_string(),
                    direction: f[3].to_string(),
                    caller: f[4].to_string(),
                    called: f[5].to_string(),
                    profile: opt(f[6]),
                    category: opt(f[7]),
                    rating: f[8].parse().ok(),
                    last_feedback: opt(f[9]),
                    posted_at: opt(f[10]).as_deref().map(parse_time).transpose()?,
                    operator: opt(f[11]),
                })
            })
            .collect()
    }

    async fn analysis_results(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT a.result FROM calls c CROSS JOIN analyses a ON a.call_id = c.id
             WHERE a.is_current = 1 AND c.started_at >= ?1 AND c.started_at < ?2 ORDER BY c.started_at LIMIT ?3",
        )
        .bind(rfc3339(from))
        .bind(rfc3339(to))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect())
    }

    async fn operator_results(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        profile: &str,
        limit: i64,
    ) -> Result<Vec<(Option<String>, serde_json::Value)>, StoreError> {
        let rows: Vec<(Option<String>, String)> = sqlx::query_as(
            "SELECT c.operator, a.result FROM calls c CROSS JOIN analyses a ON a.call_id = c.id
             WHERE a.is_current = 1 AND a.profile = ?3 AND c.started_at >= ?1 AND c.started_at < ?2
             ORDER BY c.started_at LIMIT ?4",
        )
        .bind(rfc3339(from))
        .bind(rfc3339(to))
        .bind(profile)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(op, r)| Some((op, serde_json::from_str(&r).ok()?)))
            .collect())
    }

    async fn corrections(&self, profile: &str, limit: i64) -> Result<Vec<Correction>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.lead_category AS ai, f.choice AS human, a.result AS result
             FROM feedback f JOIN analyses a ON a.id = f.analysis_id
             WHERE a.profile = ?1 AND f.choice <> 'confirm'
               AND (a.lead_category IS NULL OR f.choice <> a.lead_category)
             ORDER BY f.id DESC LIMIT ?2",
        )
        .bind(profile)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let result: String = r.try_get("result")?;
                let summary = serde_json::from_str::<serde_json::Value>(&result)
                    .ok()
                    .and_then(|v| v["summary"].as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(Correction {
                    ai_category: r.try_get("ai")?,
                    human_category: r.try_get("human")?,
                    summary,
                })
            })
            .collect()
    }
}
