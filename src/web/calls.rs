//! `/api/calls`, `/api/stats`, `/api/scheduler`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{error, store_error};
use super::WebState;
use crate::analysis::queue::enqueue_reanalysis;
use crate::domain::{CallFilter, CallStatus, CallSummary};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    status: Option<String>,
    category: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn parse_time(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn summary_json(s: &CallSummary) -> Value {
    let c = &s.call;
    json!({
        "id": c.id, "origin": c.origin(), "provider": c.provider, "provider_call_id": c.provider_call_id,
        "direction": c.direction, "caller": c.caller, "called": c.called, "started_at": c.started_at,
        "duration_secs": c.duration_secs, "status": c.status, "reason": c.reason,
        "lead_category": s.lead_category, "interest_rating": s.interest_rating,
        "priority": s.priority, "agency_name": s.agency_name,
    })
}

pub async fn list(State(state): State<Arc<WebState>>, Query(q): Query<ListQuery>) -> Response {
    let mut problems = Vec::new();
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => CallStatus::parse(s).or_else(|| {
            problems.push(format!(
                "status must be one of new, processing, analyzed, skipped, failed (got {s:?})"
            ));
            None
        }),
    };
    let category = q.category.filter(|c| !c.is_empty());
    if let Some(c) = &category {
        if !["hot", "warm", "cold", "refusal"].contains(&c.as_str()) {
            problems.push(format!(
                "category must be hot, warm, cold or refusal (got {c:?})"
            ));
        }
    }
    let mut time = |name: &str, v: &Option<String>| match v.as_deref() {
        None | Some("") => None,
        Some(s) => parse_time(s, state.timezone).or_else(|| {
            problems.push(format!("{name} must be RFC 3339 or YYYY-MM-DD (got {s:?})"));
            None
        }),
    };
    let from = time("from", &q.from);
    let to = time("to", &q.to);
    if !problems.is_empty() {
        return error(StatusCode::BAD_REQUEST, &problems.join("; "));
    }
    let filter = CallFilter {
        status,
        category,
        from,
        to,
        limit: q.limit.unwrap_or(50).clamp(1, 500),
        offset: q.offset.unwrap_or(0).max(0),
    };
    match state.store.list_calls(&filter).await {
        Ok((items, total)) => Json(json!({
            "calls": items.iter().map(summary_json).collect::<Vec<_>>(),
            "total": total,
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}

pub async fn detail(State(state): State<Arc<WebState>>, Path(id): Path<i64>) -> Response {
    let store = &state.store;
    let call = match store.call(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such call"),
        Err(e) => return store_error(e),
    };
    let parts = async {
        Ok::<_, crate::store::StoreError>((
            store.current_analysis(id).await?,
            store.utterances(id).await?,
            store.feedback(id).await?,
            store.call_tokens(id).await?,
        ))
    };
    let (analysis, utterances, feedback, tokens) = match parts.await {
        Ok(p) => p,
        Err(e) => return store_error(e),
    };
    let mut body = summary_json(&CallSummary {
        lead_category: analysis.as_ref().and_then(|a| a.lead_category),
        interest_rating: analysis.as_ref().and_then(|a| a.interest_rating),
        priority: analysis.as_ref().and_then(|a| a.priority.clone()),
        agency_name: analysis.as_ref().and_then(|a| a.agency_name.clone()),
        call,
    });
    body["transcript"] = json!(utterances);
    body["analysis"] = analysis
        .map(|a| json!({"id": a.id, "profile": a.profile, "model": a.model, "created_at": a.created_at, "result": a.result}))
        .unwrap_or(Value::Null);
    body["feedback"] = json!(feedback);
    body["tokens"] = json!(tokens);
    Json(json!({ "call": body })).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub struct ReanalyzeBody {
    profile: Option<String>,
}

/// The optional body: none, empty or whitespace means no profile, whatever the content type;
/// anything else must be the JSON object.
fn reanalyze_body(raw: &[u8]) -> Result<ReanalyzeBody, String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(ReanalyzeBody::default());
    }
    serde_json::from_slice(raw)
        .map_err(|e| format!("the body must be JSON like {{\"profile\": \"qa_checklist\"}}: {e}"))
}

pub async fn reanalyze(
    State(state): State<Arc<WebState>>,
    Path(id): Path<i64>,
    raw: axum::body::Bytes,
) -> Response {
    let (Some(intake), Some(views)) = (&state.intake, &state.views) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "analysis is not configured (OPENAI_API_KEY)",
        );
    };
    let profile = match reanalyze_body(&raw) {
        Ok(b) => b.profile,
        Err(m) => return error(StatusCode::BAD_REQUEST, &m),
    };
    if let Some(p) = &profile {
        if views.profiles.get(p).is_none() {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "unknown profile {p:?}; known: {}",
                    views.profiles.names().join(", ")
                ),
            );
        }
    }
    match state.store.call(id).await {
        Ok(Some(_)) => {}
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such call"),
        Err(e) => return store_error(e),
    }
    match enqueue_reanalysis(intake, id, profile).await {
        Ok(job) => (
            StatusCode::ACCEPTED,
            Json(json!({"call_id": id, "job_id": job})),
        )
            .into_response(),
        Err(e) => store_error(e),
    }
}

