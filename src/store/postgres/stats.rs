//! PostgreSQL: token accounting, statistics, chart rows, analysis results and corrections.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;

use super::PgStore;
use crate::store::fold::{fold_period, StatsGroup};
use crate::store::StatsStore;
use crate::store::{CallTokens, ChartRow, Correction, PeriodStats, Stats, StoreError, TokenUsage};

#[async_trait]
impl StatsStore for PgStore {
    async fn record_token_usage(&self, usage: &TokenUsage) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO token_usage (call_id, purpose, model, prompt_tokens, completion_tokens, cost_usd)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(usage.call_id)
        .bind(&usage.purpose)
        .bind(&usage.model)
        .bind(usage.prompt_tokens)
        .bind(usage.completion_tokens)
        .bind(usage.cost_usd)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn call_tokens(&self, call_id: i64) -> Result<CallTokens, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0)::bigint AS p, COALESCE(SUM(completion_tokens), 0)::bigint AS c,
                    COALESCE(SUM(cost_usd), 0)::float8 AS cost FROM token_usage WHERE call_id = $1",
        )
        .bind(call_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(CallTokens {
            prompt_tokens: row.try_get("p")?,
            completion_tokens: row.try_get("c")?,
            cost_usd: row.try_get("cost")?,
        })
    }

    async fn stats_since(&self, since: DateTime<Utc>) -> Result<Stats, StoreError> {
        let pairs = |rows: Vec<PgRow>| -> Result<Vec<(String, i64)>, StoreError> {
            rows.iter()
                .map(|r| Ok((r.try_get::<String, _>("k")?, r.try_get::<i64, _>("n")?)))
                .collect()
        };
        let by_status = pairs(
            sqlx::query("SELECT status AS k, COUNT(*) AS n FROM calls WHERE started_at >= $1 GROUP BY status ORDER BY status")
                .bind(since)
                .fetch_all(&self.pool)
                .await?,
        )?;
        let by_category = pairs(
            sqlx::query(
                "SELECT a.lead_category AS k, COUNT(*) AS n FROM analyses a JOIN calls c ON c.id = a.call_id
                 WHERE a.is_current AND a.lead_category IS NOT NULL AND c.started_at >= $1
                 GROUP BY a.lead_category ORDER BY a.lead_category",
            )
            .bind(since)
            .fetch_all(&self.pool)
            .await?,
        )?;
        let row = sqlx::query(
            "SELECT COALESCE(SUM(prompt_tokens), 0)::bigint AS p, COALESCE(SUM(completion_tokens), 0)::bigint AS c,
                    COALESCE(SUM(cost_usd), 0)::float8 AS cost FROM token_usage WHERE created_at >= $1",
        )
        .bind(since)
        .fetch_one(&self.pool)
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
        // One pass over the period's calls; the figures are summed up in Rust (store::fold).
        let groups = sqlx::query(
            "SELECT status, lead_category, profile, last_feedback, COUNT(*)::bigint AS n,
                    SUM(interest_rating)::bigint AS rating_sum, COUNT(interest_rating)::bigint AS rating_n
             FROM calls WHERE started_at >= $1 AND started_at < $2
             GROUP BY status, lead_category, profile, last_feedback",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
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
            "SELECT COALESCE(SUM(prompt_tokens), 0)::bigint AS p, COALESCE(SUM(completion_tokens), 0)::bigint AS c,
                    COALESCE(SUM(cost_usd), 0)::float8 AS cost FROM token_usage WHERE created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&self.pool)
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
        let rows = sqlx::query(
            "SELECT started_at, duration_secs, status, direction, caller, called, profile, lead_category,
                    interest_rating, last_feedback, posted_at, operator
             FROM calls WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at",
        )
        .bind(from).bind(to).fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let started_at: DateTime<Utc> = r.try_get("started_at")?;
                let posted_at: Option<DateTime<Utc>> = r.try_get("posted_at")?;
                Ok(ChartRow {
                    started_at,
                    duration_secs: r.try_get("duration_secs")?,
                    status: r.try_get("status")?,
                    direction: r.try_get("direction")?,
                    caller: r.try_get("caller")?,
                    called: r.try_get("called")?,
                    profile: r.try_get("profile")?,
                    category: r.try_get("lead_category")?,
                    rating: r.try_get("interest_rating")?,
                    last_feedback: r.try_get("last_feedback")?,
                    posted_at,
                    operator: r.try_get("operator")?,
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
        let rows: Vec<Json<serde_json::Value>> = sqlx::query_scalar(
            "SELECT a.result FROM analyses a JOIN calls c ON c.id = a.call_id
             WHERE a.is_current AND c.started_at >= $1 AND c.started_at < $2 ORDER BY c.started_at LIMIT $3",
        )
        .bind(from)
        .bind(to)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|Json(v)| v).collect())
    }

    async fn operator_results(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        profile: &str,
        limit: i64,
    ) -> Result<Vec<(Option<String>, serde_json::Value)>, StoreError> {
        let rows: Vec<(Option<String>, Json<serde_json::Value>)> = sqlx::query_as(
            "SELECT c.operator, a.result FROM analyses a JOIN calls c ON c.id = a.call_id
             WHERE a.is_current AND a.profile = $3 AND c.started_at >= $1 AND c.started_at < $2
             ORDER BY c.started_at LIMIT $4",
        )
        .bind(from)
        .bind(to)
        .bind(profile)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(op, Json(v))| (op, v)).collect())
    }

    async fn corrections(&self, profile: &str, limit: i64) -> Result<Vec<Correction>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.lead_category AS ai, f.choice AS human, a.result AS result
             FROM feedback f JOIN analyses a ON a.id = f.analysis_id
             WHERE a.profile = $1 AND f.choice <> 'confirm'
               AND (a.lead_category IS NULL OR f.choice <> a.lead_category)
             ORDER BY f.id DESC LIMIT $2",
        )
        .bind(profile)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let Json(result): Json<serde_json::Value> = r.try_get("result")?;
                let summary = result["summary"].as_str().unwrap_or_default().to_string();
                Ok(Correction {
                    ai_category: r.try_get("ai")?,
                    human_category: r.try_get("human")?,
                    summary,
                })
            })
            .collect()
    }
}
