//! Job kind `sheets.row`: an analysis appended to the results Google Sheet, once. The effect is
//! claimed before the append and recorded right after it; a retry that finds the claim in doubt
//! (the process died mid-append) looks for the row's marker in the Sheet before appending again.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::analysis::pipeline::PipelineDeps;
use crate::analysis::queue::{SheetsRowPayload, SHEETS_ROW_KIND};
use crate::analysis::sheets::{result_row, row_marker};
use crate::jobs::{JobError, JobHandler};
use crate::sheets::SheetsError;
use crate::store::{EffectClaim, Job, StoreError};

pub struct SheetsRow {
    pub deps: Arc<PipelineDeps>,
}

fn sheets_error(e: SheetsError) -> JobError {
    if e.is_transient() {
        JobError::Retry(e.to_string())
    } else {
        JobError::Permanent(e.to_string())
    }
}

#[async_trait]
impl JobHandler for SheetsRow {
    fn kind(&self) -> &'static str {
        SHEETS_ROW_KIND
    }

    async fn run(&self, job: &Job, _cancel: CancellationToken) -> Result<(), JobError> {
        let p: SheetsRowPayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad sheets.row payload: {e}")))?;
        let retry = |e: StoreError| JobError::Retry(e.to_string());
        let (Some(link), store) = (&self.deps.sheets, &self.deps.store) else {
            return Err(JobError::Permanent(
                "Google Sheets is not configured".into(),
            ));
        };
        let Some(sheet) = &link.results else {
            return Err(JobError::Permanent("SHEETS_RESULTS_ID is not set".into()));
        };
        let call = store
            .call(p.call_id)
            .await
            .map_err(retry)?
            .ok_or_else(|| JobError::Permanent("no such call".into()))?;
        let analysis = store
            .current_analysis(p.call_id)
            .await
            .map_err(retry)?
            .filter(|a| a.id == p.analysis_id);
        let Some(analysis) = analysis else {
            // Re-analysed since: the newer analysis has its own row.
            return Ok(());
        };
        let key = format!("sheets:row:{}", analysis.id);
        match store.begin_effect(&key).await.map_err(retry)? {
            EffectClaim::Done(_) => return Ok(()),
            EffectClaim::Begun => {}
            EffectClaim::InDoubt { .. } => {
                let marker = row_marker(analysis.id);
                let rows = link
                    .client
                    .values(&sheet.id, &sheet.range)
                    .await
                    .map_err(sheets_error)?;
                if rows.iter().any(|r| r.first() == Some(&marker)) {
                    store.finish_effect(&key, "found").await.map_err(retry)?;
                    return Ok(());
                }
            }
        }
        let settings = &self.deps.settings;
        let department = settings.department_of(&call).map(|d| d.name.clone());
        let row = result_row(
            &call,
            &analysis,
            &settings.departments,
            department.as_deref(),
            settings.timezone,
        );
        match link.client.append(&sheet.id, &sheet.range, &[row]).await {
            Ok(()) => {
                store.finish_effect(&key, "appended").await.map_err(retry)?;
                tracing::info!(
                    call = call.id,
                    analysis = analysis.id,
                    "results row appended to the Sheet"
                );
                Ok(())
            }
            Err(e) => {
                // A refusal wrote nothing, so a retry may write it. A timeout may have written
                // it: the claim stays in doubt and the retry looks for the row first.
                if !e.is_transient() {
                    store.abandon_effect(&key).await.map_err(retry)?;
                }
                Err(sheets_error(e))
            }
        }
    }
}
