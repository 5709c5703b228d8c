//! A local fake of the OpenAI-compatible API: `/audio/transcriptions` (multipart; decodes the WAV
//! and answers by the tone it hears, so channel splitting is really exercised), `/chat/completions`
//! (scripted answers, recorded requests, usage), `/models`; 429/500 injection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const KEY: &str = "sk-test-key";

/// What the manager (440 Hz channel) and the client (880 Hz channel) "say".
pub const MANAGER_LINE: &str = "Добрый день, агентство «Квартал», меня зовут Анна.";
pub const CLIENT_LINE: &str =
    "Здравствуйте, у меня три покупателя на двушку до двенадцати миллионов.";

#[derive(Default)]
pub struct OpenAiState {
    /// Scripted chat answers (content strings), consumed in order; then the default answer.
    pub answers: Mutex<VecDeque<String>>,
    pub chat_requests: Mutex<Vec<Value>>,
    pub stt_requests: AtomicUsize,
    /// Models seen in transcription requests, with their response_format.
    pub stt_formats: Mutex<Vec<(String, String)>>,
    pub stt_429: AtomicU32,
    pub stt_500: AtomicU32,
    pub chat_500: AtomicU32,
    pub chat_429: AtomicU32,
    /// Extra latency of each answer (benchmarks).
    pub stt_delay_ms: AtomicU32,
    pub chat_delay_ms: AtomicU32,
}

pub struct FakeOpenAi {
    pub url: String,
    pub state: Arc<OpenAiState>,
}

pub fn realty_answer(category: &str, rating: i64) -> String {
    json!({
        "agency_name": "Квартал", "agent_name": "Анна", "lead_category": category, "interest_rating": rating,
        "rating_reasons": ["Три покупателя с бюджетом", "Просит показ на этой неделе"],
        "has_buyers": true, "buyers_count": 3, "clients_budget": "до 12 млн ₽", "deal_timeframe": "1–2 месяца",
        "agency_commission": "2%", "key_interests": ["двухкомнатные квартиры"], "objections": [],
        "competitors": [], "priority": "high", "next_steps": ["Показ в четверг"],
        "recommended_actions": ["Отправить подборку до среды"], "summary": "Агент готов привести трёх покупателей."
    })
    .to_string()
}

