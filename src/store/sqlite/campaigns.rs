//! SQLite: campaigns and their contacts (written in one transaction, in batches).

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{ms_to_time, now_ms, SqliteStore};
use crate::domain::{
    Campaign, CampaignContact, CampaignStatus, ContactCounts, NewCampaign, NewCampaignContact,
};
use crate::store::fold::{campaign, campaign_contact, contact_counts, initial_state};
use crate::store::{CampaignStore, StoreError};

/// Contacts per INSERT (10 columns each, well under SQLite's limit of bound values).
const BATCH: usize = 500;

pub(super) fn campaign_from_row(r: &SqliteRow) -> Result<Campaign, StoreError> {
    let finished: Option<i64> = r.try_get("finished_at")?;
    campaign(
        r,
        (
            ms_to_time(r.try_get("created_at")?),
            finished.map(ms_to_time),
        ),
    )
}

pub(super) fn contact_from_row(r: &SqliteRow) -> Result<CampaignContact, StoreError> {
    let time = |col: &str| -> Result<_, StoreError> {
        Ok(r.try_get::<Option<i64>, _>(col)?.map(ms_to_time))
    };
    campaign_contact(r, (time("next_at")?, time("last_at")?))
}

/// Inserts contacts in batches; returns how many were new to the campaign.
async fn insert_contacts(
    conn: &mut SqliteConnection,
    campaign: i64,
    contacts: &[NewCampaignContact],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for chunk in contacts.chunks(BATCH) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
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
impl CampaignStore for SqliteStore {
    async fn create_campaign(
        &self,
        c: &NewCampaign,
        contacts: &[NewCampaignContact],
    ) -> Result<Campaign, StoreError> {
        let mut tx = self.writer.begin().await?;
        let scripts = serde_json::to_string(&c.scripts).unwrap_or_else(|_| "[]".into());
        let row = sqlx::query(
            "INSERT INTO campaigns (name, scripts, status, chat_id, created_by, zone, concurrency,
                 priority, retries, retry_min, call_window, days, voicemail_retries,
                 screened_retries, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
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
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        let campaign = campaign_from_row(&row)?;
        insert_contacts(&mut tx, campaign.id, contacts).await?;
        tx.commit().await?;
        Ok(campaign)
    }

    async fn campaign(&self, id: i64) -> Result<Option<Campaign>, StoreError> {
        sqlx::query("SELECT * FROM campaigns WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(campaign_from_row)
            .transpose()
    }

    async fn campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        sqlx::query("SELECT * FROM campaigns ORDER BY id DESC")
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(campaign_from_row)
            .collect()
    }

    async fn campaign_counts(&self, id: i64) -> Result<ContactCounts, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT state, COUNT(*) FROM campaign_contacts WHERE campaign_id = ? GROUP BY state",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        contact_counts(rows)
    }

    async fn set_campaign_status(
        &self,
        id: i64,
        status: CampaignStatus,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE campaigns SET status = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_campaign_contacts(
        &self,
        campaign: i64,
        contacts: &[NewCampaignContact],
    ) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin().await?;
        let added = insert_contacts(&mut tx, campaign, contacts).await?;
        tx.commit().await?;
        Ok(added)
    }

    async fn campaign_contact(&self, id: i64) -> Result<Option<CampaignContact>, StoreError> {
        sqlx::query("SELECT * FROM campaign_contacts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(contact_from_row)
            .transpose()
    }

    async fn campaign_contacts(&self, campaign: i64) -> Result<Vec<CampaignContact>, StoreError> {
        sqlx::query("SELECT * FROM campaign_contacts WHERE campaign_id = ? ORDER BY line, id")
            .bind(campaign)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(contact_from_row)
            .collect()
    }

    async fn set_campaign_message(&self, id: i64, message_id: i32) -> Result<(), StoreError> {
        sqlx::query("UPDATE campaigns SET status_message_id = ? WHERE id = ?")
            .bind(message_id)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
