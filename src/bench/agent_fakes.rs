//! In-process fakes of the OpenAI-compatible APIs a live call uses, speaking the real wire
//! formats at configurable latencies: transcriptions (multipart; recognises the simulated callee's
//! phrases by their sound), streamed chat completions with tool calls (SSE, a small rule-based
//! "salesperson"), and `/audio/speech` (streamed 24 kHz PCM whose tone identifies the sentence,
//! so the callee's side can tell which sentence it heard). Used by `callops bench agent` and by
//! the integration tests.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::telephony::media::Frame;
use crate::telephony::simulated;

/// Provider latencies.
#[derive(Debug, Clone, Copy)]
pub struct Latencies {
    pub stt: Duration,
    pub llm_ttft: Duration,
    pub tts_ttfb: Duration,
    /// Length of synthesised speech per character of text.
    pub tts_ms_per_char: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Self {
            stt: Duration::from_millis(30),
            llm_ttft: Duration::from_millis(30),
            tts_ttfb: Duration::from_millis(20),
            tts_ms_per_char: 30,
        }
    }
}

const TONE_BASE: f32 = 300.0;
const TONE_STEP: f32 = 150.0;
const TONES: usize = 22;

#[derive(Default)]
struct Shared {
    /// Sentence → tone index.
    tones: Mutex<HashMap<String, usize>>,
    texts: Mutex<Vec<String>>,
    chat_requests: Mutex<Vec<Value>>,
    /// Fail the next N chat requests with 503.
    chat_failures: AtomicU32,
    analysis_answer: Mutex<String>,
    lat: Mutex<Latencies>,
    /// Phrases the fake speech-to-text knows besides the built-in callee clips.
    taught: Mutex<Vec<(Vec<i16>, String)>>,
}

/// A running fake; `base_url` ends in `/v1`.
#[derive(Clone)]
pub struct AgentFakes {
    pub base_url: String,
    shared: Arc<Shared>,
}

