//! The SIP trunk against real peers: sipp plays the trunk (Debian's `sip-tester`: challenges,
//! busy, decline, ringing past the timeout, speech and DTMF from its pcaps) and baresip a callee
//! that answers, speaks and records what it hears. The tests skip, saying so, when a peer is not
//! installed. Calls are placed through the app itself: `POST /api/calls` and `/call` in the chat.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use callops::config::{NumberFormat, Purpose};
use callops::domain::PhoneNumber;
use callops::telephony::line::{HangupCause, Line, LineEvent};
use callops::telephony::media::rtp_session::RtpPorts;
use callops::telephony::sip::{SipConfig, SipTrunk};
use callops::telephony::sip_line::SipDialer;
use callops::telephony::trunk::{DialFailure, DialProgress, Trunk};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use common::sipp::{
    free_udp_port, invited, sipp, sipp_available, sipp_logged, sipp_logged_with, wait_log,
};

async fn dialer(sipp_port: u16, rtp_base: u16) -> SipDialer {
    dialer_as(sipp_port, rtp_base, None).await
}

async fn dialer_as(sipp_port: u16, rtp_base: u16, login: Option<(&str, &str)>) -> SipDialer {
    dialer_over(sipp_port, rtp_base, login, false).await
}

async fn dialer_over(
    sipp_port: u16,
    rtp_base: u16,
    login: Option<(&str, &str)>,
    tcp: bool,
) -> SipDialer {
    let bind = if tcp {
        format!("127.0.0.1:{}", free_udp_port())
    } else {
        "127.0.0.1:0".to_string()
    };
    let sip = SipTrunk::start(
        SipConfig {
            server: format!("127.0.0.1:{sipp_port}"),
            domain: format!("127.0.0.1:{sipp_port}"),
            username: login.map(|l| l.0.to_string()),
            password: login.map(|l| l.1.to_string()),
            caller: "74951234567".into(),
            bind: bind.parse().unwrap(),
            public: None,
            tcp,
        },
        CancellationToken::new(),
    )
    .await
    .expect("SIP starts");
    SipDialer {
        sip,
        ports: Arc::new(RtpPorts::new(rtp_base, rtp_base + 99)),
        media_ip: "127.0.0.1".parse().unwrap(),
        advertised_ip: "127.0.0.1".parse().unwrap(),
        number_format: NumberFormat::Seven,
    }
}

/// The app placing calls through the trunk at `sip_port` (no registration), its API under the
/// key `k-test`, the agent on `fakes`, RTP on `rtp_min`..+99; `extra` settings add or override.
async fn app_on_trunk(
    fakes: &callops::bench::agent_fakes::AgentFakes,
    sip_port: u16,
    rtp_min: u16,
    extra: &[(&str, &str)],
    purpose: Purpose,
) -> (callops::app::RunningApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/app.db", dir.path().display());
    let server = format!("127.0.0.1:{sip_port}");
    let (min, max) = (rtp_min.to_string(), (rtp_min + 99).to_string());
    let mut pairs = vec![
        ("DATABASE_URL", db.as_str()),
        ("HTTP_ADDR", "127.0.0.1:0"),
        ("API_KEY", "k-test"),
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", fakes.base_url.as_str()),
        ("SIP_SERVER", server.as_str()),
        ("SIP_REGISTER", "false"),
        ("SIP_CALLER_ID", "+74951234567"),
        ("SIP_BIND", "127.0.0.1:0"),
        ("RTP_PORT_MIN", min.as_str()),
        ("RTP_PORT_MAX", max.as_str()),
    ];
    pairs.extend_from_slice(extra);
    let app = callops::app::start(common::config(&pairs, purpose))
        .await
        .expect("app starts");
    (app, dir)
}

/// The app's API as a client with the test key.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn of(app: &callops::app::RunningApp) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{}", app.http_addr),
        }
    }

    async fn get(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.base))
            .header("X-API-Key", "k-test")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("X-API-Key", "k-test")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Asks the agent to call `phone`; returns the call's API id.
    async fn place(&self, phone: &str) -> String {
        let created: serde_json::Value = self
            .post("/api/calls", serde_json::json!({ "phone": phone }))
            .await
            .json()
            .await
            .unwrap();
        created["call_id"].as_str().expect("queued").to_string()
    }

    /// Polls the call for up to `secs` until its status is `want`; returns the last answer.
    async fn wait_status(&self, id: &str, want: &str, secs: u64) -> serde_json::Value {
        let mut last = serde_json::Value::Null;
        for _ in 0..secs * 20 {
            last = self.get(&format!("/api/calls/{id}")).await;
            if last["status"] == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        last
    }
}

