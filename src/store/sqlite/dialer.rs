//! SQLite: the campaign dialer's reads and writes. The single writer connection makes each
//! transaction (the capacity checks and the attempts written) atomic against every other write.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::campaigns::{campaign_from_row, contact_from_row};
use super::outbound::outbound_from_row;
use super::{now_ms, SqliteStore};
use crate::domain::{
    Campaign, CampaignContact, CampaignStatus, ContactState, OutboundCall, Settlement,
    REASON_CANCELLED,
};
use crate::store::fold::{active_statuses_sql, objections_code};
use crate::store::{AttemptsStarted, DialerStore, StoreError};

#[async_trait]
impl DialerStore for SqliteStore {
    async fn running_campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        sqlx::query("SELECT * FROM campaigns WHERE status = ? ORDER BY priority DESC, id")
            .bind(CampaignStatus::Running.as_str())
            .fetch_all(&self.reader)
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
            "SELECT * FROM (SELECT * FROM campaign_contacts
                 WHERE campaign_id = ?1 AND state IN ('pending', 'retry') AND next_at IS NOT NULL
                   AND next_at <= ?2
                 ORDER BY next_at LIMIT ?3)
             UNION ALL
             SELECT * FROM (SELECT * FROM campaign_contacts
                 WHERE campaign_id = ?1 AND state = 'pending' AND next_at IS NULL
                 ORDER BY id LIMIT ?3)
             LIMIT ?3",
        )
        .bind(campaign)
        .bind(now.timestamp_millis())
        .bind(limit)
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(contact_from_row)
        .collect()
    }

    async fn calling_contacts(&self, campaign: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = ? AND state = 'calling'",
        )
        .bind(campaign)
        .fetch_one(&self.reader)
        .await?)
    }

    async fn defer_contacts(&self, until: &[(i64, DateTime<Utc>)]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        for (id, at) in until {
            sqlx::query(
                "UPDATE campaign_contacts SET next_at = ?
                 WHERE id = ? AND state IN ('pending', 'retry')",
            )
            .bind(at.timestamp_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn start_attempts(
        &self,
        campaign: &Campaign,
        contacts: &[(i64, String)],
        global: i64,
    ) -> Result<AttemptsStarted, StoreError> {
        let mut tx = self.writer.begin().await?;
        let open: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM outbound_calls WHERE status IN ('queued', {})",
            active_statuses_sql()
        )))
        .fetch_one(&mut *tx)
        .await?;
        let calling: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM campaign_contacts WHERE campaign_id = ? AND state = 'calling'",
        )
        .bind(campaign.id)
        .fetch_one(&mut *tx)
        .await?;
        let room = (global - open).min(campaign.concurrency - calling).max(0);
        let mut started = Vec::new();
        let now = now_ms();
        for (contact, script) in contacts {
            if started.len() as i64 >= room {
                break;
            }
            let claimed = sqlx::query(
                "UPDATE campaign_contacts SET state = 'calling', attempts = attempts + 1
                 WHERE id = ? AND campaign_id = ? AND state IN ('pending', 'retry')",
            )
            .bind(contact)
            .bind(campaign.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                continue;
            }
            let outbound: i64 = sqlx::query_scalar(
                "INSERT INTO outbound_calls (phone, script, variables, requested_by, chat_id,
                     status, created_at, campaign_contact_id)
                 SELECT phone, ?, variables, ?, ?, 'queued', ?, id FROM campaign_contacts
                 WHERE id = ? RETURNING id",
            )
            .bind(script)
            .bind(campaign.created_by)
            .bind(campaign.chat_id)
            .bind(now)
            .bind(contact)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE campaign_contacts SET outbound_id = ? WHERE id = ?")
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
            "UPDATE campaign_contacts SET state = ?, outcome = COALESCE(?, outcome),
                 skip_reason = COALESCE(?, skip_reason), next_at = ?,
                 attempts = attempts - ?, last_at = CASE WHEN ? THEN last_at ELSE ? END,
                 stage = COALESCE(?, stage), objections = COALESCE(?, objections),
                 duration_ms = COALESCE(?, duration_ms), callback = COALESCE(?, callback),
                 captured = COALESCE(?, captured), call_id = COALESCE(?, call_id)
             WHERE id = ? AND state = 'calling' AND outbound_id = ?",
        )
        .bind(s.state.as_str())
        .bind(s.outcome.map(|o| o.as_str()))
        .bind(s.skip.map(|k| k.as_str()))
        .bind(s.next_at.map(|t| t.timestamp_millis()))
        .bind(i64::from(s.not_dialled))
        .bind(s.not_dialled)
        .bind(s.ended.timestamp_millis())
        .bind(c.map(|c| c.stage.as_str()))
        .bind(objections_code(s))
        .bind(c.map(|c| c.duration_ms))
        .bind(c.and_then(|c| c.callback.as_deref()))
        .bind(c.and_then(|c| c.captured.as_deref()))
        .bind(c.and_then(|c| c.call_id))
        .bind(contact)
        .bind(outbound)
        .execute(&self.writer)
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
             WHERE k.state = 'calling' AND o.status NOT IN ('queued', {}) LIMIT ?",
            active_statuses_sql()
        )))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for (k, o) in ids {
            let contact = sqlx::query("SELECT * FROM campaign_contacts WHERE id = ?")
                .bind(k)
                .fetch_one(&self.reader)
                .await?;
            let call = sqlx::query("SELECT * FROM outbound_calls WHERE id = ?")
                .bind(o)
                .fetch_one(&self.reader)
                .await?;
            out.push((contact_from_row(&contact)?, outbound_from_row(&call)?));
        }
        Ok(out)
    }

    async fn cancel_queued_attempts(&self, campaign: i64) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE outbound_calls SET status = 'failed', reason = ?, ended_at = ?
             WHERE status = 'queued' AND campaign_contact_id IN
                 (SELECT id FROM campaign_contacts WHERE campaign_id = ? AND state = 'calling')
             RETURNING id",
        )
        .bind(REASON_CANCELLED)
        .bind(now_ms())
        .bind(campaign)
        .fetch_all(&mut *tx)
        .await?;
        for id in &ids {
            sqlx::query(
                "UPDATE campaign_contacts SET state = ?, attempts = attempts - 1
                 WHERE outbound_id = ? AND state = 'calling'",
            )
            .bind(ContactState::Pending.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn finish_campaign(&self, id: i64) -> Result<bool, StoreError> {
        // Read first (most ticks find someone waiting), so the writer is not taken for nothing.
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM campaign_contacts
                 WHERE campaign_id = ? AND state IN ('pending', 'retry', 'calling'))",
        )
        .bind(id)
        .fetch_one(&self.reader)
        .await?;
        if waiting {
            return Ok(false);
        }
        let n = sqlx::query(
            "UPDATE campaigns SET status = 'finished', finished_at = ?
             WHERE id = ? AND status = 'running' AND NOT EXISTS (
                 SELECT 1 FROM campaign_contacts
                 WHERE campaign_id = ? AND state IN ('pending', 'retry', 'calling'))",
        )
        .bind(now_ms())
        .bind(id)
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