/// A checklist answer scored by the criteria the request's schema asks for (a team's own
/// checklist), as a model would: 7/10 each, with a reason naming the criterion.
fn fit_scores(content: String, schema: &Value) -> String {
    let Some(wanted) = schema["properties"]["scores"]["properties"].as_object() else {
        return content;
    };
    let Ok(mut answer) = serde_json::from_str::<Value>(&content) else {
        return content;
    };
    if answer["scores"].is_object() {
        answer["scores"] = wanted
            .keys()
            .map(|k| {
                (
                    k.clone(),
                    json!({"score": 7, "reason": format!("Оценено по критерию «{k}»")}),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    answer.to_string()
}

pub fn default_answer(schema_name: &str) -> String {
    match schema_name {
        "qa_checklist" => json!({"scores": {
                "greeting": {"score": 9, "reason": "Представилась и назвала агентство"},
                "needs_discovery": {"score": 7, "reason": "Спросила про бюджет, но не про сроки"},
                "presentation": {"score": 8, "reason": "Рассказала про показ"},
                "objection_handling": {"score": 4, "reason": "На «дорого» ничего не ответила"},
                "next_step": {"score": 8, "reason": "Договорились о показе в четверг"},
                "politeness": {"score": 10, "reason": "Вежливо, не перебивала"}}, "total": 8, "agreements": ["Показ в четверг"], "decline_reasons": [],
            "recommendations": ["Уточнять бюджет раньше"], "summary": "Хороший звонок."}).to_string(),
        "cold_call" => json!({"outcome": "callback", "interest": 6, "decision_maker_reached": true, "contact_obtained": null,
            "callback_time": "завтра в 11:00", "objections": ["Нет времени"], "next_step": "Перезвонить", "summary": "Просит перезвонить."}).to_string(),
        _ => realty_answer("hot", 8),
    }
}

impl FakeOpenAi {
    pub async fn start() -> Self {
        callops::http::install_crypto();
        let state = Arc::new(OpenAiState::default());
        let app = Router::new()
            .route("/v1/audio/transcriptions", post(transcribe))
            .route("/v1/chat/completions", post(chat))
            .route("/v1/models", get(models))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state }
    }

    pub fn script(&self, answers: &[&str]) {
        let mut q = self.state.answers.lock().unwrap();
        for a in answers {
            q.push_back(a.to_string());
        }
    }

    pub fn chat_requests(&self) -> Vec<Value> {
        self.state.chat_requests.lock().unwrap().clone()
    }
}

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"))
}

fn api_error(status: StatusCode, message: &str, kind: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": null}})),
    )
        .into_response()
}

fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

async fn transcribe(
    State(st): State<Arc<OpenAiState>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if !authorised(&headers) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided",
            "invalid_request_error",
        );
    }
    st.stt_requests.fetch_add(1, Ordering::SeqCst);
    let (mut file, mut model, mut format, mut language) =
        (Vec::new(), String::new(), String::new(), String::new());
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or("") {
            "file" => file = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            "model" => model = field.text().await.unwrap_or_default(),
            "response_format" => format = field.text().await.unwrap_or_default(),
            "language" => language = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    st.stt_formats
        .lock()
        .unwrap()
        .push((model.clone(), format.clone()));
    let delay = st.stt_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
    }
    if take(&st.stt_429) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            Json(json!({"error": {"message": "Rate limit", "type": "rate_limit_error"}})),
        )
            .into_response();
    }
    if take(&st.stt_500) {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error",
            "server_error",
        );
    }
    if language != "ru" {
        return api_error(
            StatusCode::BAD_REQUEST,
            "language must be ru in these tests",
            "invalid_request_error",
        );
    }
    if model.starts_with("gpt-4o") && format != "json" {
        return api_error(
            StatusCode::BAD_REQUEST,
            "response_format verbose_json is not compatible with this model",
            "invalid_request_error",
        );
    }
    let Ok(mut reader) = hound::WavReader::new(std::io::Cursor::new(file)) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Invalid file format.",
            "invalid_request_error",
        );
    };
    let rate = reader.spec().sample_rate;
    let samples: Vec<f32> = reader
        .samples::<i16>()
        .filter_map(Result::ok)
        .map(|s| f32::from(s) / 32768.0)
        .collect();
    let duration = samples.len() as f64 / f64::from(rate);
    let hz = callops::speech::audio::zero_crossing_hz(&samples, rate);
    let (text, start) = if (hz - 440.0).abs() < 60.0 {
        (MANAGER_LINE, 0.5)
    } else if (hz - 880.0).abs() < 90.0 {
        (CLIENT_LINE, 2.5)
    } else {
        ("", 0.0)
    };
    if format == "verbose_json" {
        let segments = if text.is_empty() {
            json!([])
        } else {
            json!([{"id": 0, "seek": 0, "start": start, "end": start + 1.5, "text": format!(" {text}")}])
        };
        Json(json!({"task": "transcribe", "language": "russian", "duration": duration, "text": text, "segments": segments})).into_response()
    } else {
        Json(
            json!({"text": text, "usage": {"type": "duration", "seconds": duration.ceil() as i64}}),
        )
        .into_response()
    }
}

async fn chat(
    State(st): State<Arc<OpenAiState>>,
    headers: HeaderMap,
    Json(req): Json<Value>,
) -> Response {
    if !authorised(&headers) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided",
            "invalid_request_error",
        );
    }
    st.chat_requests.lock().unwrap().push(req.clone());
    let delay = st.chat_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
    }
    if take(&st.chat_429) {
        return api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached",
            "rate_limit_error",
        );
    }
    if take(&st.chat_500) {
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server had an error",
            "server_error",
        );
    }
    let system = req["messages"][0]["content"].as_str().unwrap_or("");
    let schema_name = match req["response_format"]["json_schema"]["name"].as_str() {
        Some(n) => n.to_string(),
        None if system.contains("decision_maker_reached") => "cold_call".into(),
        None if system.contains("needs_discovery") => "qa_checklist".into(),
        None => "realty_lead".into(),
    };
    let content = st
        .answers
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| default_answer(&schema_name));
    let content = fit_scores(content, &req["response_format"]["json_schema"]["schema"]);
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_763_700_000, "model": req["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null}, "finish_reason": "stop", "logprobs": null}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500}
    }))
    .into_response()
}

async fn models(headers: HeaderMap) -> Response {
    if !authorised(&headers) {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "Incorrect API key provided",
            "invalid_request_error",
        );
    }
    Json(json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}, {"id": "whisper-1", "object": "model"}]})).into_response()
}
