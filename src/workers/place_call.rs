//! The `outbound.place` job: places one outbound call through the dialer. An attempt at the
//! concurrency limit waits and is tried again; one placed already (a retried job, a lost lease)
//! is not dialled again. Losing the job's lease or shutting down makes the agent say goodbye.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::agent::CallControl;
use crate::jobs::{JobError, JobHandler};
use crate::outbound::queue::{PlacePayload, PLACE_KIND};
use crate::outbound::{Dialer, Placed};
use crate::store::Job;

/// How long an attempt at the limit waits before it is tried again.
const AT_CAPACITY_WAIT: Duration = Duration::from_secs(5);

pub struct PlaceCall {
    pub dialer: Arc<Dialer>,
}

#[async_trait]
impl JobHandler for PlaceCall {
    fn kind(&self) -> &'static str {
        PLACE_KIND
    }

    async fn run(&self, job: &Job, cancel: CancellationToken) -> Result<(), JobError> {
        let p: PlacePayload = serde_json::from_value(job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad outbound.place payload: {e}")))?;
        let control = CallControl {
            hang_up: cancel,
            ..CallControl::default()
        };
        match self.dialer.place(p.outbound_id, &control).await {
            Ok(Placed::AtCapacity) => Err(JobError::RetryAfter(
                "calls at the CALL_CONCURRENCY limit".into(),
                AT_CAPACITY_WAIT,
            )),
            Ok(Placed::Done(_) | Placed::NotQueued(_)) => Ok(()),
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
