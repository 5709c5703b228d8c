//! `callops bench campaign --contacts 10000 --concurrency 50`: a whole campaign on the simulated
//! trunk with the real runner, job pool and dialer on a SQLite file. Numbers ring for a moment and
//! are busy, unanswered or declined (the dialer's work, not the agent's, is measured here: the
//! agent's own figures are `bench call`). The clock is fixed at 07:00 UTC, when every Russian zone
//! (UTC+2 … UTC+12) is inside 09:00–20:00, so nobody waits for a morning.
//!
//! Printed: the scheduling overhead per dial (from the start of the runner's tick that decided
//! the dial to the trunk being asked to dial: the free lines counted, the due query, the window
//! check, the attempt written, the call started, the attempt claimed and the do-not-call list
//! checked), the database time per contact (every SQL statement of the process while the
//! campaign ran, as sqlx times them, divided by the contacts), the peak RSS, and the import of the
//! XLSX list.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::TimeZone;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

use super::pipeline::{pct, peak_rss_mb};
use crate::agent::{DialogSettings, Scripts};
use crate::domain::numbering::Numbering;
use crate::domain::{CampaignPlan, CampaignStatus, Days, NewCampaign, PhoneNumber};
use crate::jobs::{PoolOptions, WorkerPool};
use crate::outbound::campaign_import;
use crate::outbound::campaign_runner::{
    CampaignAction, CampaignRunner, RunnerSettings, TickReport,
};
use crate::outbound::contacts;
use crate::outbound::{Dialer, OutboundSettings};
use crate::telephony::line::Line;
use crate::telephony::trunk::{DialFailure, DialProgress, Scripted, SimulatedTrunk, Trunk};
use crate::workers::place_call::PlaceCall;

#[derive(Debug, Clone)]
pub struct CampaignBench {
    pub contacts: usize,
    pub concurrency: i64,
}

/// Sums the time of every SQL statement sqlx logs (`sqlx::query`, `elapsed_secs`).
#[derive(Clone, Default)]
struct SqlTime(Arc<AtomicU64>);

impl SqlTime {
    fn secs(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e9
    }
}

struct Elapsed(Option<f64>);

impl tracing::field::Visit for Elapsed {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SqlTime {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut e = Elapsed(None);
        event.record(&mut e);
        if let Some(secs) = e.0 {
            self.0.fetch_add((secs * 1e9) as u64, Ordering::Relaxed);
        }
    }
}

/// A trunk that notes when each number was asked to be dialled, then lets the simulated one ring.
struct Timed {
    inner: SimulatedTrunk,
    dialled: Mutex<HashMap<String, Instant>>,
}

#[async_trait]
impl Trunk for Timed {
    async fn dial(
        &self,
        to: &PhoneNumber,
        ring_timeout: Duration,
        progress: mpsc::Sender<DialProgress>,
        cancel: CancellationToken,
    ) -> Result<Box<dyn Line>, DialFailure> {
        self.dialled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(to.as_str().to_string(), Instant::now());
        self.inner.dial(to, ring_timeout, progress, cancel).await
    }
}

