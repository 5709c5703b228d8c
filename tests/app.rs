//! The real app (`app::start` on 127.0.0.1:0) against a local fake Telegram Bot API: health,
//! metrics, the API key, `/start` and `/help` with access control and languages, and posting
//! through the durable `telegram.send` job (split, 429, exactly once).

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use callops::config::Purpose;
use callops::notify::PostRequest;
use callops::store::JobState;
use callops::workers::telegram_send;
use common::fake_telegram::{FakeTelegram, TOKEN};

const ADMIN: u64 = 1001;
const STRANGER: u64 = 5555;
const TEAM_CHAT: i64 = -1_001_234;

async fn start_app(
    tg: Option<&FakeTelegram>,
    api_key: Option<&str>,
) -> (callops::app::RunningApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/app.db", dir.path().display());
    let admins = ADMIN.to_string();
    let team = TEAM_CHAT.to_string();
    let mut pairs = vec![
        ("DATABASE_URL", db.as_str()),
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("TELEGRAM_ADMINS", admins.as_str()),
        ("TELEGRAM_CHAT_ID", team.as_str()),
        ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
        ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
    ];
    if let Some(tg) = tg {
        pairs.push(("TELEGRAM_BOT_TOKEN", TOKEN));
        pairs.push(("TELEGRAM_API_URL", tg.url.as_str()));
    }
    if let Some(k) = api_key {
        pairs.push(("API_KEY", k));
    }
    let cfg = common::config(&pairs, Purpose::Tooling);
    let app = callops::app::start(cfg).await.expect("app starts");
    (app, dir)
}

// Two threads: the healthcheck child process blocks this one while the server answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_ready_probes_and_the_healthcheck_command() {
    let (app, _d) = start_app(None, None).await;
    let base = format!("http://{}", app.http_addr);
    let resp = reqwest::get(format!("{base}/health/live")).await.unwrap();
    assert_eq!(resp.status(), 200);
    common::eventually(10, "ready once the pool visits the queue", || {
        let base = base.clone();
        async move {
            matches!(reqwest::get(format!("{base}/health/ready")).await, Ok(r) if r.status() == 200)
        }
    })
    .await;
    let body: serde_json::Value = reqwest::get(format!("{base}/health/ready"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&body["database"], &body["migrations"], &body["queue"]),
        (&"ok".into(), &"ok".into(), &"ok".into())
    );
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_callops"))
        .arg("healthcheck")
        .env("HTTP_ADDR", app.http_addr.to_string())
        .env_remove("CALLOPS_CONFIG")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    app.store.close().await;
    let resp = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "does not answer");
    let down = std::process::Command::new(env!("CARGO_BIN_EXE_callops"))
        .arg("healthcheck")
        .env("HTTP_ADDR", app.http_addr.to_string())
        .env_remove("CALLOPS_CONFIG")
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert_eq!(
        reqwest::get(format!("{base}/health/live"))
            .await
            .unwrap()
            .status(),
        200,
        "alive, only not ready"
    );
    app.stop().await;
}

