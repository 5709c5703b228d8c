//! The API of campaigns: `POST /api/campaigns` creates one (paused) from JSON contacts,
//! `POST /api/campaigns/{id}/contacts` adds more, `GET /api/campaigns` lists them,
//! `GET /api/campaigns/{id}` shows one with its counts by state and its figures, and
//! `POST /api/campaigns/{id}/start|pause|stop` steers it. Contacts are read as a file's rows:
//! `phone` (or any phone header), `tz`, `consent`, `source`, the rest script variables.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::{error, store_error};
use super::WebState;
use crate::domain::{Campaign, CampaignAction, ContactCounts, NewCampaign};
use crate::outbound::campaign::kpi::{kpis, Kpis};
use crate::outbound::campaign_import::{self, apply_option, ImportReport};
use crate::outbound::campaign_runner::ActionResult;
use crate::outbound::contacts::{self, ContactFileError, ContactList};

/// The largest request body of the campaign routes (bulk contacts).
pub const BODY_LIMIT: usize = 20 * 1024 * 1024;

#[derive(Debug, Deserialize)]
pub struct CreateRequest {
    pub name: String,
    #[serde(default)]
    pub script: Option<String>,
    /// 2–4 scripts for an A/B test (instead of `script`).
    #[serde(default)]
    pub scripts: Vec<String>,
    pub contacts: Vec<Map<String, Value>>,
    /// Settings as in a chat caption: `concurrency`, `retries`, `retry_min`, `window`, `days`,
    /// `priority`, `timezone`.
    #[serde(flatten)]
    pub options: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AddRequest {
    Wrapped { contacts: Vec<Map<String, Value>> },
    Bare(Vec<Map<String, Value>>),
}

fn counts_json(c: &ContactCounts) -> Value {
    let mut m = Map::new();
    for (state, n) in &c.0 {
        m.insert(state.as_str().to_string(), json!(n));
    }
    json!({"by_state": m, "total": c.total()})
}

fn kpis_json(c: &Campaign, k: &Kpis) -> Value {
    let outcomes: Map<String, Value> = k
        .outcomes
        .iter()
        .map(|(o, n)| (o.as_str().to_string(), json!(n)))
        .collect();
    let funnel: Map<String, Value> = k
        .funnel
        .iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    let variants: Vec<Value> = k
        .variants
        .iter()
        .map(|v| {
            json!({
                "script": c.scripts.get(v.index),
                "reached": v.tally.reached,
                "converted": v.tally.converted,
                "probability_better_than_first": v.better_than_a,
            })
        })
        .collect();
    json!({
        "outcomes": outcomes,
        "reached": k.reached,
        "converted": k.converted,
        "conversion": k.conversion(),
        "avg_duration_secs": k.avg_duration_secs,
        "objections_met": k.objections_met,
        "objections_handled": k.objections_handled,
        "funnel": funnel,
        "variants": variants,
    })
}

fn view(c: &Campaign, counts: &ContactCounts) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "status": c.status.as_str(),
        "scripts": c.scripts,
        "concurrency": c.concurrency,
        "priority": c.priority,
        "timezone": c.zone.name(),
        "window": c.plan.window.to_string(),
        "days": c.plan.days.to_string(),
        "retries": c.plan.retries,
        "retry_min": c.plan.retry_min,
        "created_at": c.created_at,
        "finished_at": c.finished_at,
        "counts": counts_json(counts),
    })
}

fn report_json(r: &ImportReport) -> Value {
    json!({
        "rows": r.rows,
        "added": r.added,
        "invalid_lines": r.invalid.iter().map(|i| i.line).collect::<Vec<_>>(),
        "duplicates": r.duplicates,
        "do_not_call": r.do_not_call,
        "unknown_zone": r.unknown_zone,
        "variables": r.variables,
    })
}

/// The contacts of a request; the error is the message of a 400.
fn read_contacts(state: &WebState, records: &[Map<String, Value>]) -> Result<ContactList, String> {
    contacts::from_records(records, &state.numbering).map_err(|e| match &e {
        ContactFileError::NoPhoneColumn { .. } => {
            "every contact needs a \"phone\" (+7…)".to_string()
        }
        other => other.to_string(),
    })
}

