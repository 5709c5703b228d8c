//! Turning a read contact list into a campaign's contacts: each gets its A/B variant by a stable
//! hash, numbers on the do-not-call list are kept as skipped (so the report can name them and
//! they are never dialled), and the report says what was read, left out and flagged.

use std::collections::HashSet;

use super::campaign::ab::variant;
use super::contacts::{ContactList, Invalid, ZoneSource};
use crate::domain::{Campaign, ContactSkip, NewCampaign, NewCampaignContact};
use crate::store::{Store, StoreError};

/// What an import came to, for the reply in the chat and the API.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ImportReport {
    /// Data lines read.
    pub rows: usize,
    /// Contacts new to the campaign (to be called, or skipped as do-not-call).
    pub added: u64,
    /// Lines whose number could not be read.
    #[serde(skip)]
    pub invalid: Vec<Invalid>,
    pub invalid_count: usize,
    /// Lines repeating a number above them.
    pub duplicates: usize,
    /// Numbers on the do-not-call list: kept as skipped, never dialled.
    pub do_not_call: usize,
    /// Contacts whose zone neither the file nor the registry tells (the campaign's zone applies).
    pub unknown_zone: usize,
    /// The variables the script can use.
    pub variables: Vec<String>,
}

/// Every number on the do-not-call list.
pub async fn do_not_call_set(store: &dyn Store) -> Result<HashSet<String>, StoreError> {
    let (entries, _) = store.list_do_not_call(i64::MAX).await?;
    Ok(entries
        .into_iter()
        .map(|e| e.phone.as_str().to_string())
        .collect())
}

/// The campaign's contacts from `list`, and the report (without `added`).
pub fn new_contacts(
    list: &ContactList,
    dnc: &HashSet<String>,
    campaign: &str,
    variants: usize,
) -> (Vec<NewCampaignContact>, ImportReport) {
    let mut report = ImportReport {
        rows: list.rows,
        invalid_count: list.invalid.len(),
        invalid: list.invalid.clone(),
        duplicates: list.duplicates.len(),
        variables: list.variables.clone(),
        ..ImportReport::default()
    };
    let contacts = list
        .contacts
        .iter()
        .map(|c| {
            let skip = dnc
                .contains(c.phone.as_str())
                .then_some(ContactSkip::DoNotCall);
            if skip.is_some() {
                report.do_not_call += 1;
            }
            if c.zone_source == ZoneSource::Unknown {
                report.unknown_zone += 1;
            }
            NewCampaignContact {
                line: i64::try_from(c.line).unwrap_or(0),
                phone: c.phone.clone(),
                variables: serde_json::Value::Object(c.variables.clone()),
                zone: c.zone,
                consent: c.consent.clone(),
                source: c.source.clone(),
                variant: i64::try_from(variant(campaign, &c.phone, variants)).unwrap_or(0),
                skip,
            }
        })
        .collect();
    (contacts, report)
}

/// Creates a campaign (paused) from a read list.
pub async fn create(
    store: &dyn Store,
    new: &NewCampaign,
    list: &ContactList,
) -> Result<(Campaign, ImportReport), StoreError> {
    let dnc = do_not_call_set(store).await?;
    let (contacts, mut report) = new_contacts(list, &dnc, &new.name, new.scripts.len());
    let campaign = store.create_campaign(new, &contacts).await?;
    report.added = store.campaign_counts(campaign.id).await?.total() as u64;
    Ok((campaign, report))
}

/// Adds a read list to a campaign.
pub async fn add(
    store: &dyn Store,
    campaign: &Campaign,
    list: &ContactList,
) -> Result<ImportReport, StoreError> {
    let dnc = do_not_call_set(store).await?;
    let (contacts, mut report) = new_contacts(list, &dnc, &campaign.name, campaign.scripts.len());
    report.added = store.add_campaign_contacts(campaign.id, &contacts).await?;
    Ok(report)
}

