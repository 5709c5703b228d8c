//! Rehearsals through the real bot and a local fake Bot API: `/rehearse`, text and voice-note turns
//! (getFile + download + speech-to-text), voice-note answers, `/stop` → a stored call with its
//! transcript and timings and a `cold_call` protocol in the manager's private chat; the agent ending
//! the conversation itself; a rehearsal surviving a restart; bad voice notes and refusals.

mod common;

use std::sync::atomic::Ordering;

use callops::bench::agent_fakes::{AgentFakes, Latencies};
use callops::config::Purpose;
use callops::domain::Role;
use callops::store::User;
use common::fake_telegram::{FakeTelegram, TOKEN};

const TEAM: i64 = -1_002_000;
const ADMIN: u64 = 77;
const MANAGER: u64 = 4242;
const VIEWER: u64 = 999;

/// A fake voice note: OGG-looking bytes naming the words (the fake STT reads them back).
fn voice(words: &str) -> Vec<u8> {
    format!("OggS\0FAKE-OPUS:{words}").into_bytes()
}

async fn start_app(tg: &FakeTelegram, fakes: &AgentFakes, db: &str) -> callops::app::RunningApp {
    let team = TEAM.to_string();
    let admin = ADMIN.to_string();
    let cfg = common::config(
        &[
            ("DATABASE_URL", db),
            ("HTTP_ADDR", "127.0.0.1:0"),
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TELEGRAM_API_URL", &tg.url),
            ("TELEGRAM_CHAT_ID", &team),
            ("TELEGRAM_ADMINS", &admin),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0"),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0"),
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", &fakes.base_url),
            ("NOVOFON_NUMBERS", "+7 (495) 123-45-67"),
        ],
        Purpose::Run,
    );
    let app = callops::app::start(cfg).await.expect("app starts");
    for (id, role) in [(MANAGER, Role::Manager), (VIEWER, Role::Viewer)] {
        app.store
            .upsert_user(&User {
                telegram_id: id as i64,
                role,
                name: None,
                added_by: Some(ADMIN as i64),
            })
            .await
            .expect("user");
    }
    app
}

/// The fakes and the app on a fresh SQLite database.
struct Rig {
    tg: FakeTelegram,
    fakes: AgentFakes,
    app: callops::app::RunningApp,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn sqlite() -> Self {
        let tg = FakeTelegram::start().await;
        let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/rehearsal.db", dir.path().display());
        let app = start_app(&tg, &fakes, &db).await;
        Self {
            tg,
            fakes,
            app,
            _dir: dir,
        }
    }
}

/// Waits for the `n`-th voice note (1-based) to `chat` and returns its caption.
async fn nth_voice(tg: &FakeTelegram, chat: i64, n: usize) -> String {
    common::eventually(15, &format!("voice note #{n} to {chat}"), || async {
        tg.voices_to(chat).len() >= n
    })
    .await;
    let (caption, bytes) = tg.voices_to(chat)[n - 1].clone();
    assert!(
        bytes.starts_with(b"OggS"),
        "the voice note is the synthesised OGG"
    );
    caption
}

/// The call id a reply names ("… (звонок #12).").
fn call_id(text: &str) -> i64 {
    let digits: String = text
        .rsplit('#')
        .next()
        .unwrap_or("")
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no call id in {text:?}"))
}