/// Dials the test number; returns the outcome and the progress the dial reported.
async fn dial(
    d: &SipDialer,
    ring_timeout: Duration,
) -> (
    Result<Box<dyn Line>, DialFailure>,
    mpsc::Receiver<DialProgress>,
) {
    let (tx, rx) = mpsc::channel(8);
    let r = d
        .dial(
            &PhoneNumber::parse("+79161234567").unwrap(),
            ring_timeout,
            tx,
            CancellationToken::new(),
        )
        .await;
    (r, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_call_rings_connects_and_hears_the_callees_bye() {
    if !sipp_available() {
        return;
    }
    let port = free_udp_port();
    let _peer = sipp("answer_then_bye.xml", port);
    let d = dialer(port, 42_000).await;
    let (line, mut rx) = dial(&d, Duration::from_secs(10)).await;
    let mut line = line.expect("answered");
    assert_eq!(rx.recv().await, Some(DialProgress::Trying));
    assert_eq!(rx.recv().await, Some(DialProgress::Ringing));
    assert_eq!(line.recv().await, Some(LineEvent::Answered));
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match line.recv().await {
                Some(LineEvent::Hangup(cause)) => return Some(cause),
                None => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("the callee's BYE arrives");
    assert_eq!(ended, Some(HangupCause::Remote));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_486_is_a_busy_line() {
    if !sipp_available() {
        return;
    }
    let port = free_udp_port();
    let _peer = sipp("busy.xml", port);
    let d = dialer(port, 42_200).await;
    let (r, _rx) = dial(&d, Duration::from_secs(10)).await;
    assert_eq!(r.err(), Some(DialFailure::Busy));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_answers_the_401_challenge_and_learns_the_granted_expiry() {
    if !sipp_available() {
        return;
    }
    let port = free_udp_port();
    let _peer = sipp("register_401.xml", port);
    let d = dialer_as(port, 42_400, Some(("alice", "secret"))).await;
    assert_eq!(d.sip.register(300).await, Ok(60));
    let port = free_udp_port();
    let _peer = sipp("register_401.xml", port);
    let wrong = dialer_as(port, 42_500, Some(("alice", "wrong"))).await;
    assert_eq!(
        wrong.sip.register(300).await,
        Err(callops::telephony::sip::InviteError::Refused(403))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_answers_the_407_challenge_and_our_hangup_sends_bye() {
    if !sipp_available() {
        return;
    }
    let port = free_udp_port();
    let peer = sipp_logged("invite_407.xml", port);
    let d = dialer_as(port, 42_600, Some(("alice", "secret"))).await;
    let (line, _rx) = dial(&d, Duration::from_secs(10)).await;
    let mut line = line.expect("answered after the 407");
    assert_eq!(line.recv().await, Some(LineEvent::Answered));
    line.hangup().await;
    // sipp (in the background) logs every message: our BYE reaches it.
    let (_, text) = wait_log(&peer.log, 5, |t| {
        t.lines().any(|l| l.starts_with("BYE sip:"))
    })
    .await;
    assert!(
        text.lines().any(|l| l.starts_with("BYE sip:")),
        "our BYE reached the callee"
    );
    drop(peer);
    // The second INVITE carries a digest that answers the challenge (RFC 2617, MD5).
    let auth = text
        .lines()
        .find(|l| l.starts_with("Proxy-Authorization:"))
        .expect("an authenticated INVITE");
    let field = |name: &str| {
        let start = auth.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        auth[start..].split('"').next().unwrap().to_string()
    };
    let md5 = |s: String| {
        use md5::Digest;
        format!("{:x}", md5::Md5::digest(s.as_bytes()))
    };
    let ha1 = md5("alice:sipp.test:secret".to_string());
    let ha2 = md5(format!("INVITE:{}", field("uri")));
    assert_eq!(field("nonce"), "a1b2c3d4e5f6");
    assert_eq!(field("response"), md5(format!("{ha1}:a1b2c3d4e5f6:{ha2}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_registers_with_the_trunk_and_names_a_wrong_password() {
    if !sipp_available() {
        return;
    }
    callops::http::install_crypto();
    let run = |port: u16, password: &'static str| async move {
        let values = [
            ("SIP_SERVER", format!("127.0.0.1:{port}")),
            ("SIP_USERNAME", "alice".to_string()),
            ("SIP_PASSWORD", password.to_string()),
            ("SIP_BIND", "127.0.0.1:5060".to_string()),
            ("DATABASE_URL", "sqlite::memory:".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let cfg = callops::config::Config::from_values(&values, callops::config::Purpose::Tooling)
            .unwrap();
        let rows = callops::check::run_checks(&cfg).await;
        rows.into_iter().find(|r| r.service == "sip trunk").unwrap()
    };
    let port = free_udp_port();
    let _peer = sipp("register_401.xml", port);
    let ok = run(port, "secret").await;
    assert_eq!(ok.ok, Some(true), "{}", ok.detail);
    assert!(ok.detail.contains("granted 60 s"), "{}", ok.detail);
    let port = free_udp_port();
    let _peer = sipp("register_401.xml", port);
    let bad = run(port, "wrong").await;
    assert_eq!(bad.ok, Some(false));
    assert!(bad.detail.contains("SIP_PASSWORD"), "{}", bad.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_registers_with_the_trunk_when_sip_is_configured() {
    if !sipp_available() {
        return;
    }
    let port = free_udp_port();
    let peer = sipp_logged("register_401.xml", port);
    let dir = tempfile::tempdir().unwrap();
    let server = format!("127.0.0.1:{port}");
    let db = format!("sqlite://{}/app.db", dir.path().display());
    let cfg = common::config(
        &[
            ("DATABASE_URL", &db),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
            ("SIP_SERVER", &server),
            ("SIP_USERNAME", "alice"),
            ("SIP_PASSWORD", "secret"),
            ("SIP_BIND", "127.0.0.1:0"),
            ("RTP_PORT_MIN", "42800"),
            ("RTP_PORT_MAX", "42899"),
        ],
        callops::config::Purpose::Tooling,
    );
    let app = callops::app::start(cfg).await.expect("app starts with SIP");
    let (registered, _) = wait_log(&peer.log, 5, |t| {
        t.contains("SIP/2.0 200 OK") && t.contains("Authorization: Digest username=\"alice\"")
    })
    .await;
    assert!(registered, "the app registered with digest auth");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn post_api_calls_places_a_real_sip_call_and_follows_it_to_the_end() {
    if !sipp_available() {
        return;
    }
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let port = free_udp_port();
    let peer = sipp_logged("answer_then_bye.xml", port);
    let log = peer.log.clone();
    let (app, _dir) = app_on_trunk(&fakes, port, 42900, &[], Purpose::Tooling).await;
    let base = format!("http://{}", app.http_addr);
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value, key: Option<&'static str>| {
        let mut req = http.post(format!("{base}/api/calls")).json(&body);
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        req.send()
    };
    // Refusals dial nothing: no key, a bad number, a number on the do-not-call list.
    let phone = serde_json::json!({"phone": "8 (916) 123-45-67"});
    assert_eq!(post(phone.clone(), None).await.unwrap().status(), 401);
    assert_eq!(
        post(phone.clone(), Some("wrong")).await.unwrap().status(),
        401
    );
    let bad = post(serde_json::json!({"phone": "12345"}), Some("k-test"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.store
        .add_do_not_call(&PhoneNumber::parse("+79160000009").unwrap(), "opt-out")
        .await
        .unwrap();
    let dnc = post(serde_json::json!({"phone": "+79160000009"}), Some("k-test"))
        .await
        .unwrap();
    assert_eq!(dnc.status(), 409);
    assert!(std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .all(|l| !l.starts_with("INVITE")));

    let resp = post(phone, Some("k-test")).await.unwrap();
    assert_eq!(resp.status(), 202);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    let id = body["call_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("out-"), "{id}");
    let api = Api::of(&app);
    let last = api.wait_status(&id, "ended", 15).await;
    assert_eq!(last["status"], "ended", "{last}");
    assert_eq!(last["phone"], "+79161234567");
    assert!(last["answered_at"].is_string());
    let call_id = last["analysed_call_id"]
        .as_i64()
        .expect("the call is stored");
    // The dialog turns, as they were said; a finished call cannot be hung up again.
    let messages = api.get(&format!("/api/calls/{id}/messages")).await;
    let turns = messages["messages"].as_array().expect("messages");
    assert_eq!(
        turns.first().map(|t| t["speaker"].clone()),
        Some("agent".into()),
        "{messages}"
    );
    let again = api
        .post(&format!("/api/calls/{id}/hangup"), serde_json::json!({}))
        .await;
    assert_eq!(again.status(), 409);
    let unknown = api
        .http
        .get(format!("{}/api/calls/out-999/messages", api.base))
        .header("X-API-Key", "k-test")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let call = app.store.call(call_id).await.unwrap().unwrap();
    assert_eq!(call.called, "+79161234567");
    let text = std::fs::read_to_string(&log).unwrap();
    let invites = text
        .lines()
        .filter(|l| l.starts_with("INVITE sip:"))
        .count();
    assert_eq!(invites, 1, "one INVITE for one attempt");
    assert!(
        text.contains("INVITE sip:79161234567@127.0.0.1"),
        "the trunk's number format"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_603_is_declined_and_ringing_past_the_timeout_is_cancelled() {
    if !sipp_available() {
        return;
    }
    let port = free_udp_port();
    let _peer = sipp("decline.xml", port);
    let d = dialer(port, 43_000).await;
    let (r, _rx) = dial(&d, Duration::from_secs(10)).await;
    assert_eq!(r.err(), Some(DialFailure::Declined));

    let port = free_udp_port();
    let peer = sipp_logged("ring_no_answer.xml", port);
    let d = dialer(port, 43_100).await;
    let started = std::time::Instant::now();
    let (r, mut rx) = dial(&d, Duration::from_millis(800)).await;
    assert_eq!(r.err(), Some(DialFailure::NoAnswer));
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(rx.recv().await, Some(DialProgress::Trying));
    assert_eq!(rx.recv().await, Some(DialProgress::Ringing));
    let (cancelled, text) = wait_log(&peer.log, 3, |t| {
        t.lines().any(|l| l.starts_with("CANCEL sip:"))
    })
    .await;
    assert!(cancelled, "the ring timeout sent a CANCEL: {text}");
}

/// The `callback_data` of each inline button under a sent message.
fn buttons(sent: &serde_json::Value) -> Vec<String> {
    sent["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_string))
        .collect()
}

/// The first message sent to `chat` whose text contains `needle`, waiting up to 30 s.
async fn sent_containing(
    tg: &common::fake_telegram::FakeTelegram,
    chat: i64,
    needle: &str,
) -> serde_json::Value {
    for _ in 0..600 {
        if let Some(m) = tg
            .delivered_to(chat)
            .into_iter()
            .find(|m| m["text"].as_str().is_some_and(|t| t.contains(needle)))
        {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no message with {needle:?} in {chat}: {:#?}",
        tg.texts_to(chat)
    );
}

/// The texts `message_id` was edited to, in order.
fn edits_of(tg: &common::fake_telegram::FakeTelegram, message_id: i64) -> Vec<String> {
    tg.calls("editMessageText")
        .into_iter()
        .filter(|r| r.body["message_id"].as_i64() == Some(message_id))
        .filter_map(|r| r.body["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_from_the_chat_asks_outside_hours_shows_the_call_takes_a_hint_and_hangs_up() {
    if !sipp_available() {
        return;
    }
    const TEAM: i64 = -100_123;
    const MANAGER: u64 = 10;
    const VIEWER: u64 = 11;
    const STRANGER: u64 = 12;
    let tg = common::fake_telegram::FakeTelegram::start().await;
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let port = free_udp_port();
    let peer = sipp_logged("answer_until_bye.xml", port);
    let log = peer.log.clone();
    // A calling window that is surely closed now in Moscow (where the registry puts +7 916), so
    // the manager is asked first.
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Moscow);
    let from = now + chrono::Duration::hours(2);
    let to = now + chrono::Duration::hours(3);
    let window = format!("{}-{}", from.format("%H:%M"), to.format("%H:%M"));
    let team = TEAM.to_string();
    let (app, _dir) = app_on_trunk(
        &fakes,
        port,
        43100,
        &[
            ("TELEGRAM_BOT_TOKEN", common::fake_telegram::TOKEN),
            ("TELEGRAM_API_URL", &tg.url),
            ("TELEGRAM_CHAT_ID", &team),
            ("TELEGRAM_ADMINS", "1"),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
            ("CALL_WINDOW", &window),
        ],
        Purpose::Run,
    )
    .await;
    app.store
        .upsert_user(&callops::store::User {
            telegram_id: MANAGER as i64,
            role: callops::domain::Role::Manager,
            name: None,
            added_by: Some(1),
        })
        .await
        .unwrap();
    let invites = |log: &std::path::Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("INVITE sip:"))
            .count()
    };

    // A viewer (a member of the team chat) and a stranger are refused; nothing is dialled.
    tg.send_text(TEAM, VIEWER, "ru", "/call +7 916 123-45-67");
    sent_containing(&tg, TEAM, "доступна роли").await;
    tg.send_text(STRANGER as i64, STRANGER, "ru", "/call +7 916 123-45-67");
    sent_containing(&tg, STRANGER as i64, "нет доступа").await;

    // The manager: outside the window, asked first; nothing dialled before the answer.
    tg.send_text(TEAM, MANAGER, "ru", "/call 8 916 123-45-67 realty_cold");
    let question = sent_containing(&tg, TEAM, "вне окна звонков").await;
    assert!(
        question["text"]
            .as_str()
            .unwrap()
            .contains("(Москва и Московская обл., Europe/Moscow)"),
        "the registry's region and zone: {}",
        question["text"]
    );
    assert_eq!(invites(&log), 0, "no INVITE before the confirmation");
    let confirm = buttons(&question)
        .into_iter()
        .find(|b| b.starts_with("cc:"))
        .expect("a confirm button");
    let question_id = question["assigned_message_id"].as_i64().unwrap();
    tg.press_button(TEAM, question_id, MANAGER, &confirm);
    // A second press (an impatient manager) places nothing more.
    tg.press_button(TEAM, question_id, MANAGER, &confirm);

    let status = sent_containing(&tg, TEAM, "Звонок #").await;
    assert!(status["text"]
        .as_str()
        .unwrap()
        .contains("+7 (916) 123-45-67"));
    let status_id = status["assigned_message_id"].as_i64().unwrap();
    let hang_up = buttons(&status)
        .into_iter()
        .find(|b| b.starts_with("hu:"))
        .expect("a ⏹ button");
    let mut talking = false;
    for _ in 0..400 {
        if edits_of(&tg, status_id)
            .iter()
            .any(|t| t.contains("Идёт разговор"))
        {
            talking = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(talking, "{:#?}", edits_of(&tg, status_id));

    // A manager's reply to the status message is a hint for the agent.
    tg.send_reply(TEAM, MANAGER, "Скажите про ипотеку 6%", status_id);
    sent_containing(&tg, TEAM, "Подсказка передана").await;
    // A viewer's ⏹ is refused; the call goes on.
    tg.press_button(TEAM, status_id, VIEWER, &hang_up);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (bye_early, _) = wait_log(&log, 1, |t| t.contains("BYE sip:")).await;
    assert!(!bye_early, "a viewer cannot hang up");

    // The manager's ⏹: the agent says goodbye and hangs up (our BYE).
    tg.press_button(TEAM, status_id, MANAGER, &hang_up);
    let (bye, text) = wait_log(&log, 30, |t| t.contains("BYE sip:")).await;
    assert!(bye, "our BYE reaches the trunk:\n{text}");
    let mut ended = false;
    for _ in 0..400 {
        if edits_of(&tg, status_id)
            .last()
            .is_some_and(|t| t.contains("Разговор окончен"))
        {
            ended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ended, "{:#?}", edits_of(&tg, status_id));
    assert_eq!(invites(&log), 1, "one INVITE for one confirmed /call");
    let attempt = app.store.outbound_call(1).await.unwrap().unwrap();
    assert_eq!(
        attempt.chat_id,
        Some(TEAM),
        "the protocol goes to the chat it started from"
    );
    assert!(
        app.store.outbound_call(2).await.unwrap().is_none(),
        "one attempt"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callees_speech_and_dtmf_from_a_pcap_reach_the_line() {
    const SPEECH: &str = "/usr/share/sip-tester/g711a.pcap";
    if !sipp_available() || !std::path::Path::new(SPEECH).exists() {
        eprintln!("skipped: sipp's pcap files are not installed");
        return;
    }
    let port = free_udp_port();
    let _peer = sipp("speak_press_then_bye.xml", port);
    let d = dialer(port, 42_300).await;
    let (line, _rx) = dial(&d, Duration::from_secs(10)).await;
    let mut line = line.expect("answered");
    let (mut samples, mut frames, mut loud, mut digits) = (0usize, 0usize, 0usize, Vec::new());
    let cause = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match line.recv().await {
                Some(LineEvent::Frame(f)) => {
                    frames += 1;
                    samples += f.samples.len();
                    let rms = (f.samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>()
                        / f.samples.len().max(1) as f64)
                        .sqrt();
                    if rms > 300.0 {
                        loud += 1;
                    }
                }
                Some(LineEvent::Dtmf(d)) => digits.push(d),
                Some(LineEvent::Hangup(c)) => return Some(c),
                Some(LineEvent::Answered) => {}
                None => return None,
            }
        }
    })
    .await
    .expect("the call ends with the callee's BYE");
    assert_eq!(cause, Some(HangupCause::Remote));
    // The pcap's 236 packets of 20 ms (4.7 s of speech, sent over 7 s), decoded from A-law:
    // nearly all of it arrives, most of it audible.
    assert!(
        samples >= 220 * 160,
        "samples: {samples} in {frames} frames"
    );
    assert!(loud * 2 >= frames, "audible frames: {loud} of {frames}");
    assert_eq!(digits, vec!['1'], "RFC 4733 from the callee, reported once");
}

/// Debian's baresip, as a callee: answers on its own, plays `callee.wav` as its microphone and
/// dumps what it hears and says (the `sndfile` module) into its directory.
struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn baresip_available() -> bool {
    let found = Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("skipped: baresip is not installed (apt-get install baresip)");
    }
    found
}

fn baresip(port: u16, callee: &[i16]) -> Baresip {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    std::fs::write(
        dir.path().join("callee.wav"),
        callops::speech::utterance::wav_i16(callee, 8000),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config"),
        format!(
            "sip_listen 127.0.0.1:{port}\naudio_source aufile,{d}/callee.wav\n\
             audio_alert aufile,{d}/callee.wav\nmodule_path /usr/lib/baresip/modules\n\
             module g711.so\nmodule aufile.so\nmodule sndfile.so\nmodule_app account.so\n\
             module_app menu.so\nsnd_path {d}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("accounts"),
        "<sip:79161234567@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMA,PCMU\n",
    )
    .unwrap();
    let child = Command::new("baresip")
        .args(["-f", &d])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip starts");
    Baresip { child, dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_callee_hears_the_greeting_after_its_own_hello() {
    use callops::telephony::media::frame::Frame;
    use callops::telephony::simulated::clip;
    if !sipp_available() || !baresip_available() {
        return;
    }
    // The callee picks up, says «Алло, да, слушаю» after half a second, then waits.
    let hello = clip("hello").unwrap();
    let mut callee = vec![0i16; 4000];
    callee.extend_from_slice(&hello.samples);
    let hello_ends_ms = callee.len() as u64 * 1000 / 8000;
    callee.extend(std::iter::repeat_n(0i16, 8000 * 20));
    let port = free_udp_port();
    let peer = baresip(port, &callee);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let (app, _dir) = app_on_trunk(&fakes, port, 43300, &[], Purpose::Tooling).await;
    let api = Api::of(&app);
    let id = api.place("+79161234567").await;
    // Once the agent has greeted and the callee's hello was heard, hang up from the API.
    let mut said = serde_json::Value::Null;
    for _ in 0..400 {
        said = api.get(&format!("/api/calls/{id}/messages")).await;
        let lines = said["messages"].as_array().cloned().unwrap_or_default();
        if lines.iter().any(|l| l["speaker"] == "agent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let hung = api
        .post(&format!("/api/calls/{id}/hangup"), serde_json::json!({}))
        .await;
    if hung.status() != 202 {
        let now = api.get(&format!("/api/calls/{id}")).await;
        panic!("not under way at the hang-up: {now} {said}");
    }
    let status = api.wait_status(&id, "ended", 20).await;
    assert_eq!(status["status"], "ended", "{status}");
    app.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // What baresip heard, decoded: the agent's greeting, begun after the callee's hello ended.
    let heard = std::fs::read_dir(peer.dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip dumped what it heard");
    let samples = callops::speech::utterance::pcm16_wav_samples(&std::fs::read(&heard).unwrap())
        .expect("baresip's recording is 8 kHz 16-bit mono WAV");
    let frames: Vec<Frame> = samples
        .chunks_exact(160)
        .map(|c| Frame::from_samples(8000, c))
        .collect();
    let runs = fakes.decode_heard(&frames);
    let greeting = callops::agent::Scripts::load(None)
        .unwrap()
        .get("realty_cold")
        .unwrap()
        .greeting
        .clone();
    let first = runs.first().expect("the callee heard the agent");
    assert!(
        greeting.contains(first.0.trim()),
        "first heard {:?}, greeting {greeting:?}",
        first.0
    );
    // Our side sends clocked silence until the agent speaks: the first loud frame is its voice.
    let onset_ms = frames
        .iter()
        .position(|f| f.rms() > 500.0)
        .expect("audible agent audio") as u64
        * 20;
    assert!(
        onset_ms > hello_ends_ms,
        "the greeting began at {onset_ms} ms, before the callee's hello ended at {hello_ends_ms} ms ({runs:?})"
    );
    assert!(
        onset_ms < hello_ends_ms + 3000,
        "the greeting began promptly after the hello: {onset_ms} ms vs {hello_ends_ms} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_nat_the_public_address_is_advertised_and_rport_asked_for() {
    if !sipp_available() {
        return;
    }
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let port = free_udp_port();
    let ours = free_udp_port();
    let peer = sipp_logged("answer_until_bye.xml", port);
    let log = peer.log.clone();
    let bind = format!("127.0.0.1:{ours}");
    let (app, _dir) = app_on_trunk(
        &fakes,
        port,
        43500,
        &[("SIP_BIND", &bind), ("SIP_PUBLIC_IP", "203.0.113.7")],
        Purpose::Tooling,
    )
    .await;
    let api = Api::of(&app);
    let id = api.place("+79161234567").await;
    let (invited, text) = wait_log(&log, 10, |t| t.contains("INVITE sip:")).await;
    assert!(invited, "{text}");
    let invite: String = text
        .split("INVITE sip:")
        .nth(1)
        .unwrap()
        .split("\n\n\n")
        .next()
        .unwrap()
        .to_string();
    assert!(
        invite.contains("c=IN IP4 203.0.113.7"),
        "the SDP offers the public address: {invite}"
    );
    assert!(
        invite.contains(&format!("@203.0.113.7:{ours}")),
        "the Contact is the public address: {invite}"
    );
    assert!(invite.contains("rport"), "the Via asks for rport: {invite}");
    // The call is up all the same (replies come back to where we sent from), and hangs up.
    let status = api.wait_status(&id, "talking", 10).await;
    assert_eq!(status["status"], "talking", "{status}");
    let hung = api
        .post(&format!("/api/calls/{id}/hangup"), serde_json::json!({}))
        .await;
    assert_eq!(hung.status(), 202);
    let (bye, text) = wait_log(&log, 20, |t| t.contains("BYE sip:")).await;
    assert!(bye, "{text}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_a_call_is_answered_and_the_callees_bye_arrives() {
    if !sipp_available() {
        return;
    }
    let port = free_udp_port();
    let peer = sipp_logged_with("answer_then_bye.xml", port, &["-t", "t1"]);
    let d = dialer_over(port, 43_700, None, true).await;
    let (line, _rx) = dial(&d, Duration::from_secs(10)).await;
    let mut line = line.expect("answered over TCP");
    assert_eq!(line.recv().await, Some(LineEvent::Answered));
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match line.recv().await {
                Some(LineEvent::Hangup(cause)) => return Some(cause),
                None => return None,
                _ => {}
            }
        }
    })
    .await
    .expect("the callee's BYE arrives over TCP");
    assert_eq!(ended, Some(HangupCause::Remote));
    let text = std::fs::read_to_string(&peer.log).unwrap_or_default();
    assert!(
        text.contains("Via: SIP/2.0/TCP") && text.to_lowercase().contains(";transport=tcp>"),
        "TCP in Via and Contact:\n{text}"
    );
}

/// A window around the present in Moscow, so a test's campaign may call right now.
fn window_around_now() -> String {
    use chrono::Timelike;
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Moscow);
    let from = (now - chrono::Duration::hours(1)).time();
    let to = (now + chrono::Duration::hours(2)).time();
    format!(
        "{:02}:{:02}-{:02}:{:02}",
        from.hour(),
        from.minute(),
        to.hour(),
        to.minute()
    )
}

/// Polls a campaign through the API until its status is `want`.
async fn wait_campaign(api: &Api, id: i64, want: &str, secs: u64) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..secs * 10 {
        last = api.get(&format!("/api/campaigns/{id}")).await;
        if last["status"] == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_from_the_api_calls_each_contact_once_over_sip_within_its_lines() {
    if !sipp_available() {
        return;
    }
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let port = free_udp_port();
    // Every INVITE is answered 486 Busy (sipp serves up to 20 calls, two at once at most here).
    let peer = sipp_logged_with("busy.xml", port, &["-m", "20"]);
    let (app, _dir) = app_on_trunk(
        &fakes,
        port,
        43100,
        &[("CALL_CONCURRENCY", "3")],
        Purpose::Tooling,
    )
    .await;
    let api = Api::of(&app);
    let numbers: Vec<String> = (0..6).map(|i| format!("+7916555{i:04}")).collect();
    let mut contacts: Vec<serde_json::Value> = numbers
        .iter()
        .map(|n| serde_json::json!({"phone": n, "name": "Иван"}))
        .collect();
    contacts.push(serde_json::json!({"phone": "12-34", "name": "?"}));
    contacts.push(serde_json::json!({"phone": numbers[0], "name": "дубль"}));
    // Refusals first: no key, an unknown script, no contacts' phones.
    let no_key = reqwest::Client::new()
        .post(format!("{}/api/campaigns", api.base))
        .json(&serde_json::json!({"name": "x", "contacts": contacts}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_key.status(), 401);
    let bad = api
        .post(
            "/api/campaigns",
            serde_json::json!({"name": "x", "script": "nope", "contacts": contacts}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let created = api
        .post(
            "/api/campaigns",
            serde_json::json!({
                "name": "Склады", "script": "logistics_cold", "contacts": contacts,
                "concurrency": 2, "retries": 0, "window": window_around_now(), "days": "ежедневно",
            }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    assert_eq!(created["status"], "paused", "{created}");
    assert_eq!(created["report"]["rows"], 8);
    assert_eq!(created["report"]["added"], 6);
    assert_eq!(created["report"]["invalid_lines"], serde_json::json!([8]));
    assert_eq!(created["report"]["duplicates"], 1);
    let id = created["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        invited(&std::fs::read_to_string(&peer.log).unwrap_or_default()).is_empty(),
        "a paused campaign dials nobody"
    );
    let started = api
        .post(&format!("/api/campaigns/{id}/start"), serde_json::json!({}))
        .await;
    assert_eq!(started.status(), 200);
    let last = wait_campaign(&api, id, "finished", 30).await;
    assert_eq!(last["status"], "finished", "{last}");
    assert_eq!(last["counts"]["by_state"]["done"], 6, "{last}");
    assert_eq!(last["kpis"]["outcomes"]["busy"], 6, "{last}");
    let mut dialled = invited(&std::fs::read_to_string(&peer.log).unwrap());
    dialled.sort();
    let mut want: Vec<String> = numbers
        .iter()
        .map(|n| n.trim_start_matches('+').to_string())
        .collect();
    want.sort();
    assert_eq!(dialled, want, "each contact once");
    let listed = api.get("/api/campaigns").await;
    assert_eq!(listed["campaigns"][0]["id"], id);
    let again = api
        .post(&format!("/api/campaigns/{id}/start"), serde_json::json!({}))
        .await;
    assert_eq!(again.status(), 409, "a finished campaign stays finished");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_in_the_middle_of_a_campaign_calls_no_one_twice() {
    if !sipp_available() {
        return;
    }
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let port = free_udp_port();
    // Callees answer and stay until we hang up.
    let peer = sipp_logged_with("answer_until_bye.xml", port, &["-m", "20"]);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/restart.db", dir.path().display());
    let settings = [
        ("DATABASE_URL", db.as_str()),
        ("CALL_CONCURRENCY", "2"),
        ("MAX_CALL_DURATION_SEC", "3"),
    ];
    let (first, _d1) = app_on_trunk(&fakes, port, 43300, &settings, Purpose::Tooling).await;
    let api = Api::of(&first);
    let numbers: Vec<String> = (0..4).map(|i| format!("+7916777{i:04}")).collect();
    let contacts: Vec<serde_json::Value> = numbers
        .iter()
        .map(|n| serde_json::json!({"phone": n}))
        .collect();
    let created: serde_json::Value = api
        .post(
            "/api/campaigns",
            serde_json::json!({
                "name": "Рестарт", "contacts": contacts, "concurrency": 2, "retries": 0,
                "window": window_around_now(), "days": "ежедневно",
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    api.post(&format!("/api/campaigns/{id}/start"), serde_json::json!({}))
        .await;
    let (two, _) = wait_log(&peer.log, 15, |t| invited(t).len() >= 2).await;
    assert!(two, "two calls under way");
    // The restart, mid-call: the agent says goodbye and hangs up, and the app stops.
    first.stop().await;
    let (second, _d2) = app_on_trunk(&fakes, port, 43400, &settings, Purpose::Tooling).await;
    let api = Api::of(&second);
    let last = wait_campaign(&api, id, "finished", 40).await;
    assert_eq!(last["status"], "finished", "{last}");
    let mut dialled = invited(&std::fs::read_to_string(&peer.log).unwrap());
    dialled.sort();
    let mut want: Vec<String> = numbers
        .iter()
        .map(|n| n.trim_start_matches('+').to_string())
        .collect();
    want.sort();
    assert_eq!(dialled, want, "each contact once across the restart");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_from_a_file_in_the_chat_runs_with_its_buttons_and_ends_with_one_summary() {
    if !sipp_available() {
        return;
    }
    const TEAM: i64 = -100_321;
    const MANAGER: u64 = 10;
    const VIEWER: u64 = 11;
    let tg = common::fake_telegram::FakeTelegram::start().await;
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let port = free_udp_port();
    let peer = sipp_logged_with("busy.xml", port, &["-m", "20"]);
    let team = TEAM.to_string();
    let (app, _dir) = app_on_trunk(
        &fakes,
        port,
        43700,
        &[
            ("TELEGRAM_BOT_TOKEN", common::fake_telegram::TOKEN),
            ("TELEGRAM_API_URL", &tg.url),
            ("TELEGRAM_CHAT_ID", &team),
            ("TELEGRAM_ADMINS", "1"),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
        ],
        Purpose::Run,
    )
    .await;
    app.store
        .upsert_user(&callops::store::User {
            telegram_id: MANAGER as i64,
            role: callops::domain::Role::Manager,
            name: None,
            added_by: Some(1),
        })
        .await
        .unwrap();
    app.store
        .add_do_not_call(&PhoneNumber::parse("+79169990003").unwrap(), "opt_out")
        .await
        .unwrap();
    // A Russian Excel CSV: Windows-1251, `;`, one bad number, one repeated, one on the DNC list.
    let csv = "Телефон;Имя;Компания\n+7 916 999-00-01;Иван;Альфа\n8 (916) 999-00-02;Пётр;Бета\n\
               89169990003;Анна;Гамма\nне номер;Олег;Дельта\n+79169990001;Иван;Альфа\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(csv);
    let caption = format!(
        "/campaign Склады Q4 logistics_cold окно={} дни=ежедневно попытки=0 линии=2",
        window_around_now()
    );
    // Files that cannot make a campaign each get a clear answer; nothing is created.
    tg.send_document(TEAM, MANAGER, "пусто.csv", b"", &caption);
    sent_containing(&tg, TEAM, "В файле нет ни одной строки").await;
    tg.send_document(
        TEAM,
        MANAGER,
        "имена.csv",
        "Имя;Город\nИван;Москва\n".as_bytes(),
        &caption,
    );
    sent_containing(&tg, TEAM, "Не нашёл столбец с номерами").await;
    let big = vec![b'7'; 50 * 1024 * 1024];
    tg.send_document(TEAM, MANAGER, "огромный.csv", &big, &caption);
    sent_containing(&tg, TEAM, "Файл больше 20 МБ").await;
    tg.send_document(TEAM, MANAGER, "база.csv", &bytes, "/campaign");
    sent_containing(&tg, TEAM, "Укажите название кампании").await;
    assert!(app.store.campaigns().await.unwrap().is_empty());
    // A viewer may not create one.
    tg.send_document(TEAM, VIEWER, "база.csv", &bytes, &caption);
    sent_containing(&tg, TEAM, "доступна роли").await;
    tg.send_document(TEAM, MANAGER, "база.csv", &bytes, &caption);
    let report = sent_containing(&tg, TEAM, "создана и стоит на паузе").await;
    let text = report["text"].as_str().unwrap();
    for part in [
        "Прочитано строк: 5, в кампании контактов: 3",
        "Не распознаны номера: 1 (строки 5)",
        "Повторы номеров: 1",
        "В списке «не звонить»: 1",
        "{name}, {company}",
        "согласие",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    let progress = sent_containing(&tg, TEAM, "📞 Кампания #1 «Склады Q4» — на паузе").await;
    let progress_id = progress["assigned_message_id"].as_i64().unwrap();
    let start = buttons(&progress)
        .into_iter()
        .find(|b| b == "cp:1:s")
        .expect("▶ under the progress message");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(invited(&std::fs::read_to_string(&peer.log).unwrap_or_default()).is_empty());
    // A forged button under another message steers nothing.
    tg.press_button(TEAM, progress_id + 1000, MANAGER, &start);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(invited(&std::fs::read_to_string(&peer.log).unwrap_or_default()).is_empty());
    tg.press_button(TEAM, progress_id, MANAGER, &start);
    let summary = sent_containing(&tg, TEAM, "✅ Кампания #1 «Склады Q4» завершена").await;
    assert!(
        summary["text"].as_str().unwrap().contains("Контактов: 3"),
        "{summary}"
    );
    let edits = edits_of(&tg, progress_id);
    assert!(edits.iter().any(|e| e.contains("— идёт")), "{edits:#?}");
    assert!(
        edits
            .last()
            .is_some_and(|e| e.contains("— завершена") && e.contains("занято 2")),
        "{edits:#?}"
    );
    let mut dialled = invited(&std::fs::read_to_string(&peer.log).unwrap());
    dialled.sort();
    assert_eq!(
        dialled,
        vec!["79169990001", "79169990002"],
        "the DNC number never"
    );
    // Status, the list and the export.
    tg.send_text(TEAM, MANAGER, "ru", "/campaign статус 1");
    let status = sent_containing(&tg, TEAM, "Подробно: /campaign статус 1").await;
    assert!(status["text"].as_str().unwrap().contains("Контактов: 3"));
    tg.send_text(TEAM, MANAGER, "ru", "/campaign");
    sent_containing(&tg, TEAM, "#1 «Склады Q4» — завершена").await;
    tg.send_text(TEAM, MANAGER, "ru", "/chart campaign 1");
    sent_containing(&tg, TEAM, "ещё не было разговоров").await;
    tg.send_text(TEAM, MANAGER, "ru", "/stats");
    sent_containing(&tg, TEAM, "#1 «Склады Q4»: дозвонились 0, конверсия —").await;
    tg.send_text(TEAM, MANAGER, "ru", "/campaign выгрузка 1");
    common::eventually(10, "the XLSX", || async {
        !tg.calls("sendDocument").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let summaries = tg
        .texts_to(TEAM)
        .iter()
        .filter(|t| t.contains("завершена."))
        .count();
    assert_eq!(summaries, 1, "one summary");
    app.stop().await;
}
