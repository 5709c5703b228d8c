//! Chat-ops through the real bot and a local fake Bot API: every command, each role refusal,
//! `/leads` pagination by editing the same message, `/lead`, `/stats`, `/export`, `/users`,
//! `/reanalyze`, `/dnc` (commands and a file).

mod common;

use std::sync::atomic::Ordering;

use callops::config::Purpose;
use callops::domain::{CallStatus, Direction, NewAnalysis, NewCall, Utterance};
use chrono::Utc;
use common::fake_openai::{self, FakeOpenAi};
use common::fake_telegram::{FakeTelegram, TOKEN};

const TEAM: i64 = -1_002_000;
const ADMIN: u64 = 77;
const VIEWER: u64 = 999;
const STRANGER: u64 = 5555;

struct Bot {
    tg: FakeTelegram,
    openai: FakeOpenAi,
    app: callops::app::RunningApp,
    _dir: tempfile::TempDir,
    ids: Vec<i64>,
}

async fn start(seed: usize) -> Bot {
    let tg = FakeTelegram::start().await;
    let openai = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/chatops.db", dir.path().display());
    let team = TEAM.to_string();
    let admin = ADMIN.to_string();
    let cfg = common::config(
        &[
            ("DATABASE_URL", &db),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", &tg.url),
            ("TELEGRAM_CHAT_ID", &team),
            ("TELEGRAM_ADMINS", &admin),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
            ("OPENAI_API_KEY", fake_openai::KEY),
            ("OPENAI_BASE_URL", &openai.url),
            ("NOVOFON_NUMBERS", "+7 (495) 123-45-67"),
        ],
        Purpose::Run,
    );
    let app = callops::app::start(cfg).await.unwrap();
    let mut ids = Vec::new();
    // The seeded calls are a minute apart and all of today in the chat's zone (Moscow), even
    // in the first minutes after its midnight.
    let now = Utc::now();
    let midnight = now
        .with_timezone(&chrono_tz::Europe::Moscow)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(chrono_tz::Europe::Moscow)
        .unwrap()
        .with_timezone(&Utc);
    let newest = now.max(midnight + chrono::Duration::minutes(seed as i64 + 1));
    for i in 0..seed {
        let (call, _) = app
            .store
            .insert_call(&NewCall {
                provider: "novofon".into(),
                provider_call_id: format!("seed_{i}"),
                direction: Direction::Incoming,
                caller: format!("+7916000{:04}", i).into(),
                called: "+74951234567".into(),
                started_at: newest - chrono::Duration::minutes(i as i64 + 1),
                duration_secs: 90,
                recording_ref: None,
                operator: Some(format!("{}", 101 + i % 3)),
            })
            .await
            .unwrap();
        let result: serde_json::Value =
            serde_json::from_str(&fake_openai::realty_answer("hot", 8)).unwrap();
        app.store
            .save_analysis(&NewAnalysis {
                call_id: call.id,
                profile: "realty_lead".into(),
                result,
                lead_category: Some("hot".parse().unwrap()),
                interest_rating: Some(8),
                priority: Some("high".into()),
                agency_name: Some(format!("Агентство {i}")),
                model: Some("gpt-4o".into()),
            })
            .await
            .unwrap();
        app.store
            .replace_utterances(
                call.id,
                &[Utterance {
                    speaker: "client".parse().unwrap(),
                    start_ms: 0,
                    end_ms: 1000,
                    text: "Нужна двушка".into(),
                }],
            )
            .await
            .unwrap();
        app.store
            .set_call_status(call.id, CallStatus::Analyzed, None)
            .await
            .unwrap();
        ids.push(call.id);
    }
    Bot {
        tg,
        openai,
        app,
        _dir: dir,
        ids,
    }
}

impl Bot {
    /// Sends `text` as `user` in `chat` and returns the bot's next reply there.
    async fn ask(&self, chat: i64, user: u64, text: &str) -> serde_json::Value {
        let before = self.tg.delivered_to(chat).len();
        self.tg.send_text(chat, user, "ru", text);
        common::eventually(15, &format!("reply to {text}"), || async {
            self.tg.delivered_to(chat).len() > before
        })
        .await;
        self.tg.delivered_to(chat)[before].clone()
    }
}

