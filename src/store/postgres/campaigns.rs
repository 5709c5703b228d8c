//! PostgreSQL: campaigns and their contacts (written in one transaction, in batches).

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::PgStore;
use crate::domain::{
    Campaign, CampaignContact, CampaignStatus, ContactCounts, NewCampaign, NewCampaignContact,
};
use crate::store::fold::{campaign, campaign_contact, contact_counts, initial_state};
use crate::store::{CampaignStore, StoreError};

/// Contacts per INSERT (10 columns each, well under PostgreSQL's limit of bound values).
const BATCH: usize = 500;

pub(super) fn campaign_from_row(r: &PgRow) -> Result<Campaign, StoreError> {
    campaign(r, (r.try_get("created_at")?, r.try_get("finished_at")?))
}

pub(super) fn contact_from_row(r: &PgRow) -> Result<CampaignContact, StoreError> {
    campaign_contact(r, (r.try_get("next_at")?, r.try_get("last_at")?))
}

/// Inserts contacts in batches; returns how many were new to the campaign.
async fn insert_contacts(
    conn: &mut PgConnection,
    campaign: i64,
    contacts: &[NewCampaignContact],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for chunk in contacts.chunks(BATCH) {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO campaign_contacts (campaign_id, line, phone, variables, zone, consent,
                 source, variant, state, skip_reason) ",
        );
        q.push_values(chunk, |mut b, k| {
            b.push_bind(campaign)
                .push_bind(k.line)
                .push_bind(k.phone.as_str())
                .push_bind(k.variables.to_string())
                .push_bind(k.zone.map(|z| z.name()))
                .push_bind(k.consent.as_deref())
                .push_bind(k.source.as_deref())
                .push_bind(k.variant)
                .push_bind(initial_state(k).as_str())
                .push_bind(k.skip.map(|s| s.as_str()));
        });
        q.push(" ON CONFLICT (campaign_id, phone) DO NOTHING");
        added += q.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(added)
}

#[async_trait]
impl CampaignStore for PgStore {
    async fn create_campaign(
        &self,
        c: &NewCampaign,
        contacts: &[NewCampaignContact],
    ) -> Result<Campaign, StoreError> {
        let mut tx = self.pool.begin().await?;
        let scripts = serde_json::to_string(&c.scripts).unwrap_or_else(|_| "[]".into());
        let row = sqlx::query(
            "INSERT INTO campaigns (name, scripts, status, chat_id, created_by, zone, concurrency,
                 priority, retries, retry_min, call_window, days, voicemail_retries,
                 screened_retries)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING *",
        )
        .bind(&c.name)
        .bind(scripts)
        .bind(CampaignStatus::Paused.as_str())
        .bind(c.chat_id)
        .bind(c.created_by)
        .bind(c.zone.name())
        .bind(c.concurrency)
        .bind(c.priority)
        .bind(i64::from(c.plan.retries))
        .bind(i64::from(c.plan.retry_min))
        .bind(c.plan.window.to_string())
        .bind(c.plan.days.to_string())
        .bind(i64::from(c.plan.voicemail_retries))
        .bind(i64::from(c.plan.screened_retries))
        .fetch_one(&mut *tx)
        .await?;
        let campaign = campaign_from_row(&row)?;
        insert_contacts(&mut tx, campaign.id, contacts).await?;
        tx.commit().await?;
        Ok(campaign)
    }

    async fn campaign(&self, id: i64) -> Result<Option<Campaign>, StoreError> {
        sqlx::query("SELECT * FROM campaigns WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(campaign_from_row)
            .transpose()
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        sqlx::query("SELECT * FROM campaigns ORDER BY id DESC")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(campaign_from_row)
            .collect()
    }

    async fn campaign_counts(&self, id: i64) -> Result<ContactCounts, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM campaign_contacts WHERE campaign_id = $1 GROUP BY state",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        contact_counts(rows)
    }

    async fn set_campaign_status(
        &self,
        id: i64,
        status: CampaignStatus,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE campaigns SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_campaign_contacts(
        &self,
        campaign: i64,
        contacts: &[NewCampaignContact],
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let added = insert_contacts(&mut tx, campaign, contacts).await?;
        tx.commit().await?;
        Ok(added)
    }

    async fn campaign_contact(&self, id: i64) -> Result<Option<CampaignContact>, StoreError> {
        sqlx::query("SELECT * FROM campaign_contacts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(contact_from_row)
            .transpose()
    }

    async fn campaign_contacts(&self, campaign: i64) -> Result<Vec<CampaignContact>, StoreError> {
        sqlx::query("SELECT * FROM campaign_contacts WHERE campaign_id = $1 ORDER BY line, id")
            .bind(campaign)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(contact_from_row)
            .collect()
    }

    async fn set_campaign_message(&self, id: i64, message_id: i32) -> Result<(), StoreError> {
        sqlx::query("UPDATE campaigns SET status_message_id = $1 WHERE id = $2")
            .bind(message_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
