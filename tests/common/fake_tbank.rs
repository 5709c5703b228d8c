//! A local fake of T-Bank TQM as the reference describes it (reverse-engineered, UNCERTAIN): log in
//! with the misspelt `authentificationType` for a bearer token, search call sessions a page at a
//! time (`nextPage` until null; at most 2 per page, whatever is asked), read a segment's transcript.
//! Tokens can be expired on demand (401), and the fake counts everything.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const LOGIN: &str = "qa@agency.ru";
pub const PASSWORD: &str = "tqm-password";
const PAGE: usize = 2;

/// One call session with its transcript.
#[derive(Debug, Clone)]
pub struct TqmCall {
    pub id: i64,
    pub segment: i64,
    /// Local (Moscow) `YYYY-MM-DD HH:MM:SS`.
    pub start: String,
    pub duration: i64,
    pub client: String,
    pub line: String,
    pub phrases: Vec<(&'static str, &'static str)>,
}

#[derive(Default)]
pub struct TbankState {
    pub calls: Mutex<Vec<TqmCall>>,
    pub logins: AtomicUsize,
    pub searches: AtomicUsize,
    pub transcripts: AtomicUsize,
    pub unauthorised: AtomicUsize,
    tokens: Mutex<Vec<String>>,
    /// Search bodies seen (to check the date filter).
    pub search_bodies: Mutex<Vec<Value>>,
}

impl TbankState {
    /// Every token given so far stops working (the session expired).
    pub fn expire_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }
}

pub struct FakeTbank {
    pub url: String,
    pub state: Arc<TbankState>,
}

impl FakeTbank {
    pub async fn start(calls: Vec<TqmCall>) -> Self {
        callops::http::install_crypto();
        let state = Arc::new(TbankState::default());
        *state.calls.lock().unwrap() = calls;
        let app = Router::new()
            .route("/v2/bff-core-app/auth/session-start", post(login))
            .route("/v2/bff-communication-search/callsessions", post(search))
            .route("/v2/bff-core-app/transcription/segment", post(segment))
            .route(
                "/v2/bff-core-app/organizational-structures/autocomplete-search",
                get(operators),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state }
    }
}

async fn login(State(st): State<Arc<TbankState>>, Json(body): Json<Value>) -> Response {
    st.logins.fetch_add(1, Ordering::SeqCst);
    if body["login"] != LOGIN
        || body["password"] != PASSWORD
        || body["authentificationType"] != "tqm"
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad credentials"})),
        )
            .into_response();
    }
    let token = format!("tok-{}", st.logins.load(Ordering::SeqCst));
    st.tokens.lock().unwrap().push(token.clone());
    Json(json!({"accessToken": token, "expiresIn": 3600})).into_response()
}

fn authorised(st: &TbankState, headers: &HeaderMap) -> bool {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok = st.tokens.lock().unwrap().iter().any(|t| t == given);
    if !ok {
        st.unauthorised.fetch_add(1, Ordering::SeqCst);
    }
    ok
}

async fn search(
    State(st): State<Arc<TbankState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    st.searches.fetch_add(1, Ordering::SeqCst);
    st.search_bodies.lock().unwrap().push(body.clone());
    let min = body["filters"]["date"]["min"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let max = body["filters"]["date"]["max"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let page = body["paging"]["page"].as_u64().unwrap_or(1).max(1) as usize;
    let per = (body["paging"]["itemsPerPage"]
        .as_u64()
        .unwrap_or(PAGE as u64) as usize)
        .min(PAGE);
    let all: Vec<TqmCall> = st
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.start >= min && c.start <= max)
        .cloned()
        .collect();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per)
        .take(per)
        .map(|c| {
            json!({"id": c.id, "smeCallId": c.segment, "startDate": c.start, "duration": c.duration,
                "clientPhone": c.client, "operatorPhone": c.line, "direction": "INCOMING",
                "operator": {"id": "op-101", "name": "Анна"}})
        })
        .collect();
    let next = (page * per < all.len()).then_some(page + 1);
    Json(json!({"items": items, "nextPage": next, "total": all.len()})).into_response()
}

async fn segment(
    State(st): State<Arc<TbankState>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    st.transcripts.fetch_add(1, Ordering::SeqCst);
    let id = body["segmentId"].as_i64().unwrap_or(-1);
    let calls = st.calls.lock().unwrap();
    let Some(c) = calls.iter().find(|c| c.segment == id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let phrases: Vec<Value> = c
        .phrases
        .iter()
        .enumerate()
        .map(|(i, (who, text))| {
            json!({"speaker": who, "text": text, "start": i as f64 * 2.0, "end": i as f64 * 2.0 + 1.5})
        })
        .collect();
    Json(json!({"segmentId": id, "phrases": phrases})).into_response()
}

async fn operators(State(st): State<Arc<TbankState>>, headers: HeaderMap) -> Response {
    if !authorised(&st, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"items": [{"id": "op-101", "name": "Анна Петрова"}, {"id": "op-102", "name": "Игорь Смирнов"}]}))
        .into_response()
}