fn text(v: &serde_json::Value) -> String {
    v["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_command_refuses_users_without_the_role() {
    let b = start(1).await;
    for cmd in [
        "/leads",
        "/lead 1",
        "/stats",
        "/chart leads",
        "/export",
        "/reanalyze 1",
        "/users",
        "/digest on",
        "/settings",
    ] {
        let reply = text(&b.ask(STRANGER as i64, STRANGER, cmd).await);
        assert!(
            reply.contains("нет доступа") && reply.contains(&STRANGER.to_string()),
            "{cmd}: {reply}"
        );
    }
    for cmd in ["/reanalyze 1", "/users", "/users add 1 admin"] {
        let reply = text(&b.ask(TEAM, VIEWER, cmd).await);
        assert!(reply.contains("доступна роли"), "{cmd}: {reply}");
    }
    assert!(
        b.app
            .store
            .list_users()
            .await
            .unwrap()
            .iter()
            .all(|u| u.telegram_id != 1),
        "nothing changed"
    );
    let reply = text(&b.ask(TEAM, VIEWER, "/stats").await);
    assert!(reply.contains("Статистика"), "viewers may read: {reply}");
    assert!(
        reply.contains("Согласие ИИ и команды: нет оценок") && !reply.contains("Unknown"),
        "nothing rated yet reads naturally: {reply}"
    );
    let help = text(&b.ask(TEAM, VIEWER, "/help").await);
    assert!(
        help.contains("/leads") && !help.contains("/users"),
        "{help}"
    );
    b.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leads_paginate_in_place_and_open_a_lead() {
    let b = start(10).await;
    let list = b.ask(TEAM, ADMIN, "/leads hot today").await;
    let body = text(&list);
    assert!(
        body.contains("ГОРЯЧИЙ ЛИД") && body.contains(": 10"),
        "{body}"
    );
    assert!(body.contains("Страница 1 из 2"), "{body}");
    assert_eq!(body.matches("8/10").count(), 8);
    // The Russian words of the Russian help work the same.
    let ru = text(&b.ask(TEAM, ADMIN, "/leads горячие за сегодня").await);
    assert_eq!(ru, body, "горячие за сегодня = hot today");
    let typo = text(&b.ask(TEAM, ADMIN, "/leds").await);
    assert!(
        typo.contains("Не знаю команды /leds") && typo.contains("/help"),
        "{typo}"
    );
    let keyboard = list["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(keyboard.len(), 9, "8 leads and a navigation row");
    let next = keyboard[8][0].clone();
    assert_eq!(next["text"], "▶");
    let message_id = list["assigned_message_id"].as_i64().unwrap();
    b.tg.press_button(
        TEAM,
        message_id,
        ADMIN,
        next["callback_data"].as_str().unwrap(),
    );
    common::eventually(10, "page 2", || async {
        !b.tg.calls("editMessageText").is_empty()
    })
    .await;
    let edit = b.tg.calls("editMessageText")[0].body.clone();
    assert_eq!(edit["message_id"], message_id, "the same message is edited");
    assert!(text(&edit).contains("Страница 2 из 2"));
    assert_eq!(text(&edit).matches("8/10").count(), 2);
    assert_eq!(
        edit["reply_markup"]["inline_keyboard"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()[0]["text"],
        "◀"
    );

    let open = keyboard[0][0]["callback_data"]
        .as_str()
        .unwrap()
        .to_string();
    let before = b.tg.delivered_to(TEAM).len();
    b.tg.press_button(TEAM, message_id, ADMIN, &open);
    common::eventually(10, "the lead opens", || async {
        b.tg.delivered_to(TEAM).len() > before
    })
    .await;
    assert!(text(&b.tg.delivered_to(TEAM)[before]).contains("ВХОДЯЩИЙ ЗВОНОК"));

    let empty = text(&b.ask(TEAM, ADMIN, "/leads refusal week").await);
    assert!(empty.contains("лидов нет"), "{empty}");
    let bad = text(&b.ask(TEAM, ADMIN, "/leads hot someday").await);
    assert!(bad.contains("Не понял период"), "{bad}");
    b.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lead_stats_export_users_and_reanalyze() {
    let b = start(3).await;
    let id = b.ids[0];
    let lead = b.ask(TEAM, ADMIN, &format!("/lead {id}")).await;
    assert!(text(&lead).contains("🔥 ГОРЯЧИЙ ЛИД") && text(&lead).contains("Клиент: Нужна двушка"));
    assert!(
        lead["reply_markup"]["inline_keyboard"].is_array(),
        "feedback buttons come along"
    );
    assert!(text(&b.ask(TEAM, ADMIN, "/lead 987654").await).contains("не найден"));
    assert!(text(&b.ask(TEAM, ADMIN, "/lead abc").await).contains("Использование"));

    b.app
        .store
        .add_feedback(&callops::domain::Feedback {
            call_id: id,
            user_id: 1,
            user_name: None,
            choice: callops::domain::FeedbackChoice::parse("warm").unwrap(),
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    // The first call was the agent's: two turns recognised by SaluteSpeech (no price set) and
    // spoken by OpenAI (its list price).
    let agent_turn = |n: u32, stt_ms: i64, fell_back: bool| callops::domain::TurnTiming {
        turn: n,
        caller_end_ms: 1000 * i64::from(n),
        stt_done_ms: Some(1000 * i64::from(n) + stt_ms),
        llm_first_token_ms: Some(1000 * i64::from(n) + 400),
        first_sentence_ms: Some(1000 * i64::from(n) + 500),
        tts_first_byte_ms: Some(1000 * i64::from(n) + 650),
        first_audio_ms: Some(1000 * i64::from(n) + 700),
        stt_vendor: Some("salute".into()),
        speech_ms: Some(60_000),
        stt_fallback: fell_back,
        tts_vendor: Some("openai".into()),
        tts_chars: Some(1000),
        ..Default::default()
    };
    b.app
        .store
        .save_agent_turns(
            b.ids[0],
            &[agent_turn(1, 150, false), agent_turn(2, 170, true)],
        )
        .await
        .unwrap();
    let stats = text(&b.ask(TEAM, ADMIN, "/stats today").await);
    for needle in [
        "🎙 Голосовой агент: ответов 2 · от конца фразы до ответа p50 700 мс · первый токен модели p50 400 мс",
        "Распознавание, SaluteSpeech: итог через p50 150 мс · 2.0 мин речи · сбоев потока 1 · цена не задана",
        "Синтез, OpenAI: первый звук через p50 150 мс · 2000 симв. · $0.03",
        "Звонков: 3",
        "проанализировано: 3",
        "ГОРЯЧИЙ ЛИД: 3",
        "Средняя оценка интереса: 8.0/10",
        "Согласие ИИ и команды: 0% (0 из 1",
        "До этого",
    ] {
        assert!(stats.contains(needle), "{needle:?} missing in\n{stats}");
    }
    assert!(
        stats.contains("👥 Операторы") && stats.contains("• 101: звонков 1"),
        "operators named by their PBX: {stats}"
    );

    // A checklist analysis of operator 101: /stats shows the score and the weakest criteria.
    let (qa_call, _) = b
        .app
        .store
        .insert_call(&NewCall {
            provider: "novofon".into(),
            provider_call_id: "seed_qa".into(),
            direction: Direction::Incoming,
            caller: "+79160009999".into(),
            called: "+74951234567".into(),
            started_at: Utc::now() - chrono::Duration::seconds(30),
            duration_secs: 90,
            recording_ref: None,
            operator: Some("101".into()),
        })
        .await
        .unwrap();
    b.app
        .store
        .save_analysis(&NewAnalysis {
            call_id: qa_call.id,
            profile: "qa_checklist".into(),
            result: serde_json::from_str(&fake_openai::default_answer("qa_checklist")).unwrap(),
            lead_category: None,
            interest_rating: Some(8),
            priority: None,
            agency_name: None,
            model: Some("gpt-4o".into()),
        })
        .await
        .unwrap();
    let stats = text(&b.ask(TEAM, ADMIN, "/stats today").await);
    assert!(
        stats.contains(
            "• 101: звонков 2 · чек-лист 8.0/10 · слабые места: Работа с возражениями 4.0, Выявление потребности 7.0"
        ),
        "{stats}"
    );
    assert!(stats.contains("• 102: звонков 1\n"), "{stats}");

    let docs = b.tg.state.documents.load(Ordering::SeqCst);
    b.tg.send_text(TEAM, ADMIN, "ru", "/export today");
    b.tg.send_text(TEAM, ADMIN, "ru", "/export week csv");
    common::eventually(10, "two exports", || async {
        b.tg.state.documents.load(Ordering::SeqCst) >= docs + 2
    })
    .await;

    assert!(
        text(&b.ask(TEAM, ADMIN, "/users add 555 manager").await).contains("555 теперь менеджер")
    );
    let list = text(&b.ask(TEAM, ADMIN, "/users").await);
    assert!(
        list.contains("555 — менеджер") && list.contains("77 — администратор"),
        "{list}"
    );
    assert!(text(&b.ask(TEAM, ADMIN, "/users remove 77").await).contains("TELEGRAM_ADMINS"));
    let queued = text(
        &b.ask(555, 555, &format!("/reanalyze {id} qa_checklist"))
            .await,
    );
    assert!(
        queued.contains("повторный анализ") && queued.contains("qa_checklist"),
        "{queued}"
    );
    assert!(text(&b.ask(555, 555, "/reanalyze 1 nosuch").await).contains("Нет профиля"));
    assert!(text(&b.ask(555, 555, "/reanalyze failed").await).contains("Подходящих звонков нет"));
    let many = text(&b.ask(555, 555, "/reanalyze today").await);
    assert!(many.contains("Поставлено на повторный анализ: 3"), "{many}");
    common::eventually(20, "the progress message ends with a summary", || async {
        b.tg.calls("editMessageText").iter().any(|c| {
            c.body["text"]
                .as_str()
                .is_some_and(|t| t.contains("Повторный анализ завершён: 3 из 3"))
        })
    })
    .await;
    // The new protocols answer the old ones' chat and say what changed (the seed was hot 8/10).
    common::eventually(20, "re-analysed protocols", || async {
        b.tg.texts_to(TEAM)
            .iter()
            .filter(|t| t.contains("Повторный анализ"))
            .count()
            >= 3
    })
    .await;
    let changed =
        b.tg.texts_to(TEAM)
            .into_iter()
            .find(|t| t.contains("🔄 Повторный анализ"))
            .unwrap();
    assert!(
        changed.contains("не изменились") || changed.contains("→"),
        "{changed}"
    );
    assert!(text(&b.ask(TEAM, ADMIN, "/users remove 555").await).contains("удалён"));
    let refused = text(&b.ask(555, 555, "/stats").await);
    assert!(refused.contains("нет доступа"), "{refused}");
    b.app.stop().await;
}

#[tokio::test]
async fn digests_are_due_once_per_day_at_the_chat_time() {
    use callops::workers::digest::enqueue_due;
    use chrono::TimeZone;
    let (store, _d) = common::sqlite_store().await;
    store.set_digest_time(-100, Some("09:00")).await.unwrap();
    store.set_digest_time(-200, Some("18:30")).await.unwrap();
    // 05:59 UTC is 08:59 in Moscow: not yet.
    let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap();
    assert!(enqueue_due(store.as_ref(), at(5, 59))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        enqueue_due(store.as_ref(), at(6, 0)).await.unwrap(),
        vec![-100]
    );
    assert!(
        enqueue_due(store.as_ref(), at(6, 1))
            .await
            .unwrap()
            .is_empty(),
        "queued once"
    );
    assert!(store.mark_digest(-100, "2026-11-22").await.unwrap());
    assert!(!store.mark_digest(-100, "2026-11-22").await.unwrap());
    assert_eq!(
        enqueue_due(store.as_ref(), at(20, 0)).await.unwrap(),
        vec![-200],
        "the other chat at its own time"
    );
    let next_day = Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap();
    assert_eq!(
        enqueue_due(store.as_ref(), next_day).await.unwrap(),
        vec![-200, -100]
    );
    store.set_digest_time(-100, None).await.unwrap();
    assert_eq!(store.digest_schedules().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missed_digest_goes_out_once_on_start_with_charts() {
    let b = start(4).await;
    assert!(text(&b.ask(TEAM, VIEWER, "/digest 07:00").await).contains("доступна роли"));
    assert!(text(&b.ask(TEAM, ADMIN, "/digest 25:99").await).contains("Использование"));
    assert!(text(&b.ask(TEAM, ADMIN, "/digest off").await).contains("выключена"));
    // Due since midnight: the process was "down" when it was due.
    assert!(text(&b.ask(TEAM, ADMIN, "/digest 00:00").await).contains("00:00"));
    let store = b.app.store.clone();
    let tg_url = b.tg.url.clone();
    let dir_db = b._dir.path().join("chatops.db");
    b.app.stop().await;

    // Restart: the start-up check sends the missed digest once.
    let cfg = common::config(
        &[
            ("DATABASE_URL", &format!("sqlite://{}", dir_db.display())),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", &tg_url),
            ("TELEGRAM_CHAT_ID", &TEAM.to_string()),
            ("TELEGRAM_ADMINS", &ADMIN.to_string()),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
        ],
        Purpose::Run,
    );
    let app = callops::app::start(cfg.clone()).await.unwrap();
    common::eventually(20, "digest and album", || async {
        b.tg.texts_to(TEAM).iter().any(|t| t.contains("Сводка за"))
            && b.tg.state.albums.load(Ordering::SeqCst) >= 1
    })
    .await;
    let digest =
        b.tg.texts_to(TEAM)
            .into_iter()
            .find(|t| t.contains("Сводка за"))
            .unwrap();
    for needle in [
        "Звонков:",
        "Горячих лидов:",
        "Средняя оценка",
        "Согласие ИИ и команды",
    ] {
        assert!(digest.contains(needle), "{needle} missing in {digest}");
    }
    app.stop().await;
    drop(store);
    let app = callops::app::start(cfg).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(
        b.tg.texts_to(TEAM)
            .iter()
            .filter(|t| t.contains("Сводка за"))
            .count(),
        1,
        "not repeated after a restart"
    );
    assert_eq!(b.tg.state.albums.load(Ordering::SeqCst), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_menu_switches_language_time_zone_and_digest() {
    let b = start(1).await;
    assert!(text(&b.ask(TEAM, VIEWER, "/settings").await).contains("доступна роли"));
    let menu = b.ask(TEAM, ADMIN, "/settings").await;
    assert!(text(&menu).contains("Настройки этого чата") && text(&menu).contains("Europe/Moscow"));
    let message_id = menu["assigned_message_id"].as_i64().unwrap();
    let edits = || b.tg.calls("editMessageText");

    b.tg.press_button(TEAM, message_id, VIEWER, "st:l");
    common::eventually(10, "viewer alert", || async {
        !b.tg.calls("answerCallbackQuery").is_empty()
    })
    .await;
    assert_eq!(
        b.tg.calls("answerCallbackQuery")[0].body["show_alert"],
        true
    );
    assert_eq!(
        b.app.store.chat_language(TEAM).await.unwrap(),
        None,
        "nothing changed"
    );

    b.tg.press_button(TEAM, message_id, ADMIN, "st:l");
    common::eventually(10, "language switched", || async { !edits().is_empty() }).await;
    assert!(edits()[0].body["text"]
        .as_str()
        .unwrap()
        .contains("Settings of this chat"));
    assert_eq!(
        b.app.store.chat_language(TEAM).await.unwrap().as_deref(),
        Some("en")
    );

    b.tg.press_button(TEAM, message_id, ADMIN, "st:t");
    common::eventually(10, "zone list", || async { edits().len() >= 2 }).await;
    let list = edits()[1].body.clone();
    assert_eq!(
        list["reply_markup"]["inline_keyboard"][1][1]["callback_data"],
        "st:t:3"
    );
    b.tg.press_button(TEAM, message_id, ADMIN, "st:t:3");
    common::eventually(10, "zone set", || async { edits().len() >= 3 }).await;
    assert_eq!(
        b.app.store.chat_timezone(TEAM).await.unwrap().as_deref(),
        Some("Asia/Yekaterinburg")
    );

    b.tg.press_button(TEAM, message_id, ADMIN, "st:d");
    common::eventually(10, "digest set", || async { edits().len() >= 4 }).await;
    let schedules = b.app.store.digest_schedules().await.unwrap();
    assert_eq!(
        (schedules[0].time.as_str(), schedules[0].timezone.as_str()),
        ("08:00", "Asia/Yekaterinburg")
    );

    let lead = text(&b.ask(TEAM, ADMIN, &format!("/lead {}", b.ids[0])).await);
    assert!(
        lead.contains("INCOMING CALL") && lead.contains("HOT LEAD"),
        "the chat now reads English: {lead}"
    );

    // Our number's profile: the 🧠 button cycles it; the next analysis of its calls uses it.
    let row = menu["reply_markup"]["inline_keyboard"][3][0].clone();
    assert_eq!(row["callback_data"], "st:p:0");
    assert!(
        row["text"]
            .as_str()
            .unwrap()
            .contains("+7 (495) 123-45-67: realty_lead"),
        "{row}"
    );
    let before = edits().len();
    b.tg.press_button(TEAM, message_id, ADMIN, "st:p:0");
    common::eventually(10, "profile set", || async { edits().len() > before }).await;
    assert_eq!(
        b.app.store.number_profiles().await.unwrap(),
        vec![("+74951234567".to_string(), "cold_call".to_string())]
    );
    let asked = b.openai.chat_requests().len();
    b.ask(TEAM, ADMIN, &format!("/reanalyze {}", b.ids[0]))
        .await;
    common::eventually(20, "the re-analysis", || async {
        b.openai.chat_requests().len() > asked
    })
    .await;
    assert_eq!(
        b.openai.chat_requests()[asked]["response_format"]["json_schema"]["name"],
        "cold_call"
    );
    b.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_do_not_call_list_is_kept_from_the_chat_and_from_a_file() {
    let b = start(0).await;
    let manager: u64 = 4242;
    b.app
        .store
        .upsert_user(&callops::store::User {
            telegram_id: manager as i64,
            role: callops::domain::Role::Manager,
            name: None,
            added_by: Some(ADMIN as i64),
        })
        .await
        .unwrap();
    let number = callops::domain::PhoneNumber::parse("+79161234567").unwrap();
    // Viewers and strangers change nothing.
    let reply = text(&b.ask(TEAM, VIEWER, "/dnc add +7 916 123-45-67").await);
    assert!(reply.contains("доступна роли"), "{reply}");
    let reply = text(
        &b.ask(STRANGER as i64, STRANGER, "/dnc add +7 916 123-45-67")
            .await,
    );
    assert!(reply.contains("нет доступа"), "{reply}");
    assert!(!b.app.store.is_do_not_call(&number).await.unwrap());

    let reply = text(&b.ask(TEAM, manager, "/dnc").await);
    assert!(reply.contains("пуст"), "{reply}");
    let reply = text(
        &b.ask(
            TEAM,
            manager,
            "/dnc добавить 8 (916) 123-45-67 сам попросил",
        )
        .await,
    );
    assert!(reply.contains("+7 (916) 123-45-67 добавлен"), "{reply}");
    assert!(b.app.store.is_do_not_call(&number).await.unwrap());
    let reply = text(&b.ask(TEAM, manager, "/dnc add +79161234567").await);
    assert!(reply.contains("уже в списке"), "{reply}");
    let reply = text(&b.ask(TEAM, manager, "/dnc add двадцать").await);
    assert!(reply.contains("/dnc add +7"), "usage: {reply}");

    // A cp1251 file with `;`: every number in it goes on the list, bad lines are named.
    let csv = "Имя;Телефон\r\nИван;+7 916 123-45-67\r\nПётр;8 903 000-11-22\r\nАнна;123\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(csv);
    let before = b.tg.delivered_to(TEAM).len();
    b.tg.send_document(TEAM, manager, "отказники.csv", &bytes, "/dnc");
    common::eventually(15, "the file's reply", || async {
        b.tg.delivered_to(TEAM).len() > before
    })
    .await;
    let reply = text(&b.tg.delivered_to(TEAM)[before]);
    assert!(
        reply.contains("Прочитано номеров: 2. Добавлено в «не звонить»: 1, уже были в списке: 1")
            && reply.contains("строки 4"),
        "{reply}"
    );
    // A file with no phone column gets told so.
    let before = b.tg.delivered_to(TEAM).len();
    b.tg.send_document(
        TEAM,
        manager,
        "x.csv",
        "Имя;Город\nИван;Москва\n".as_bytes(),
        "/dnc",
    );
    common::eventually(15, "the second file's reply", || async {
        b.tg.delivered_to(TEAM).len() > before
    })
    .await;
    let reply = text(&b.tg.delivered_to(TEAM)[before]);
    assert!(
        reply.contains("Не нашёл столбец с номерами") && reply.contains("Имя, Город"),
        "{reply}"
    );

    let list = text(&b.ask(TEAM, manager, "/dnc list").await);
    assert!(
        list.contains("2 номера")
            && list.contains("+7 (903) 000-11-22 — из файла «отказники.csv»")
            && list.contains("+7 (916) 123-45-67 — сам попросил"),
        "{list}"
    );
    let reply = text(&b.ask(TEAM, manager, "/dnc remove +7 916 123-45-67").await);
    assert!(reply.contains("убран"), "{reply}");
    assert!(!b.app.store.is_do_not_call(&number).await.unwrap());
    let reply = text(&b.ask(TEAM, manager, "/dnc remove +7 916 123-45-67").await);
    assert!(reply.contains("не было"), "{reply}");
    b.app.stop().await;
}

#[tokio::test]
async fn call_back_under_a_missed_call_alert_starts_call_once_for_managers() {
    let b = start(0).await;
    // A viewer is refused.
    b.tg.press_button(TEAM, 500, VIEWER, "rb:79161112235");
    common::eventually(10, "the refusal", || async {
        !b.tg.calls("answerCallbackQuery").is_empty()
    })
    .await;
    assert!(b.tg.texts_to(TEAM).iter().all(|t| !t.contains("Телефония")));
    // An admin's press runs /call to that number (here: telephony is not configured).
    b.tg.press_button(TEAM, 500, ADMIN, "rb:79161112235");
    common::eventually(10, "the /call answer", || async {
        b.tg.texts_to(TEAM)
            .iter()
            .any(|t| t.contains("Телефония не настроена"))
    })
    .await;
    // A second press of the same alert does nothing more.
    b.tg.press_button(TEAM, 500, ADMIN, "rb:79161112235");
    common::eventually(10, "the second press answered", || async {
        b.tg.calls("answerCallbackQuery")
            .iter()
            .any(|c| c.body["text"] == "Уже перезваниваем")
    })
    .await;
    let asked =
        b.tg.texts_to(TEAM)
            .iter()
            .filter(|t| t.contains("Телефония не настроена"))
            .count();
    assert_eq!(asked, 1);
    b.app.stop().await;
}
