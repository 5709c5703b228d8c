//! The team's Google Sheets, as CallQ uses them: the `qa_checklist` criteria and extra
//! instructions read from one Sheet (re-read every `SHEETS_REFRESH_SECS`; when it cannot be read
//! or makes no checklist, the last good copy stays, across restarts too), and one row per
//! analysis appended to another.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono_tz::Tz;
use tokio_util::sync::CancellationToken;

use super::protocol::{client_phone, criterion_score};
use crate::domain::{Analysis, Call, Checklist, Departments};
use crate::sheets::{SheetsClient, SheetsError};
use crate::store::{Store, StoreError};

/// Where the last good checklist is kept in the store.
const CURSOR: &str = "sheets:criteria";

/// A spreadsheet and the range callops reads or appends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRef {
    pub id: String,
    pub range: String,
}

pub struct SheetsLink {
    pub client: SheetsClient,
    pub criteria: Option<SheetRef>,
    pub results: Option<SheetRef>,
    store: Arc<dyn Store>,
    current: RwLock<Option<Checklist>>,
}

/// Why a checklist read kept the previous copy.
#[derive(Debug, thiserror::Error)]
pub enum ChecklistError {
    #[error("{0}")]
    Sheets(#[from] SheetsError),
    #[error("the sheet is not a checklist: {0}")]
    NotAChecklist(String),
    #[error("storing the checklist: {0}")]
    Store(#[from] StoreError),
}

impl SheetsLink {
    pub fn new(
        client: SheetsClient,
        criteria: Option<SheetRef>,
        results: Option<SheetRef>,
        store: Arc<dyn Store>,
    ) -> Self {
        Self {
            client,
            criteria,
            results,
            store,
            current: RwLock::new(None),
        }
    }

    /// The checklist in force (`None` until one was read, or with no criteria Sheet).
    pub fn checklist(&self) -> Option<Checklist> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// The checklist in force; before the first read has finished, the copy kept in the store,
    /// else a read of the Sheet now. `None` when there is none to be had.
    pub async fn checklist_now(&self) -> Option<Checklist> {
        self.criteria.as_ref()?;
        if let Some(c) = self.checklist() {
            return Some(c);
        }
        if let Err(e) = self.restore().await {
            tracing::warn!(error = %e, "the last good checklist could not be read from the store");
        }
        if self.checklist().is_none() {
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "the checklist Sheet could not be read; the profile's own criteria are used");
            }
        }
        self.checklist()
    }

    fn set(&self, c: Checklist) {
        if let Ok(mut cur) = self.current.write() {
            *cur = Some(c);
        }
    }

    /// The last good copy kept in the store (at start, before the Sheet answers).
    pub async fn restore(&self) -> Result<(), StoreError> {
        if let Some(text) = self.store.cursor(CURSOR).await? {
            if let Ok(c) = serde_json::from_str::<Checklist>(&text) {
                self.set(c);
            }
        }
        Ok(())
    }

    /// Reads the Sheet; a good checklist replaces the one in force (and is kept in the store),
    /// anything else leaves it as it was. Returns whether it changed.
    pub async fn refresh(&self) -> Result<bool, ChecklistError> {
        let Some(sheet) = &self.criteria else {
            return Ok(false);
        };
        let rows = self.client.values(&sheet.id, &sheet.range).await?;
        let fresh = Checklist::from_rows(&rows).map_err(ChecklistError::NotAChecklist)?;
        if self.checklist().as_ref() == Some(&fresh) {
            return Ok(false);
        }
        self.store
            .set_cursor(CURSOR, &serde_json::to_string(&fresh).unwrap_or_default())
            .await?;
        tracing::info!(
            criteria = fresh.criteria.len(),
            "the checklist was read from its Google Sheet"
        );
        self.set(fresh);
        Ok(true)
    }

    /// Re-reads the Sheet every `every` until `stop`.
    pub async fn keep_fresh(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        if let Err(e) = self.restore().await {
            tracing::warn!(error = %e, "the last good checklist could not be read from the store");
        }
        loop {
            if let Err(e) = self.refresh().await {
                let kept = self.checklist().map_or(0, |c| c.criteria.len());
                tracing::warn!(error = %e, kept_criteria = kept, "the checklist Sheet could not be read; the last good copy stays");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// The marker in a result row's first cell: how a retry finds a row it may have appended.
pub fn row_marker(analysis_id: i64) -> String {
    format!("callops-{analysis_id}")
}

/// One analysis as a results row: marker, call, local time, operator, department, client,
/// profile, category, score, the criteria's scores, summary.
pub fn result_row(
    call: &Call,
    analysis: &Analysis,
    departments: &Departments,
    department: Option<&str>,
    tz: Tz,
) -> Vec<String> {
    let r = &analysis.result;
    let criteria: Vec<String> = r["scores"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some(format!("{k}: {}", criterion_score(v)?)))
        .collect();
    let score = r["total"]
        .as_i64()
        .map(|n| n.to_string())
        .or_else(|| analysis.interest_rating.map(|n| n.to_string()))
        .unwrap_or_default();
    vec![
        row_marker(analysis.id),
        call.id.to_string(),
        call.started_at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        call.operator
            .as_deref()
            .map(|o| departments.operator_label(o))
            .unwrap_or_default(),
        department.unwrap_or_default().to_string(),
        client_phone(call),
        analysis.profile.clone(),
        analysis
            .lead_category
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        score,
        criteria.join("; "),
        r["summary"].as_str().unwrap_or_default().to_string(),
    ]
}
