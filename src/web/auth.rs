//! The API key check for `/api/*`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::WebState;

/// Rejects requests without the right `X-API-Key` (401), or all of them when no key is set (403).
pub async fn require_api_key(
    State(state): State<Arc<WebState>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.api_key.as_ref() else {
        tracing::warn!(path = %req.uri().path(), "API request refused: API_KEY is not set, so the API is disabled");
        return error(
            StatusCode::FORBIDDEN,
            "the API is disabled: set API_KEY to enable it",
        );
    };
    let given = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
        tracing::warn!(path = %req.uri().path(), "API request refused: missing or wrong X-API-Key");
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-API-Key header",
        );
    }
    next.run(req).await
}

/// Whether the request carries the right `X-API-Key` (for details only logged-in callers see).
pub fn has_api_key(state: &WebState, headers: &axum::http::HeaderMap) -> bool {
    let Some(expected) = state.api_key.as_ref() else {
        return false;
    };
    let given = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    constant_time_eq(given.as_bytes(), expected.expose().as_bytes())
}

pub fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// A storage failure: logged in full, answered 503 without the detail.
pub fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "API: storage error");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage unavailable, try again",
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_eq_works() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
