//! A local fake of SaluteSpeech's REST API: the OAuth endpoint (checks the Basic key, a UUID
//! `RqUID` and the scope; answers `expires_at` in ms), synchronous `speech:recognize` (raw PCM),
//! the asynchronous chain (`data:upload`, `speech:async_recognize`, `task:get`, `data:download`,
//! utterances placed by `processed_audio_start`/`_end`), and `text:synthesize` (pcm16 at the
//! voice's rate). It recognises speech by its tone, as the OpenAI fake does; tokens can be revoked
//! (401) and requests answered 429.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};

use super::fake_openai::{CLIENT_LINE, MANAGER_LINE};

/// base64("client-id:client-secret"), as Studio shows it.
pub const AUTH_KEY: &str = "Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ=";

#[derive(Default)]
pub struct SaluteState {
    pub token_requests: AtomicUsize,
    /// How long issued tokens live, in ms (0: 30 min).
    pub token_ttl_ms: AtomicU32,
    valid: Mutex<HashSet<String>>,
    /// Requests refused with 401 because their token was revoked.
    pub unauthorized: AtomicUsize,
    /// Answer the next N API requests with 429 (`Retry-After: 0`).
    pub rate_limit_next: AtomicU32,
    uploads: Mutex<HashMap<String, Vec<u8>>>,
    tasks: Mutex<HashMap<String, (String, Value, u32)>>,
    /// Requests by path (`speech:recognize`, `data:upload`, …).
    pub calls: Mutex<Vec<String>>,
    /// Options of asynchronous tasks.
    pub async_options: Mutex<Vec<Value>>,
    /// Synthesis requests: (format, voice, text).
    pub syntheses: Mutex<Vec<(String, String, String)>>,
    next: AtomicUsize,
}

pub struct FakeSalute {
    /// The API base URL.
    pub url: String,
    pub auth_url: String,
    pub state: Arc<SaluteState>,
}

impl FakeSalute {
    pub async fn start() -> Self {
        callops::http::install_crypto();
        let state = Arc::new(SaluteState::default());
        let app = Router::new()
            .route("/api/v2/oauth", post(oauth))
            .route("/rest/v1/speech:recognize", post(recognize))
            .route("/rest/v1/data:upload", post(upload))
            .route("/rest/v1/speech:async_recognize", post(async_recognize))
            .route("/rest/v1/task:get", get(task_get))
            .route("/rest/v1/data:download", get(download))
            .route("/rest/v1/text:synthesize", post(synthesize))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            auth_url: format!("http://{addr}/api/v2/oauth"),
            state,
        }
    }

    /// Every token issued so far stops working (as when one expires mid-call).
    pub fn revoke_tokens(&self) {
        self.state.valid.lock().unwrap().clear();
    }

    /// Whether `token` was issued and not revoked.
    pub fn token_is_valid(&self, token: &str) -> bool {
        self.state.valid.lock().unwrap().contains(token)
    }

    pub fn calls_to(&self, path: &str) -> usize {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == path)
            .count()
    }
}

/// What the fake "hears" in 16-bit mono PCM: the lines of the OpenAI fake by their tones.
pub fn heard(pcm: &[u8], rate: u32) -> String {
    let samples: Vec<f32> = pcm
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    let hz = callops::speech::audio::zero_crossing_hz(&samples, rate);
    if (hz - 440.0).abs() < 40.0 {
        MANAGER_LINE.to_string()
    } else if (hz - 880.0).abs() < 60.0 {
        CLIENT_LINE.to_string()
    } else {
        format!("тон {}", (hz / 10.0).round() * 10.0)
    }
}

fn fail(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "message": message})),
    )
        .into_response()
}

/// Checks the bearer token and the 429 switch; records the call.
fn admit(st: &SaluteState, headers: &HeaderMap, path: &str) -> Result<(), Box<Response>> {
    st.calls.lock().unwrap().push(path.to_string());
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !st.valid.lock().unwrap().contains(token) {
        st.unauthorized.fetch_add(1, Ordering::SeqCst);
        return Err(Box::new(fail(
            StatusCode::UNAUTHORIZED,
            "Token has expired",
        )));
    }
    if st
        .rate_limit_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        let mut r = fail(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
        r.headers_mut().insert("retry-after", "0".parse().unwrap());
        return Err(Box::new(r));
    }
    Ok(())
}

async fn oauth(
    State(st): State<Arc<SaluteState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok());
    if basic != Some(&format!("Basic {AUTH_KEY}")) {
        return fail(StatusCode::UNAUTHORIZED, "Authorization error: bad key");
    }
    let rquid = headers
        .get("rquid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if uuid::Uuid::parse_str(rquid).is_err() {
        return fail(StatusCode::BAD_REQUEST, "RqUID must be a UUID");
    }
    if !form
        .get("scope")
        .is_some_and(|s| s.starts_with("SALUTE_SPEECH_"))
    {
        return fail(StatusCode::BAD_REQUEST, "bad scope");
    }
    let n = st.token_requests.fetch_add(1, Ordering::SeqCst);
    let token = format!("eyJ-token-{n}");
    st.valid.lock().unwrap().insert(token.clone());
    let ttl = match st.token_ttl_ms.load(Ordering::SeqCst) {
        0 => 30 * 60 * 1000,
        ms => i64::from(ms),
    };
    Json(json!({
        "access_token": token,
        "expires_at": chrono::Utc::now().timestamp_millis() + ttl,
    }))
    .into_response()
}

