//! The API of outbound calls: `POST /api/calls` places one (the agent calls the number) and
//! answers with its id, `out-<n>`, which keeps it apart from the numeric ids of analysed calls
//! under the same paths: `GET /api/calls/out-<n>` follows it (status, outcome, the analysed call
//! once it ended), `GET /api/calls/out-<n>/messages` gives the dialog so far, and
//! `POST /api/calls/out-<n>/hangup` ends it (whichever instance holds the call).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::{error, store_error};
use super::WebState;
use crate::domain::{
    NewOutboundCall, OutboundCall, OutboundStatus, PhoneNumber, StopRequest, REASON_CANCELLED,
};
use crate::outbound::RequestError;

#[derive(Debug, Deserialize)]
pub struct CallRequest {
    pub phone: String,
    #[serde(default)]
    pub script: Option<String>,
    #[serde(default)]
    pub variables: Option<serde_json::Value>,
}

/// `POST /api/calls`: 202 with the attempt's id once it is queued.
pub async fn create(State(state): State<Arc<WebState>>, body: axum::body::Bytes) -> Response {
    let Some(dialer) = &state.dialer else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "telephony is not configured (SIP_SERVER)",
        );
    };
    let req: CallRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"phone\": \"+7…\", \"script\"?, \"variables\"?}}: {e}"),
            )
        }
    };
    let phone = match PhoneNumber::parse(&req.phone) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let variables = req.variables.unwrap_or_else(|| json!({}));
    if !variables.is_object() {
        return error(StatusCode::BAD_REQUEST, "variables must be an object");
    }
    let call = NewOutboundCall {
        phone,
        script: req.script.unwrap_or_else(|| dialer.default_script.clone()),
        variables,
        requested_by: None,
        chat_id: state.team_chat,
    };
    match dialer.request(call).await {
        Ok(a) => (
            StatusCode::ACCEPTED,
            Json(json!({"call_id": api_id(a.id), "status": a.status})),
        )
            .into_response(),
        Err(e @ RequestError::DoNotCall) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ RequestError::UnknownScript(..)) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(RequestError::Store(e)) => store_error(e),
    }
}

/// The API id of an outbound call.
pub fn api_id(id: i64) -> String {
    format!("out-{id}")
}

/// The attempt an API id names, when it names one.
fn outbound_id(id: &str) -> Option<i64> {
    id.strip_prefix("out-")?.parse().ok()
}

fn view(a: &OutboundCall) -> serde_json::Value {
    json!({
        "call_id": api_id(a.id),
        "phone": a.phone,
        "script": a.script,
        "status": a.status,
        "reason": a.reason,
        "outcome": a.outcome,
        "answered_by": a.answered_by,
        "created_at": a.created_at,
        "answered_at": a.answered_at,
        "ended_at": a.ended_at,
        "analysed_call_id": a.call_id,
    })
}

/// `GET /api/calls/{id}`: an outbound call (`out-<n>`) or an analysed one (a number).
pub async fn detail(State(state): State<Arc<WebState>>, Path(id): Path<String>) -> Response {
    if let Some(n) = outbound_id(&id) {
        return match state.store.outbound_call(n).await {
            Ok(Some(a)) => Json(view(&a)).into_response(),
            Ok(None) => error(StatusCode::NOT_FOUND, "no such call"),
            Err(e) => store_error(e),
        };
    }
    match id.parse::<i64>() {
        Ok(n) => super::calls::detail(State(state), Path(n)).await,
        Err(_) => error(
            StatusCode::NOT_FOUND,
            "no such call (ids are numbers, or out-<n> for calls the agent places)",
        ),
    }
}

/// `GET /api/calls/out-<n>/messages`: the dialog turns so far, in order.
pub async fn messages(State(state): State<Arc<WebState>>, Path(id): Path<String>) -> Response {
    let Some(n) = outbound_id(&id) else {
        return error(
            StatusCode::NOT_FOUND,
            "messages are kept for calls the agent places (out-<n>); see GET /api/calls/{id} for analysed calls",
        );
    };
    match state.store.outbound_call(n).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such call"),
        Err(e) => return store_error(e),
    }
    match state.store.outbound_lines(n).await {
        Ok(lines) => Json(json!({ "call_id": api_id(n), "messages": lines })).into_response(),
        Err(e) => store_error(e),
    }
}

/// `POST /api/calls/out-<n>/hangup`: 202 once asked (the agent says goodbye and hangs up; a
/// queued call is never dialled), 409 when it is over already.
pub async fn hangup(State(state): State<Arc<WebState>>, Path(id): Path<String>) -> Response {
    let Some(n) = outbound_id(&id) else {
        return error(StatusCode::NOT_FOUND, "no such call the agent places");
    };
    match state.store.request_outbound_stop(n).await {
        Ok(Some(StopRequest::Cancelled)) => (
            StatusCode::ACCEPTED,
            Json(json!({"call_id": id, "status": OutboundStatus::Failed, "reason": REASON_CANCELLED})),
        )
            .into_response(),
        Ok(Some(StopRequest::Flagged)) => {
            tracing::info!(outbound = n, "hang-up requested through the API");
            (
                StatusCode::ACCEPTED,
                Json(json!({"call_id": id, "status": "hanging_up"})),
            )
                .into_response()
        }
        Ok(Some(StopRequest::AlreadyOver(st))) => (
            StatusCode::CONFLICT,
            Json(json!({"error": "the call is over already", "status": st})),
        )
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such call"),
        Err(e) => store_error(e),
    }
}
