//! A local fake of the Telegram Bot API: `POST /bot{token}/{method}` (method names matched
//! case-insensitively, as teloxide sends PascalCase), long-polled `getUpdates`, Telegram's length
//! limits, 429 with `retry_after`, and switches to stall or fail sends.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

pub const TOKEN: &str = "123456:TEST-token_abc";

/// A request the bot made.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub body: Value,
}

#[derive(Default)]
pub struct FakeState {
    pub requests: Mutex<Vec<Recorded>>,
    /// Bodies of sendMessage requests that were answered with success.
    pub delivered: Mutex<Vec<Value>>,
    updates: Mutex<VecDeque<Value>>,
    next_update_id: AtomicI64,
    next_message_id: AtomicI64,
    new_update: Notify,
    /// Answer the next N sendMessage calls with 429 retry_after=1.
    pub rate_limit_next: AtomicU32,
    /// Hold sendMessage requests forever (to kill the client mid-request).
    pub stall_sends: AtomicBool,
    /// Count of sendMessage requests answered successfully.
    pub sent_ok: AtomicI64,
    /// Answer the next N sendMessage calls with a JSON 500 (as Telegram does when it is unwell).
    pub fail_next_500: AtomicU32,
    /// sendMessage to this chat answers 403 (the bot was removed from it). 0 = off.
    pub forbidden_chat: AtomicI64,
    /// Once: deliver the next sendMessage, then SIGSTOP this process id before answering (a worker
    /// that stalls mid-send, as a paused VM does). 0 = off.
    pub stop_pid_on_send: AtomicI64,
    /// Count of sendDocument requests.
    pub documents: AtomicI64,
    pub photos: AtomicI64,
    pub albums: AtomicI64,
    /// Files users "uploaded" (voice notes), by file_id; served by getFile and `/file/bot…/path`.
    files: Mutex<HashMap<String, Vec<u8>>>,
    /// sendVoice requests: their multipart fields, the voice bytes under `"voice_bytes"`.
    pub voices: Mutex<Vec<Value>>,
    /// Answer file downloads with 404 (the file expired on Telegram's side).
    pub files_gone: AtomicBool,
    /// getUpdates requests in flight, and those that came while another was (Telegram answers
    /// them 409 Conflict).
    polling: AtomicI64,
    conflicts: AtomicI64,
}