async fn recognize(
    State(st): State<Arc<SaluteState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = admit(&st, &headers, "speech:recognize") {
        return *r;
    }
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(rate) = ct
        .strip_prefix("audio/x-pcm;bit=16;rate=")
        .and_then(|r| r.parse::<u32>().ok())
    else {
        return fail(StatusCode::BAD_REQUEST, "unsupported content type");
    };
    Json(json!({"result": [heard(&body, rate)], "emotions": [{"negative": 0.1, "neutral": 0.8, "positive": 0.1}], "status": 200}))
        .into_response()
}

async fn upload(State(st): State<Arc<SaluteState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admit(&st, &headers, "data:upload") {
        return *r;
    }
    let id = format!("file-{}", st.next.fetch_add(1, Ordering::SeqCst));
    st.uploads.lock().unwrap().insert(id.clone(), body.to_vec());
    Json(json!({"status": 200, "result": {"request_file_id": id}})).into_response()
}

async fn async_recognize(
    State(st): State<Arc<SaluteState>>,
    headers: HeaderMap,
    Json(req): Json<Value>,
) -> Response {
    if let Err(r) = admit(&st, &headers, "speech:async_recognize") {
        return *r;
    }
    let file = req["request_file_id"].as_str().unwrap_or("").to_string();
    if !st.uploads.lock().unwrap().contains_key(&file) {
        return fail(StatusCode::BAD_REQUEST, "unknown request_file_id");
    }
    st.async_options
        .lock()
        .unwrap()
        .push(req["options"].clone());
    let id = format!("task-{}", st.next.fetch_add(1, Ordering::SeqCst));
    st.tasks
        .lock()
        .unwrap()
        .insert(id.clone(), (file, req["options"].clone(), 0));
    Json(json!({"status": 200, "result": {"id": id, "status": "NEW", "created_at": "2026-11-28T10:00:00Z"}}))
        .into_response()
}

async fn task_get(
    State(st): State<Arc<SaluteState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = admit(&st, &headers, "task:get") {
        return *r;
    }
    let id = q.get("id").cloned().unwrap_or_default();
    let mut tasks = st.tasks.lock().unwrap();
    let Some(task) = tasks.get_mut(&id) else {
        return fail(StatusCode::NOT_FOUND, "no such task");
    };
    task.2 += 1;
    // Running on the first question, done on the second.
    let result = if task.2 < 2 {
        json!({"id": id, "status": "RUNNING"})
    } else {
        json!({"id": id, "status": "DONE", "response_file_id": format!("result-{id}")})
    };
    Json(json!({"status": 200, "result": result})).into_response()
}

/// Utterances of two seconds each, placed in the audio.
async fn download(
    State(st): State<Arc<SaluteState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = admit(&st, &headers, "data:download") {
        return *r;
    }
    let task_id = q
        .get("response_file_id")
        .and_then(|f| f.strip_prefix("result-"))
        .unwrap_or("")
        .to_string();
    let Some((file, options, _)) = st.tasks.lock().unwrap().get(&task_id).cloned() else {
        return fail(StatusCode::NOT_FOUND, "no such file");
    };
    let pcm = st
        .uploads
        .lock()
        .unwrap()
        .get(&file)
        .cloned()
        .unwrap_or_default();
    let rate = options["sample_rate"].as_u64().unwrap_or(8000) as u32;
    let block = (rate * 2 * 2) as usize;
    let utterances: Vec<Value> = pcm
        .chunks(block)
        .enumerate()
        .map(|(i, chunk)| {
            let start = i as f64 * 2.0;
            let end = start + chunk.len() as f64 / f64::from(rate * 2);
            json!({
                "results": [{"text": heard(chunk, rate).to_lowercase(), "normalized_text": heard(chunk, rate),
                             "start": "0.1s", "end": format!("{:.1}s", end - start)}],
                "eou": true,
                "processed_audio_start": format!("{start:.1}s"),
                "processed_audio_end": format!("{end:.1}s"),
                "channel": 0,
            })
        })
        .collect();
    Json(Value::Array(utterances)).into_response()
}

async fn synthesize(
    State(st): State<Arc<SaluteState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    if let Err(r) = admit(&st, &headers, "text:synthesize") {
        return *r;
    }
    let format = q.get("format").cloned().unwrap_or_default();
    let voice = q.get("voice").cloned().unwrap_or_default();
    st.syntheses
        .lock()
        .unwrap()
        .push((format.clone(), voice.clone(), body.clone()));
    let rate: u32 = voice
        .rsplit_once('_')
        .and_then(|(_, r)| r.parse().ok())
        .unwrap_or(24000);
    match format.as_str() {
        "pcm16" => {
            // 0.1 s of a 300 Hz tone per character, at most 2 s.
            let secs = (body.chars().count() as f32 * 0.1).min(2.0);
            let pcm: Vec<u8> = callops::speech::audio::tone(300.0, secs, rate)
                .iter()
                .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
                .collect();
            ([("content-type", "audio/x-pcm;bit=16")], pcm).into_response()
        }
        "opus" => (
            [("content-type", "audio/ogg;codecs=opus")],
            b"OggS-fake".to_vec(),
        )
            .into_response(),
        _ => fail(StatusCode::BAD_REQUEST, "unsupported format"),
    }
}
