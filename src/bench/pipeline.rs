//! `callops bench pipeline`: the real pipeline (poller, durable jobs, audio, STT and LLM clients,
//! protocol rendering, exactly-once posting) against in-process fakes with set latencies. Runs
//! twice: calls that arrive as ready transcripts (the T-Bank TQM path: no recording, no STT), then
//! calls with recordings. Prints, for each, throughput against the ideal (concurrency / per-call
//! provider time), latency from "the call appears at the provider" to "protocol posted", and peak
//! RSS (the process's high-water mark so far).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Multipart, State};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::analysis::pipeline::{PipelineDeps, PipelineSettings};
use crate::analysis::Profiles;
use crate::domain::Direction;
use crate::domain::{Speaker, Utterance};
use crate::i18n::Lang;
use crate::jobs::schedule::Schedules;
use crate::jobs::{PoolOptions, WorkerPool};
use crate::llm::{JsonMode, LlmClient, PriceTable};
use crate::notify::{Keyboard, Notifier, NotifyError, TextFormat};
use crate::speech::audio::{stereo_wav_bytes, tone};
use crate::speech::OpenAiStt;
use crate::store::{self, Store};
use crate::telephony::{CallSource, ProviderCall, TelephonyError};
use crate::workers::poller;
use crate::workers::post_protocol::PostProtocol;
use crate::workers::process_call::ProcessCall;

/// Arguments of the benchmark.
#[derive(Debug, Clone)]
pub struct PipelineBench {
    pub calls: usize,
    pub stt_latency_ms: u64,
    pub llm_latency_ms: u64,
    pub concurrency: usize,
    /// Arrivals per second; 0 puts every call at the provider at once.
    pub rate: f64,
}

struct FakeSource {
    calls: Vec<(ProviderCall, Instant)>,
    audio: Vec<u8>,
    /// Serve each call's transcript as ready (the T-Bank path) instead of its recording.
    transcripts: bool,
}

#[async_trait]
impl CallSource for FakeSource {
    fn name(&self) -> &'static str {
        "bench"
    }
    async fn list_calls(
        &self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Vec<ProviderCall>, TelephonyError> {
        let now = Instant::now();
        Ok(self
            .calls
            .iter()
            .filter(|(_, at)| *at <= now)
            .map(|(c, _)| c.clone())
            .collect())
    }
    async fn fetch_recording(
        &self,
        _id: &str,
        _r: Option<&str>,
    ) -> Result<(Vec<u8>, String), TelephonyError> {
        Ok((self.audio.clone(), "wav".into()))
    }
    async fn fetch_transcript(
        &self,
        _id: &str,
        _r: Option<&str>,
    ) -> Result<Option<Vec<Utterance>>, TelephonyError> {
        if !self.transcripts {
            return Ok(None);
        }
        let line = |speaker, start_ms, text: &str| Utterance {
            speaker,
            start_ms,
            end_ms: start_ms + 1800,
            text: text.to_string(),
        };
        Ok(Some(vec![
            line(
                Speaker::Manager,
                0,
                "Агентство «Квартал», Анна, здравствуйте",
            ),
            line(
                Speaker::Client,
                2000,
                "Здравствуйте, у меня покупатель на двушку",
            ),
            line(Speaker::Manager, 4000, "Отлично, давайте назначим показ"),
        ]))
    }
}

#[derive(Default)]
struct RecordingNotifier {
    posted: Mutex<Vec<(String, Instant)>>,
    next_id: Mutex<i32>,
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn send_message(
        &self,
        _chat: i64,
        text: &str,
        _f: TextFormat,
        _k: Option<&Keyboard>,
        _r: Option<i32>,
    ) -> Result<i32, NotifyError> {
        let now = Instant::now();
        if let Ok(mut p) = self.posted.lock() {
            p.push((text.to_string(), now));
        }
        let mut id = self
            .next_id
            .lock()
            .map_err(|_| NotifyError::Transient("lock".into()))?;
        *id += 1;
        Ok(*id)
    }
    async fn edit_message(
        &self,
        _c: i64,
        _m: i32,
        _t: &str,
        _f: TextFormat,
        _k: Option<&Keyboard>,
    ) -> Result<(), NotifyError> {
        Ok(())
    }
    async fn send_document(
        &self,
        _c: i64,
        _n: &str,
        _b: Vec<u8>,
        _cap: &str,
    ) -> Result<i32, NotifyError> {
        Ok(0)
    }
    async fn send_album(
        &self,
        _c: i64,
        _p: Vec<(String, Vec<u8>)>,
        _cap: &str,
    ) -> Result<i32, NotifyError> {
        Ok(0)
    }
}

