//! A local fake of Novofon API 1.0 (signatures checked like the real service, the statistics
//! limit, paging, recording links and downloads) and of the Novofon 2.0 Data API (JSON-RPC).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde_json::{json, Value};
use sha1::Sha1;

pub const KEY: &str = "novofon-key";
pub const SECRET: &str = "dbf5606ea4c1f2234201";
pub const V2_TOKEN: &str = "v2-access-token";

/// One call the fake PBX reports.
#[derive(Debug, Clone)]
pub struct FakeCall {
    pub pbx_call_id: String,
    pub call_id: String,
    pub callstart: String,
    pub clid: String,
    pub destination: String,
    pub disposition: String,
    pub seconds: i64,
    pub recorded: bool,
    /// The bytes served as its recording.
    pub audio: Vec<u8>,
}

#[derive(Default)]
pub struct NovofonState {
    pub calls: Mutex<Vec<FakeCall>>,
    pub stats_requests: AtomicUsize,
    /// When each statistics request came (to check the pace across instances).
    pub stats_times: Mutex<Vec<std::time::Instant>>,
    pub record_requests: AtomicUsize,
    pub downloads: AtomicUsize,
    pub bad_signatures: AtomicUsize,
    /// Answer the next N statistics requests with 429.
    pub stats_429: AtomicU32,
    /// Serve an HTML page instead of audio for the next N downloads.
    pub html_downloads: AtomicU32,
    pub base_url: Mutex<String>,
    /// v2: answer the next N requests with a JSON-RPC limit error.
    pub v2_limit_errors: AtomicU32,
    pub v2_requests: AtomicUsize,
}

pub struct FakeNovofon {
    pub url: String,
    pub state: Arc<NovofonState>,
}

fn expected_signature(path: &str, qs: &str) -> String {
    let md5 = hex::encode(Md5::digest(qs.as_bytes()));
    let mut mac = Hmac::<Sha1>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
    mac.update(format!("{path}{qs}{md5}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hex::encode(mac.finalize().into_bytes()))
}

fn query_map(qs: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(qs.as_bytes())
        .into_owned()
        .collect()
}

impl FakeNovofon {
    pub async fn start(calls: Vec<FakeCall>) -> Self {
        callops::http::install_crypto();
        let state = Arc::new(NovofonState::default());
        *state.calls.lock().unwrap() = calls;
        let app = Router::new()
            .route("/v1/statistics/pbx/", get(stats))
            .route("/v1/pbx/record/request/", get(record_request))
            .route("/download/{id}", get(download))
            .route("/v2.0", post(v2))
            .route("/system/media/talk/{comm}/{rec}/", get(v2_media))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *state.base_url.lock().unwrap() = url.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state }
    }
}

/// Checks `Authorization: key:signature` over the raw, sorted query string.
fn authorised(
    st: &NovofonState,
    path: &str,
    raw: &str,
    headers: &HeaderMap,
) -> Result<BTreeMap<String, String>, Box<Response>> {
    let deny = |why: &str| {
        st.bad_signatures.fetch_add(1, Ordering::SeqCst);
        Box::new(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"status": "error", "message": format!("Not authorized: {why}")})),
            )
                .into_response(),
        )
    };
    let params = query_map(raw);
    let keys: Vec<&str> = raw
        .split('&')
        .map(|p| p.split('=').next().unwrap_or(""))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    if keys != sorted {
        return Err(deny("parameters not sorted"));
    }
    if params.get("format").map(String::as_str) != Some("json") {
        return Err(deny("format=json missing"));
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((key, sig)) = auth.split_once(':') else {
        return Err(deny("no Authorization header"));
    };
    if key != KEY || sig != expected_signature(path, raw) {
        return Err(deny("bad signature"));
    }
    Ok(params)
}

async fn stats(
    State(st): State<Arc<NovofonState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let raw = raw.unwrap_or_default();
    let params = match authorised(&st, "/v1/statistics/pbx/", &raw, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    st.stats_requests.fetch_add(1, Ordering::SeqCst);
    st.stats_times
        .lock()
        .expect("lock")
        .push(std::time::Instant::now());
    if st
        .stats_429
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"status": "error", "message": "Too many requests"})),
        )
            .into_response();
    }
    if params.get("version").map(String::as_str) != Some("2") {
        return Json(json!({"status": "error", "message": "version=2 expected"})).into_response();
    }
    let skip: usize = params.get("skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = params
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let calls = st.calls.lock().unwrap().clone();
    let rows: Vec<Value> = calls
        .iter()
        .skip(skip)
        .take(limit)
        .enumerate()
        .map(|(i, c)| {
            // Loosely typed like the real service: some fields as numbers, some as strings.
            let call_id: Value = if i % 2 == 0 { json!(c.call_id) } else { c.call_id.parse::<f64>().map(|f| json!(f)).unwrap_or(json!(c.call_id)) };
            json!({
                "call_id": call_id, "sip": if i % 2 == 0 { json!("100") } else { json!(100) },
                "callstart": c.callstart, "clid": c.clid, "destination": c.destination,
                "disposition": c.disposition, "seconds": if i % 2 == 0 { json!(c.seconds) } else { json!(c.seconds.to_string()) },
                "is_recorded": if i % 2 == 0 { json!(if c.recorded { "true" } else { "false" }) } else { json!(c.recorded) },
                "pbx_call_id": c.pbx_call_id,
            })
        })
        .collect();
    Json(json!({"status": "success", "start": params.get("start"), "end": params.get("end"), "version": 2, "stats": rows})).into_response()
}

