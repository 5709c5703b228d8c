//! The durable job that places one outbound call, queued once per attempt.

use serde::{Deserialize, Serialize};

use crate::store::{NewJob, Store, StoreError};

/// The job kind that places an outbound call.
pub const PLACE_KIND: &str = "outbound.place";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlacePayload {
    pub outbound_id: i64,
}

/// The job priority of a call asked for by hand (`/call`, the API): it goes before campaign calls.
pub const MANUAL_PRIORITY: i32 = 20;
/// The job priority of a campaign's call.
pub const CAMPAIGN_PRIORITY: i32 = 15;

/// Queues the placing of attempt `id` (one job per attempt, whatever asks twice).
pub async fn enqueue_place(
    store: &dyn Store,
    waker: &tokio::sync::Notify,
    id: i64,
    priority: i32,
) -> Result<(), StoreError> {
    let payload = serde_json::to_value(PlacePayload { outbound_id: id }).unwrap_or_default();
    store
        .enqueue(
            NewJob::new(PLACE_KIND, payload)
                .key(format!("outbound:{id}"))
                .priority(priority)
                .max_attempts(100),
        )
        .await?;
    waker.notify_waiters();
    Ok(())
}