#[derive(Clone)]
struct Latencies {
    stt: Duration,
    llm: Duration,
}

async fn fake_stt(State(l): State<Latencies>, mut form: Multipart) -> Json<serde_json::Value> {
    while let Ok(Some(field)) = form.next_field().await {
        let _ = field.bytes().await;
    }
    tokio::time::sleep(l.stt).await;
    Json(
        json!({"task": "transcribe", "language": "russian", "duration": 2.0, "text": "Добрый день",
        "segments": [{"id": 0, "start": 0.2, "end": 1.4, "text": " Добрый день, слушаю вас."}]}),
    )
}

async fn fake_chat(
    State(l): State<Latencies>,
    Json(_req): Json<serde_json::Value>,
) -> Json<serde_json::Value> {
    tokio::time::sleep(l.llm).await;
    let content = json!({
        "agency_name": "Квартал", "agent_name": "Анна", "lead_category": "warm", "interest_rating": 6,
        "rating_reasons": ["Есть интерес"], "has_buyers": true, "buyers_count": 1, "clients_budget": null,
        "deal_timeframe": null, "agency_commission": null, "key_interests": [], "objections": [], "competitors": [],
        "priority": "medium", "next_steps": [], "recommended_actions": [], "summary": "Обычный звонок."
    })
    .to_string();
    Json(
        json!({"id": "b", "object": "chat.completion", "created": 0, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 200, "total_tokens": 1100}}),
    )
}

pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// Runs the benchmark, ready transcripts first and then recordings, and prints the figures.
pub async fn run(args: PipelineBench) -> anyhow::Result<()> {
    run_one(&args, true).await?;
    println!();
    run_one(&args, false).await
}