async fn record_request(
    State(st): State<Arc<NovofonState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let raw = raw.unwrap_or_default();
    let params = match authorised(&st, "/v1/pbx/record/request/", &raw, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    st.record_requests.fetch_add(1, Ordering::SeqCst);
    let calls = st.calls.lock().unwrap().clone();
    let found = calls.iter().find(|c| {
        params.get("call_id") == Some(&c.call_id)
            || params.get("pbx_call_id") == Some(&c.pbx_call_id)
    });
    let base = st.base_url.lock().unwrap().clone();
    match found {
        Some(c) if c.recorded => Json(json!({
            "status": "success",
            "link": format!("{base}/download/{}.wav", c.call_id),
            "lifetime_till": "2030-01-01 00:00:00"
        }))
        .into_response(),
        _ => Json(json!({"status": "error", "message": "record not found"})).into_response(),
    }
}

async fn download(State(st): State<Arc<NovofonState>>, Path(id): Path<String>) -> Response {
    st.downloads.fetch_add(1, Ordering::SeqCst);
    if st
        .html_downloads
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            [("content-type", "text/html")],
            "<html><body>Файл ещё не готов</body></html>",
        )
            .into_response();
    }
    let call_id = id.trim_end_matches(".wav");
    let calls = st.calls.lock().unwrap().clone();
    match calls.iter().find(|c| c.call_id == call_id) {
        Some(c) => (
            [("content-type", "audio/wav")],
            Bytes::from(c.audio.clone()),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn v2(State(st): State<Arc<NovofonState>>, Json(req): Json<Value>) -> Response {
    st.v2_requests.fetch_add(1, Ordering::SeqCst);
    let id = req["id"].clone();
    let rpc_error = |code: i64, mnemonic: &str, message: &str| {
        Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": {"mnemonic": mnemonic}}})).into_response()
    };
    if req["params"]["access_token"] != V2_TOKEN {
        return rpc_error(-32001, "auth_error", "Authorization error");
    }
    if st
        .v2_limit_errors
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return rpc_error(-32029, "limit_exceeded", "Limit exceeded");
    }
    if req["method"] != "get.calls_report" {
        return rpc_error(-32601, "method_not_found", "Method not found");
    }
    let offset = req["params"]["offset"].as_u64().unwrap_or(0) as usize;
    let limit = req["params"]["limit"].as_u64().unwrap_or(1000) as usize;
    let calls = st.calls.lock().unwrap().clone();
    let data: Vec<Value> = calls
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| {
            json!({
                "id": c.call_id.parse::<i64>().unwrap_or(0), "start_time": c.callstart,
                "direction": if c.pbx_call_id.starts_with("out_") { "out" } else { "in" },
                "is_lost": c.disposition != "answered", "communication_id": c.call_id.parse::<i64>().unwrap_or(0),
                "talk_duration": c.seconds, "total_duration": c.seconds + 5,
                "contact_phone_number": c.clid, "virtual_phone_number": c.destination,
                "call_records": if c.recorded { json!([format!("rec{}", c.call_id)]) } else { json!([]) },
            })
        })
        .collect();
    Json(json!({"jsonrpc": "2.0", "id": id, "result": {"data": data, "metadata": {
        "total_items": calls.len(),
        "limits": {"day_limit": 10000, "day_remaining": 9000, "day_reset": 50000, "minute_limit": 100, "minute_remaining": 50, "minute_reset": 30}
    }}}))
    .into_response()
}

async fn v2_media(
    State(st): State<Arc<NovofonState>>,
    Path((comm, rec)): Path<(String, String)>,
) -> Response {
    st.downloads.fetch_add(1, Ordering::SeqCst);
    if st
        .html_downloads
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            [("content-type", "text/html; charset=utf-8")],
            "<!DOCTYPE html><html>login</html>",
        )
            .into_response();
    }
    let calls = st.calls.lock().unwrap().clone();
    match calls
        .iter()
        .find(|c| c.call_id == comm && rec == format!("rec{}", c.call_id))
    {
        Some(c) => (
            [("content-type", "audio/mpeg")],
            Bytes::from(c.audio.clone()),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such record").into_response(),
    }
}
