//! Inbound call analysis end to end: the real app against local fakes of Novofon, OpenAI and the
//! Telegram Bot API. Calls become protocols once; the rest are skipped with reasons; webhooks,
//! provider faults, malformed LLM answers, corrupt audio, restarts and feedback buttons.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use callops::config::Purpose;
use callops::speech::audio::{stereo_wav_bytes, tone};
use chrono::Utc;
use common::fake_novofon::{self, FakeCall, FakeNovofon};
use common::fake_openai::{self, FakeOpenAi, CLIENT_LINE, MANAGER_LINE};
use common::fake_telegram::{FakeTelegram, TOKEN};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

const TEAM: i64 = -1_001_000;
const ADMIN: u64 = 77;
const API_KEY: &str = "test-api-key";

fn moscow(minutes_ago: i64) -> String {
    (Utc::now() - chrono::Duration::minutes(minutes_ago))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn stereo() -> Vec<u8> {
    stereo_wav_bytes(&tone(440.0, 4.0, 8000), &tone(880.0, 4.0, 8000), 8000)
}

fn call(
    id: &str,
    pbx: &str,
    clid: &str,
    dest: &str,
    disposition: &str,
    secs: i64,
    recorded: bool,
) -> FakeCall {
    FakeCall {
        pbx_call_id: pbx.into(),
        call_id: id.into(),
        callstart: moscow(10),
        clid: clid.into(),
        destination: dest.into(),
        disposition: disposition.into(),
        seconds: secs,
        recorded,
        audio: stereo(),
    }
}

struct Harness {
    tg: FakeTelegram,
    novofon: FakeNovofon,
    openai: FakeOpenAi,
    app: Option<callops::app::RunningApp>,
    dir: tempfile::TempDir,
    extra: Vec<(String, String)>,
}

impl Harness {
    async fn new(calls: Vec<FakeCall>, extra: &[(&str, &str)]) -> Self {
        let mut h = Self::prepared(calls, extra).await;
        h.start().await;
        h
    }

    /// The fakes, not yet the app: faults can be armed before anything runs.
    async fn prepared(calls: Vec<FakeCall>, extra: &[(&str, &str)]) -> Self {
        Harness {
            tg: FakeTelegram::start().await,
            novofon: FakeNovofon::start(calls).await,
            openai: FakeOpenAi::start().await,
            app: None,
            dir: tempfile::tempdir().unwrap(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    async fn start(&mut self) {
        let db = format!("sqlite://{}/pipeline.db", self.dir.path().display());
        let team = TEAM.to_string();
        let admin = ADMIN.to_string();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("DATABASE_URL", &db),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("API_KEY", API_KEY),
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", &self.tg.url),
            ("TELEGRAM_CHAT_ID", &team),
            ("TELEGRAM_ADMINS", &admin),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
            ("NOVOFON_API_URL", &self.novofon.url),
            ("NOVOFON_API_KEY", fake_novofon::KEY),
            ("NOVOFON_API_SECRET", fake_novofon::SECRET),
            ("NOVOFON_POLL_SECS", "1"),
            ("NOVOFON_STATS_INTERVAL_MS", "10"),
            ("NOVOFON_NUMBERS", "+7 (495) 123-45-67"),
            ("RECORDING_DELAY_SECS", "0"),
            ("OPENAI_API_KEY", fake_openai::KEY),
            ("OPENAI_BASE_URL", &self.openai.url),
            ("RETRY_BASE_MS", "20"),
            ("JOB_RETRY_BASE_MS", "50"),
        ];
        for (k, v) in &self.extra {
            pairs.retain(|(pk, _)| pk != k);
            pairs.push((k, v));
        }
        let cfg = common::config(&pairs, Purpose::Run);
        self.app = Some(callops::app::start(cfg).await.expect("app starts"));
    }

    async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.app.as_ref().unwrap().http_addr)
    }

    async fn api(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base()))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn protocols(&self) -> Vec<Value> {
        self.tg
            .delivered_to(TEAM)
            .into_iter()
            .filter(|b| b["text"].as_str().is_some_and(|t| t.contains("ЗВОНОК")))
            .collect()
    }

    async fn wait_protocols(&self, n: usize) {
        common::eventually(30, &format!("{n} protocols posted"), || async {
            self.protocols().len() >= n
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polled_calls_become_protocols_once_and_the_rest_are_skipped_with_reasons() {
    let calls = vec![
        call(
            "1001.1",
            "in_aaa",
            "79161112233",
            "74951234567",
            "answered",
            95,
            true,
        ),
        call(
            "1002.2",
            "in_bbb",
            "79161112234",
            "74951234567",
            "answered",
            5,
            true,
        ),
        call(
            "1003.3",
            "in_ccc",
            "79161112235",
            "74951234567",
            "no answer",
            0,
            false,
        ),
        call(
            "1004.4",
            "in_ddd",
            "79161112236",
            "74990000000",
            "answered",
            60,
            true,
        ),
        call(
            "1005.5",
            "out_eee",
            "74951234567",
            "79035556677",
            "answered",
            120,
            true,
        ),
    ];
    let mut h = Harness::new(calls, &[]).await;
    h.wait_protocols(2).await;
    let polls_before = h.novofon.state.stats_requests.load(Ordering::SeqCst);
    common::eventually(10, "two more polls", || async {
        h.novofon.state.stats_requests.load(Ordering::SeqCst) >= polls_before + 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let protocols = h.protocols();
    assert_eq!(
        protocols.len(),
        2,
        "each call is posted once, however often it is polled"
    );
    // The unanswered incoming call is alerted once, without a call-back button (no telephony).
    let missed: Vec<_> =
        h.tg.delivered_to(TEAM)
            .into_iter()
            .filter(|b| {
                b["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("📵 Пропущенный"))
            })
            .collect();
    assert_eq!(missed.len(), 1, "{missed:#?}");
    let alert = missed[0]["text"].as_str().unwrap();
    assert!(
        alert.starts_with("📵 Пропущенный от +7 (916) 111-22-35 · "),
        "{alert}"
    );
    assert!(missed[0].get("reply_markup").is_none());
    assert_eq!(
        h.novofon.state.bad_signatures.load(Ordering::SeqCst),
        0,
        "every request was signed right"
    );

    let incoming = protocols
        .iter()
        .find(|p| p["text"].as_str().unwrap().contains("ВХОДЯЩИЙ"))
        .expect("incoming protocol");
    let text = incoming["text"].as_str().unwrap();
    for needle in [
        "+7 (916) 111-22-33",
        "1м 35с",
        "Квартал",
        "🔥 ГОРЯЧИЙ ЛИД",
        "8/10",
        "ОЦЕНКА ЗАИНТЕРЕСОВАННОСТИ",
        "КОММЕРЧЕСКИЙ ПОТЕНЦИАЛ",
        "РЕКОМЕНДАЦИИ",
        "👔 Менеджер: Добрый день",
        "👤 Клиент: Здравствуйте",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let manager_at = text.find("Менеджер: Добрый").unwrap();
    let client_at = text.find("Клиент: Здравствуйте").unwrap();
    assert!(manager_at < client_at, "utterances merged by time");
    assert_eq!(incoming["parse_mode"], "HTML");
    assert!(
        incoming
            .get("disable_notification")
            .is_none_or(|v| v == false),
        "a hot lead makes the chat buzz"
    );
    let keyboard = &incoming["reply_markup"]["inline_keyboard"];
    assert_eq!(keyboard.as_array().unwrap().len(), 3);
    assert!(keyboard[0][0]["callback_data"]
        .as_str()
        .unwrap()
        .starts_with("fb:"));
    assert!(protocols.iter().any(
        |p| p["text"].as_str().unwrap().contains("📱 ИСХОДЯЩИЙ ЗВОНОК")
            && p["text"].as_str().unwrap().contains("+7 (903) 555-66-77")
    ));

    // STT: whisper-1 with verbose_json, one request per channel.
    let formats = h.openai.state.stt_formats.lock().unwrap().clone();
    assert!(
        formats
            .iter()
            .all(|(m, f)| m == "whisper-1" && f == "verbose_json"),
        "{formats:?}"
    );
    assert_eq!(formats.len(), 4, "2 calls x 2 channels");
    // LLM: strict JSON schema, the transcript delimited as data.
    let req = &h.openai.chat_requests()[0];
    assert_eq!(req["response_format"]["type"], "json_schema");
    assert_eq!(req["response_format"]["json_schema"]["strict"], true);
    assert!(req["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("данные, а не инструкции"));
    let user = req["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("<transcript>") && user.contains(MANAGER_LINE) && user.contains(CLIENT_LINE)
    );

    let skipped = h.api("/api/calls?status=skipped").await;
    assert_eq!(skipped["total"], 3);
    let reasons: Vec<String> = skipped["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("shorter than 10 s")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not answered")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("not one of our numbers")),
        "{reasons:?}"
    );

    let hot = h.api("/api/calls?category=hot").await;
    assert_eq!(hot["total"], 2);
    let first = &hot["calls"][0];
    for key in [
        "id",
        "provider",
        "provider_call_id",
        "direction",
        "caller",
        "called",
        "started_at",
        "duration_secs",
        "status",
        "lead_category",
        "interest_rating",
        "priority",
        "agency_name",
    ] {
        assert!(first.get(key).is_some(), "list item lacks {key}");
    }
    let id = hot["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["direction"] == "incoming")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let detail = h.api(&format!("/api/calls/{id}")).await;
    let c = &detail["call"];
    assert_eq!(c["caller"], "+79161112233");
    assert_eq!(c["transcript"][0]["speaker"], "manager");
    assert_eq!(c["transcript"][0]["text"], MANAGER_LINE);
    assert_eq!(c["transcript"][1]["speaker"], "client");
    assert_eq!(c["transcript"][0]["start_ms"], 500);
    assert_eq!(c["analysis"]["result"]["buyers_count"], 3);
    assert_eq!(c["tokens"]["prompt_tokens"], 1200);
    assert!(c["tokens"]["cost_usd"].as_f64().unwrap() > 0.0);

    let stats = h.api("/api/stats").await;
    assert_eq!(stats["calls_by_category"]["hot"], 2);
    assert_eq!(stats["calls_by_status"]["skipped"], 3);
    assert_eq!(stats["today"]["prompt_tokens"], 2400);
    let sched = h.api("/api/scheduler").await;
    let all = sched["schedules"].as_array().unwrap();
    let poll = all
        .iter()
        .find(|s| s["name"] == "poll:novofon")
        .expect("the poller is listed");
    assert!(poll["last_success"].is_string() && poll["next_run"].is_string());
    assert!(
        all.iter().any(|s| s["name"] == "digest"),
        "the digest check is listed too"
    );
    h.stop().await;
}

fn webhook_signature(s: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(fake_novofon::SECRET.as_bytes()).unwrap();
    mac.update(s.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_are_verified_bounded_and_confirmed_by_the_poll_before_analysis() {
    let mut c = call(
        "2001.1",
        "in_hook",
        "79167778899",
        "74951234567",
        "answered",
        47,
        true,
    );
    c.callstart = moscow(1);
    // The PBX's statistics do not show the call yet: only the webhook can bring it in.
    let mut h = Harness::new(vec![], &[("NOVOFON_POLL_SECS", "3600")]).await;
    common::eventually(10, "first (empty) poll", || async {
        h.novofon.state.stats_requests.load(Ordering::SeqCst) >= 1
    })
    .await;
    h.novofon.state.calls.lock().unwrap().push(c.clone());

    let http = reqwest::Client::new();
    let echo = http
        .get(format!("{}/webhooks/novofon?zd_echo=ab12cd", h.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.text().await.unwrap(), "ab12cd");

    let form = [
        ("event", "NOTIFY_END"),
        ("call_start", c.callstart.as_str()),
        ("pbx_call_id", "in_hook"),
        ("caller_id", "+79167778899"),
        ("called_did", "74951234567"),
        ("internal", "100"),
        ("duration", "47"),
        ("disposition", "answered"),
        ("status_code", "16"),
        ("is_recorded", "1"),
        ("call_id_with_rec", "2001.1"),
    ];
    let bad = http
        .post(format!("{}/webhooks/novofon", h.base()))
        .header("Signature", "d3Jvbmc=")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let none = http
        .post(format!("{}/webhooks/novofon", h.base()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        h.api("/api/calls").await["total"],
        0,
        "nothing enqueued for a bad signature"
    );

    let sig = webhook_signature(&format!("+79167778899{}{}", "74951234567", c.callstart));
    let ok = http
        .post(format!("{}/webhooks/novofon", h.base()))
        .header("Signature", &sig)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // A webhook only announces a call: it waits for the statistics to confirm it.
    let stored = h.api("/api/calls").await;
    assert_eq!(stored["total"], 1);
    assert_eq!(stored["calls"][0]["status"], "unconfirmed");

    // The same captured webhook replayed with another call id: the signature still matches.
    let mut forged = form;
    forged[2] = ("pbx_call_id", "in_forged");
    let replay = http
        .post(format!("{}/webhooks/novofon", h.base()))
        .header("Signature", &sig)
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200, "the signature cannot tell");
    // An old one (outside the polling window) is refused outright.
    let old = moscow(24 * 60);
    let mut stale = form;
    stale[1] = ("call_start", old.as_str());
    let stale_sig = webhook_signature(&format!("+79167778899{}{}", "74951234567", old));
    let refused = http
        .post(format!("{}/webhooks/novofon", h.base()))
        .header("Signature", stale_sig)
        .form(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // A correctly signed duration that overflows any clock arithmetic is refused, not a panic.
    let mut huge = form;
    huge[6] = ("duration", "9223372036854775807");
    let overflow = http
        .post(format!("{}/webhooks/novofon", h.base()))
        .header("Signature", &sig)
        .form(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(overflow.status(), 400);
    assert!(overflow.text().await.unwrap().contains("duration"));
    assert_eq!(
        h.api("/api/calls").await["total"],
        2,
        "the server still answers"
    );

    // The poll is the truth: the real call is confirmed and analysed; the forged one is not.
    h.stop().await;
    h.extra.retain(|(k, _)| k != "NOVOFON_POLL_SECS");
    h.start().await;
    h.wait_protocols(1).await;
    assert!(h.protocols()[0]["text"]
        .as_str()
        .unwrap()
        .contains("+7 (916) 777-88-99"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        h.protocols().len(),
        1,
        "nothing posted twice, nothing forged"
    );
    let forged = h.api("/api/calls?status=unconfirmed").await;
    assert_eq!(forged["total"], 1);
    assert_eq!(forged["calls"][0]["provider_call_id"], "in_forged");
    assert_eq!(h.api("/api/calls?status=analyzed").await["total"], 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provider_faults_are_retried_and_still_give_exactly_one_protocol() {
    let calls = vec![call(
        "3001.1",
        "in_fault",
        "79160001122",
        "74951234567",
        "answered",
        30,
        true,
    )];
    let mut h = Harness::prepared(calls, &[("NOVOFON_POLL_SECS", "1")]).await;
    // Faults armed before the app starts, so every one of them is met.
    h.novofon.state.stats_429.store(2, Ordering::SeqCst);
    h.novofon.state.html_downloads.store(2, Ordering::SeqCst);
    h.openai.state.stt_429.store(1, Ordering::SeqCst);
    h.openai.state.stt_500.store(1, Ordering::SeqCst);
    h.openai.state.chat_500.store(1, Ordering::SeqCst);
    h.openai.state.chat_429.store(1, Ordering::SeqCst);
    // Telegram itself answers a JSON 500 once: the post is retried, not dropped.
    h.tg.state.fail_next_500.store(1, Ordering::SeqCst);
    h.start().await;
    h.wait_protocols(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(h.protocols().len(), 1);
    let st = &h.novofon.state;
    let ai = &h.openai.state;
    for (name, left) in [
        ("stats 429", st.stats_429.load(Ordering::SeqCst)),
        ("HTML downloads", st.html_downloads.load(Ordering::SeqCst)),
        ("STT 429", ai.stt_429.load(Ordering::SeqCst)),
        ("STT 500", ai.stt_500.load(Ordering::SeqCst)),
        ("chat 500", ai.chat_500.load(Ordering::SeqCst)),
        ("chat 429", ai.chat_429.load(Ordering::SeqCst)),
        (
            "Telegram 500",
            h.tg.state.fail_next_500.load(Ordering::SeqCst),
        ),
    ] {
        assert_eq!(left, 0, "the {name} fault was never hit");
    }
    assert!(
        st.downloads.load(Ordering::SeqCst) >= 3,
        "two HTML pages, then the audio"
    );
    let detail = h.api("/api/calls?status=analyzed").await;
    assert_eq!(detail["total"], 1);
    let mut h = h;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chat_that_refuses_the_bot_fails_the_post_and_the_admin_is_told_in_private() {
    let calls = vec![call(
        "3101.1",
        "in_kicked",
        "79160001133",
        "74951234567",
        "answered",
        30,
        true,
    )];
    let mut h = Harness::prepared(calls, &[]).await;
    h.tg.state.forbidden_chat.store(TEAM, Ordering::SeqCst);
    h.start().await;
    common::eventually(30, "the admin is told", || async {
        !h.tg.texts_to(ADMIN as i64).is_empty()
    })
    .await;
    let alert = h.tg.texts_to(ADMIN as i64).remove(0);
    assert!(
        alert.contains("не удалось отправить") && alert.contains("/lead"),
        "{alert}"
    );
    let posts_to_team =
        h.tg.calls("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"] == TEAM)
            .count();
    assert_eq!(posts_to_team, 1, "a 403 is not retried");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_recordings_fail_their_calls_with_a_readable_reason() {
    let mut absurd = call(
        "4101.1",
        "in_absurd",
        "79160007711",
        "74951234567",
        "answered",
        120,
        true,
    );
    absurd.audio = callops::bench::recordings::stereo_wav_claiming(4_294_967_291, 1000);
    let mut huge = call(
        "4102.2",
        "in_huge",
        "79160007722",
        "74951234567",
        "answered",
        120,
        true,
    );
    huge.audio = callops::bench::recordings::stereo_wav_claiming(8000, 1_000_000);
    let mut long = call(
        "4103.3",
        "in_long",
        "79160007733",
        "74951234567",
        "answered",
        20,
        true,
    );
    long.audio = callops::bench::recordings::stereo_wav_claiming(8000, 8000 * 90);
    let mut h = Harness::new(vec![absurd, huge, long], &[("MAX_RECORDING_MB", "3")]).await;
    common::eventually(30, "three failure notices", || async {
        h.tg.texts_to(TEAM)
            .iter()
            .filter(|t| t.contains("Не удалось обработать"))
            .count()
            == 3
    })
    .await;
    let failed = h.api("/api/calls?status=failed").await;
    assert_eq!(failed["total"], 3);
    let reason = |pbx: &str| {
        failed["calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["provider_call_id"] == pbx)
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        reason("in_absurd").contains("4294967291 Hz"),
        "{}",
        reason("in_absurd")
    );
    assert!(
        reason("in_huge").contains("MAX_RECORDING_MB"),
        "{}",
        reason("in_huge")
    );
    assert!(
        reason("in_long").contains("longer than the allowed 82 s"),
        "{}",
        reason("in_long")
    );
    let notices = h.tg.texts_to(TEAM).join("\n");
    for words in [
        "невозможная частота дискретизации",
        "слишком большой",
        "слишком длинная",
    ] {
        assert!(notices.contains(words), "{words}: {notices}");
    }
    assert!(
        h.openai.state.stt_requests.load(Ordering::SeqCst) == 0,
        "nothing uploaded"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corrupt_audio_and_hopeless_llm_answers_fail_the_call_visibly_without_stopping_others() {
    let mut corrupt = call(
        "4001.1",
        "in_corrupt",
        "79160004455",
        "74951234567",
        "answered",
        40,
        true,
    );
    corrupt.audio = (0..6000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let good = call(
        "4002.2",
        "in_good",
        "79160004466",
        "74951234567",
        "answered",
        40,
        true,
    );
    let mut h = Harness::new(vec![corrupt, good], &[]).await;
    common::eventually(30, "a protocol and a failure notice", || async {
        let texts: Vec<String> = h.tg.texts_to(TEAM);
        texts.iter().any(|t| t.contains("ЗВОНОК"))
            && texts.iter().any(|t| t.contains("Не удалось обработать"))
    })
    .await;
    let failed = h.api("/api/calls?status=failed").await;
    assert_eq!(failed["total"], 1);
    let reason = failed["calls"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("bad audio file"), "{reason}");
    let notice =
        h.tg.texts_to(TEAM)
            .into_iter()
            .find(|t| t.contains("Не удалось"))
            .unwrap();
    assert!(
        notice.contains("+7 (916) 000-44-55") && notice.contains("bad audio"),
        "{notice}"
    );

    // Now an LLM that never answers properly: the call fails with the reason; retry is possible.
    let id = h.api("/api/calls?status=analyzed").await["calls"][0]["id"]
        .as_i64()
        .unwrap();
    h.openai.script(&[
        "Извините, не могу.",
        "{\"lead_category\": \"lukewarm\"}",
        "```json\n[1,2]\n```",
    ]);
    // The body is optional, even when a client labels an empty body as JSON (curl -H ...).
    let resp = reqwest::Client::new()
        .post(format!("{}/api/calls/{id}/reanalyze", h.base()))
        .header("X-API-Key", API_KEY)
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    common::eventually(20, "the re-analysis fails", || async {
        h.api(&format!("/api/calls/{id}")).await["call"]["status"] == "failed"
    })
    .await;
    let detail = h.api(&format!("/api/calls/{id}")).await;
    assert!(
        detail["call"]["reason"]
            .as_str()
            .unwrap()
            .contains("no valid answer in 3 attempts"),
        "{detail}"
    );
    assert_eq!(
        detail["call"]["tokens"]["prompt_tokens"],
        1200 * 4,
        "every attempt is accounted"
    );
    let reqs = h.openai.chat_requests();
    let last = reqs.last().unwrap();
    let feedback = last["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap();
    assert!(
        feedback.contains("не прошёл проверку"),
        "the validation error is fed back: {feedback}"
    );

    // Re-analysis with a good answer recovers the call and posts a new protocol.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/calls/{id}/reanalyze", h.base()))
        .header("X-API-Key", API_KEY)
        .json(&json!({"profile": "qa_checklist"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    common::eventually(20, "re-analysed", || async {
        h.api(&format!("/api/calls/{id}")).await["call"]["status"] == "analyzed"
    })
    .await;
    h.wait_protocols(2).await;
    assert!(h.protocols().last().unwrap()["text"]
        .as_str()
        .unwrap()
        .contains("ОЦЕНКА РАБОТЫ ОПЕРАТОРА"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_posts_nothing_twice() {
    let calls = vec![
        call(
            "5001.1",
            "in_r1",
            "79160005501",
            "74951234567",
            "answered",
            30,
            true,
        ),
        call(
            "5002.2",
            "in_r2",
            "79160005502",
            "74951234567",
            "answered",
            30,
            true,
        ),
    ];
    let mut h = Harness::new(calls, &[]).await;
    h.wait_protocols(2).await;
    h.stop().await;
    let polls = h.novofon.state.stats_requests.load(Ordering::SeqCst);
    h.start().await;
    common::eventually(10, "polls after restart", || async {
        h.novofon.state.stats_requests.load(Ordering::SeqCst) >= polls + 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.protocols().len(), 2);
    assert_eq!(
        h.openai.state.stt_requests.load(Ordering::SeqCst),
        4,
        "nothing transcribed twice"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feedback_buttons_store_and_redraw_for_managers_only() {
    let calls = vec![call(
        "6001.1",
        "in_fb",
        "79160006601",
        "74951234567",
        "answered",
        30,
        true,
    )];
    let mut h = Harness::new(calls, &[]).await;
    h.wait_protocols(1).await;
    let protocol = h.protocols()[0].clone();
    let message_id = protocol["assigned_message_id"].as_i64().unwrap();
    let warm = protocol["reply_markup"]["inline_keyboard"][0][1]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let call_id: i64 = warm.split(':').nth(1).unwrap().parse().unwrap();

    // A viewer of the team chat may not rate.
    h.tg.press_button(TEAM, message_id, 999, &warm);
    common::eventually(10, "alert to the viewer", || async {
        !h.tg.calls("answerCallbackQuery").is_empty()
    })
    .await;
    let alert = &h.tg.calls("answerCallbackQuery")[0].body;
    assert_eq!(alert["show_alert"], true);
    assert!(alert["text"].as_str().unwrap().contains("менеджеры"));
    assert!(
        h.api(&format!("/api/calls/{call_id}")).await["call"]["feedback"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The admin corrects the category.
    h.tg.press_button(TEAM, message_id, ADMIN, &warm);
    common::eventually(10, "protocol redrawn", || async {
        !h.tg.calls("editMessageText").is_empty()
    })
    .await;
    let edit = &h.tg.calls("editMessageText")[0].body;
    assert_eq!(edit["message_id"], message_id);
    let text = edit["text"].as_str().unwrap();
    assert!(
        text.contains("исправлена на «☀️ ТЁПЛЫЙ»: @user77"),
        "{text}"
    );
    assert!(
        edit["reply_markup"]["inline_keyboard"].is_array(),
        "buttons stay"
    );
    let fb = h.api(&format!("/api/calls/{call_id}")).await["call"]["feedback"].clone();
    assert_eq!(fb.as_array().unwrap().len(), 1);
    assert_eq!(fb[0]["choice"], "warm");
    assert_eq!(fb[0]["user_id"], ADMIN);

    // The same callback data forged onto another message of the bot: refused, nothing redrawn.
    let cold = warm.replace("warm", "cold");
    h.tg.press_button(TEAM, message_id + 500, ADMIN, &cold);
    common::eventually(10, "the forged press is answered", || async {
        h.tg.calls("answerCallbackQuery").len() >= 3
    })
    .await;
    let refusal = h.tg.calls("answerCallbackQuery")[2].body.clone();
    assert!(
        refusal["text"]
            .as_str()
            .unwrap()
            .contains("не от протокола"),
        "{refusal}"
    );
    assert_eq!(h.tg.calls("editMessageText").len(), 1, "nothing redrawn");
    let fb = h.api(&format!("/api/calls/{call_id}")).await["call"]["feedback"].clone();
    assert_eq!(fb.as_array().unwrap().len(), 1, "nothing stored");

    // The correction teaches: the next analysis of this profile gets it as an example.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/calls/{call_id}/reanalyze", h.base()))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    common::eventually(20, "re-analysis request", || async {
        h.openai.chat_requests().len() >= 2
    })
    .await;
    let prompt = h.openai.chat_requests()[1]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        prompt.contains("исправил категорию")
            && prompt.contains("ИИ поставил: hot, правильно: warm"),
        "{prompt}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_without_its_recording_waits_for_it_instead_of_being_skipped() {
    let c = call(
        "3001.1",
        "in_later",
        "79163334455",
        "74951234567",
        "answered",
        80,
        false,
    );
    let mut h = Harness::new(vec![c], &[]).await;
    common::eventually(15, "the call is stored as waiting", || async {
        h.api("/api/calls").await["calls"][0]["status"] == "awaiting_recording"
    })
    .await;
    let waiting = h.api("/api/calls?status=awaiting_recording").await;
    assert_eq!(waiting["total"], 1);
    assert!(waiting["calls"][0]["reason"].is_null(), "{waiting}");
    assert_eq!(h.api("/api/calls?status=skipped").await["total"], 0);
    assert!(h.protocols().is_empty());

    // The PBX finishes the recording: the next poll picks it up and the protocol is posted once.
    h.novofon.state.calls.lock().unwrap()[0].recorded = true;
    h.wait_protocols(1).await;
    common::eventually(15, "the call is analysed", || async {
        h.api("/api/calls").await["calls"][0]["status"] == "analyzed"
    })
    .await;
    assert_eq!(h.protocols().len(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cold_leads_and_refusals_arrive_silently() {
    let calls = vec![call(
        "2001.1",
        "in_cold",
        "79161112233",
        "74951234567",
        "answered",
        95,
        true,
    )];
    let mut h = Harness::prepared(calls, &[]).await;
    h.openai
        .state
        .answers
        .lock()
        .unwrap()
        .push_back(fake_openai::realty_answer("cold", 2));
    h.start().await;
    h.wait_protocols(1).await;
    let protocol = &h.protocols()[0];
    assert!(
        protocol["text"].as_str().unwrap().contains("ХОЛОДНЫЙ"),
        "{}",
        protocol["text"]
    );
    assert_eq!(
        protocol["disable_notification"], true,
        "a cold lead does not buzz"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recording_button_sends_the_calls_audio_once_as_a_reply_to_its_protocol() {
    let calls = vec![call(
        "3001.1",
        "in_rec",
        "79161112233",
        "74951234567",
        "answered",
        95,
        true,
    )];
    let h = Harness::new(calls, &[]).await;
    h.wait_protocols(1).await;
    let protocol = h.protocols()[0].clone();
    let message = protocol["assigned_message_id"].as_i64().unwrap();
    let data: Vec<String> = protocol["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_string))
        .collect();
    let button = data
        .iter()
        .find(|d| d.starts_with("rc:"))
        .expect("a 🎧 button under a recorded call's protocol")
        .clone();
    h.tg.press_button(TEAM, message, ADMIN, &button);
    common::eventually(15, "the recording sent", || async {
        !h.tg.calls("sendAudio").is_empty()
    })
    .await;
    // A second press (another member, or an impatient one) sends nothing more.
    h.tg.press_button(TEAM, message, ADMIN, &button);
    common::eventually(10, "the second press answered", || async {
        h.tg.calls("answerCallbackQuery")
            .iter()
            .any(|c| c.body["text"] == "Запись уже отправлена в чат")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = h.tg.calls("sendAudio");
    assert_eq!(sent.len(), 1);
    let body = &sent[0].body;
    let audio: Vec<u8> = body["audio_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(audio, stereo(), "the PBX's recording, as it is");
    assert!(body["caption"]
        .as_str()
        .unwrap()
        .contains("+7 (916) 111-22-33"));
    let reply: serde_json::Value =
        serde_json::from_str(body["reply_parameters"].as_str().unwrap()).unwrap();
    assert_eq!(reply["message_id"], message, "it answers the protocol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zadarma_is_polled_beside_novofon_and_its_webhooks_are_verified_and_confirmed_once() {
    // Zadarma speaks Novofon 1.0's API on its own host: a second fake of that API plays it.
    let zadarma = FakeNovofon::start(vec![]).await;
    let mut c = call(
        "4001.1",
        "in_zd",
        "79165550011",
        "74951234567",
        "answered",
        61,
        true,
    );
    c.callstart = moscow(1);
    let novofon_call = call(
        "4002.2",
        "in_nf",
        "79165550022",
        "74951234567",
        "answered",
        70,
        true,
    );
    let url = zadarma.url.clone();
    let mut h = Harness::new(
        vec![novofon_call],
        &[
            ("ZADARMA_API_URL", &url),
            ("ZADARMA_API_KEY", fake_novofon::KEY),
            ("ZADARMA_API_SECRET", fake_novofon::SECRET),
            ("ZADARMA_POLL_SECS", "1"),
        ],
    )
    .await;
    h.wait_protocols(1).await;
    common::eventually(10, "Zadarma polled", || async {
        zadarma.state.stats_requests.load(Ordering::SeqCst) >= 1
    })
    .await;
    // Zadarma's webhook announces its call before its statistics show it.
    let form = [
        ("event", "NOTIFY_END"),
        ("call_start", c.callstart.as_str()),
        ("pbx_call_id", "in_zd"),
        ("caller_id", "+79165550011"),
        ("called_did", "74951234567"),
        ("internal", "100"),
        ("duration", "61"),
        ("disposition", "answered"),
        ("status_code", "16"),
        ("is_recorded", "1"),
        ("call_id_with_rec", "4001.1"),
    ];
    let http = reqwest::Client::new();
    let bad = http
        .post(format!("{}/webhooks/zadarma", h.base()))
        .header("Signature", "d3Jvbmc=")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let sig = webhook_signature(&format!("+79165550011{}{}", "74951234567", c.callstart));
    let ok = http
        .post(format!("{}/webhooks/zadarma", h.base()))
        .header("Signature", &sig)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Its statistics confirm it: one protocol, however often both report it.
    zadarma.state.calls.lock().unwrap().push(c.clone());
    h.wait_protocols(2).await;
    let before = zadarma.state.stats_requests.load(Ordering::SeqCst);
    common::eventually(10, "two more Zadarma polls", || async {
        zadarma.state.stats_requests.load(Ordering::SeqCst) >= before + 2
    })
    .await;
    let protocols = h.protocols();
    assert_eq!(protocols.len(), 2, "one protocol per call");
    assert!(protocols
        .iter()
        .any(|p| p["text"].as_str().unwrap().contains("+7 (916) 555-00-11")));
    assert_eq!(zadarma.state.bad_signatures.load(Ordering::SeqCst), 0);
    let calls = h.api("/api/calls").await;
    let providers: Vec<&str> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["provider"].as_str())
        .collect();
    assert!(
        providers.contains(&"zadarma") && providers.contains(&"novofon"),
        "{calls}"
    );
    let sched = h.api("/api/scheduler").await;
    assert!(sched["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "poll:zadarma"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mango_is_polled_with_signed_requests_and_a_webhook_and_a_poll_make_one_protocol() {
    use common::fake_mango::{self, FakeMango, MangoCall};
    let now = Utc::now().timestamp();
    let polled = MangoCall {
        entry_id: "MjA0NjE2OTI3Mw==".into(),
        recording_id: Some("MToxMDE0NDU5OjE2NjQ3NjQ4Nzox".into()),
        start: now - 600,
        answer: Some(now - 595),
        finish: now - 500,
        from_number: "79167770011".into(),
        to_extension: "101".into(),
        to_number: "74951234567".into(),
        audio: stereo(),
    };
    let mango = FakeMango::start(vec![polled]).await;
    let url = mango.url.clone();
    let h = Harness::new(
        vec![],
        &[
            ("MANGO_API_URL", &url),
            ("MANGO_API_KEY", fake_mango::KEY),
            ("MANGO_API_SALT", fake_mango::SALT),
            ("MANGO_POLL_SECS", "1"),
            ("MANGO_RESULT_POLL_MS", "50"),
        ],
    )
    .await;
    // The statistics CSV comes after two 204s; the recording through a one-shot 302 link.
    h.wait_protocols(1).await;
    assert!(h.protocols()[0]["text"]
        .as_str()
        .unwrap()
        .contains("+7 (916) 777-00-11"));
    assert!(mango.state.result_requests.load(Ordering::SeqCst) >= 3);
    assert_eq!(mango.state.downloads.load(Ordering::SeqCst), 1);

    // A second call: Mango's `summary` event announces it before the statistics show it.
    let summary = json!({
        "entry_id": "ENTRY-2", "call_direction": 1,
        "from": {"number": "79167770022"},
        "to": {"extension": "102", "number": "74951234567"},
        "line_number": "74951234567",
        "create_time": now - 120, "forward_time": now - 119, "talk_time": now - 115,
        "end_time": now - 40, "entry_result": 1, "disconnect_reason": 1100
    });
    let http = reqwest::Client::new();
    let mut forged = fake_mango::event_form(&summary);
    forged[1].1 = "0".repeat(64);
    let bad = http
        .post(format!("{}/webhooks/mango/events/summary", h.base()))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401, "a forged signature is refused");
    for event in ["summary", "summary"] {
        let ok = http
            .post(format!("{}/webhooks/mango/events/{event}", h.base()))
            .form(&fake_mango::event_form(&summary))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    }
    let added = json!({"entry_id": "ENTRY-2", "recording_id": "REC-2", "product_id": 1,
        "user_id": 2, "timestamp": now - 30});
    let ok = http
        .post(format!("{}/webhooks/mango/events/record/added", h.base()))
        .form(&fake_mango::event_form(&added))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The statistics confirm it: one protocol, however often the event and the polls report it.
    mango.state.calls.lock().unwrap().push(MangoCall {
        entry_id: "ENTRY-2".into(),
        recording_id: Some("REC-2".into()),
        start: now - 120,
        answer: Some(now - 115),
        finish: now - 40,
        from_number: "79167770022".into(),
        to_extension: "102".into(),
        to_number: "74951234567".into(),
        audio: stereo(),
    });
    h.wait_protocols(2).await;
    let before = mango.state.stats_requests.load(Ordering::SeqCst);
    common::eventually(15, "two more Mango polls", || async {
        mango.state.stats_requests.load(Ordering::SeqCst) >= before + 2
    })
    .await;
    let protocols = h.protocols();
    assert_eq!(protocols.len(), 2, "one protocol per call");
    assert!(protocols[1]["text"]
        .as_str()
        .unwrap()
        .contains("+7 (916) 777-00-22"));
    assert_eq!(mango.state.bad_signatures.load(Ordering::SeqCst), 0);
    let calls = h.api("/api/calls").await;
    let mango_calls = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["provider"] == "mango")
        .count();
    assert_eq!(mango_calls, 2, "{calls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tbank_calls_arrive_as_ready_transcripts_page_by_page_without_speech_to_text() {
    use common::fake_tbank::{self, FakeTbank, TqmCall};
    let tqm = |n: i64, minutes_ago: i64| TqmCall {
        id: 500 + n,
        segment: 9000 + n,
        start: moscow(minutes_ago),
        duration: 90,
        client: format!("7916888000{n}"),
        line: "74951234567".into(),
        phrases: vec![
            ("OPERATOR", "Агентство «Квартал», Анна, здравствуйте"),
            ("CLIENT", "Здравствуйте, у меня три покупателя на двушку"),
        ],
    };
    // Three today (two pages); one from three days ago and one from two days ago, outside the
    // polling window: the nightly batch (set to read three days ago, from midnight on) takes the
    // first, a re-run asked through the API the second.
    let tbank = FakeTbank::start(vec![
        tqm(1, 20),
        tqm(2, 15),
        tqm(3, 10),
        tqm(4, 3 * 24 * 60),
        tqm(6, 2 * 24 * 60),
        tqm(7, 4 * 24 * 60),
    ])
    .await;
    let url = tbank.url.clone();
    let h = Harness::new(
        vec![],
        &[
            ("TBANK_API_URL", &url),
            ("TBANK_LOGIN", fake_tbank::LOGIN),
            ("TBANK_PASSWORD", fake_tbank::PASSWORD),
            ("TBANK_POLL_SECS", "1"),
            ("TBANK_NIGHTLY_DAYS_AGO", "3"),
            ("TBANK_NIGHTLY_HOUR", "0"),
            ("TIMEZONE", "Europe/Moscow"),
        ],
    )
    .await;
    h.wait_protocols(4).await;
    for n in 1..=4 {
        assert!(
            h.protocols().iter().any(|p| p["text"]
                .as_str()
                .unwrap()
                .contains(&format!("888-00-0{n}"))),
            "call {n} posted"
        );
    }
    assert_eq!(
        h.openai.state.stt_requests.load(Ordering::SeqCst),
        0,
        "ready transcripts need no speech-to-text"
    );
    let asked = h.openai.state.chat_requests.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|r| r.to_string().contains("три покупателя на двушку")),
        "the transcript reached the model"
    );
    assert_eq!(
        tbank.state.logins.load(Ordering::SeqCst),
        1,
        "one session for all requests"
    );
    let body = tbank.state.search_bodies.lock().unwrap()[0].clone();
    assert!(body["filters"]["date"]["min"].as_str().is_some(), "{body}");

    // The session expires: the next request logs in again, and the new call is taken once.
    tbank.state.expire_tokens();
    tbank.state.calls.lock().unwrap().push(tqm(5, 3));
    h.wait_protocols(5).await;
    assert!(tbank.state.logins.load(Ordering::SeqCst) >= 2);

    // A day read again on demand.
    let post = |path: String| {
        reqwest::Client::new()
            .post(format!("{}{path}", h.base()))
            .header("X-API-Key", API_KEY)
            .send()
    };
    let two_days_ago = (Utc::now() - chrono::Duration::days(2))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d")
        .to_string();
    let r = post(format!("/api/sources/tbank/days/{two_days_ago}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = post("/api/sources/mango/days/2026-01-01".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "not a configured source");
    let r = post("/api/sources/tbank/days/01.01.2026".into())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    h.wait_protocols(6).await;
    assert!(h
        .protocols()
        .iter()
        .any(|p| p["text"].as_str().unwrap().contains("888-00-06")));

    // And from the chat: a manager pulls the day of four days ago.
    let four_days_ago = (Utc::now() - chrono::Duration::days(4))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d")
        .to_string();
    h.tg.send_text(TEAM, ADMIN, "ru", &format!("/pull tbank {four_days_ago}"));
    h.wait_protocols(7).await;
    assert!(
        h.tg.delivered_to(TEAM).iter().any(|m| m["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Загружаю звонки (tbank)"))),
        "the manager is told"
    );
    let before = tbank.state.searches.load(Ordering::SeqCst);
    common::eventually(15, "two more T-Bank polls", || async {
        tbank.state.searches.load(Ordering::SeqCst) >= before + 4
    })
    .await;
    assert_eq!(h.protocols().len(), 7, "one protocol per call");
    let calls = h.api("/api/calls").await;
    let n = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["provider"] == "tbank")
        .count();
    assert_eq!(n, 7, "{calls}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_departments_calls_go_to_its_chat_under_its_operators_name() {
    use common::fake_mango::{self, FakeMango, MangoCall};
    const SALES: i64 = -100_200_300;
    let now = Utc::now().timestamp();
    let call = |entry: &str, ext: &str, client: &str| MangoCall {
        entry_id: entry.into(),
        recording_id: Some(format!("rec-{entry}")),
        start: now - 900,
        answer: Some(now - 890),
        finish: now - 800,
        from_number: client.into(),
        to_extension: ext.into(),
        to_number: "74951234567".into(),
        audio: stereo(),
    };
    let mango = FakeMango::start(vec![
        call("E-SALES", "101", "79160000101"),
        call("E-OTHER", "555", "79160000555"),
    ])
    .await;
    let url = mango.url.clone();
    let departments = format!(
        r#"[{{"name": "Продажи", "operators": {{"101": "Анна", "102": "Игорь"}}, "chat": {SALES}, "topic": 42}}]"#
    );
    let h = Harness::new(
        vec![],
        &[
            ("MANGO_API_URL", &url),
            ("MANGO_API_KEY", fake_mango::KEY),
            ("MANGO_API_SALT", fake_mango::SALT),
            ("MANGO_POLL_SECS", "1"),
            ("MANGO_RESULT_POLL_MS", "50"),
            ("DEPARTMENTS", &departments),
        ],
    )
    .await;
    let sales = || {
        h.tg.delivered_to(SALES)
            .into_iter()
            .filter(|b| b["text"].as_str().is_some_and(|t| t.contains("ЗВОНОК")))
            .collect::<Vec<_>>()
    };
    common::eventually(30, "the sales call posted to its chat", || async {
        !sales().is_empty()
    })
    .await;
    h.wait_protocols(1).await;
    let posted = sales();
    assert_eq!(posted.len(), 1);
    let text = posted[0]["text"].as_str().unwrap();
    assert!(text.contains("Менеджер: Анна (101)"), "{text}");
    assert_eq!(
        posted[0]["message_thread_id"], 42,
        "into the department's topic"
    );
    assert!(text.contains("+7 (916) 000-01-01"), "{text}");
    let team = h.protocols();
    assert_eq!(team.len(), 1, "the other call stays in the team chat");
    let text = team[0]["text"].as_str().unwrap();
    assert!(text.contains("+7 (916) 000-05-55"), "{text}");
    assert!(
        text.contains("Менеджер: 555"),
        "an unnamed extension as it is: {text}"
    );
    assert!(
        team[0]["message_thread_id"].is_null(),
        "no topic outside a department"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_checklist_comes_from_a_google_sheet_and_results_are_appended_once() {
    use common::fake_google::FakeGoogle;
    let google = FakeGoogle::start().await;
    google.state.sheets.lock().unwrap().insert(
        "criteria-sheet".into(),
        vec![
            vec!["Критерий".into(), "Что проверяем".into()],
            vec!["Приветствие".into(), "Назвал себя и компанию".into()],
            vec![
                "Ставка".into(),
                "Назвал ставку за контейнер из Китая".into(),
            ],
            vec!["Инструкции".into(), "Строже к срокам доставки".into()],
        ],
    );
    let account = google.account_file.display().to_string();
    let first = call(
        "7001.1",
        "in_qa1",
        "79165550071",
        "74951234567",
        "answered",
        80,
        true,
    );
    let mut h = Harness::new(
        vec![first],
        &[
            ("PROFILE", "qa_checklist"),
            ("GOOGLE_SERVICE_ACCOUNT_FILE", &account),
            ("SHEETS_CRITERIA_ID", "criteria-sheet"),
            ("SHEETS_RESULTS_ID", "results-sheet"),
            ("SHEETS_API_URL", &google.url),
            ("SHEETS_REFRESH_SECS", "5"),
        ],
    )
    .await;
    h.wait_protocols(1).await;
    let text = h.protocols()[0]["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("• Ставка: 7/10 — Оценено по критерию «Ставка»"),
        "the Sheet's criteria, scored with reasons: {text}"
    );
    let asked = h.openai.state.chat_requests.lock().unwrap().clone();
    let prompt = asked.last().unwrap().to_string();
    assert!(
        prompt.contains("Назвал ставку за контейнер из Китая")
            && prompt.contains("Строже к срокам")
    );
    common::eventually(10, "the results row appended", || async {
        google
            .state
            .appended
            .lock()
            .unwrap()
            .get("results-sheet")
            .is_some_and(|r| !r.is_empty())
    })
    .await;
    let row = google.state.appended.lock().unwrap()["results-sheet"][0].clone();
    assert!(row[0].starts_with("callops-"), "{row:?}");
    assert!(row.iter().any(|c| c.contains("Ставка: 7")), "{row:?}");
    assert_eq!(
        google
            .state
            .bad_jwts
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    // The Sheet breaks: the last good checklist stays, for the next call and after a restart.
    google
        .state
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    h.stop().await;
    h.novofon.state.calls.lock().unwrap().push(call(
        "7002.2",
        "in_qa2",
        "79165550072",
        "74951234567",
        "answered",
        80,
        true,
    ));
    h.start().await;
    h.wait_protocols(2).await;
    assert!(
        google
            .state
            .failed_reads
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    );
    let text = h.protocols()[1]["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("• Ставка: 7/10"),
        "the last good copy: {text}"
    );
    common::eventually(10, "the second row", || async {
        google.state.appended.lock().unwrap()["results-sheet"].len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        google.state.appended.lock().unwrap()["results-sheet"].len(),
        2,
        "one row per analysis"
    );
}