pub async fn stats(State(state): State<Arc<WebState>>) -> Response {
    let now = Utc::now().with_timezone(&state.timezone);
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|m| state.timezone.from_local_datetime(&m).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let all = state.store.stats_since(DateTime::<Utc>::UNIX_EPOCH).await;
    let today = state.store.stats_since(midnight).await;
    match (all, today) {
        (Ok(all), Ok(today)) => {
            let map = |v: &[(String, i64)]| v.iter().cloned().collect::<BTreeMap<String, i64>>();
            Json(json!({
                "calls_by_status": map(&all.by_status),
                "calls_by_category": map(&all.by_category),
                "today": {
                    "calls_by_status": map(&today.by_status),
                    "calls_by_category": map(&today.by_category),
                    "prompt_tokens": today.tokens.prompt_tokens,
                    "completion_tokens": today.tokens.completion_tokens,
                    "cost_usd": today.tokens.cost_usd,
                },
            }))
            .into_response()
        }
        (Err(e), _) | (_, Err(e)) => store_error(e),
    }
}

pub async fn scheduler(State(state): State<Arc<WebState>>) -> Response {
    Json(json!({ "schedules": state.schedules.all() })).into_response()
}

/// `POST /api/sources/{name}/days/{YYYY-MM-DD}`: reads that local day of a source's calls again
/// (the nightly batch, on demand). Calls already taken stay as they are; missing ones are analysed.
pub async fn read_day(
    State(state): State<Arc<WebState>>,
    Path((name, day)): Path<(String, String)>,
) -> Response {
    let Some(intake) = &state.intake else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "analysis is not configured (OPENAI_API_KEY)",
        );
    };
    if !state.sources.contains(&name) {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "no call source {name:?} is configured; configured: {}",
                state.sources.join(", ")
            ),
        );
    }
    let Ok(day) = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d") else {
        return error(StatusCode::BAD_REQUEST, "the day should be YYYY-MM-DD");
    };
    let today = chrono::Utc::now()
        .with_timezone(&state.timezone)
        .date_naive();
    if day > today {
        return error(StatusCode::BAD_REQUEST, "that day has not come yet");
    }
    let payload = crate::analysis::queue::DayPayload {
        source: name.clone(),
        day,
    };
    let run = chrono::Utc::now().format("%Y%m%d%H%M").to_string();
    match crate::analysis::queue::enqueue_day(intake, &payload, &run).await {
        Ok((job, _)) => (
            StatusCode::ACCEPTED,
            Json(json!({"source": name, "day": day.to_string(), "job_id": job})),
        )
            .into_response(),
        Err(e) => store_error(e),
    }
}