#[tokio::test]
async fn health_reports_version_and_turns_503_without_database() {
    let (app, _d) = start_app(None, Some("k3y")).await;
    let base = format!("http://{}", app.http_addr);
    let resp = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_secs"].is_u64());

    app.store.close().await;
    let resp = reqwest::get(format!("{base}/health")).await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(
        body["database"], "error",
        "no database error text for anyone: {body}"
    );
    let resp = reqwest::Client::new()
        .get(format!("{base}/health"))
        .header("X-API-Key", "k3y")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["database"].as_str().unwrap().len() > "error: ".len(),
        "details for a logged-in caller: {body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn api_needs_the_key_and_is_off_without_one() {
    let (app, _d) = start_app(None, None).await;
    let url = format!("http://{}/api/jobs", app.http_addr);
    let resp = reqwest::Client::new()
        .get(&url)
        .header("X-API-Key", "anything")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "API_KEY unset: the API is off");
    app.stop().await;

    let (app, _d) = start_app(None, Some("s3cret-key")).await;
    let base = format!("http://{}", app.http_addr);
    let c = reqwest::Client::new();
    assert_eq!(
        c.get(format!("{base}/api/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(format!("{base}/api/jobs"))
            .header("X-API-Key", "wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let ok = c
        .get(format!("{base}/api/jobs"))
        .header("X-API-Key", "s3cret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.json().await.unwrap();
    assert!(body["jobs"].is_array());
    let missing = c
        .get(format!("{base}/api/jobs/424242"))
        .header("X-API-Key", "s3cret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn metrics_expose_jobs_and_http_requests() {
    let (app, _d) = start_app(None, None).await;
    app.store
        .enqueue(callops::store::NewJob::new(
            "probe.kind",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let base = format!("http://{}", app.http_addr);
    reqwest::get(format!("{base}/health")).await.unwrap();
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("callops_jobs{kind=\"probe.kind\",state=\"queued\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("callops_http_requests_total{route=\"/health\""),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn start_and_help_answer_allowed_users_in_their_language() {
    let tg = FakeTelegram::start().await;
    let (app, _d) = start_app(Some(&tg), None).await;
    tg.send_text(ADMIN as i64, ADMIN, "ru", "/start");
    common::eventually(15, "reply to /start", || async {
        !tg.texts_to(ADMIN as i64).is_empty()
    })
    .await;
    let reply = &tg.texts_to(ADMIN as i64)[0];
    assert!(
        reply.contains("Здравствуйте") && reply.contains("администратор"),
        "{reply}"
    );

    tg.send_text(ADMIN as i64, ADMIN, "en", "/help");
    common::eventually(10, "reply to /help", || async {
        tg.texts_to(ADMIN as i64).len() >= 2
    })
    .await;
    let help = &tg.texts_to(ADMIN as i64)[1];
    assert!(
        help.contains("/start") && help.contains("list of commands"),
        "{help}"
    );

    tg.send_text(TEAM_CHAT, 777, "ru", "/start");
    common::eventually(10, "reply in the team chat", || async {
        !tg.texts_to(TEAM_CHAT).is_empty()
    })
    .await;
    assert!(
        tg.texts_to(TEAM_CHAT)[0].contains("наблюдатель"),
        "team chat members are viewers"
    );

    let menus = tg.calls("setMyCommands");
    assert_eq!(menus.len(), 2, "ru and en command menus");
    app.stop().await;
}

#[tokio::test]
async fn strangers_get_a_polite_refusal_with_their_id() {
    let tg = FakeTelegram::start().await;
    let (app, _d) = start_app(Some(&tg), None).await;
    tg.send_text(STRANGER as i64, STRANGER, "ru", "/start");
    common::eventually(15, "refusal", || async {
        !tg.texts_to(STRANGER as i64).is_empty()
    })
    .await;
    let text = &tg.texts_to(STRANGER as i64)[0];
    assert!(
        text.contains("нет доступа") && text.contains(&STRANGER.to_string()),
        "{text}"
    );
    assert!(!text.contains("Здравствуйте"));

    // An unconfigured group: even a member gets only the refusal.
    tg.send_text(-999, STRANGER, "en", "/help");
    common::eventually(10, "refusal in a foreign group", || async {
        !tg.texts_to(-999).is_empty()
    })
    .await;
    assert!(tg.texts_to(-999)[0].contains("do not have access"));
    app.stop().await;
}

#[tokio::test]
async fn a_long_post_is_split_and_sent_exactly_once_despite_429() {
    let tg = FakeTelegram::start().await;
    tg.state.rate_limit_next.store(1, Ordering::SeqCst);
    let (app, _d) = start_app(Some(&tg), None).await;
    let line = "📞 ВХОДЯЩИЙ ЗВОНОК: строка протокола, достаточно длинная, чтобы занять место.\n";
    let req = PostRequest {
        post_key: "test:long".into(),
        chat_id: TEAM_CHAT,
        text: line.repeat(120),
        format: Default::default(),
        call_id: None,
        kind: callops::domain::PostKind::Notice,
        keyboard: None,
        reply_to: None,
        silent: false,
        topic: None,
    };
    let job = telegram_send::job(&req).unwrap();
    let id = app.store.enqueue(job.clone()).await.unwrap().id;
    let again = app.store.enqueue(job).await.unwrap();
    assert!(
        !again.created && again.id == id,
        "the same post key is one job"
    );

    let store = app.store.clone();
    common::eventually(20, "post job done", || {
        let store = store.clone();
        async move { store.job(id).await.unwrap().unwrap().state == JobState::Done }
    })
    .await;
    let texts = tg.texts_to(TEAM_CHAT);
    assert_eq!(texts.len(), 3, "120 lines of ~80 chars need 3 messages");
    assert!(texts
        .iter()
        .all(|t| t.chars().map(char::len_utf16).sum::<usize>() <= 4096));
    assert_eq!(texts.concat().matches("📞").count(), 120, "nothing lost");
    assert_eq!(tg.state.sent_ok.load(Ordering::SeqCst), 3);
    assert_eq!(tg.calls("sendMessage").len(), 4, "one 429, then retried");

    // Running the job again (as after a crash before completion) sends nothing new.
    assert!(app.store.requeue(id).await.unwrap());
    let store = app.store.clone();
    common::eventually(20, "re-run done", || {
        let store = store.clone();
        async move { store.job(id).await.unwrap().unwrap().state == JobState::Done }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        tg.state.sent_ok.load(Ordering::SeqCst),
        3,
        "no part posted twice"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_token_stops_start_with_a_clear_error() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/app.db", dir.path().display());
    let cfg = common::config(
        &[
            ("DATABASE_URL", db.as_str()),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("TELEGRAM_BOT_TOKEN", "999:wrong"),
            ("TELEGRAM_API_URL", tg.url.as_str()),
        ],
        Purpose::Run,
    );
    let err = callops::app::start(cfg)
        .await
        .err()
        .expect("start must fail");
    let text = format!("{err:#}");
    assert!(text.contains("TELEGRAM_BOT_TOKEN"), "{text}");
    assert!(!text.contains("999:wrong"), "the token never shows: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_mode_sets_the_webhook_and_checks_the_secret() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/app.db", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = common::config(
        &[
            ("DATABASE_URL", db.as_str()),
            ("HTTP_ADDR", addr.as_str()),
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", tg.url.as_str()),
            ("TELEGRAM_ADMINS", "1001"),
            (
                "TELEGRAM_WEBHOOK_URL",
                "https://bot.example.com/telegram/hook",
            ),
            ("TELEGRAM_WEBHOOK_SECRET", "s3cret_Token-1"),
        ],
        Purpose::Run,
    );
    let app = callops::app::start(cfg).await.unwrap();
    let set = tg.calls("setWebhook");
    assert_eq!(
        set.len(),
        1,
        "setWebhook is called once (multipart: the fake does not read its body)"
    );

    let update = serde_json::json!({"update_id": 1, "message": {
        "message_id": 5, "date": 1_763_700_000, "chat": {"id": 1001, "type": "private", "first_name": "Иван"},
        "from": {"id": 1001, "is_bot": false, "first_name": "Иван", "language_code": "ru"},
        "text": "/start", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}});
    let url = format!("http://{addr}/telegram/hook");
    let client = reqwest::Client::new();
    let wrong = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "nope")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert!(wrong.status().is_client_error(), "{}", wrong.status());
    let missing = client.post(&url).json(&update).send().await.unwrap();
    assert!(missing.status().is_client_error());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(tg.texts_to(1001).is_empty(), "nothing reached the bot");
    let ok = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "s3cret_Token-1")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    common::eventually(10, "reply via webhook", || async {
        !tg.texts_to(1001).is_empty()
    })
    .await;
    assert!(tg.texts_to(1001)[0].contains("Здравствуйте"));
    assert!(
        tg.calls("getUpdates").is_empty(),
        "no polling in webhook mode"
    );
    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status(), 200, "one server for both");
    app.stop().await;
}