/// What a campaign gets unless its creator says otherwise (from the settings).
#[derive(Debug, Clone)]
pub struct CampaignDefaults {
    /// Calls of one campaign at once (`CAMPAIGN_CONCURRENCY`).
    pub concurrency: i64,
    pub plan: crate::domain::CampaignPlan,
    /// The zone of contacts whose own zone is unknown (`TIMEZONE`).
    pub zone: chrono_tz::Tz,
    /// The script of a campaign that names none (`AGENT_SCRIPT`).
    pub script: String,
}

/// Why a campaign's settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown setting {0:?}")]
    Unknown(String),
    #[error("{key}: {why}")]
    Bad { key: String, why: String },
}

/// Applies one `key=value` setting (Russian or English key) to a new campaign.
pub fn apply_option(new: &mut NewCampaign, key: &str, value: &str) -> Result<(), OptionError> {
    let bad = |why: String| OptionError::Bad {
        key: key.to_string(),
        why,
    };
    let number = |min: i64, max: i64| -> Result<i64, OptionError> {
        value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| bad(format!("a number from {min} to {max}")))
    };
    match key.trim().to_lowercase().as_str() {
        "линии" | "линий" | "lines" | "concurrency" => new.concurrency = number(1, 1000)?,
        "попытки" | "повторы" | "retries" => {
            new.plan.retries = u32::try_from(number(0, 10)?).unwrap_or(0)
        }
        "интервал" | "interval" | "retry_min" => {
            new.plan.retry_min = u32::try_from(number(1, 10_080)?).unwrap_or(30)
        }
        "окно" | "часы" | "window" => {
            new.plan.window = crate::domain::CallWindow::parse(value).map_err(bad)?
        }
        "дни" | "days" => new.plan.days = crate::domain::Days::parse(value).map_err(bad)?,
        "приоритет" | "priority" => new.priority = number(-100, 100)?,
        "автоответчик" | "voicemail" | "voicemail_retries" => {
            new.plan.voicemail_retries = u32::try_from(number(0, 10)?).unwrap_or(0)
        }
        "секретарь" | "screened" | "screened_retries" => {
            new.plan.screened_retries = u32::try_from(number(0, 10)?).unwrap_or(0)
        }
        "пояс" | "tz" | "zone" | "timezone" => {
            new.zone = super::contacts::zone(value)
                .ok_or_else(|| bad("a time zone like Europe/Moscow or МСК+7".into()))?
        }
        other => return Err(OptionError::Unknown(other.to_string())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CampaignPlan, Days};

    #[test]
    fn settings_in_russian_or_english() {
        let mut new = NewCampaign {
            name: "x".into(),
            scripts: vec![],
            chat_id: None,
            created_by: None,
            zone: chrono_tz::Europe::Moscow,
            concurrency: 2,
            priority: 0,
            plan: CampaignPlan::default(),
        };
        for (k, v) in [
            ("линии", "5"),
            ("попытки", "3"),
            ("interval", "60"),
            ("окно", "10:00-19:00"),
            ("дни", "пн-сб"),
            ("приоритет", "2"),
            ("пояс", "МСК+7"),
            ("автоответчик", "1"),
            ("screened", "2"),
        ] {
            apply_option(&mut new, k, v).unwrap();
        }
        assert_eq!(new.concurrency, 5);
        assert_eq!((new.plan.retries, new.plan.retry_min), (3, 60));
        assert_eq!(new.plan.window.to_string(), "10:00-19:00");
        assert_eq!(new.plan.days, Days::parse("mon-sat").unwrap());
        assert_eq!(new.priority, 2);
        assert_eq!(
            (new.plan.voicemail_retries, new.plan.screened_retries),
            (1, 2)
        );
        assert_eq!(new.zone.name(), "Etc/GMT-10");
        assert!(matches!(
            apply_option(&mut new, "линии", "0"),
            Err(OptionError::Bad { .. })
        ));
        assert!(matches!(
            apply_option(&mut new, "цвет", "синий"),
            Err(OptionError::Unknown(_))
        ));
    }
}
