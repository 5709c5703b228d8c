//! PostgreSQL: the campaign dialer's reads and writes. Attempts are written under the same
//! advisory lock as a dial's claim, so instances sharing the database count the same open
//! attempts and never exceed a campaign's or the global limit together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::campaigns::{campaign_from_row, contact_from_row};
use super::outbound::{outbound_from_row, DIAL_LOCK};
use super::PgStore;
use crate::domain::{
    Campaign, CampaignContact, CampaignStatus, ContactState, OutboundCall, Settlement,
    REASON_CANCELLED,
};
use crate::store::fold::{active_statuses_sql, objections_code};
use crate::store::{AttemptsStarted, DialerStore, StoreError};

#[async_trait]
impl DialerStore for PgStore {
    async fn running_campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        sqlx::query("SELECT * FROM campaigns WHERE status = $1 ORDER BY priority DESC, id")
            .bind(CampaignStatus::Running.as_str())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(campaign_from_row)
            .collect()
    }

    async fn due_contacts(
        &self,
        campaign: i64,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<CampaignContact>, StoreError> {
        // Those with a time first (retries, callbacks, windows now open), then the untried; one
        // round trip, each part on its own index.
        sqlx::query(
            "(SELECT * FROM campaign_contacts
                 WHERE campaign_id = $1 AND state IN ('pending', 'retry') AND next_at IS NOT NULL
                   AND next_at <= $2
                 ORDER BY next_at LIMIT $3)
             UNION ALL
             (SELECT * FROM campaign_contacts
                 WHERE campaign_id = $1 AND state = 'pending' AND next_at IS NULL
                 ORDER BY id LIMIT $3)
             LIMIT $3",
        )
        .bind(campaign)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(contact_from_row)
        .collect()
    }

    async fn calling_contacts(&self, campaign: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'calling'",
        )
        .bind(campaign)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn defer_contacts(&self, until: &[(i64, DateTime<Utc>)]) -> Result<(), StoreError> {
        if until.is_empty() {
            return Ok(());
        }
        let (ids, ats): (Vec<i64>, Vec<DateTime<Utc>>) = until.iter().copied().unzip();
        sqlx::query(
            "UPDATE campaign_contacts k SET next_at = u.at
             FROM UNNEST($1::BIGINT[], $2::TIMESTAMPTZ[]) AS u (id, at)
             WHERE k.id = u.id AND k.state IN ('pending', 'retry')",
        )
        .bind(ids)
        .bind(ats)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn start_attempts(
        &self,
        campaign: &Campaign,
        contacts: &[(i64, String)],
        global: i64,
    ) -> Result<AttemptsStarted, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DIAL_LOCK)
            .execute(&mut *tx)
            .await?;
        let open: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM outbound_calls WHERE status IN ('queued', {})",
            active_statuses_sql()
        )))
        .fetch_one(&mut *tx)
        .await?;
        let calling: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 AND state = 'calling'",
        )
        .bind(campaign.id)
        .fetch_one(&mut *tx)
        .await?;
        let room = (global - open).min(campaign.concurrency - calling).max(0);
        let mut started = Vec::new();
        for (contact, script) in contacts {
            if started.len() as i64 >= room {
                break;
            }
            let outbound: Option<i64> = sqlx::query_scalar(
                "WITH k AS (
                     UPDATE campaign_contacts SET state = 'calling', attempts = attempts + 1
                     WHERE id = $1 AND campaign_id = $2 AND state IN ('pending', 'retry')
                     RETURNING id, phone, variables)
                 INSERT INTO outbound_calls (phone, script, variables, requested_by, chat_id,
                     status, campaign_contact_id)
                 SELECT phone, $3, variables::jsonb, $4, $5, 'queued', id FROM k
                 RETURNING id",
            )
            .bind(contact)
            .bind(campaign.id)
            .bind(script)
            .bind(campaign.created_by)
            .bind(campaign.chat_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(outbound) = outbound else { continue };
            sqlx::query("UPDATE campaign_contacts SET outbound_id = $1 WHERE id = $2")
                .bind(outbound)
                .bind(contact)
                .execute(&mut *tx)
                .await?;
            started.push((*contact, outbound));
        }
        tx.commit().await?;
        Ok(AttemptsStarted {
            global_full: global - open - started.len() as i64 <= 0,
            started,
        })
    }

    async fn settle_contact(
        &self,
        contact: i64,
        outbound: i64,
        s: &Settlement,
    ) -> Result<bool, StoreError> {
        let c = s.conversation.as_ref();
        let n = sqlx::query(
            "UPDATE campaign_contacts SET state = $1, outcome = COALESCE($2, outcome),
                 skip_reason = COALESCE($3, skip_reason), next_at = $4,
                 attempts = attempts - $5, last_at = CASE WHEN $6 THEN last_at ELSE $7 END,
                 stage = COALESCE($8, stage), objections = COALESCE($9, objections),
                 duration_ms = COALESCE($10, duration_ms), callback = COALESCE($11, callback),
                 captured = COALESCE($12, captured), call_id = COALESCE($13, call_id)
             WHERE id = $14 AND state = 'calling' AND outbound_id = $15",
        )
        .bind(s.state.as_str())
        .bind(s.outcome.map(|o| o.as_str()))
        .bind(s.skip.map(|k| k.as_str()))
        .bind(s.next_at)
        .bind(i64::from(s.not_dialled))
        .bind(s.not_dialled)
        .bind(s.ended)
        .bind(c.map(|c| c.stage.as_str()))
        .bind(objections_code(s))
        .bind(c.map(|c| c.duration_ms))
        .bind(c.and_then(|c| c.callback.as_deref()))
        .bind(c.and_then(|c| c.captured.as_deref()))
        .bind(c.and_then(|c| c.call_id))
        .bind(contact)
        .bind(outbound)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn unsettled_contacts(
        &self,
        limit: i64,
    ) -> Result<Vec<(CampaignContact, OutboundCall)>, StoreError> {
        let ids: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT k.id, o.id FROM campaign_contacts k JOIN outbound_calls o ON o.id = k.outbound_id
             WHERE k.state = 'calling' AND o.status NOT IN ('queued', {}) LIMIT $1",
            active_statuses_sql()
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for (k, o) in ids {
            let contact = sqlx::query("SELECT * FROM campaign_contacts WHERE id = $1")
                .bind(k)
                .fetch_one(&self.pool)
                .await?;
            let call = sqlx::query("SELECT * FROM outbound_calls WHERE id = $1")
                .bind(o)
                .fetch_one(&self.pool)
                .await?;
            out.push((contact_from_row(&contact)?, outbound_from_row(&call)?));
        }
        Ok(out)
    }

    async fn cancel_queued_attempts(&self, campaign: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(DIAL_LOCK)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE outbound_calls SET status = 'failed', reason = $1, ended_at = now()
             WHERE status = 'queued' AND campaign_contact_id IN
                 (SELECT id FROM campaign_contacts WHERE campaign_id = $2 AND state = 'calling')
             RETURNING id",
        )
        .bind(REASON_CANCELLED)
        .bind(campaign)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE campaign_contacts SET state = $1, attempts = attempts - 1
             WHERE outbound_id = ANY($2) AND state = 'calling'",
        )
        .bind(ContactState::Pending.as_str())
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn finish_campaign(&self, id: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE campaigns SET status = 'finished', finished_at = now()
             WHERE id = $1 AND status = 'running' AND NOT EXISTS (
                 SELECT 1 FROM campaign_contacts
                 WHERE campaign_id = $1 AND state IN ('pending', 'retry', 'calling'))",
        )
        .bind(id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