impl AgentFakes {
    pub async fn start(lat: Latencies) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        *shared.lat.lock().unwrap_or_else(|p| p.into_inner()) = lat;
        *shared
            .analysis_answer
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = json!({
            "outcome": "interested", "interest": 7, "decision_maker_reached": true,
            "contact_obtained": "Иван, директор, +79161234567", "callback_time": null,
            "objections": ["дорого"], "next_step": "прислать подборку офисов",
            "summary": "Директор заинтересовался офисами, оставил телефон."
        })
        .to_string();
        let app = Router::new()
            .route("/v1/audio/transcriptions", post(transcribe))
            .route("/v1/chat/completions", post(chat))
            .route("/v1/audio/speech", post(speech))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base_url: format!("http://{addr}/v1"),
            shared,
        })
    }

    /// The agent's providers, all pointed at these fakes.
    pub fn agent_deps(&self) -> crate::agent::AgentDeps {
        use crate::llm::{JsonMode, LlmClient, PriceTable};
        use crate::speech::{BatchRecognizer, OpenAiStt, OpenAiTts};
        let stt = OpenAiStt::new(&self.base_url, "sk-bench", "gpt-4o-mini-transcribe")
            .with_backoff(Duration::from_millis(100), Duration::from_secs(10))
            .with_attempts(2);
        crate::agent::AgentDeps {
            recognizer: std::sync::Arc::new(BatchRecognizer::new(std::sync::Arc::new(stt))),
            llm: std::sync::Arc::new(LlmClient::with_timeout(
                &self.base_url,
                "sk-bench",
                "gpt-4o-mini",
                JsonMode::JsonSchema,
                PriceTable::default(),
                Duration::from_secs(30),
            )),
            tts: std::sync::Arc::new(OpenAiTts::new(
                &self.base_url,
                "sk-bench",
                "gpt-4o-mini-tts",
                "coral",
            )),
        }
    }

    /// Makes the fake speech-to-text recognise `samples` (8 kHz) as `text`.
    pub fn teach(&self, text: &str, samples: &[i16]) {
        self.shared
            .taught
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((samples.to_vec(), text.to_string()));
    }

    /// Every chat request body received.
    pub fn chat_requests(&self) -> Vec<Value> {
        self.shared
            .chat_requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The next `n` chat requests fail with 503.
    pub fn fail_chat(&self, n: u32) {
        self.shared.chat_failures.store(n, Ordering::SeqCst);
    }

    /// Sentences synthesised so far, in order.
    pub fn synthesised(&self) -> Vec<String> {
        self.shared
            .texts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Which synthesised sentence each heard frame carried, collapsed into runs: (text, frames).
    pub fn decode_heard(&self, frames: &[Frame]) -> Vec<(String, usize)> {
        let tones = self
            .shared
            .tones
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let by_index: HashMap<usize, String> = tones.into_iter().map(|(t, i)| (i, t)).collect();
        let mut runs: Vec<(String, usize)> = Vec::new();
        for f in frames {
            let Some(text) = dominant_tone(f).and_then(|i| by_index.get(&i)) else {
                continue;
            };
            match runs.last_mut() {
                Some((t, n)) if t == text => *n += 1,
                _ => runs.push((text.clone(), 1)),
            }
        }
        // Frames at sentence borders can be smeared by resampling: drop tiny runs.
        runs.retain(|(_, n)| *n >= 2);
        let mut merged: Vec<(String, usize)> = Vec::new();
        for (t, n) in runs {
            match merged.last_mut() {
                Some((lt, ln)) if *lt == t => *ln += n,
                _ => merged.push((t, n)),
            }
        }
        merged
    }

    /// Frames a sentence lasts when synthesised in full (at 8 kHz, 20 ms frames).
    pub fn frames_for(&self, text: &str) -> usize {
        let lat = *self.shared.lat.lock().unwrap_or_else(|p| p.into_inner());
        (text.chars().count() as u64 * lat.tts_ms_per_char).div_ceil(20) as usize
    }
}

fn tone_freq(i: usize) -> f32 {
    TONE_BASE + TONE_STEP * i as f32
}

/// The tone index with the most energy in a frame (Goertzel).
fn dominant_tone(f: &Frame) -> Option<usize> {
    let n = f.samples.len() as f32;
    let mut best = (0.0f32, None);
    for i in 0..TONES {
        let w = std::f32::consts::TAU * tone_freq(i) / f.rate as f32;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f32, 0.0f32);
        for &x in &f.samples {
            let s = f32::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n);
        if power > best.0 {
            best = (power, Some(i));
        }
    }
    best.1
}

fn authorised(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer ") && v.len() > 7)
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})),
    )
        .into_response()
}

fn lat(st: &Shared) -> Latencies {
    *st.lat.lock().unwrap_or_else(|p| p.into_inner())
}

async fn transcribe(
    State(st): State<Arc<Shared>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    // The answer is due the set latency after the request came, however long the fake's own
    // work (recognising the clip) takes: that is the provider's time, not the caller's.
    let due = tokio::time::Instant::now() + lat(&st).stt;
    let (mut file, mut name) = (Vec::new(), String::new());
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("file") {
            name = field.file_name().unwrap_or_default().to_string();
            file = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        }
    }
    // Telegram voice notes in tests carry their words after a marker (no Opus encoder here).
    if name.ends_with(".ogg") || name.ends_with(".oga") {
        let text = String::from_utf8_lossy(&file);
        let words = text
            .split_once("FAKE-OPUS:")
            .map(|(_, w)| w.trim().to_string());
        tokio::time::sleep_until(due).await;
        return match words {
            Some(w) => Json(json!({"text": w})).into_response(),
            None => (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": "Invalid file format.", "type": "invalid_request_error"}}))).into_response(),
        };
    }
    let taught = st.taught.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // Recognising is CPU work: off the instruments' async threads, which also run the callees.
    let recognised = tokio::task::spawn_blocking(move || {
        let pcm = crate::speech::audio::decode(&file, Some("wav")).ok()?;
        let samples: Vec<i16> = pcm.channels[0]
            .iter()
            .map(|&x| (x * 32768.0).clamp(-32768.0, 32767.0) as i16)
            .collect();
        let text = simulated::identify_among(
            &samples,
            pcm.sample_rate,
            taught.iter().map(|(s, _)| s.as_slice()),
        )
        .map(|i| taught[i].1.clone())
        .or_else(|| simulated::transcribe(&samples, pcm.sample_rate))
        .unwrap_or_default();
        Some((text, pcm.duration_ms() / 1000))
    })
    .await
    .ok()
    .flatten();
    let Some((text, seconds)) = recognised else {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": "Invalid file format.", "type": "invalid_request_error"}}))).into_response();
    };
    tokio::time::sleep_until(due).await;
    Json(json!({"text": text, "usage": {"type": "duration", "seconds": seconds}})).into_response()
}