/// Waits for a sendMessage to `chat` containing `needle` and returns it.
async fn text_containing(tg: &FakeTelegram, chat: i64, needle: &str) -> String {
    common::eventually(
        20,
        &format!("a message with {needle:?} to {chat}"),
        || async { tg.texts_to(chat).iter().any(|t| t.contains(needle)) },
    )
    .await;
    tg.texts_to(chat)
        .into_iter()
        .find(|t| t.contains(needle))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manager_rehearses_by_text_and_voice_and_gets_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    rehearse_and_stop(&format!("sqlite://{}/rehearsal.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manager_rehearses_on_postgres() {
    let Some((db, cleanup)) = common::pg_app_url("a_manager_rehearses_on_postgres").await else {
        return;
    };
    rehearse_and_stop(&db).await;
    cleanup.await.expect("drop schema");
}

async fn rehearse_and_stop(db: &str) {
    let tg = FakeTelegram::start().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let app = start_app(&tg, &fakes, db).await;
    let chat = MANAGER as i64;

    tg.send_text(chat, MANAGER, "ru", "/rehearse");
    let greeting = nth_voice(&tg, chat, 1).await;
    assert!(greeting.contains("Здравствуйте"), "greeting: {greeting}");
    text_containing(&tg, chat, "Репетиция по сценарию «realty_cold»").await;

    tg.send_text(chat, MANAGER, "ru", "Алло, да, слушаю");
    assert_eq!(
        nth_voice(&tg, chat, 2).await,
        "Отлично! Скажите, ваша компания сейчас ищет офис?"
    );

    // A voice note: getFile, download, then speech-to-text on the OGG as it is.
    tg.send_voice(chat, MANAGER, &voice("Интересно, но дорого"), 3);
    let third = nth_voice(&tg, chat, 3).await;
    assert!(third.contains("от тысячи восьмисот"), "{third}");
    assert_eq!(tg.calls("getFile").len(), 1);
    assert!(
        !tg.calls("sendChatAction").is_empty(),
        "shows it is recording"
    );

    tg.send_text(chat, MANAGER, "ru", "/stop");
    let stopped = text_containing(&tg, chat, "Репетиция окончена").await;
    let id = call_id(&stopped);

    // The stored call: transcript labelled by speaker, one timing row per manager turn.
    let call = app.store.call(id).await.unwrap().expect("call stored");
    assert_eq!(call.provider, "rehearsal");
    assert_eq!(call.called, format!("tg:{MANAGER}"));
    let utterances = app.store.utterances(id).await.unwrap();
    let lines: Vec<(&str, &str)> = utterances
        .iter()
        .map(|u| (u.speaker.as_str(), u.text.as_str()))
        .collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[1], ("client", "Алло, да, слушаю"));
    assert_eq!(lines[3], ("client", "Интересно, но дорого"));
    assert!(lines.iter().step_by(2).all(|(s, _)| *s == "agent"));
    let turns = app.store.agent_turns(id).await.unwrap();
    assert_eq!(turns.len(), 2);
    assert!(turns[0].stt_done_ms.is_none(), "a text turn has no STT");
    assert!(turns[1].stt_done_ms.is_some(), "a voice turn has STT");
    assert!(turns
        .iter()
        .all(|t| t.llm_first_token_ms.is_some() && t.first_audio_ms.is_some()));

    // The cold_call protocol goes to the manager's chat, not the team chat, with timings.
    let protocol = text_containing(&tg, chat, "Скорость ответов агента").await;
    assert!(protocol.contains("Иван, директор"), "{protocol}");
    assert!(protocol.contains("Ход 2"), "{protocol}");
    assert!(
        !tg.texts_to(TEAM)
            .iter()
            .any(|t| t.contains("Скорость ответов агента")),
        "a rehearsal protocol does not reach the team chat"
    );
    let analysis = app
        .store
        .current_analysis(id)
        .await
        .unwrap()
        .expect("analysed");
    assert_eq!(analysis.profile, "cold_call");

    // The rehearsal is over: another text is not answered, /stop says nothing runs.
    tg.send_text(chat, MANAGER, "ru", "/stop");
    text_containing(&tg, chat, "Репетиция не идёт").await;
    assert_eq!(tg.voices_to(chat).len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_ending_the_conversation_ends_the_rehearsal() {
    let Rig {
        tg,
        fakes,
        app,
        _dir,
    } = Rig::sqlite().await;
    let chat = MANAGER as i64;

    tg.send_text(chat, MANAGER, "ru", "/rehearse realty_cold");
    nth_voice(&tg, chat, 1).await;
    // The model saves the contact with tools, then says goodbye and ends the call.
    tg.send_voice(chat, MANAGER, &voice("Меня зовут Иван, я директор"), 2);
    let bye = nth_voice(&tg, chat, 2).await;
    assert!(bye.contains("до свидания"), "{bye}");
    let ended = text_containing(&tg, chat, "Агент завершил разговор").await;
    let id = call_id(&ended);
    text_containing(&tg, chat, "Скорость ответов агента").await;
    let call = app.store.call(id).await.unwrap().expect("stored");
    assert_eq!(call.provider, "rehearsal");
    // The tool calls reached the model's next round (save_contact → end_call).
    let rounds = fakes
        .chat_requests()
        .into_iter()
        .filter(|r| r["stream"] == true)
        .count();
    assert_eq!(rounds, 2, "one round with tools, one after their results");
    assert!(app.store.rehearsals().await.unwrap().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rehearsal_survives_a_restart() {
    let tg = FakeTelegram::start().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/rehearsal.db", dir.path().display());
    let chat = MANAGER as i64;

    let app = start_app(&tg, &fakes, &db).await;
    tg.send_text(chat, MANAGER, "ru", "/rehearse");
    nth_voice(&tg, chat, 1).await;
    tg.send_text(chat, MANAGER, "ru", "Алло, да, слушаю");
    nth_voice(&tg, chat, 2).await;
    app.stop().await;

    let app = start_app(&tg, &fakes, &db).await;
    tg.send_text(chat, MANAGER, "ru", "Интересно, расскажите");
    let answer = nth_voice(&tg, chat, 3).await;
    assert!(answer.contains("офисы от тридцати"), "{answer}");
    // The model saw the whole conversation from before the restart.
    let last = fakes.chat_requests().last().cloned().expect("a request");
    let history: Vec<String> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str().map(str::to_string))
        .collect();
    assert!(
        history.iter().any(|m| m == "Алло, да, слушаю"),
        "{history:?}"
    );

    tg.send_text(chat, MANAGER, "ru", "/stop");
    let stopped = text_containing(&tg, chat, "Репетиция окончена").await;
    let id = call_id(&stopped);
    assert_eq!(app.store.agent_turns(id).await.unwrap().len(), 2);
    assert_eq!(app.store.utterances(id).await.unwrap().len(), 5);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_outages_and_strangers_get_clear_answers() {
    let Rig {
        tg,
        fakes,
        app,
        _dir,
    } = Rig::sqlite().await;
    let chat = MANAGER as i64;

    // Only in a private chat, and only for managers.
    tg.send_text(TEAM, ADMIN, "ru", "/rehearse");
    text_containing(&tg, TEAM, "только в личном чате").await;
    tg.send_text(VIEWER as i64, VIEWER, "ru", "/rehearse");
    common::eventually(15, "the viewer is refused", || async {
        !tg.texts_to(VIEWER as i64).is_empty()
    })
    .await;
    assert!(tg.voices_to(VIEWER as i64).is_empty());
    assert!(!tg
        .texts_to(VIEWER as i64)
        .iter()
        .any(|t| t.contains("Репетиция по сценарию")));

    tg.send_text(chat, MANAGER, "ru", "/rehearse no_such_script");
    let unknown = text_containing(&tg, chat, "no_such_script").await;
    assert!(
        unknown.contains("Есть:") && unknown.contains("realty_cold"),
        "{unknown}"
    );
    assert!(
        tg.voices_to(chat).is_empty(),
        "an unknown script starts nothing"
    );

    tg.send_text(chat, MANAGER, "ru", "/rehearse");
    nth_voice(&tg, chat, 1).await;
    // Not audio the recogniser accepts: the manager is told, the rehearsal goes on.
    tg.send_voice(chat, MANAGER, b"not an ogg file", 1);
    text_containing(&tg, chat, "Не разобрала голосовое").await;
    // An expired file on Telegram's side.
    tg.state.files_gone.store(true, Ordering::SeqCst);
    tg.send_voice(chat, MANAGER, &voice("Алло"), 1);
    text_containing(&tg, chat, "Не получилось скачать голосовое").await;
    tg.state.files_gone.store(false, Ordering::SeqCst);
    // A voice note too long to take is refused before it is downloaded.
    let downloads = tg.calls("getFile").len();
    tg.send_voice(chat, MANAGER, &voice("Алло"), 900);
    text_containing(&tg, chat, "Голосовое слишком длинное").await;
    assert_eq!(tg.calls("getFile").len(), downloads, "not downloaded");

    // A model failure or two are retried unnoticed (with backoff, inside the client).
    fakes.fail_chat(2);
    tg.send_text(chat, MANAGER, "ru", "Алло, да, слушаю");
    assert_eq!(
        nth_voice(&tg, chat, 2).await,
        "Отлично! Скажите, ваша компания сейчас ищет офис?"
    );
    // An outage outlasting the retries: the manager is told and the line is taken back, so
    // sending it again works.
    fakes.fail_chat(4);
    tg.send_text(chat, MANAGER, "ru", "Интересно, расскажите");
    text_containing(&tg, chat, "Агент не смог ответить").await;
    tg.send_text(chat, MANAGER, "ru", "Интересно, расскажите");
    let answer = nth_voice(&tg, chat, 3).await;
    assert!(answer.contains("офисы от тридцати"), "{answer}");

    tg.send_text(chat, MANAGER, "ru", "/stop");
    let id = call_id(&text_containing(&tg, chat, "Репетиция окончена").await);
    let clients: Vec<String> = app
        .store
        .utterances(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.speaker == "client")
        .map(|u| u.text)
        .collect();
    assert_eq!(clients, ["Алло, да, слушаю", "Интересно, расскажите"]);
    assert_eq!(app.store.agent_turns(id).await.unwrap().len(), 2);
    app.stop().await;
}