async fn run_one(args: &PipelineBench, transcripts: bool) -> anyhow::Result<()> {
    let lat = Latencies {
        stt: Duration::from_millis(args.stt_latency_ms),
        llm: Duration::from_millis(args.llm_latency_ms),
    };
    let app = Router::new()
        .route("/v1/audio/transcriptions", post(fake_stt))
        .route("/v1/chat/completions", post(fake_chat))
        .with_state(lat);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/v1", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = std::env::temp_dir().join(format!(
        "callops-bench-pipeline-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let store: Arc<dyn Store> =
        store::connect(&format!("sqlite://{}/bench.db", dir.display())).await?;
    store.migrate().await?;

    let t0 = Instant::now();
    let started = Utc::now() - chrono::Duration::minutes(5);
    let calls: Vec<(ProviderCall, Instant)> = (0..args.calls)
        .map(|i| {
            let at = if args.rate > 0.0 {
                t0 + Duration::from_secs_f64(i as f64 / args.rate)
            } else {
                t0
            };
            let pc = ProviderCall {
                provider_call_id: format!("bench_{i}"),
                recording_ref: Some(format!("rec_{i}")),
                direction: Some(Direction::Incoming),
                caller: format!("7916{:07}", i),
                called: "74951234567".into(),
                started_at: started,
                duration_secs: 60,
                answered: true,
                disposition: "answered".into(),
                recorded: true,
                operator: Some(format!("{}", 101 + i % 5)),
            };
            (pc, at)
        })
        .collect();
    let appear: HashMap<String, Instant> = calls
        .iter()
        .map(|(c, at)| (c.provider_call_id.clone(), *at))
        .collect();
    let audio = stereo_wav_bytes(&tone(440.0, 2.0, 8000), &tone(880.0, 2.0, 8000), 8000);
    let source: Arc<dyn CallSource> = Arc::new(FakeSource {
        calls,
        audio,
        transcripts,
    });

    let mut pool = WorkerPool::new(
        store.clone(),
        PoolOptions {
            name: "bench".into(),
            concurrency: args.concurrency,
            idle_poll: Duration::from_millis(50),
            ..PoolOptions::default()
        },
    );
    let mut sources = HashMap::new();
    sources.insert("bench".to_string(), source.clone());
    let deps = Arc::new(PipelineDeps::new(
        store.clone(),
        sources,
        Arc::new(
            OpenAiStt::new(&base, "bench", "whisper-1")
                .with_backoff(Duration::from_millis(50), Duration::from_secs(60)),
        ),
        Arc::new(LlmClient::new(
            &base,
            "bench",
            "gpt-4o",
            JsonMode::JsonSchema,
            PriceTable::default(),
        )),
        Arc::new(Profiles::load(None)?),
        PipelineSettings {
            our_numbers: Vec::new(),
            min_call_secs: 10,
            recording_delay: Duration::ZERO,
            max_recording: Duration::from_secs(3 * 3600),
            channel_roles: vec![Speaker::Manager, Speaker::Client],
            default_profile: "realty_lead".into(),
            profile_by_number: Vec::new(),
            team_chat: Some(-1),
            admins: Vec::new(),
            chat_by_number: Vec::new(),
            departments: Default::default(),
            timezone: chrono_tz::Europe::Moscow,
            lang: Lang::Ru,
            fewshot_examples: 0,
            offer_call_back: false,
        },
        pool.waker(),
    ));
    let notifier = Arc::new(RecordingNotifier::default());
    pool.register(Arc::new(ProcessCall { deps: deps.clone() }));
    pool.register(Arc::new(PostProtocol {
        deps: deps.clone(),
        notifier: notifier.clone(),
    }));
    let stop = CancellationToken::new();
    let pool_task = tokio::spawn(pool.run(stop.clone()));
    let leadership = Arc::new(crate::jobs::leader::Leadership::new(
        deps.store.clone(),
        Duration::from_secs(15),
    ));
    let poll_deps = deps.clone();
    let poll_task = tokio::spawn(leadership.run("poll:bench", stop.clone(), move |fence| {
        poller::run(
            poll_deps.clone(),
            source.clone(),
            Duration::from_secs(1),
            Duration::from_secs(86_400),
            Arc::new(Schedules::default()),
            fence,
        )
    }));

    let per_call = lat_per_call(args, transcripts);
    let ideal_per_min = args.concurrency as f64 / per_call * 60.0;
    println!(
        "callops bench pipeline, {}: {} calls, STT {} ms, LLM {} ms, concurrency {}, arrivals {}",
        if transcripts {
            "calls with ready transcripts (T-Bank TQM; no recording, no STT)"
        } else {
            "calls with recordings (downloaded, split, transcribed)"
        },
        args.calls,
        if transcripts { 0 } else { args.stt_latency_ms },
        args.llm_latency_ms,
        args.concurrency,
        if args.rate > 0.0 {
            format!("{:.1}/s", args.rate)
        } else {
            "all at once".into()
        }
    );
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut last_report = Instant::now();
    loop {
        let n = notifier.posted.lock().map(|p| p.len()).unwrap_or(0);
        if n >= args.calls || Instant::now() > deadline {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            println!(
                "  ... {n} protocols posted after {:.0} s",
                t0.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let _ = pool_task.await;
    let _ = poll_task.await;
    server.abort();

    let posted = notifier
        .posted
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    let mut latencies = Vec::new();
    let mut last = t0;
    for (text, at) in &posted {
        let Some(id) = text
            .split("Звонок №")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .and_then(|s| s.trim().parse::<i64>().ok())
        else {
            continue;
        };
        if let Some(call) = store.call(id).await? {
            if let Some(appeared) = appear.get(&call.provider_call_id) {
                latencies.push(at.duration_since(*appeared).as_secs_f64());
            }
        }
        last = last.max(*at);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let elapsed = last.duration_since(t0).as_secs_f64().max(0.001);
    let per_min = posted.len() as f64 / elapsed * 60.0;
    println!(
        "protocols posted:  {} of {} in {:.1} s",
        posted.len(),
        args.calls,
        elapsed
    );
    println!("throughput:        {:.0} calls/min (ideal {:.0}/min = {} / {:.2} s per call): {:.1}% of ideal",
        per_min, ideal_per_min, args.concurrency, per_call, per_min / ideal_per_min * 100.0);
    println!(
        "latency appear->posted: p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        pct(&latencies, 0.5),
        pct(&latencies, 0.95),
        latencies.last().copied().unwrap_or(0.0)
    );
    match peak_rss_mb() {
        Some(mb) => println!("peak RSS:          {mb:.1} MB"),
        None => println!("peak RSS:          unavailable (no /proc)"),
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Provider time per call: the two channels are transcribed at once, then one LLM request; a
/// ready transcript needs the LLM request only.
fn lat_per_call(args: &PipelineBench, transcripts: bool) -> f64 {
    let stt = if transcripts { 0 } else { args.stt_latency_ms };
    (stt + args.llm_latency_ms) as f64 / 1000.0
}