/// The fake salesperson: a reply (text, tool calls) for the conversation so far.
fn respond(messages: &[Value]) -> (String, Vec<(String, Value)>) {
    let last = messages.last().cloned().unwrap_or(Value::Null);
    if last["role"] == "tool" {
        return (
            "Спасибо, записала. Хорошего дня, до свидания!".into(),
            vec![("end_call".into(), json!({"reason": "контакт получен"}))],
        );
    }
    let user = last["content"].as_str().unwrap_or("").to_lowercase();
    if user.contains("иван") {
        return (
            String::new(),
            vec![
                (
                    "save_contact".into(),
                    json!({"name": "Иван", "role": "директор", "phone": "+79161234567"}),
                ),
                (
                    "set_outcome".into(),
                    json!({"category": "interested", "reason": "оставил контакт"}),
                ),
            ],
        );
    }
    if user.contains("перезвоните") {
        return (
            "Хорошо, перезвоню завтра в десять. До свидания!".into(),
            vec![
                (
                    "schedule_callback".into(),
                    json!({"when": "завтра в 10:00"}),
                ),
                ("end_call".into(), json!({"reason": "перезвонить"})),
            ],
        );
    }
    if user.contains("дорого") {
        return (
            "Понимаю. У нас есть варианты от тысячи восьмисот рублей за метр. Давайте подберу под ваш бюджет?".into(),
            vec![("set_stage".into(), json!({"stage": "objections"}))],
        );
    }
    if user.contains("интересно") {
        return ("Конечно. У нас офисы от тридцати до трёхсот метров у метро. Первый месяц без комиссии. Бизнес-центры класса B плюс. Как к вам обращаться?".into(), vec![]);
    }
    if user.contains("вопрос") {
        return ("Да, конечно, слушаю вас.".into(), vec![]);
    }
    if user.contains("до свидания") {
        return (
            "Всего доброго, до свидания!".into(),
            vec![("end_call".into(), json!({"reason": "попрощались"}))],
        );
    }
    if user.contains("слушаю") || user.contains("алло") {
        return (
            "Отлично! Скажите, ваша компания сейчас ищет офис?".into(),
            vec![],
        );
    }
    (
        "Поняла вас. Расскажите, пожалуйста, подробнее?".into(),
        vec![],
    )
}

fn sse(v: Value) -> Result<Bytes, Infallible> {
    Ok(Bytes::from(format!("data: {v}\n\n")))
}

