//! Several `callops run` processes on one PostgreSQL database, against fake Novofon, OpenAI and
//! Telegram servers: calls keep arriving while the leader is killed with SIGKILL, then another
//! instance. Every call gets one protocol, the PBX is polled at one instance's pace, and only one
//! instance long-polls Telegram at a time.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callops::config::variables;
use callops::speech::audio::{stereo_wav_bytes, tone};
use chrono::Utc;
use common::fake_novofon::{self, FakeCall, FakeNovofon};
use common::fake_openai::{self, FakeOpenAi};
use common::fake_telegram::{FakeTelegram, TOKEN};

const TEAM: i64 = -1_002_000;
const ADMIN: u64 = 78;
const POLL_SECS: u64 = 1;

fn call(n: usize) -> FakeCall {
    FakeCall {
        pbx_call_id: format!("pbx-{n}"),
        call_id: format!("call-{n}"),
        callstart: (Utc::now() - chrono::Duration::minutes(5))
            .with_timezone(&chrono_tz::Europe::Moscow)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        clid: format!("+7916{:07}", 1_000_000 + n),
        destination: "+74951234567".into(),
        disposition: "answered".into(),
        seconds: 60,
        recorded: true,
        audio: stereo_wav_bytes(&tone(440.0, 4.0, 8000), &tone(880.0, 4.0, 8000), 8000),
    }
}

fn instance(
    dir: &std::path::Path,
    n: usize,
    db: &str,
    tg: &FakeTelegram,
    pbx: &FakeNovofon,
    ai: &FakeOpenAi,
) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callops"));
    cmd.current_dir(dir);
    for v in variables() {
        cmd.env_remove(v);
    }
    let log = std::fs::File::create(dir.join(format!("instance-{n}.log"))).unwrap();
    cmd.env_remove("CALLOPS_CONFIG")
        .envs([
            ("DATABASE_URL", db.to_string()),
            ("HTTP_ADDR", "127.0.0.1:0".into()),
            ("TELEGRAM_BOT_TOKEN", TOKEN.into()),
            ("TELEGRAM_API_URL", tg.url.clone()),
            ("TELEGRAM_CHAT_ID", TEAM.to_string()),
            ("TELEGRAM_ADMINS", ADMIN.to_string()),
            ("TELEGRAM_CHAT_INTERVAL_MS", "0".into()),
            ("TELEGRAM_GROUP_INTERVAL_MS", "0".into()),
            ("NOVOFON_API_URL", pbx.url.clone()),
            ("NOVOFON_API_KEY", fake_novofon::KEY.into()),
            ("NOVOFON_API_SECRET", fake_novofon::SECRET.into()),
            ("NOVOFON_POLL_SECS", POLL_SECS.to_string()),
            ("NOVOFON_STATS_INTERVAL_MS", "10".into()),
            ("NOVOFON_NUMBERS", "+7 (495) 123-45-67".into()),
            ("RECORDING_DELAY_SECS", "0".into()),
            ("OPENAI_API_KEY", fake_openai::KEY.into()),
            ("OPENAI_BASE_URL", ai.url.clone()),
            ("RETRY_BASE_MS", "20".into()),
            ("JOB_RETRY_BASE_MS", "50".into()),
            ("JOB_LEASE_SECS", "5".into()),
            ("LEADER_LEASE_SECS", "3".into()),
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The pid in a lease holder (`host:pid:random`).
fn holder_pid(holder: &str) -> Option<u32> {
    holder.split(':').nth(1)?.parse().ok()
}

/// Prints the instances' logs when the test fails.
struct LogsOnPanic(std::path::PathBuf);

impl Drop for LogsOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for n in 0..3 {
            let text = std::fs::read_to_string(self.0.join(format!("instance-{n}.log")))
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "===== instance {n} =====\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_survive_killing_the_leader_and_another() {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("skipped: TEST_DATABASE_URL not set (three instances on PostgreSQL)");
        return;
    };
    let (db, cleanup) = callops::bench::fresh_postgres_schema_url(&url)
        .await
        .unwrap();
    let store = callops::store::connect(&db).await.unwrap();
    store.migrate().await.unwrap();
    let tg = FakeTelegram::start().await;
    let pbx = FakeNovofon::start(Vec::new()).await;
    let ai = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let _logs = LogsOnPanic(dir.path().to_path_buf());
    let mut children: Vec<Option<Child>> = (0..3)
        .map(|n| Some(instance(dir.path(), n, &db, &tg, &pbx, &ai)))
        .collect();

    let started = Instant::now();
    let mut added = 0;
    let mut killed = Vec::new();
    // Calls keep arriving for 14 s; the poller's leader is killed at 4 s, the next at 9 s.
    while started.elapsed() < Duration::from_secs(14) {
        pbx.state.calls.lock().unwrap().push(call(added));
        added += 1;
        let due = match killed.len() {
            0 => Duration::from_secs(4),
            1 => Duration::from_secs(9),
            _ => Duration::MAX,
        };
        if started.elapsed() >= due {
            let leaders = store.leaders().await.unwrap();
            let poller = leaders
                .iter()
                .find(|l| l.name == "poll:novofon" && l.expires_at > Utc::now());
            if let Some(pid) = poller.and_then(|l| holder_pid(&l.holder)) {
                let slot = children
                    .iter_mut()
                    .find(|c| c.as_ref().is_some_and(|c| c.id() == pid))
                    .expect("the leader is one of ours");
                let mut child = slot.take().unwrap();
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                killed.push(pid);
            }
        }
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    assert_eq!(killed.len(), 2, "the leader was killed twice");
    let polled_for = started.elapsed();

    let s = store.clone();
    common::eventually(120, "every call is posted", || {
        let s = s.clone();
        async move {
            let filter = callops::domain::CallFilter {
                limit: 1000,
                ..Default::default()
            };
            let (calls, _) = s.list_calls(&filter).await.unwrap();
            calls.len() == added
                && calls
                    .iter()
                    .all(|c| c.call.status == callops::domain::CallStatus::Analyzed)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let protocols = tg
        .texts_to(TEAM)
        .iter()
        .filter(|t| t.contains("ЗВОНОК"))
        .count();
    assert_eq!(protocols, added, "one protocol per call, none twice");
    // The PBX saw one instance's pace (a poll a second), not three, across two changes of leader.
    let times = pbx.state.stats_times.lock().unwrap().clone();
    let allowed = polled_for.as_secs() / POLL_SECS + 4;
    let during: Vec<_> = times
        .iter()
        .filter(|t| t.duration_since(times[0]) <= polled_for)
        .collect();
    assert!(
        during.len() as u64 <= allowed,
        "{} statistics requests in {polled_for:?}; at most {allowed} expected",
        during.len()
    );
    // Telegram long polling: never two getUpdates at once (a 409 would show as a conflict).
    assert_eq!(tg.conflicts(), 0, "two instances long-polled at once");

    for c in children.iter_mut().flatten() {
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .stdout(Stdio::null())
            .status();
        let _ = c.wait();
    }
    store.close().await;
    cleanup.await.unwrap();
}
