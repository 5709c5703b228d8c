//! A local fake of Google's OAuth token endpoint and the Sheets API v4. The token endpoint
//! verifies the service account's JWT (RS256 over the test key's public half, issuer, audience,
//! scope, expiry) before it gives a token; the Sheets API wants that token, serves one sheet's
//! values and records appended rows. Reads can be made to fail (500) on demand.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{json, Value};

/// The committed test key (a throwaway, made for these tests).
pub const ACCOUNT_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/google_service_account.json"
);
const TOKEN: &str = "ya29.fake-access-token";

#[derive(Default)]
pub struct GoogleState {
    /// Spreadsheet id → its rows.
    pub sheets: Mutex<HashMap<String, Vec<Vec<String>>>>,
    /// Spreadsheet id → rows appended.
    pub appended: Mutex<HashMap<String, Vec<Vec<String>>>>,
    pub tokens_given: AtomicUsize,
    pub bad_jwts: AtomicUsize,
    pub reads: AtomicUsize,
    pub failed_reads: AtomicUsize,
    /// Answer reads with 500 while set.
    pub broken: AtomicBool,
    public_key: Mutex<Vec<u8>>,
    client_email: Mutex<String>,
    pub url: Mutex<String>,
}

pub struct FakeGoogle {
    pub url: String,
    pub state: Arc<GoogleState>,
    /// A copy of the test account file whose `token_uri` is this fake.
    pub account_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeGoogle {
    pub async fn start() -> Self {
        callops::http::install_crypto();
        let state = Arc::new(GoogleState::default());
        let mut account: Value =
            serde_json::from_str(&std::fs::read_to_string(ACCOUNT_FILE).unwrap()).unwrap();
        let der =
            callops::sheets::auth::pem_body(account["private_key"].as_str().unwrap()).unwrap();
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        *state.public_key.lock().unwrap() = pair.public().as_ref().to_vec();
        *state.client_email.lock().unwrap() = account["client_email"].as_str().unwrap().into();
        let app = Router::new()
            .route("/token", post(token))
            .route(
                "/v4/spreadsheets/{id}/values/{range}",
                get(values).post(append),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *state.url.lock().unwrap() = url.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        account["token_uri"] = json!(format!("{url}/token"));
        let dir = tempfile::tempdir().unwrap();
        let account_file = dir.path().join("sa.json");
        std::fs::write(&account_file, account.to_string()).unwrap();
        Self {
            url,
            state,
            account_file,
            _dir: dir,
        }
    }
}

/// Checks the JWT grant as Google does; the reason when it is refused.
fn check_jwt(st: &GoogleState, assertion: &str) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, sig] = parts.as_slice() else {
        return Err("not three parts".into());
    };
    let header: Value = serde_json::from_slice(&b64.decode(header).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err("alg is not RS256".into());
    }
    let sig = b64.decode(sig).map_err(|e| e.to_string())?;
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        st.public_key.lock().unwrap().clone(),
    );
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .map_err(|_| "bad signature".to_string())?;
    let c: Value = serde_json::from_slice(&b64.decode(claims).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().timestamp();
    let url = st.url.lock().unwrap().clone();
    if c["iss"] != *st.client_email.lock().unwrap()
        || c["aud"] != format!("{url}/token")
        || !c["scope"].as_str().unwrap_or("").contains("spreadsheets")
        || c["exp"].as_i64().unwrap_or(0) <= now
        || c["iat"].as_i64().unwrap_or(i64::MAX) > now + 60
    {
        return Err(format!("bad claims {c}"));
    }
    Ok(())
}

async fn token(
    State(st): State<Arc<GoogleState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let grant_ok = form.get("grant_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:grant-type:jwt-bearer");
    match form.get("assertion").map(|a| check_jwt(&st, a)) {
        Some(Ok(())) if grant_ok => {
            st.tokens_given.fetch_add(1, Ordering::SeqCst);
            Json(json!({"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}))
                .into_response()
        }
        other => {
            st.bad_jwts.fetch_add(1, Ordering::SeqCst);
            let why = match other {
                Some(Err(e)) => e,
                _ => "no assertion or wrong grant_type".into(),
            };
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant", "error_description": why})),
            )
                .into_response()
        }
    }
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"))
}

async fn values(
    State(st): State<Arc<GoogleState>>,
    headers: HeaderMap,
    Path((id, range)): Path<(String, String)>,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    st.reads.fetch_add(1, Ordering::SeqCst);
    if st.broken.load(Ordering::SeqCst) {
        st.failed_reads.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"code": 500, "status": "INTERNAL"}})),
        )
            .into_response();
    }
    let rows = st.sheets.lock().unwrap().get(&id).cloned();
    match rows {
        Some(rows) => {
            Json(json!({"range": range, "majorDimension": "ROWS", "values": rows})).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "status": "NOT_FOUND"}})),
        )
            .into_response(),
    }
}

async fn append(
    State(st): State<Arc<GoogleState>>,
    headers: HeaderMap,
    Path((id, range)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if !range.ends_with(":append") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let rows: Vec<Vec<String>> = body["values"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    r.as_array()
                        .map(|c| {
                            c.iter()
                                .map(|v| v.as_str().unwrap_or("").to_string())
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    let n = rows.len();
    st.appended
        .lock()
        .unwrap()
        .entry(id.clone())
        .or_default()
        .extend(rows);
    Json(json!({"spreadsheetId": id, "updates": {"updatedRows": n}})).into_response()
}
