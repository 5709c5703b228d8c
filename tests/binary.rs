//! The `callops` binary as a user runs it: configuration errors, start-up against a fake Bot API,
//! SIGTERM, and a SIGKILL in the middle of a job.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use callops::config::variables;
use callops::notify::PostRequest;
use callops::store::JobState;
use callops::workers::telegram_send;
use common::fake_telegram::{FakeTelegram, TOKEN};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn callops(dir: &std::path::Path, env: &[(&str, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callops"));
    cmd.current_dir(dir);
    for v in variables() {
        cmd.env_remove(v);
    }
    cmd.env_remove("CALLOPS_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Spawns `cmd` with its output in `DIR/NAME.log`, which [`LogsOnPanic`] prints if the test fails.
fn spawn_logged(mut cmd: Command, dir: &std::path::Path, name: &str) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    cmd.stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Prints the end of every `*.log` in its directory when dropped during a panic, so a failed
/// multi-process test says what the processes were doing.
struct LogsOnPanic(std::path::PathBuf);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(&self.0) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(60)..].join("\n");
                eprintln!("===== {} (last 60 lines) =====\n{tail}", path.display());
            }
        }
    }
}

fn wait_exit(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

async fn wait_healthy(port: u16) {
    common::eventually(30, "callops /health", || async move {
        matches!(reqwest::get(format!("http://127.0.0.1:{port}/health")).await, Ok(r) if r.status() == 200)
    })
    .await;
}

#[test]
fn without_a_token_it_exits_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = callops(dir.path(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TELEGRAM_BOT_TOKEN"), "{stderr}");
    assert!(stderr.contains(".env"), "says where to set it: {stderr}");
}

#[test]
fn migrate_creates_the_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = callops(dir.path(), &[("DATABASE_URL", "sqlite://fresh.db".into())])
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("fresh.db").exists());
}

#[tokio::test]
async fn numbering_import_reads_the_registry_files_into_the_database_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    // The official layout, in Windows-1251 as older registry files were.
    let csv = "АВС/ DEF;От;До;Емкость;Оператор;Регион\n\
               914;0000000;0999999;1000000;ПАО \"МТС\";Хабаровский край\n\
               914;1000000;1999999;1000000;ПАО \"МТС\";Российская Федерация\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(csv);
    std::fs::write(dir.path().join("DEF-9xx.csv"), &bytes).unwrap();
    std::fs::write(
        dir.path().join("other.csv"),
        "name;phone\nИван;+79161234567\n",
    )
    .unwrap();
    let env = [("DATABASE_URL", "sqlite://numbering.db".to_string())];
    let out = callops(dir.path(), &env)
        .args(["numbering", "import", "other.csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a numbering plan file"));
    let out = callops(dir.path(), &env)
        .args(["numbering", "import", "DEF-9xx.csv"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 rows, 1 ranges with a region"),
        "{stdout}"
    );
    assert!(stdout.contains("1 with no single region"), "{stdout}");
    let store = callops::store::connect(&format!(
        "sqlite://{}",
        dir.path().join("numbering.db").display()
    ))
    .await
    .unwrap();
    let tables = store.numbering_tables().await.unwrap();
    assert_eq!(tables.len(), 1);
    let imported = callops::domain::numbering::Numbering::parse_table(&tables[0]).unwrap();
    let numbering = callops::domain::numbering::Numbering::shipped().updated_by(&imported);
    let place = |n: &str| numbering.place(&callops::domain::PhoneNumber::parse(n).unwrap());
    // The import stands for all of 9xx: its range is Khabarovsk's now, and what it did not
    // cover is unknown (no longer the shipped table's).
    assert_eq!(
        place("+7 914 070-12-34").and_then(|p| p.region),
        Some("Хабаровский край")
    );
    assert_eq!(place("+7 916 123-45-67"), None);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_answers_start_and_exits_0_on_sigterm() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = callops(
        dir.path(),
        &[
            ("TELEGRAM_BOT_TOKEN", TOKEN.into()),
            ("TELEGRAM_API_URL", tg.url.clone()),
            ("TELEGRAM_ADMINS", "42".into()),
            ("HTTP_ADDR", format!("127.0.0.1:{port}")),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_healthy(port).await;
    assert!(
        dir.path().join("callops.db").exists(),
        "the default SQLite file is created"
    );
    tg.send_text(42, 42, "ru", "/start");
    common::eventually(20, "reply to /start", || async {
        !tg.texts_to(42).is_empty()
    })
    .await;

    let t = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_exit(&mut child, 12).expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(!stderr.contains(TOKEN), "the token never reaches the log");
}

const ADMIN: i64 = 7;

fn post_request(key: &str) -> PostRequest {
    PostRequest {
        post_key: key.into(),
        chat_id: 42,
        text: "Протокол звонка".into(),
        format: Default::default(),
        call_id: None,
        kind: callops::domain::PostKind::Protocol,
        keyboard: None,
        reply_to: None,
        silent: false,
        topic: None,
    }
}

fn worker_env(tg: &FakeTelegram, db_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_string()),
        ("TELEGRAM_API_URL", tg.url.clone()),
        ("TELEGRAM_ADMINS", ADMIN.to_string()),
        ("DATABASE_URL", db_url.to_string()),
        ("JOB_LEASE_SECS", "5".to_string()),
        ("TELEGRAM_CHAT_INTERVAL_MS", "0".to_string()),
        ("HTTP_ADDR", "127.0.0.1:0".to_string()),
    ]
}

