//! A local fake of the Mango Office VPBX API: every form's `sign` is checked against the key and
//! salt, `stats/request` answers a key, `stats/result` answers 204 a few times and then the
//! `;`-separated CSV, `queries/recording/post` answers 302 to a link that works once, bad JSON gets
//! 420 `{"code":3104}`. It also signs events the way Mango posts them.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const KEY: &str = "mango-key-5f4dcc3b";
pub const SALT: &str = "mango-salt";

/// One call the fake PBX reports (one CSV row).
#[derive(Debug, Clone)]
pub struct MangoCall {
    pub entry_id: String,
    pub recording_id: Option<String>,
    /// Unix seconds.
    pub start: i64,
    pub answer: Option<i64>,
    pub finish: i64,
    pub from_number: String,
    pub to_extension: String,
    pub to_number: String,
    pub audio: Vec<u8>,
}

#[derive(Default)]
pub struct MangoState {
    pub calls: Mutex<Vec<MangoCall>>,
    pub stats_requests: AtomicUsize,
    pub result_requests: AtomicUsize,
    pub bad_signatures: AtomicUsize,
    pub downloads: AtomicUsize,
    /// How many 204s each statistics key gets before its CSV.
    pub not_ready_rounds: AtomicU32,
    /// key → (the CSV, 204s still to give).
    pending: Mutex<HashMap<String, (String, u32)>>,
    /// one-shot link token → recording id.
    links: Mutex<HashMap<String, String>>,
    pub base_url: Mutex<String>,
}

pub struct FakeMango {
    /// The API root, with `/vpbx`.
    pub url: String,
    pub state: Arc<MangoState>,
}

pub fn sign(json: &str) -> String {
    let mut h = Sha256::new();
    h.update(KEY.as_bytes());
    h.update(json.as_bytes());
    h.update(SALT.as_bytes());
    hex::encode(h.finalize())
}

/// The form Mango posts for an event: key, signature and the JSON as sent.
pub fn event_form(json: &Value) -> Vec<(String, String)> {
    let body = json.to_string();
    vec![
        ("vpbx_api_key".into(), KEY.into()),
        ("sign".into(), sign(&body)),
        ("json".into(), body),
    ]
}

impl FakeMango {
    pub async fn start(calls: Vec<MangoCall>) -> Self {
        callops::http::install_crypto();
        let state = Arc::new(MangoState::default());
        *state.calls.lock().unwrap() = calls;
        state.not_ready_rounds.store(2, Ordering::SeqCst);
        let app = Router::new()
            .route("/vpbx/stats/request", post(stats_request))
            .route("/vpbx/stats/result", post(stats_result))
            .route("/vpbx/queries/recording/post", post(recording_post))
            .route("/files/{token}", get(file))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *state.base_url.lock().unwrap() = base.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("{base}/vpbx"),
            state,
        }
    }
}

/// Checks the form's key and signature and reads its JSON.
fn verified(st: &MangoState, form: &BTreeMap<String, String>) -> Result<Value, Box<Response>> {
    let (Some(key), Some(sig), Some(body)) =
        (form.get("vpbx_api_key"), form.get("sign"), form.get("json"))
    else {
        st.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return Err(Box::new(StatusCode::UNAUTHORIZED.into_response()));
    };
    if key != KEY || *sig != sign(body) {
        st.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return Err(Box::new(StatusCode::UNAUTHORIZED.into_response()));
    }
    serde_json::from_str(body).map_err(|_| {
        Box::new(
            (
                StatusCode::from_u16(420).unwrap(),
                Json(json!({"code": 3104})),
            )
                .into_response(),
        )
    })
}

fn csv_row(c: &MangoCall) -> String {
    // records,start,finish,answer,from_extension,from_number,to_extension,to_number,
    // disconnect_reason,line_number,location,entry_id
    format!(
        "[{}];{};{};{};;{};{};{};1100;{};abonent;{}",
        c.recording_id.clone().unwrap_or_default(),
        c.start,
        c.finish,
        c.answer.map(|a| a.to_string()).unwrap_or_default(),
        c.from_number,
        c.to_extension,
        c.to_number,
        c.to_number,
        c.entry_id
    )
}

async fn stats_request(
    State(st): State<Arc<MangoState>>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let req = match verified(&st, &form) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    st.stats_requests.fetch_add(1, Ordering::SeqCst);
    let num = |k: &str| req[k].as_str().and_then(|s| s.parse::<i64>().ok());
    let (Some(from), Some(to)) = (num("date_from"), num("date_to")) else {
        return (
            StatusCode::from_u16(420).unwrap(),
            Json(json!({"code": 3102})),
        )
            .into_response();
    };
    let csv: String = st
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.start >= from && c.start <= to)
        .map(|c| csv_row(c) + "\n")
        .collect();
    let n = st.stats_requests.load(Ordering::SeqCst);
    let key = format!("key-{n}");
    let rounds = st.not_ready_rounds.load(Ordering::SeqCst);
    st.pending
        .lock()
        .unwrap()
        .insert(key.clone(), (csv, rounds));
    Json(json!({ "key": key })).into_response()
}

async fn stats_result(
    State(st): State<Arc<MangoState>>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let req = match verified(&st, &form) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    st.result_requests.fetch_add(1, Ordering::SeqCst);
    let key = req["key"].as_str().unwrap_or("").to_string();
    let mut pending = st.pending.lock().unwrap();
    let Some((csv, rounds)) = pending.get_mut(&key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if *rounds > 0 {
        *rounds -= 1;
        return StatusCode::NO_CONTENT.into_response();
    }
    let csv = csv.clone();
    pending.remove(&key);
    ([(header::CONTENT_TYPE, "text/csv")], csv).into_response()
}

async fn recording_post(
    State(st): State<Arc<MangoState>>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let req = match verified(&st, &form) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let id = req["recording_id"].as_str().unwrap_or("").to_string();
    let known = st
        .calls
        .lock()
        .unwrap()
        .iter()
        .any(|c| c.recording_id.as_deref() == Some(id.as_str()));
    if !known {
        return StatusCode::NOT_FOUND.into_response();
    }
    let token = format!("t{}", rand_token());
    st.links.lock().unwrap().insert(token.clone(), id);
    let base = st.base_url.lock().unwrap().clone();
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{base}/files/{token}"))],
    )
        .into_response()
}

fn rand_token() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The one-shot link: a second GET of the same link is 404, as at Mango.
async fn file(State(st): State<Arc<MangoState>>, Path(token): Path<String>) -> Response {
    let Some(id) = st.links.lock().unwrap().remove(&token) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let audio = st
        .calls
        .lock()
        .unwrap()
        .iter()
        .find(|c| c.recording_id.as_deref() == Some(id.as_str()))
        .map(|c| c.audio.clone())
        .unwrap_or_default();
    st.downloads.fetch_add(1, Ordering::SeqCst);
    // Mango serves mp3; the tests' recordings are WAV, labelled as such.
    ([(header::CONTENT_TYPE, "audio/wav")], audio).into_response()
}
