//! The API of outbound calls: `POST /api/calls` places one (the agent calls the number), and
//! `GET /api/outbound/{id}` follows it (status, outcome, the stored call once it ended).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::{error, store_error};
use super::WebState;
use crate::domain::{NewOutboundCall, PhoneNumber};
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
            Json(json!({"call_id": a.id, "status": a.status})),
        )
            .into_response(),
        Err(e @ RequestError::DoNotCall) => error(StatusCode::CONFLICT, &e.to_string()),
        Err(e @ RequestError::UnknownScript(..)) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(RequestError::Store(e)) => store_error(e),
    }
}

/// `GET /api/outbound/{id}`.
pub async fn detail(State(state): State<Arc<WebState>>, Path(id): Path<i64>) -> Response {
    match state.store.outbound_call(id).await {
        Ok(Some(a)) => Json(json!({ "call": a })).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such outbound call"),
        Err(e) => store_error(e),
    }
}
