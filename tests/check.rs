//! `callops check` reaches every configured service: the PBX with its credentials, the team chat
//! the bot must post to, and an OpenAI-compatible proxy without `/models` is not a failure.

mod common;

use std::sync::atomic::Ordering;

use callops::config::Purpose;
use common::fake_novofon::{self, FakeNovofon};
use common::fake_telegram::{FakeTelegram, TOKEN};

#[tokio::test]
async fn check_covers_the_pbx_and_the_team_chat() {
    let tg = FakeTelegram::start().await;
    let pbx = FakeNovofon::start(Vec::new()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/check.db", dir.path().display());
    let run = |secret: &'static str| {
        let (db, tg_url, pbx_url) = (db.clone(), tg.url.clone(), pbx.url.clone());
        async move {
            let cfg = common::config(
                &[
                    ("DATABASE_URL", &db),
                    ("TELEGRAM_BOT_TOKEN", TOKEN),
                    ("TELEGRAM_API_URL", &tg_url),
                    ("TELEGRAM_CHAT_ID", "-100500"),
                    ("NOVOFON_API_URL", &pbx_url),
                    ("NOVOFON_API_KEY", fake_novofon::KEY),
                    ("NOVOFON_API_SECRET", secret),
                    ("RETRY_BASE_MS", "10"),
                    // A proxy that serves chat completions but no /models.
                    ("OPENAI_API_KEY", "sk-test"),
                    ("OPENAI_BASE_URL", &format!("{tg_url}/no-models")),
                ],
                Purpose::Tooling,
            );
            callops::check::run_checks(&cfg).await
        }
    };
    let rows = run(fake_novofon::SECRET).await;
    let table = callops::check::render(&rows);
    let find = |rows: &[callops::check::CheckRow], s: &str| {
        rows.iter()
            .find(|r| r.service == s)
            .unwrap_or_else(|| panic!("a {s} row in\n{table}"))
            .clone()
    };
    assert_eq!(find(&rows, "pbx").ok, Some(true), "{table}");
    assert_eq!(find(&rows, "team chat").ok, Some(true), "{table}");
    assert_ne!(
        find(&rows, "llm").ok,
        Some(false),
        "no /models is not FAILED: {table}"
    );

    let rows = run("wrong-secret").await;
    let pbx_row = find(&rows, "pbx");
    assert_eq!(pbx_row.ok, Some(false));
    assert!(
        pbx_row.detail.contains("check the API key"),
        "{}",
        pbx_row.detail
    );

    tg.state.forbidden_chat.store(-100500, Ordering::SeqCst);
    let rows = run(fake_novofon::SECRET).await;
    let chat = find(&rows, "team chat");
    assert_eq!(chat.ok, Some(false));
    assert!(chat.detail.contains("add the bot"), "{}", chat.detail);
}

#[tokio::test]
async fn check_names_each_pbx_and_reads_the_checklist_sheet() {
    use common::fake_google::FakeGoogle;
    use common::fake_mango::{self, FakeMango};
    use common::fake_tbank::{self, FakeTbank};
    let mango = FakeMango::start(Vec::new()).await;
    mango.state.not_ready_rounds.store(0, Ordering::SeqCst);
    let tbank = FakeTbank::start(Vec::new()).await;
    let google = FakeGoogle::start().await;
    google.state.sheets.lock().unwrap().insert(
        "crit".into(),
        vec![
            vec!["Приветствие".into(), "Назвал компанию".into()],
            vec!["Ставка".into(), "Назвал ставку".into()],
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/check.db", dir.path().display());
    let account = google.account_file.display().to_string();
    let run = |salt: &'static str, password: &'static str, sheet: &'static str| {
        let (db, m, t, g, account) = (
            db.clone(),
            mango.url.clone(),
            tbank.url.clone(),
            google.url.clone(),
            account.clone(),
        );
        async move {
            let cfg = common::config(
                &[
                    ("DATABASE_URL", &db),
                    ("MANGO_API_URL", &m),
                    ("MANGO_API_KEY", fake_mango::KEY),
                    ("MANGO_API_SALT", salt),
                    ("MANGO_RESULT_POLL_MS", "20"),
                    ("TBANK_API_URL", &t),
                    ("TBANK_LOGIN", fake_tbank::LOGIN),
                    ("TBANK_PASSWORD", password),
                    ("GOOGLE_SERVICE_ACCOUNT_FILE", &account),
                    ("SHEETS_CRITERIA_ID", sheet),
                    ("SHEETS_API_URL", &g),
                    ("RETRY_BASE_MS", "10"),
                ],
                Purpose::Tooling,
            );
            callops::check::run_checks(&cfg).await
        }
    };
    let rows = run(fake_mango::SALT, fake_tbank::PASSWORD, "crit").await;
    let table = callops::check::render(&rows);
    let pbx: Vec<_> = rows.iter().filter(|r| r.service == "pbx").collect();
    assert_eq!(pbx.len(), 2, "{table}");
    assert!(pbx.iter().all(|r| r.ok == Some(true)), "{table}");
    assert!(
        pbx.iter().any(|r| r.detail.starts_with("mango:")),
        "{table}"
    );
    assert!(
        pbx.iter().any(|r| r.detail.starts_with("tbank:")),
        "{table}"
    );
    let sheets = rows.iter().find(|r| r.service == "sheets").unwrap();
    assert_eq!(sheets.ok, Some(true), "{table}");
    assert!(sheets.detail.contains("2 criteria"), "{table}");

    let rows = run("wrong-salt", "wrong-password", "missing").await;
    let table = callops::check::render(&rows);
    assert!(
        rows.iter()
            .filter(|r| r.service == "pbx")
            .all(|r| r.ok == Some(false)),
        "{table}"
    );
    let sheets = rows.iter().find(|r| r.service == "sheets").unwrap();
    assert_eq!(sheets.ok, Some(false), "{table}");
    assert!(sheets.detail.contains("share the Sheet with"), "{table}");
}