pub async fn run(args: CampaignBench) -> anyhow::Result<()> {
    let sql = SqlTime::default();
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("sqlx::query", tracing::Level::TRACE);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(sql.clone(), filter));
    tracing::subscriber::set_global_default(subscriber)?;

    // The list, as Excel saves it.
    let book = super::contacts::xlsx(args.contacts)?;
    let t = Instant::now();
    let list = contacts::read(&book, Numbering::shipped())?;
    let import_ms = t.elapsed().as_secs_f64() * 1000.0;

    let path =
        std::env::temp_dir().join(format!("callops-bench-campaign-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = crate::store::connect(&format!("sqlite://{}", path.display())).await?;
    store.migrate().await?;
    let new = NewCampaign {
        name: "bench".into(),
        scripts: vec!["logistics_cold".into(), "realty_cold".into()],
        chat_id: None,
        created_by: None,
        zone: chrono_tz::Europe::Moscow,
        concurrency: args.concurrency,
        priority: 0,
        plan: CampaignPlan {
            retries: 0,
            days: Days::EVERY_DAY,
            ..CampaignPlan::default()
        },
    };
    let t = Instant::now();
    let (campaign, report) = campaign_import::create(store.as_ref(), &new, &list).await?;
    let write_ms = t.elapsed().as_secs_f64() * 1000.0;

    let trunk = Arc::new(Timed {
        inner: SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(200))),
        dialled: Mutex::new(HashMap::new()),
    });
    for (i, c) in list.contacts.iter().enumerate() {
        match i % 10 {
            6..=8 => trunk.inner.script(&c.phone, Scripted::NoAnswer),
            9 => trunk
                .inner
                .script(&c.phone, Scripted::Decline(Duration::from_millis(100))),
            _ => {}
        }
    }
    let fakes =
        super::agent_fakes::AgentFakes::start(super::agent_fakes::Latencies::default()).await?;
    let mut pool = WorkerPool::new(
        store.clone(),
        PoolOptions {
            name: "bench".into(),
            concurrency: usize::try_from(args.concurrency)? + 8,
            ..PoolOptions::default()
        },
    );
    let scripts = Arc::new(Scripts::load(None)?);
    // 07:00 UTC on a Thursday: 09:00 in Kaliningrad, 19:00 in Kamchatka.
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 26, 7, 0, 0)
        .single()
        .unwrap_or_default();
    let runner = Arc::new(CampaignRunner::new(
        store.clone(),
        scripts.clone(),
        RunnerSettings {
            global: args.concurrency,
            holidays: Default::default(),
            every: Duration::from_secs(1),
            default_script: "realty_cold".into(),
        },
        pool.waker(),
        Arc::new(move || now),
    ));
    let dialer = Dialer {
        store: store.clone(),
        trunk: trunk.clone(),
        agent: fakes.agent_deps(),
        scripts,
        default_script: "realty_cold".into(),
        dialog: DialogSettings::default(),
        intake: super::call::agent_intake(store.clone()),
        model: "gpt-4o-mini".into(),
        owner: "bench".into(),
        settings: OutboundSettings {
            concurrency: args.concurrency,
            ring_timeout: Duration::from_millis(300),
            lease: Duration::from_secs(30),
            caller_id: None,
        },
        live: None,
        campaigns: Some(runner.clone()),
    };
    let dialer = Arc::new(dialer);
    let placer: Arc<dyn crate::outbound::campaign_runner::Placer> = dialer.clone();
    runner.set_placer(&placer);
    pool.register(Arc::new(PlaceCall { dialer }));
    let stop = CancellationToken::new();
    let pool_task = tokio::spawn(pool.run(stop.clone()));
    let decided: Arc<Mutex<Vec<(Instant, Instant, i64)>>> = Arc::new(Mutex::new(Vec::new()));
    let noted = decided.clone();
    let runner_task = tokio::spawn(runner.clone().run(stop.clone(), move |r: TickReport| {
        let noted = noted.clone();
        async move {
            if let Some(began) = r.began {
                let ended = Instant::now();
                let mut v = noted.lock().unwrap_or_else(|p| p.into_inner());
                v.extend(
                    r.started
                        .iter()
                        .map(|(contact, _)| (began, ended, *contact)),
                );
            }
        }
    }));

    let sql_before = sql.secs();
    let t = Instant::now();
    runner.act(campaign.id, CampaignAction::Start).await?;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if store.campaign(campaign.id).await?.map(|c| c.status) == Some(CampaignStatus::Finished) {
            break;
        }
        if t.elapsed() > Duration::from_secs(1800) {
            anyhow::bail!("the campaign did not finish in 30 minutes");
        }
    }
    let wall = t.elapsed();
    let sql_secs = sql.secs() - sql_before;
    stop.cancel();
    let _ = runner_task.await;
    let _ = pool_task.await;

    let phones: HashMap<i64, String> = store
        .campaign_contacts(campaign.id)
        .await?
        .into_iter()
        .map(|k| (k.id, k.phone.as_str().to_string()))
        .collect();
    let dialled = trunk
        .dialled
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let decided = decided.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut overhead: Vec<f64> = Vec::with_capacity(decided.len());
    let (mut in_tick, mut after_tick) = (Vec::new(), Vec::new());
    for (began, ended, contact) in &decided {
        let Some(at) = phones.get(contact).and_then(|p| dialled.get(p)) else {
            continue;
        };
        overhead.push(at.saturating_duration_since(*began).as_secs_f64() * 1000.0);
        in_tick.push(ended.saturating_duration_since(*began).as_secs_f64() * 1000.0);
        after_tick.push(at.saturating_duration_since(*ended).as_secs_f64() * 1000.0);
    }
    for v in [&mut overhead, &mut in_tick, &mut after_tick] {
        v.sort_by(f64::total_cmp);
    }
    let n = report.added.max(1) as f64;
    println!(
        "campaign: {} contacts ({} rows read), concurrency {}, {} dials in {:.1} s ({:.0} dials/s; busy 60 %, no answer 30 %, declined 10 %, 200–300 ms each)",
        report.added,
        report.rows,
        args.concurrency,
        dialled.len(),
        wall.as_secs_f64(),
        dialled.len() as f64 / wall.as_secs_f64(),
    );
    println!(
        "most dials at once: {} (limit {})",
        trunk.inner.peak_dials(),
        args.concurrency
    );
    println!(
        "scheduling overhead per dial: p50 {:.1} ms, p95 {:.1} ms",
        pct(&overhead, 0.5),
        pct(&overhead, 0.95)
    );
    println!(
        "  of which in the tick (due contacts, window, attempts written, calls started): p50 {:.1} ms, p95 {:.1} ms; from the tick to the dial: p50 {:.1} ms, p95 {:.1} ms",
        pct(&in_tick, 0.5),
        pct(&in_tick, 0.95),
        pct(&after_tick, 0.5),
        pct(&after_tick, 0.95)
    );
    println!(
        "database time per contact: {:.2} ms ({:.1} s of SQL in all; writing the campaign: {:.0} ms)",
        sql_secs * 1000.0 / n,
        sql_secs,
        write_ms
    );
    match peak_rss_mb() {
        Some(mb) => println!("peak RSS: {mb:.0} MB"),
        None => println!("peak RSS: unknown (no /proc/self/status)"),
    }
    println!("import of {}-row XLSX: {import_ms:.0} ms", args.contacts);
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}
