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
