//! Provider webhooks. Novofon 1.0 and Zadarma (one API family, each with its own secret):
//! `GET ?zd_echo=` is echoed (URL validation); `POST` form events
//! are verified with the API secret (401 otherwise, nothing enqueued) and stored at once.
//! Mango's events (`/webhooks/mango/events/summary`, `…/events/record/added`) are verified by
//! their SHA-256 signature with the key and salt.
//!
//! Novofon's signature covers only caller, callee and call start, so a captured webhook could be
//! replayed with another `pbx_call_id`. A webhook is therefore only an announcement: its
//! `call_start` must lie within the polling window (not older, not in the future), and the call is
//! analysed once the polled statistics confirm it (until then it is `unconfirmed`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;

use super::auth::error;
use super::WebState;
use crate::analysis::ingest::{ingest, recording_ready, Origin};
use crate::config::Secret;
use crate::telephony::mango::{self, MangoEvent, MangoEventError};
use crate::telephony::novofon_v1::{parse_webhook, WebhookError, WebhookEvent, PROVIDER, ZADARMA};
use crate::telephony::ProviderCall;

pub async fn novofon_echo(Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("zd_echo") {
        Some(echo) => echo.clone().into_response(),
        None => (StatusCode::OK, "callops").into_response(),
    }
}

/// Which PBX of the API 1.0 family a webhook is from.
struct Api1 {
    provider: &'static str,
    secret: Option<Secret>,
    timezone: chrono_tz::Tz,
    settings: &'static str,
}

pub async fn novofon_event(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let pbx = Api1 {
        provider: PROVIDER,
        secret: state.novofon_secret.clone(),
        timezone: state.novofon_timezone,
        settings: "NOVOFON_API_KEY/NOVOFON_API_SECRET",
    };
    api1_event(&state, &pbx, &headers, &form).await
}

/// Zadarma's `NOTIFY_*` events: Novofon 1.0's format and signature, with Zadarma's secret.
pub async fn zadarma_event(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let pbx = Api1 {
        provider: ZADARMA,
        secret: state.zadarma_secret.clone(),
        timezone: state.zadarma_timezone,
        settings: "ZADARMA_API_KEY/ZADARMA_API_SECRET",
    };
    api1_event(&state, &pbx, &headers, &form).await
}

