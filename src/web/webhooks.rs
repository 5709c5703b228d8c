//! Provider webhooks. Novofon 1.0: `GET ?zd_echo=` is echoed (URL validation); `POST` form events
//! are verified with the API secret (401 otherwise, nothing enqueued) and ingested at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;

use super::auth::error;
use super::WebState;
use crate::telephony::novofon_v1::{parse_webhook, WebhookError, WebhookEvent, PROVIDER};
use crate::workers::ingest::{ingest, recording_ready};

pub async fn novofon_echo(Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("zd_echo") {
        Some(echo) => echo.clone().into_response(),
        None => (StatusCode::OK, "callops").into_response(),
    }
}

pub async fn novofon_event(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let (Some(pipeline), Some(secret)) = (&state.pipeline, &state.novofon_secret) else {
        tracing::warn!("Novofon webhook refused: NOVOFON_API_SECRET or the analysis pipeline is not configured");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Novofon webhooks are not configured",
        );
    };
    let signature = headers.get("signature").and_then(|v| v.to_str().ok());
    let event = match parse_webhook(&form, signature, secret.expose(), state.novofon_timezone) {
        Ok(e) => e,
        Err(e @ (WebhookError::MissingSignature | WebhookError::BadSignature)) => {
            tracing::warn!(error = %e, event = form.get("event").map(String::as_str).unwrap_or(""), "Novofon webhook refused");
            metrics::counter!("callops_webhooks_total", "provider" => PROVIDER, "outcome" => "unauthorized").increment(1);
            return error(StatusCode::UNAUTHORIZED, &e.to_string());
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    metrics::counter!("callops_webhooks_total", "provider" => PROVIDER, "outcome" => "accepted")
        .increment(1);
    let result = match &event {
        WebhookEvent::CallEnded(pc) => ingest(pipeline, PROVIDER, pc)
            .await
            .map(|r| format!("{r:?}")),
        WebhookEvent::RecordReady {
            pbx_call_id,
            recording_ref,
        } => recording_ready(pipeline, PROVIDER, pbx_call_id, recording_ref)
            .await
            .map(|r| format!("{r:?}")),
        WebhookEvent::Other(name) => Ok(format!("ignored {name}")),
    };
    match result {
        Ok(outcome) => {
            tracing::info!(outcome = %outcome, "Novofon webhook handled");
            (StatusCode::OK, "ok").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "Novofon webhook: storing failed");
            // A non-2xx answer makes Novofon retry; the poller is the safety net too.
            error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
        }
    }
}