/// `POST /api/campaigns`: 201 with the campaign (paused) and what was read.
pub async fn create(State(state): State<Arc<WebState>>, body: axum::body::Bytes) -> Response {
    let (Some(runner), Some(defaults)) = (&state.campaigns, &state.campaign_defaults) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "telephony is not configured (SIP_SERVER)",
        );
    };
    let req: CreateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "expected {{\"name\", \"script\"?, \"contacts\": [{{\"phone\", …}}]}}: {e}"
                ),
            )
        }
    };
    let name = req.name.trim().chars().take(100).collect::<String>();
    if name.is_empty() {
        return error(StatusCode::BAD_REQUEST, "name is empty");
    }
    let mut scripts = req.scripts;
    scripts.extend(req.script);
    if scripts.is_empty() {
        scripts.push(defaults.script.clone());
    }
    if scripts.len() > 4 {
        return error(StatusCode::BAD_REQUEST, "an A/B test takes 2 to 4 scripts");
    }
    if let Some(s) = scripts.iter().find(|s| runner.scripts.get(s).is_none()) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "unknown script {s:?}; available: {}",
                runner.scripts.names().join(", ")
            ),
        );
    }
    let mut new = NewCampaign {
        name,
        scripts,
        chat_id: state.team_chat,
        created_by: None,
        zone: defaults.zone,
        concurrency: defaults.concurrency,
        priority: 0,
        plan: defaults.plan,
    };
    for (k, v) in &req.options {
        let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        if let Err(e) = apply_option(&mut new, k, &value) {
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    }
    let list = match read_contacts(&state, &req.contacts) {
        Ok(l) => l,
        Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
    };
    match campaign_import::create(state.store.as_ref(), &new, &list).await {
        Ok((c, report)) => {
            tracing::info!(
                campaign = c.id,
                contacts = report.added,
                "campaign created through the API"
            );
            let counts = state.store.campaign_counts(c.id).await.unwrap_or_default();
            let mut body = view(&c, &counts);
            body["report"] = report_json(&report);
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `POST /api/campaigns/{id}/contacts`: adds contacts (numbers it has are kept once).
pub async fn add(
    State(state): State<Arc<WebState>>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    let records = match serde_json::from_slice::<AddRequest>(&body) {
        Ok(AddRequest::Wrapped { contacts } | AddRequest::Bare(contacts)) => contacts,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"contacts\": [{{\"phone\", …}}]}}: {e}"),
            )
        }
    };
    let c = match state.store.campaign(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such campaign"),
        Err(e) => return store_error(e),
    };
    let list = match read_contacts(&state, &records) {
        Ok(l) => l,
        Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
    };
    match campaign_import::add(state.store.as_ref(), &c, &list).await {
        Ok(report) => {
            tracing::info!(
                campaign = id,
                added = report.added,
                "contacts added through the API"
            );
            Json(report_json(&report)).into_response()
        }
        Err(e) => store_error(e),
    }
}

/// `GET /api/campaigns`: newest first, with counts by state.
pub async fn list(State(state): State<Arc<WebState>>) -> Response {
    let all = match state.store.campaigns().await {
        Ok(a) => a,
        Err(e) => return store_error(e),
    };
    let mut out = Vec::with_capacity(all.len());
    for c in &all {
        match state.store.campaign_counts(c.id).await {
            Ok(counts) => out.push(view(c, &counts)),
            Err(e) => return store_error(e),
        }
    }
    Json(json!({ "campaigns": out })).into_response()
}

/// `GET /api/campaigns/{id}`: the campaign, its counts by state and its figures.
pub async fn detail(State(state): State<Arc<WebState>>, Path(id): Path<i64>) -> Response {
    let c = match state.store.campaign(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no such campaign"),
        Err(e) => return store_error(e),
    };
    let (counts, contacts) = match (
        state.store.campaign_counts(id).await,
        state.store.campaign_contacts(id).await,
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return store_error(e),
    };
    let mut body = view(&c, &counts);
    body["kpis"] = kpis_json(&c, &kpis(&contacts, c.scripts.len()));
    Json(body).into_response()
}

/// `POST /api/campaigns/{id}/{start|pause|stop}`.
pub async fn act(
    State(state): State<Arc<WebState>>,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    let Some(runner) = &state.campaigns else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "telephony is not configured (SIP_SERVER)",
        );
    };
    let Ok(action) = action.parse::<CampaignAction>() else {
        return error(StatusCode::NOT_FOUND, "use start, pause or stop");
    };
    match runner.act(id, action).await {
        Ok(ActionResult::Done(c)) => {
            tracing::info!(campaign = id, action = %action, "campaign action through the API");
            Json(json!({"id": c.id, "status": c.status.as_str()})).into_response()
        }
        Ok(ActionResult::Finished) => error(StatusCode::CONFLICT, "the campaign has finished"),
        Ok(ActionResult::NotFound) => error(StatusCode::NOT_FOUND, "no such campaign"),
        Err(e) => store_error(e),
    }
}