async fn api1_event(
    state: &WebState,
    pbx: &Api1,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Response {
    let provider = pbx.provider;
    let (Some(_), Some(secret)) = (&state.intake, &pbx.secret) else {
        tracing::warn!(provider, settings = pbx.settings, "webhook refused: the PBX's API key and secret (the statistics confirm webhook calls) or the analysis pipeline are not configured");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("{provider} webhooks are not configured"),
        );
    };
    let signature = headers.get("signature").and_then(|v| v.to_str().ok());
    let event = match parse_webhook(form, signature, secret.expose(), pbx.timezone) {
        Ok(e) => e,
        Err(e @ (WebhookError::MissingSignature | WebhookError::BadSignature)) => {
            tracing::warn!(provider, error = %e, event = form.get("event").map(String::as_str).unwrap_or(""), "webhook refused");
            metrics::counter!("callops_webhooks_total", "provider" => provider, "outcome" => "unauthorized").increment(1);
            return error(StatusCode::UNAUTHORIZED, &e.to_string());
        }
        Err(e) => {
            tracing::warn!(provider, error = %e, "webhook refused as malformed");
            metrics::counter!("callops_webhooks_total", "provider" => provider, "outcome" => "malformed").increment(1);
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let news = match event {
        WebhookEvent::CallEnded(pc) => News::CallEnded(pc),
        WebhookEvent::RecordReady {
            pbx_call_id,
            recording_ref,
        } => News::RecordReady {
            call: pbx_call_id,
            recording: recording_ref,
        },
        WebhookEvent::Other(name) => News::Other(name),
    };
    take_news(state, provider, news).await
}

/// What a verified webhook announced, whichever PBX sent it.
enum News {
    CallEnded(ProviderCall),
    RecordReady { call: String, recording: String },
    Other(String),
}

/// Stores what a verified webhook announced: a call that ended (when it is recent) or a recording
/// that is ready.
async fn take_news(state: &WebState, provider: &'static str, news: News) -> Response {
    let Some(intake) = &state.intake else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "analysis is off");
    };
    if let News::CallEnded(pc) = &news {
        if let Err(why) = within_window(pc.started_at, state.novofon_window) {
            tracing::warn!(
                reason = why,
                provider,
                "webhook refused: call_start outside the polling window (a replay?)"
            );
            metrics::counter!("callops_webhooks_total", "provider" => provider, "outcome" => "stale").increment(1);
            return error(StatusCode::BAD_REQUEST, why);
        }
    }
    metrics::counter!("callops_webhooks_total", "provider" => provider, "outcome" => "accepted")
        .increment(1);
    let result = match &news {
        News::CallEnded(pc) => ingest(intake, provider, pc, Origin::Webhook)
            .await
            .map(|r| format!("{r:?}")),
        News::RecordReady { call, recording } => recording_ready(intake, provider, call, recording)
            .await
            .map(|r| format!("{r:?}")),
        News::Other(name) => Ok(format!("ignored {name}")),
    };
    match result {
        Ok(outcome) => {
            tracing::info!(provider, outcome = %outcome, "webhook handled");
            (StatusCode::OK, "ok").into_response()
        }
        Err(e) => {
            tracing::error!(provider, error = %e, "webhook: storing failed");
            // A non-2xx answer makes Novofon retry; the poller is the safety net too.
            error(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
        }
    }
}

/// Mango's events, posted to `<this URL>/events/<name>` with the signed form.
pub async fn mango_event(
    State(state): State<Arc<WebState>>,
    Path(event): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let provider = mango::PROVIDER;
    let (Some(_), Some((key, salt))) = (&state.intake, &state.mango) else {
        tracing::warn!(provider, "webhook refused: MANGO_API_KEY/MANGO_API_SALT (the statistics confirm webhook calls) or the analysis pipeline are not configured");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "mango webhooks are not configured",
        );
    };
    let name = event.trim_start_matches("events/");
    let news = match mango::parse_event(name, &form, key.expose(), salt.expose()) {
        Ok(MangoEvent::CallEnded(pc)) => News::CallEnded(pc),
        Ok(MangoEvent::RecordReady {
            entry_id,
            recording_id,
        }) => News::RecordReady {
            call: entry_id,
            recording: recording_id,
        },
        Ok(MangoEvent::Other(name)) => News::Other(name),
        Err(e @ (MangoEventError::Missing | MangoEventError::BadSignature)) => {
            tracing::warn!(provider, error = %e, event = name, "webhook refused");
            metrics::counter!("callops_webhooks_total", "provider" => provider, "outcome" => "unauthorized").increment(1);
            return error(StatusCode::UNAUTHORIZED, &e.to_string());
        }
        Err(e) => {
            tracing::warn!(provider, error = %e, event = name, "webhook refused as malformed");
            metrics::counter!("callops_webhooks_total", "provider" => provider, "outcome" => "malformed").increment(1);
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    take_news(&state, provider, news).await
}

/// Clock skew allowed for a call_start "in the future".
const SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Whether a webhook's call start is recent enough to be genuine news.
fn within_window(
    started_at: chrono::DateTime<chrono::Utc>,
    window: std::time::Duration,
) -> Result<(), &'static str> {
    let now = chrono::Utc::now();
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::TimeDelta::hours(2));
    if started_at > now + SKEW {
        return Err("call_start is in the future");
    }
    if started_at < now - window {
        return Err("call_start is older than the polling window (NOVOFON_WINDOW_MINS)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_call_starts_are_news() {
        let w = std::time::Duration::from_secs(7200);
        let now = chrono::Utc::now();
        assert!(within_window(now - chrono::TimeDelta::minutes(3), w).is_ok());
        assert!(within_window(now + chrono::TimeDelta::minutes(2), w).is_ok());
        assert!(within_window(now + chrono::TimeDelta::minutes(30), w).is_err());
        assert!(within_window(now - chrono::TimeDelta::hours(3), w).is_err());
    }
}