fn stop_gracefully(child: &mut Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    if wait_exit(child, 12).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The process dies while its request to Telegram is in flight. Whether Telegram posted the
/// message is unknown, so the restarted worker does not send it again (no duplicate can appear);
/// the job is given up and the admin is told the post is in doubt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_mid_send_is_not_sent_twice_and_the_admin_is_told() {
    let tg = FakeTelegram::start().await;
    tg.state.stall_sends.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let _logs = LogsOnPanic(dir.path().to_path_buf());
    let db_url = format!("sqlite://{}/kill.db", dir.path().display());
    let store = callops::store::connect(&db_url).await.unwrap();
    store.migrate().await.unwrap();
    let id = store
        .enqueue(telegram_send::job(&post_request("kill:test")).unwrap())
        .await
        .unwrap()
        .id;

    let mut first = spawn_logged(
        callops(dir.path(), &worker_env(&tg, &db_url)),
        dir.path(),
        "first",
    );
    common::eventually(30, "the send is in flight", || async {
        !tg.calls("sendMessage").is_empty()
    })
    .await;
    assert_eq!(
        store.job(id).await.unwrap().unwrap().state,
        JobState::Running
    );
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();

    tg.state.stall_sends.store(false, Ordering::SeqCst);
    let mut second = spawn_logged(
        callops(dir.path(), &worker_env(&tg, &db_url)),
        dir.path(),
        "second",
    );
    let s = store.clone();
    common::eventually(40, "the job is given up", || {
        let s = s.clone();
        async move { s.job(id).await.unwrap().unwrap().state == JobState::Dead }
    })
    .await;
    common::eventually(20, "the admin is told", || async {
        tg.texts_to(ADMIN)
            .iter()
            .any(|t| t.contains("возможно, не дошло"))
    })
    .await;
    stop_gracefully(&mut second);
    let to_chat = tg
        .calls("sendMessage")
        .into_iter()
        .filter(|c| c.body["chat_id"] == 42)
        .count();
    assert_eq!(to_chat, 1, "the in-doubt message was never requested again");
    assert_eq!(tg.texts_to(ADMIN).len(), 1, "one alert");
}