async fn chat(
    State(st): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    st.chat_requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(body.clone());
    if st
        .chat_failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": {"message": "The server is overloaded", "type": "server_error"}})),
        )
            .into_response();
    }
    let model = body["model"].as_str().unwrap_or("gpt-4o-mini").to_string();
    if body["stream"] != true {
        let answer = st
            .analysis_answer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        return Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}
        }))
        .into_response();
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let (text, tools) = respond(&messages);
    let ttft = lat(&st).llm_ttft;
    let base = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model});
    let stream = async_stream(move |tx| async move {
        tokio::time::sleep(ttft).await;
        let chunk = |delta: Value, finish: Value| {
            let mut c = base.clone();
            c["choices"] = json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
            c
        };
        let _ = tx
            .send(sse(chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            )))
            .await;
        let words: Vec<&str> = text.split_inclusive(' ').collect();
        for w in words.chunks(2) {
            let _ = tx
                .send(sse(chunk(json!({"content": w.concat()}), Value::Null)))
                .await;
        }
        for (i, (name, args)) in tools.iter().enumerate() {
            let a = args.to_string();
            let mut mid = a.len() / 2;
            while !a.is_char_boundary(mid) {
                mid += 1;
            }
            let (a1, a2) = a.split_at(mid);
            let _ = tx.send(sse(chunk(json!({"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": a1}}]}), Value::Null))).await;
            let _ = tx
                .send(sse(chunk(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": a2}}]}),
                    Value::Null,
                )))
                .await;
        }
        let finish = if tools.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        let _ = tx.send(sse(chunk(json!({}), json!(finish)))).await;
        let mut usage = base.clone();
        usage["choices"] = json!([]);
        usage["usage"] =
            json!({"prompt_tokens": 400, "completion_tokens": 40, "total_tokens": 440});
        let _ = tx.send(sse(usage)).await;
        let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn speech(
    State(st): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let text = body["input"].as_str().unwrap_or("").to_string();
    if text.is_empty() || text.chars().count() > 4096 {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": {"message": "input must be 1..4096 characters", "type": "invalid_request_error"}}))).into_response();
    }
    let lat = lat(&st);
    let idx = {
        let mut tones = st.tones.lock().unwrap_or_else(|p| p.into_inner());
        let n = tones.len();
        *tones.entry(text.clone()).or_insert(n % TONES)
    };
    st.texts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(text.clone());
    if body["response_format"] == "opus" {
        tokio::time::sleep(lat.tts_ttfb).await;
        // Not real Opus (no encoder here): an OGG-looking body that names the text.
        let bytes = format!("OggS\0FAKE-OPUS:{text}").into_bytes();
        return Response::builder()
            .header("content-type", "audio/ogg")
            .body(Body::from(bytes))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let rate = 24000.0;
    let total = (text.chars().count() as u64 * lat.tts_ms_per_char * 24) as usize;
    let freq = tone_freq(idx);
    let stream = async_stream(move |tx| async move {
        tokio::time::sleep(lat.tts_ttfb).await;
        let mut i = 0usize;
        while i < total {
            let n = (total - i).min(2400);
            let mut bytes = Vec::with_capacity(n * 2);
            for k in i..i + n {
                let s = ((k as f32 * freq * std::f32::consts::TAU / rate).sin() * 8000.0) as i16;
                bytes.extend_from_slice(&s.to_le_bytes());
            }
            i += n;
            if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn async_stream<F, Fut>(producer: F) -> impl futures::Stream<Item = Result<Bytes, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(producer(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|i| (i, rx)) })
}

/// The words heard so far: each finished stretch of speech whole, then the share of the last
/// one's words that its share of audio holds (as a streaming vendor's interim text grows word by
/// word).
fn words_so_far(samples: &[i16], rate: u32) -> Option<String> {
    let stretches = simulated::speech_stretches(samples, rate);
    let (last, done) = stretches.split_last()?;
    let mut words: Vec<String> = done
        .iter()
        .filter_map(|s| simulated::identify(s, rate))
        .map(str::to_string)
        .collect();
    words.extend(words_of_stretch(last, rate));
    Some(words.join(" ")).filter(|w| !w.is_empty())
}

/// The words of a callee clip heard so far, without the final punctuation until the whole clip
/// was heard.
fn words_of_stretch(samples: &[i16], rate: u32) -> Option<String> {
    let clips = simulated::clips();
    let heard = samples.len() as f64 * 8000.0 / f64::from(rate.max(1));
    // Compared with the same length of each clip: the start of a long phrase is not a short one.
    let len = heard as usize;
    // Only phrases at least as long as what was heard so far can be the one being said.
    let envelopes = simulated::clip_envelopes();
    let long_enough: Vec<usize> = (0..clips.len())
        .filter(|&c| clips[c].samples.len() as f64 >= heard * 0.9)
        .collect();
    // Each clip's start as long as what was heard: a prefix of its envelope.
    let blocks = len / simulated::ENVELOPE_BLOCK;
    let i = simulated::best_match(
        samples,
        rate,
        long_enough
            .iter()
            .map(|&c| &envelopes[c][..blocks.min(envelopes[c].len())]),
    )?;
    let clip = &clips[long_enough[i]];
    let share = (heard / clip.samples.len().max(1) as f64).min(1.0);
    let words: Vec<&str> = clip.text.split_whitespace().collect();
    let n = ((words.len() as f64 * share).floor() as usize).min(words.len());
    let text = words[..n].join(" ");
    Some(if share < 0.98 {
        text.trim_end_matches(['.', '!', '?', ',', ':']).to_string()
    } else {
        text
    })
}

/// A streaming recogniser for the benchmark, in process (no network): it recognises the callee's
/// clips as the audio comes (an interim text every 100 ms of audio: the words heard so far)
/// and gives the final `final_latency` after the turn ends, as a streaming vendor does.
pub struct FakeSpeechStream {
    pub final_latency: Duration,
}

#[async_trait::async_trait]
impl crate::speech::streaming::SpeechStream for FakeSpeechStream {
    fn vendor(&self) -> &'static str {
        "bench"
    }

    async fn recognize(
        &self,
        rate: u32,
        mut input: tokio::sync::mpsc::UnboundedReceiver<crate::speech::streaming::StreamInput>,
        interim: crate::speech::streaming::Interim,
    ) -> Result<String, crate::speech::streaming::StreamError> {
        use crate::speech::streaming::StreamInput;
        let mut samples: Vec<i16> = Vec::new();
        let step = rate as usize / 10;
        let mut next = step;
        while let Some(i) = input.recv().await {
            match i {
                StreamInput::Audio(bytes) => {
                    samples.extend(
                        bytes
                            .chunks_exact(2)
                            .map(|b| i16::from_le_bytes([b[0], b[1]])),
                    );
                    if samples.len() >= next {
                        next += step;
                        let so_far = samples.clone();
                        let text = tokio::task::spawn_blocking(move || words_so_far(&so_far, rate))
                            .await
                            .ok()
                            .flatten();
                        if let Some(t) = text {
                            interim.set(&t);
                        }
                    }
                }
                StreamInput::End => break,
            }
        }
        let due = tokio::time::Instant::now() + self.final_latency;
        let text = tokio::task::spawn_blocking(move || simulated::transcribe(&samples, rate))
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        tokio::time::sleep_until(due).await;
        Ok(text)
    }
}

impl AgentFakes {
    /// As [`AgentFakes::agent_deps`], with a streaming recogniser whose final comes
    /// `final_latency` after the turn ends (batch recognition at these fakes as its fallback).
    pub fn agent_deps_streaming(&self, final_latency: Duration) -> crate::agent::AgentDeps {
        use crate::speech::streaming::StreamingRecognizer;
        use crate::speech::OpenAiStt;
        let mut deps = self.agent_deps();
        let fallback = OpenAiStt::new(&self.base_url, "sk-bench", "gpt-4o-mini-transcribe")
            .with_backoff(Duration::from_millis(100), Duration::from_secs(10))
            .with_attempts(2);
        deps.recognizer = Arc::new(StreamingRecognizer::new(
            Arc::new(FakeSpeechStream { final_latency }),
            Arc::new(fallback),
        ));
        deps
    }
}