/// Counts a getUpdates in flight while it lives (a client that drops the request ends it too).
struct Polling<'a>(&'a AtomicI64);

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct FakeTelegram {
    pub url: String,
    pub state: Arc<FakeState>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        callops::http::install_crypto();
        let state = Arc::new(FakeState {
            next_update_id: AtomicI64::new(1),
            next_message_id: AtomicI64::new(100),
            ..FakeState::default()
        });
        let app = Router::new()
            .route("/{token}/{method}", post(handle))
            .route("/file/{token}/{*path}", get(download))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            state,
            _task: task,
        }
    }

    fn push_update(&self, update: Value) {
        self.state.updates.lock().expect("lock").push_back(update);
        self.state.new_update.notify_waiters();
    }

    /// Takes the queued updates out, for a test that delivers them itself (webhook mode).
    pub fn take_updates(&self) -> Vec<Value> {
        self.state.updates.lock().expect("lock").drain(..).collect()
    }

    /// Queues a text message from a user in a chat.
    pub fn send_text(&self, chat_id: i64, user_id: u64, lang: &str, text: &str) {
        let chat = chat_json(chat_id);
        let id = self.state.next_update_id.fetch_add(1, Ordering::SeqCst);
        let mut message = json!({
            "message_id": 1000 + id,
            "date": 1_763_700_000,
            "chat": chat,
            "from": {"id": user_id, "is_bot": false, "first_name": "Иван", "language_code": lang},
            "text": text,
        });
        if text.starts_with('/') {
            let len = text
                .split_whitespace()
                .next()
                .map_or(0, |w| w.chars().count());
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        self.push_update(json!({"update_id": id, "message": message}));
    }

    /// Queues a text message that replies to message `reply_to` (sent by the bot) in a chat.
    pub fn send_reply(&self, chat_id: i64, user_id: u64, text: &str, reply_to: i64) {
        let chat = chat_json(chat_id);
        let id = self.state.next_update_id.fetch_add(1, Ordering::SeqCst);
        let message = json!({
            "message_id": 1000 + id,
            "date": 1_763_700_000,
            "chat": chat.clone(),
            "from": {"id": user_id, "is_bot": false, "first_name": "Иван", "language_code": "ru"},
            "text": text,
            "reply_to_message": {"message_id": reply_to, "date": 1_763_700_000, "chat": chat,
                "from": {"id": 123456, "is_bot": true, "first_name": "callops"}, "text": "status"},
        });
        self.push_update(json!({"update_id": id, "message": message}));
    }

    /// Queues a voice note (OGG bytes as Telegram would store them) from a user in a private chat.
    pub fn send_voice(&self, chat_id: i64, user_id: u64, ogg: &[u8], duration: u32) {
        let id = self.state.next_update_id.fetch_add(1, Ordering::SeqCst);
        let file_id = format!("AwACAgIAAxkBAAI{id}");
        self.state
            .files
            .lock()
            .expect("lock")
            .insert(file_id.clone(), ogg.to_vec());
        let message = json!({
            "message_id": 1000 + id,
            "date": 1_763_700_000,
            "chat": chat_json(chat_id),
            "from": {"id": user_id, "is_bot": false, "first_name": "Иван", "language_code": "ru"},
            "voice": {"file_id": file_id, "file_unique_id": format!("u{id}"), "duration": duration,
                      "mime_type": "audio/ogg", "file_size": ogg.len()},
        });
        self.push_update(json!({"update_id": id, "message": message}));
    }

    /// Queues a document (a file the user attached) with a caption.
    pub fn send_document(
        &self,
        chat_id: i64,
        user_id: u64,
        name: &str,
        bytes: &[u8],
        caption: &str,
    ) {
        let id = self.state.next_update_id.fetch_add(1, Ordering::SeqCst);
        let file_id = format!("BQACAgIAAxkBAAI{id}");
        self.state
            .files
            .lock()
            .expect("lock")
            .insert(file_id.clone(), bytes.to_vec());
        let message = json!({
            "message_id": 1000 + id,
            "date": 1_763_700_000,
            "chat": chat_json(chat_id),
            "from": {"id": user_id, "is_bot": false, "first_name": "Иван", "language_code": "ru"},
            "document": {"file_id": file_id, "file_unique_id": format!("u{id}"), "file_name": name,
                         "mime_type": "text/csv", "file_size": bytes.len()},
            "caption": caption,
        });
        self.push_update(json!({"update_id": id, "message": message}));
    }

    /// sendVoice requests to `chat_id`: (caption, voice bytes).
    pub fn voices_to(&self, chat_id: i64) -> Vec<(String, Vec<u8>)> {
        self.state
            .voices
            .lock()
            .expect("lock")
            .iter()
            .filter(|v| v["chat_id"].as_str().and_then(|c| c.parse::<i64>().ok()) == Some(chat_id))
            .map(|v| {
                let bytes = v["voice_bytes"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|b| b.as_u64().map(|b| b as u8))
                            .collect()
                    })
                    .unwrap_or_default();
                (v["caption"].as_str().unwrap_or("").to_string(), bytes)
            })
            .collect()
    }

    /// Queues a press of an inline button under message `message_id` in `chat_id`.
    pub fn press_button(&self, chat_id: i64, message_id: i64, user_id: u64, data: &str) {
        let id = self.state.next_update_id.fetch_add(1, Ordering::SeqCst);
        let chat = chat_json(chat_id);
        let update = json!({"update_id": id, "callback_query": {
            "id": format!("cb{id}"),
            "from": {"id": user_id, "is_bot": false, "first_name": "Ольга", "username": format!("user{user_id}"), "language_code": "ru"},
            "chat_instance": "1",
            "data": data,
            "message": {"message_id": message_id, "date": 1_763_700_000, "chat": chat, "text": "protocol",
                        "from": {"id": 123456, "is_bot": true, "first_name": "callops"}},
        }});
        self.push_update(update);
    }

    /// Bodies of successful sendMessage calls to `chat_id`.
    pub fn delivered_to(&self, chat_id: i64) -> Vec<Value> {
        self.state
            .delivered
            .lock()
            .expect("lock")
            .iter()
            .filter(|b| b["chat_id"].as_i64() == Some(chat_id))
            .cloned()
            .collect()
    }

    /// Requests made with `method` (case-insensitive).
    pub fn calls(&self, method: &str) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// Texts of successful sendMessage calls to `chat_id`.
    /// getUpdates requests that came while another was in flight (two long pollers).
    pub fn conflicts(&self) -> i64 {
        self.state.conflicts.load(Ordering::SeqCst)
    }

    pub fn texts_to(&self, chat_id: i64) -> Vec<String> {
        self.state
            .delivered
            .lock()
            .expect("lock")
            .iter()
            .filter(|b| b["chat_id"].as_i64() == Some(chat_id))
            .filter_map(|b| b["text"].as_str().map(str::to_string))
            .collect()
    }
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn err(status: StatusCode, code: i64, description: &str, params: Option<Value>) -> Response {
    let mut body = json!({"ok": false, "error_code": code, "description": description});
    if let Some(p) = params {
        body["parameters"] = p;
    }
    (status, Json(body)).into_response()
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The fields of a `multipart/form-data` body: text fields as strings, file fields as byte arrays
/// (under `"<name>_bytes"`, with the file name under `"<name>"`).
fn multipart_fields(content_type: &str, body: &[u8]) -> Value {
    let mut out = json!({});
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
    else {
        return out;
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let d = delimiter.as_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    for w in starts.windows(2) {
        let part = &body[w[0] + d.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let Some(split) = part.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let content = &part[split + 4..];
        let attr = |key: &str| {
            head.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix(&format!("{key}=\""))
                    .and_then(|v| v.split('"').next())
                    .map(str::to_string)
            })
        };
        let Some(name) = attr("name") else { continue };
        match attr("filename") {
            Some(file) => {
                out[&name] = json!(file);
                out[format!("{name}_bytes")] = json!(content);
            }
            None => out[&name] = json!(String::from_utf8_lossy(content)),
        }
    }
    // `"voice": "attach://<part>"` names the part that carries the file.
    let attached: Vec<(String, Value)> = out
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| {
                    let part = v.as_str()?.strip_prefix("attach://")?;
                    Some((
                        format!("{k}_bytes"),
                        o.get(&format!("{part}_bytes"))?.clone(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    for (k, v) in attached {
        out[k] = v;
    }
    out
}

async fn download(
    State(st): State<Arc<FakeState>>,
    Path((token, path)): Path<(String, String)>,
) -> Response {
    if token != format!("bot{TOKEN}") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if st.files_gone.load(Ordering::SeqCst) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let id = path
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(".oga");
    match st.files.lock().expect("lock").get(id) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn handle(
    State(st): State<Arc<FakeState>>,
    Path((token, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if token != format!("bot{TOKEN}") {
        return err(StatusCode::UNAUTHORIZED, 401, "Unauthorized", None);
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body: Value = if content_type.starts_with("multipart/form-data") {
        multipart_fields(content_type, &body)
    } else {
        serde_json::from_slice(&body).unwrap_or(json!({}))
    };
    let m = method.to_ascii_lowercase();
    if m != "getupdates" {
        st.requests.lock().expect("lock").push(Recorded {
            method: method.clone(),
            body: body.clone(),
        });
    }
    match m.as_str() {
        "getme" => ok(json!({
            "id": 123456, "is_bot": true, "first_name": "callops", "username": "callops_test_bot",
            "can_join_groups": true, "can_read_all_group_messages": false,
            "supports_inline_queries": false, "has_main_web_app": false
        })),
        "getwebhookinfo" => {
            ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}))
        }
        "getupdates" => {
            if st.polling.fetch_add(1, Ordering::SeqCst) > 0 {
                st.polling.fetch_sub(1, Ordering::SeqCst);
                st.conflicts.fetch_add(1, Ordering::SeqCst);
                return err(
                    StatusCode::CONFLICT,
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    None,
                );
            }
            let _polling = Polling(&st.polling);
            let offset = body["offset"].as_i64().unwrap_or(0);
            let timeout = body["timeout"].as_u64().unwrap_or(0).min(1);
            let take = |st: &FakeState| {
                let mut q = st.updates.lock().expect("lock");
                q.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                q.iter().cloned().collect::<Vec<_>>()
            };
            let mut items = take(&st);
            if items.is_empty() && timeout > 0 {
                let _ =
                    tokio::time::timeout(Duration::from_secs(timeout), st.new_update.notified())
                        .await;
                items = take(&st);
            }
            ok(Value::Array(items))
        }
        "sendmessage" => {
            let text = body["text"].as_str().unwrap_or("");
            if text.is_empty() {
                return err(
                    StatusCode::BAD_REQUEST,
                    400,
                    "Bad Request: message text is empty",
                    None,
                );
            }
            if utf16_len(text) > 4096 {
                return err(
                    StatusCode::BAD_REQUEST,
                    400,
                    "Bad Request: message is too long",
                    None,
                );
            }
            if st.stall_sends.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let forbidden = st.forbidden_chat.load(Ordering::SeqCst);
            if forbidden != 0 && body["chat_id"].as_i64() == Some(forbidden) {
                return err(
                    StatusCode::FORBIDDEN,
                    403,
                    "Forbidden: bot was kicked from the supergroup chat",
                    None,
                );
            }
            if st
                .fail_next_500
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return err(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    500,
                    "Internal Server Error",
                    None,
                );
            }
            let stop = st.stop_pid_on_send.swap(0, Ordering::SeqCst);
            if stop != 0 {
                st.sent_ok.fetch_add(1, Ordering::SeqCst);
                let id = st.next_message_id.fetch_add(1, Ordering::SeqCst);
                let mut recorded = body.clone();
                recorded["assigned_message_id"] = json!(id);
                st.delivered.lock().expect("lock").push(recorded);
                let _ = std::process::Command::new("kill")
                    .args(["-STOP", &stop.to_string()])
                    .status();
                return ok(message_json(id, &body));
            }
            if st
                .rate_limit_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return err(
                    StatusCode::TOO_MANY_REQUESTS,
                    429,
                    "Too Many Requests: retry after 1",
                    Some(json!({"retry_after": 1})),
                );
            }
            st.sent_ok.fetch_add(1, Ordering::SeqCst);
            let id = st.next_message_id.fetch_add(1, Ordering::SeqCst);
            let mut recorded = body.clone();
            recorded["assigned_message_id"] = json!(id);
            st.delivered.lock().expect("lock").push(recorded);
            ok(message_json(id, &body))
        }
        "sendphoto" => {
            st.photos.fetch_add(1, Ordering::SeqCst);
            let id = st.next_message_id.fetch_add(1, Ordering::SeqCst);
            ok(message_json(id, &json!({"chat_id": 0, "text": "photo"})))
        }
        "sendmediagroup" => {
            st.albums.fetch_add(1, Ordering::SeqCst);
            let id = st.next_message_id.fetch_add(1, Ordering::SeqCst);
            ok(json!([message_json(
                id,
                &json!({"chat_id": 0, "text": "album"})
            )]))
        }
        "senddocument" => {
            st.documents.fetch_add(1, Ordering::SeqCst);
            let id = st.next_message_id.fetch_add(1, Ordering::SeqCst);
            ok(message_json(id, &json!({"chat_id": 0, "text": "document"})))
        }
        "getfile" => {
            let id = body["file_id"].as_str().unwrap_or("").to_string();
            match st.files.lock().expect("lock").get(&id) {
                Some(bytes) => ok(json!({"file_id": id, "file_unique_id": format!("u-{id}"),
                    "file_size": bytes.len(), "file_path": format!("voice/{id}.oga")})),
                None => err(
                    StatusCode::BAD_REQUEST,
                    400,
                    "Bad Request: invalid file_id",
                    None,
                ),
            }
        }
        "sendaudio" => {
            let id = st.next_message_id.fetch_add(1, Ordering::SeqCst);
            let chat_id = body["chat_id"]
                .as_str()
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or(0);
            ok(message_json(
                id,
                &json!({"chat_id": chat_id, "text": body["caption"].clone()}),
            ))
        }
        "sendvoice" => {
            let id = st.next_message_id.fetch_add(1, Ordering::SeqCst);
            st.voices.lock().expect("lock").push(body.clone());
            let chat_id = body["chat_id"]
                .as_str()
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or(0);
            ok(message_json(
                id,
                &json!({"chat_id": chat_id, "text": body["caption"].clone()}),
            ))
        }
        "editmessagetext" => {
            let id = body["message_id"].as_i64().unwrap_or(0);
            ok(message_json(id, &body))
        }
        "getchatmember" => {
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            let forbidden = st.forbidden_chat.load(Ordering::SeqCst);
            if forbidden != 0 && chat == forbidden {
                return err(
                    StatusCode::BAD_REQUEST,
                    400,
                    "Bad Request: chat not found",
                    None,
                );
            }
            ok(json!({
                "status": "administrator", "can_post_messages": true,
                "user": {"id": body["user_id"], "is_bot": true, "first_name": "callops"}
            }))
        }
        _ => ok(json!(true)),
    }
}

/// A private chat for positive ids (users), the team supergroup otherwise.
fn chat_json(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({"id": chat_id, "type": "private", "first_name": "Иван"})
    } else {
        json!({"id": chat_id, "type": "supergroup", "title": "Отдел продаж"})
    }
}

fn message_json(id: i64, body: &Value) -> Value {
    let chat_id = body["chat_id"].as_i64().unwrap_or(0);
    let chat = chat_json(chat_id);
    json!({
        "message_id": id, "date": 1_763_700_000, "chat": chat,
        "from": {"id": 123456, "is_bot": true, "first_name": "callops", "username": "callops_test_bot"},
        "text": body["text"].clone(),
    })
}