/// A worker stalls past its lease in the middle of `sendMessage` (SIGSTOP, as a paused VM): the
/// message was posted, the answer waits in the socket. Another instance takes the job over and does
/// not post again; the stalled worker, resumed, records the message it sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stalled_mid_send_past_its_lease_posts_once() {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let _logs = LogsOnPanic(dir.path().to_path_buf());
    let db_url = format!("sqlite://{}/stall.db", dir.path().display());
    let store = callops::store::connect(&db_url).await.unwrap();
    store.migrate().await.unwrap();

    let mut stalled = spawn_logged(
        callops(dir.path(), &worker_env(&tg, &db_url)),
        dir.path(),
        "stalled",
    );
    tg.state
        .stop_pid_on_send
        .store(i64::from(stalled.id()), Ordering::SeqCst);
    let id = store
        .enqueue(telegram_send::job(&post_request("stall:test")).unwrap())
        .await
        .unwrap()
        .id;
    common::eventually(30, "delivered, then the worker stops", || async {
        tg.state.sent_ok.load(Ordering::SeqCst) == 1
    })
    .await;

    let mut other = spawn_logged(
        callops(dir.path(), &worker_env(&tg, &db_url)),
        dir.path(),
        "other",
    );
    let s = store.clone();
    common::eventually(40, "the other instance gives the job up", || {
        let s = s.clone();
        async move { s.job(id).await.unwrap().unwrap().state == JobState::Dead }
    })
    .await;
    common::eventually(20, "the admin is told", || async {
        !tg.texts_to(ADMIN).is_empty()
    })
    .await;

    Command::new("kill")
        .args(["-CONT", &stalled.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_gracefully(&mut stalled);
    stop_gracefully(&mut other);
    assert_eq!(
        tg.texts_to(42),
        vec!["Протокол звонка".to_string()],
        "one protocol after the stall"
    );
    assert_eq!(
        tg.state.sent_ok.load(Ordering::SeqCst),
        2,
        "the protocol and one alert"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_prints_protocols_and_names_bad_files() {
    let openai = common::fake_openai::FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("звонок.wav");
    std::fs::write(
        &wav,
        callops::speech::audio::stereo_wav_bytes(
            &callops::speech::audio::tone(440.0, 4.0, 8000),
            &callops::speech::audio::tone(880.0, 4.0, 8000),
            8000,
        ),
    )
    .unwrap();
    let bad = dir.path().join("broken.mp3");
    std::fs::write(&bad, b"<html>404 Not Found</html>").unwrap();

    let no_key = callops(dir.path(), &[])
        .arg("analyze")
        .arg(&wav)
        .output()
        .unwrap();
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("OPENAI_API_KEY"));

    let env = [
        ("OPENAI_API_KEY", common::fake_openai::KEY.to_string()),
        ("OPENAI_BASE_URL", openai.url.clone()),
        ("DATABASE_URL", "sqlite://analyze.db".to_string()),
    ];
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        let (wav, bad) = (wav.clone(), bad.clone());
        move || {
            callops(&dir, &env)
                .args(["analyze", "--profile", "realty_lead"])
                .arg(&bad)
                .arg(&wav)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one file failed: {stderr}");
    assert!(
        stderr.contains("broken.mp3") && stderr.contains("bad audio"),
        "{stderr}"
    );
    assert!(
        stdout.contains("ВХОДЯЩИЙ ЗВОНОК") && stdout.contains("ГОРЯЧИЙ ЛИД"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Менеджер: Добрый день") && !stdout.contains("<b>"),
        "plain text: {stdout}"
    );
}

/// A call whose processing takes its process down every time (here: SIGKILL while it runs, as an
/// out-of-memory abort would) is quarantined after the second crash: the call is marked failed and
/// the team chat is told, instead of the call staying "processing" forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_keeps_killing_its_worker_is_failed_visibly() {
    use common::fake_novofon::{self, FakeCall, FakeNovofon};
    use common::fake_openai::{self, FakeOpenAi};
    const TEAM: i64 = -1_001_000;
    let tg = FakeTelegram::start().await;
    let started = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let novofon = FakeNovofon::start(vec![FakeCall {
        pbx_call_id: "in_poison".into(),
        call_id: "9001.1".into(),
        callstart: started,
        clid: "79160009911".into(),
        destination: "74951234567".into(),
        disposition: "answered".into(),
        seconds: 30,
        recorded: true,
        audio: callops::speech::audio::stereo_wav_bytes(
            &callops::speech::audio::tone(440.0, 3.0, 8000),
            &callops::speech::audio::tone(880.0, 3.0, 8000),
            8000,
        ),
    }])
    .await;
    let openai = FakeOpenAi::start().await;
    openai.state.stt_delay_ms.store(600_000, Ordering::SeqCst); // the worker "hangs" in the call
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/poison.db", dir.path().display());
    let store = callops::store::connect(&db_url).await.unwrap();
    store.migrate().await.unwrap();
    let env = |port: u16| {
        vec![
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_string()),
            ("TELEGRAM_API_URL", tg.url.clone()),
            ("TELEGRAM_CHAT_ID", TEAM.to_string()),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0".to_string()),
            ("DATABASE_URL", db_url.clone()),
            ("JOB_LEASE_SECS", "5".to_string()),
            ("HTTP_ADDR", format!("127.0.0.1:{port}")),
            ("NOVOFON_API_URL", novofon.url.clone()),
            ("NOVOFON_API_KEY", fake_novofon::KEY.to_string()),
            ("NOVOFON_API_SECRET", fake_novofon::SECRET.to_string()),
            ("NOVOFON_POLL_SECS", "1".to_string()),
            ("NOVOFON_STATS_INTERVAL_MS", "10".to_string()),
            ("RECORDING_DELAY_SECS", "0".to_string()),
            ("OPENAI_API_KEY", fake_openai::KEY.to_string()),
            ("OPENAI_BASE_URL", openai.url.clone()),
        ]
    };
    for _crash in 1..=2 {
        let seen = openai.state.stt_requests.load(Ordering::SeqCst);
        let mut child = callops(dir.path(), &env(free_port()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        common::eventually(40, "the worker is inside the call", || async {
            openai.state.stt_requests.load(Ordering::SeqCst) > seen
        })
        .await;
        child.kill().unwrap(); // the process dies mid-job
        child.wait().unwrap();
    }
    openai.state.stt_delay_ms.store(0, Ordering::SeqCst);
    let requests_before = openai.state.stt_requests.load(Ordering::SeqCst);
    let mut last = callops(dir.path(), &env(free_port()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::eventually(40, "the team chat is told", || async {
        tg.texts_to(TEAM)
            .iter()
            .any(|t| t.contains("Не удалось обработать"))
    })
    .await;
    stop_gracefully(&mut last);
    let notice = tg
        .texts_to(TEAM)
        .into_iter()
        .find(|t| t.contains("Не удалось обработать"))
        .unwrap();
    assert!(notice.contains("прерывалась сбоем"), "{notice}");
    let call = store
        .call_by_provider_id("novofon", "in_poison")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.status, callops::domain::CallStatus::Failed);
    assert!(call.reason.unwrap().starts_with("quarantined"));
    assert_eq!(
        openai.state.stt_requests.load(Ordering::SeqCst),
        requests_before,
        "not run a third time"
    );
}

/// A campaign's instance is killed (SIGKILL) with two calls under way. The calls' attempts were
/// written before their INVITEs; another instance ends them as interrupted once their leases
/// run out and goes on with the rest. sipp, as the trunk, sees each number INVITEd once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_mid_campaign_calls_no_one_twice() {
    use common::sipp::{free_udp_port, invited, sipp_available, sipp_logged_with, wait_log};
    if !sipp_available() {
        return;
    }
    let tg = FakeTelegram::start().await;
    let fakes = callops::bench::agent_fakes::AgentFakes::start(
        callops::bench::agent_fakes::Latencies::default(),
    )
    .await
    .unwrap();
    let sip_port = free_udp_port();
    let peer = sipp_logged_with("answer_until_bye.xml", sip_port, &["-m", "20"]);
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}/campaign.db", dir.path().display());
    let env = |http: u16, rtp: u16| {
        let mut env = worker_env(&tg, &db_url);
        env.extend([
            ("HTTP_ADDR", format!("127.0.0.1:{http}")),
            ("API_KEY", "k-test".to_string()),
            ("OPENAI_API_KEY", "sk-test".to_string()),
            ("OPENAI_BASE_URL", fakes.base_url.clone()),
            ("SIP_SERVER", format!("127.0.0.1:{sip_port}")),
            ("SIP_REGISTER", "false".to_string()),
            ("SIP_BIND", "127.0.0.1:0".to_string()),
            ("RTP_PORT_MIN", rtp.to_string()),
            ("RTP_PORT_MAX", (rtp + 99).to_string()),
            ("CALL_CONCURRENCY", "2".to_string()),
            ("MAX_CALL_DURATION_SEC", "4".to_string()),
        ]);
        env
    };
    let http = free_port();
    let mut first = callops(dir.path(), &env(http, 43500))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(http).await;
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Moscow);
    let window = format!(
        "{}-{}",
        (now - chrono::Duration::hours(1)).format("%H:%M"),
        (now + chrono::Duration::hours(2)).format("%H:%M")
    );
    let numbers: Vec<String> = (0..4).map(|i| format!("+7916888{i:04}")).collect();
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("http://127.0.0.1:{http}/api/campaigns"))
        .header("X-API-Key", "k-test")
        .json(&serde_json::json!({
            "name": "kill -9", "concurrency": 2, "retries": 0, "window": window,
            "days": "ежедневно",
            "contacts": numbers.iter().map(|n| serde_json::json!({"phone": n})).collect::<Vec<_>>(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().expect("created");
    client
        .post(format!("http://127.0.0.1:{http}/api/campaigns/{id}/start"))
        .header("X-API-Key", "k-test")
        .send()
        .await
        .unwrap();
    let (answered, _) = wait_log(&peer.log, 20, |t| {
        invited(t).len() >= 2 && t.matches("ACK sip:").count() >= 2
    })
    .await;
    assert!(answered, "two calls answered");
    first.kill().unwrap(); // SIGKILL, mid-call
    first.wait().unwrap();

    let http = free_port();
    let mut second = callops(dir.path(), &env(http, 43600))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(http).await;
    let store = callops::store::connect(&db_url).await.unwrap();
    common::eventually(90, "the campaign finishes", || {
        let store = store.clone();
        async move {
            store.campaign(id).await.unwrap().unwrap().status
                == callops::domain::CampaignStatus::Finished
        }
    })
    .await;
    stop_gracefully(&mut second);
    let mut dialled = invited(&std::fs::read_to_string(&peer.log).unwrap());
    dialled.sort();
    let mut want: Vec<String> = numbers
        .iter()
        .map(|n| n.trim_start_matches('+').to_string())
        .collect();
    want.sort();
    assert_eq!(dialled, want, "each contact INVITEd once across the kill");
    let interrupted = store
        .campaign_contacts(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.outcome == Some(callops::domain::ContactOutcome::Interrupted))
        .count();
    assert_eq!(
        interrupted, 2,
        "the two calls cut by the kill are not redialled"
    );
}
