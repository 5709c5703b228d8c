//! The campaign dialer end to end on the simulated trunk, with an explicit clock: the real
//! runner writes attempts, the real worker pool runs the `outbound.place` jobs, the real dialer
//! dials and settles. Concurrency is never exceeded (per campaign, and across two instances on
//! PostgreSQL), a do-not-call number is never dialled, retries come at their time inside the
//! window, a Vladivostok contact waits for its own morning, and an instance that stops mid-call
//! (a restart, a kill -9) calls no one twice.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use callops::agent::{DialogSettings, Scripts};
use callops::bench::agent_fakes::{AgentFakes, Latencies};
use callops::domain::numbering::Numbering;
use callops::domain::{
    Campaign, CampaignPlan, CampaignStatus, ContactOutcome, ContactSkip, ContactState, NewCampaign,
    OutboundStatus, PhoneNumber,
};
use callops::jobs::{PoolOptions, WorkerPool};
use callops::outbound::campaign_import;
use callops::outbound::campaign_runner::{
    CampaignAction, CampaignRunner, Clock, Placer, RunnerSettings,
};
use callops::outbound::contacts;
use callops::outbound::{Dialer, OutboundSettings};
use callops::store::Store;
use callops::telephony::trunk::{Scripted, SimulatedTrunk};
use callops::workers::place_call::PlaceCall;
use chrono::{DateTime, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

fn number(n: &str) -> PhoneNumber {
    PhoneNumber::parse(n).unwrap()
}

/// 2026-11-`d` `h`:`m` UTC (the 26th is a Thursday).
fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
}

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
    fn clock(&self) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}

/// One instance of the app's calling part: a dialer, its job pool and the campaign runner.
struct Instance {
    runner: Arc<CampaignRunner>,
    stop: CancellationToken,
    pool: tokio::task::JoinHandle<()>,
}

impl Instance {
    /// An instance as the app runs it: the runner places its attempts itself.
    async fn start(
        store: &Arc<dyn Store>,
        trunk: &Arc<SimulatedTrunk>,
        fakes: &AgentFakes,
        owner: &str,
        global: i64,
        clock: &TestClock,
    ) -> Self {
        Self::start_as(store, trunk, fakes, (owner, global, clock), true).await
    }

    /// An instance whose attempts all go through the `outbound.place` job (the fallback path).
    async fn start_with_jobs(
        store: &Arc<dyn Store>,
        trunk: &Arc<SimulatedTrunk>,
        fakes: &AgentFakes,
        owner: &str,
        global: i64,
        clock: &TestClock,
    ) -> Self {
        Self::start_as(store, trunk, fakes, (owner, global, clock), false).await
    }

    async fn start_as(
        store: &Arc<dyn Store>,
        trunk: &Arc<SimulatedTrunk>,
        fakes: &AgentFakes,
        (owner, global, clock): (&str, i64, &TestClock),
        direct: bool,
    ) -> Self {
        let mut pool = WorkerPool::new(
            store.clone(),
            PoolOptions {
                name: owner.into(),
                concurrency: 32,
                idle_poll: Duration::from_millis(20),
                ..PoolOptions::default()
            },
        );
        let scripts = Arc::new(Scripts::load(None).unwrap());
        let runner = Arc::new(CampaignRunner::new(
            store.clone(),
            scripts.clone(),
            RunnerSettings {
                global,
                holidays: Default::default(),
                every: Duration::from_millis(50),
                default_script: "realty_cold".into(),
            },
            pool.waker(),
            clock.clock(),
        ));
        let dialer = Dialer {
            store: store.clone(),
            trunk: trunk.clone(),
            agent: fakes.agent_deps(),
            scripts,
            default_script: "realty_cold".into(),
            dialog: DialogSettings::default(),
            intake: callops::bench::call::agent_intake(store.clone()),
            model: "gpt-4o-mini".into(),
            owner: owner.into(),
            settings: OutboundSettings {
                concurrency: global,
                ring_timeout: Duration::from_millis(400),
                lease: Duration::from_secs(30),
                caller_id: Some(number("+74951234567")),
            },
            live: None,
            campaigns: Some(runner.clone()),
        };
        let dialer = Arc::new(dialer);
        if direct {
            let placer: Arc<dyn Placer> = dialer.clone();
            runner.set_placer(&placer);
        }
        pool.register(Arc::new(PlaceCall { dialer }));
        let stop = CancellationToken::new();
        let pool = tokio::spawn(pool.run(stop.clone()));
        Self { runner, stop, pool }
    }

    async fn shut(self) {
        self.runner.drain(Duration::from_secs(5)).await;
        self.stop.cancel();
        let _ = self.pool.await;
    }
}

/// A campaign from a CSV file as a manager sends it, started.
async fn campaign(
    store: &Arc<dyn Store>,
    csv: &str,
    concurrency: i64,
    plan: CampaignPlan,
) -> Campaign {
    let list = contacts::read(csv.as_bytes(), Numbering::shipped()).unwrap();
    let new = NewCampaign {
        name: "Склады".into(),
        scripts: vec!["logistics_cold".into()],
        chat_id: None,
        created_by: Some(1),
        zone: chrono_tz::Europe::Moscow,
        concurrency,
        priority: 0,
        plan,
    };
    let (c, _) = campaign_import::create(store.as_ref(), &new, &list)
        .await
        .unwrap();
    c
}

fn csv(numbers: impl IntoIterator<Item = String>) -> String {
    let mut s = "Телефон;Имя\n".to_string();
    for (i, n) in numbers.into_iter().enumerate() {
        s.push_str(&format!("{n};Клиент {i}\n"));
    }
    s
}

/// Ticks (at the test clock) until the campaign is finished.
async fn run_to_finish(
    store: &Arc<dyn Store>,
    runners: &[&Arc<CampaignRunner>],
    clock: &TestClock,
    id: i64,
    mut each: impl FnMut(),
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        for r in runners {
            r.tick(clock.now()).await.unwrap();
        }
        each();
        if store.campaign(id).await.unwrap().unwrap().status == CampaignStatus::Finished {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "campaign {id} did not finish"
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// Ticks for a while at a fixed time.
async fn tick_for(runner: &CampaignRunner, at: DateTime<Utc>, ms: u64) {
    let until = std::time::Instant::now() + Duration::from_millis(ms);
    while std::time::Instant::now() < until {
        runner.tick(at).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn no_retries() -> CampaignPlan {
    CampaignPlan {
        retries: 0,
        ..CampaignPlan::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_never_exceeded_and_everyone_is_called_once() {
    let (store, _dir) = common::sqlite_store().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(
        120,
    ))));
    // Thursday 12:00 in Moscow.
    let clock = TestClock::new(utc(26, 9, 0));
    let a = Instance::start(&store, &trunk, &fakes, "a", 10, &clock).await;
    let numbers: Vec<String> = (0..12).map(|i| format!("+7916{:07}", 1000 + i)).collect();
    let c = campaign(&store, &csv(numbers.clone()), 3, no_retries()).await;
    a.runner.act(c.id, CampaignAction::Start).await.unwrap();
    let peak_calling = Arc::new(Mutex::new(0));
    let s2 = store.clone();
    let peak = peak_calling.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let n = s2
                .campaign_counts(c.id)
                .await
                .unwrap()
                .get(ContactState::Calling);
            {
                let mut p = peak.lock().unwrap();
                *p = (*p).max(n);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    run_to_finish(&store, &[&a.runner], &clock, c.id, || {}).await;
    watcher.abort();
    let mut dialled: Vec<String> = trunk
        .dialled()
        .iter()
        .map(|p| p.as_str().to_string())
        .collect();
    dialled.sort();
    assert_eq!(dialled, numbers, "everyone once");
    assert!(
        trunk.peak_dials() <= 3,
        "peak {} dials at once",
        trunk.peak_dials()
    );
    assert_eq!(trunk.peak_dials(), 3, "the lines were used");
    assert!(*peak_calling.lock().unwrap() <= 3);
    let all = store.campaign_contacts(c.id).await.unwrap();
    assert!(all.iter().all(|k| k.state == ContactState::Done
        && k.outcome == Some(ContactOutcome::Busy)
        && k.attempts == 1));
    a.shut().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_do_not_call_number_is_never_dialled() {
    let (store, _dir) = common::sqlite_store().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(
        30,
    ))));
    let clock = TestClock::new(utc(26, 9, 0));
    let a = Instance::start(&store, &trunk, &fakes, "a", 10, &clock).await;
    store
        .add_do_not_call(&number("+79160000001"), "opt_out")
        .await
        .unwrap();
    let c = campaign(
        &store,
        &csv(["+79160000001", "+79160000002", "+79160000003"].map(String::from)),
        2,
        no_retries(),
    )
    .await;
    // Listed after the import, before the dial: checked again.
    store
        .add_do_not_call(&number("+79160000002"), "manual:1")
        .await
        .unwrap();
    a.runner.act(c.id, CampaignAction::Start).await.unwrap();
    run_to_finish(&store, &[&a.runner], &clock, c.id, || {}).await;
    assert_eq!(trunk.dialled(), vec![number("+79160000003")]);
    for k in store.campaign_contacts(c.id).await.unwrap() {
        if k.phone.as_str() == "+79160000003" {
            assert_eq!(k.state, ContactState::Done);
        } else {
            assert_eq!(
                (k.state, k.skip, k.attempts),
                (ContactState::Skipped, Some(ContactSkip::DoNotCall), 0),
                "{}",
                k.phone.masked()
            );
        }
    }
    a.shut().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_come_at_their_time_and_only_inside_the_window() {
    let (store, _dir) = common::sqlite_store().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(
        20,
    ))));
    // Thursday 19:05 in Moscow.
    let clock = TestClock::new(utc(26, 16, 5));
    let a = Instance::start(&store, &trunk, &fakes, "a", 10, &clock).await;
    let c = campaign(
        &store,
        &csv(["+79160000010".to_string()]),
        1,
        CampaignPlan::default(),
    )
    .await;
    a.runner.act(c.id, CampaignAction::Start).await.unwrap();
    let dials = || trunk.dialled().len();
    let contact = || async { store.campaign_contacts(c.id).await.unwrap().remove(0) };
    tick_for(&a.runner, clock.now(), 300).await;
    assert_eq!(dials(), 1);
    let k = contact().await;
    assert_eq!(
        (k.state, k.next_at),
        (ContactState::Retry, Some(utc(26, 16, 35))),
        "30 minutes later"
    );
    tick_for(&a.runner, utc(26, 16, 34), 200).await;
    assert_eq!(dials(), 1, "not a minute early");
    clock.set(utc(26, 16, 35));
    tick_for(&a.runner, clock.now(), 300).await;
    assert_eq!(dials(), 2);
    // 20:05 would be past the window: Friday 09:00 in Moscow.
    let k = contact().await;
    assert_eq!(
        (k.state, k.next_at),
        (ContactState::Retry, Some(utc(27, 6, 0)))
    );
    for at in [utc(26, 17, 5), utc(26, 20, 0), utc(27, 5, 59)] {
        tick_for(&a.runner, at, 150).await;
        assert_eq!(dials(), 2, "nothing at {at}");
    }
    clock.set(utc(27, 6, 0));
    run_to_finish(&store, &[&a.runner], &clock, c.id, || {}).await;
    assert_eq!(dials(), 3);
    let k = contact().await;
    assert_eq!(
        (k.state, k.outcome, k.attempts),
        (ContactState::Exhausted, Some(ContactOutcome::Busy), 3)
    );
    a.shut().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vladivostok_contact_waits_for_its_own_morning() {
    let (store, _dir) = common::sqlite_store().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(
        20,
    ))));
    // Thursday 14:00 in Moscow = 21:00 in Vladivostok.
    let clock = TestClock::new(utc(26, 11, 0));
    let a = Instance::start(&store, &trunk, &fakes, "a", 10, &clock).await;
    let moscow = "+79161234567".to_string();
    let vladivostok = "+79140701234".to_string();
    let c = campaign(
        &store,
        &csv([moscow.clone(), vladivostok.clone()]),
        2,
        no_retries(),
    )
    .await;
    a.runner.act(c.id, CampaignAction::Start).await.unwrap();
    tick_for(&a.runner, clock.now(), 300).await;
    assert_eq!(trunk.dialled(), vec![number(&moscow)]);
    let waiting = store
        .campaign_contacts(c.id)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.phone.as_str() == vladivostok)
        .unwrap();
    assert_eq!(
        waiting.zone,
        Some(chrono_tz::Asia::Vladivostok),
        "from the registry"
    );
    // Friday 09:00 in Vladivostok = Thursday 23:00 UTC.
    assert_eq!(
        (waiting.state, waiting.next_at),
        (ContactState::Pending, Some(utc(26, 23, 0)))
    );
    tick_for(&a.runner, utc(26, 22, 59), 200).await;
    assert_eq!(trunk.dialled().len(), 1);
    clock.set(utc(26, 23, 0));
    run_to_finish(&store, &[&a.runner], &clock, c.id, || {}).await;
    assert_eq!(trunk.dialled(), vec![number(&moscow), number(&vladivostok)]);
    a.shut().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stopping_mid_call_calls_no_one_twice() {
    let (store, _dir) = common::sqlite_store().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    // Rings long enough to be cut by the stop.
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(
        300,
    ))));
    let clock = TestClock::new(utc(26, 9, 0));
    // Its calls run in its job pool, so aborting the pool stops them as a kill would.
    let first = Instance::start_with_jobs(&store, &trunk, &fakes, "first", 10, &clock).await;
    let numbers: Vec<String> = (0..4).map(|i| format!("+7916{:07}", 2000 + i)).collect();
    let c = campaign(&store, &csv(numbers.clone()), 2, no_retries()).await;
    first.runner.act(c.id, CampaignAction::Start).await.unwrap();
    first.runner.tick(clock.now()).await.unwrap();
    common::eventually(5, "two calls under way", || async {
        trunk.dialled().len() == 2
    })
    .await;
    // The instance dies mid-call: its job pool and its attempts' heartbeats stop at once (the
    // attempts keep their lease until it runs out, as after a kill -9).
    first.pool.abort();
    first.stop.cancel();
    let in_flight: Vec<i64> = store
        .open_outbound()
        .await
        .unwrap()
        .iter()
        .filter(|a| a.status.is_active())
        .map(|a| a.id)
        .collect();
    assert_eq!(in_flight.len(), 2);
    // Their leases run out (the sweeper of a surviving instance ends them interrupted).
    expire_leases(&store, &in_flight).await;
    assert_eq!(store.interrupt_expired_outbound().await.unwrap(), 2);
    let second = Instance::start(&store, &trunk, &fakes, "second", 10, &clock).await;
    run_to_finish(&store, &[&second.runner], &clock, c.id, || {}).await;
    let mut dialled: Vec<String> = trunk
        .dialled()
        .iter()
        .map(|p| p.as_str().to_string())
        .collect();
    dialled.sort();
    assert_eq!(dialled, numbers, "each once");
    let interrupted = store
        .campaign_contacts(c.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.outcome == Some(ContactOutcome::Interrupted))
        .count();
    assert_eq!(interrupted, 2);
    second.shut().await;
}

/// Makes attempts' leases run out now (what time does to an instance that died).
async fn expire_leases(store: &Arc<dyn Store>, ids: &[i64]) {
    for id in ids {
        let a = store.outbound_call(*id).await.unwrap().unwrap();
        assert!(a.status.is_active());
    }
    // Heartbeats stopped with the instance; a lease of 30 s would take 30 s to run out, so the
    // test shortens it by renewing it (as its owner) with a lease of zero.
    for id in ids {
        let owner = "first";
        let st = store.outbound_call(*id).await.unwrap().unwrap().status;
        store
            .update_outbound(*id, owner, st, None, None, Duration::ZERO)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_share_call_concurrency() {
    let Some((store, cleanup)) = common::pg_store("two_instances_share_call_concurrency").await
    else {
        return;
    };
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(
        100,
    ))));
    let clock = TestClock::new(utc(26, 9, 0));
    // CALL_CONCURRENCY = 3 on both; two campaigns that would take 4 lines each.
    let a = Instance::start(&store, &trunk, &fakes, "a", 3, &clock).await;
    let b = Instance::start_with_jobs(&store, &trunk, &fakes, "b", 3, &clock).await;
    let first: Vec<String> = (0..10).map(|i| format!("+7916{:07}", 3000 + i)).collect();
    let second: Vec<String> = (0..10).map(|i| format!("+7916{:07}", 4000 + i)).collect();
    let c1 = campaign(&store, &csv(first.clone()), 4, no_retries()).await;
    let c2 = campaign(&store, &csv(second.clone()), 4, no_retries()).await;
    a.runner.act(c1.id, CampaignAction::Start).await.unwrap();
    b.runner.act(c2.id, CampaignAction::Start).await.unwrap();
    run_to_finish(&store, &[&a.runner, &b.runner], &clock, c1.id, || {}).await;
    run_to_finish(&store, &[&a.runner, &b.runner], &clock, c2.id, || {}).await;
    assert!(
        trunk.peak_dials() <= 3,
        "peak {} dials at once",
        trunk.peak_dials()
    );
    let mut dialled: Vec<String> = trunk
        .dialled()
        .iter()
        .map(|p| p.as_str().to_string())
        .collect();
    dialled.sort();
    let mut all = [first, second].concat();
    all.sort();
    assert_eq!(dialled, all, "everyone once");
    a.shut().await;
    b.shut().await;
    store.close().await;
    cleanup.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_cancels_what_was_not_dialled_and_resuming_goes_on() {
    let (store, _dir) = common::sqlite_store().await;
    let fakes = AgentFakes::start(Latencies::default()).await.unwrap();
    let trunk = Arc::new(SimulatedTrunk::new(Scripted::Busy(Duration::from_millis(
        200,
    ))));
    let clock = TestClock::new(utc(26, 9, 0));
    let a = Instance::start(&store, &trunk, &fakes, "a", 10, &clock).await;
    let numbers: Vec<String> = (0..6).map(|i| format!("+7916{:07}", 5000 + i)).collect();
    let c = campaign(&store, &csv(numbers.clone()), 2, no_retries()).await;
    a.runner.act(c.id, CampaignAction::Start).await.unwrap();
    a.runner.tick(clock.now()).await.unwrap();
    common::eventually(5, "two dials", || async { trunk.dialled().len() == 2 }).await;
    a.runner.act(c.id, CampaignAction::Pause).await.unwrap();
    tick_for(&a.runner, clock.now(), 500).await;
    assert_eq!(
        trunk.dialled().len(),
        2,
        "paused: the calls under way finished, nothing new"
    );
    let counts = store.campaign_counts(c.id).await.unwrap();
    assert_eq!(
        (
            counts.get(ContactState::Done),
            counts.get(ContactState::Pending)
        ),
        (2, 4)
    );
    a.runner.act(c.id, CampaignAction::Start).await.unwrap();
    run_to_finish(&store, &[&a.runner], &clock, c.id, || {}).await;
    assert_eq!(trunk.dialled().len(), 6);
    // A stopped campaign dials nothing new either.
    let d = campaign(&store, &csv(["+79160000099".to_string()]), 1, no_retries()).await;
    a.runner.act(d.id, CampaignAction::Stop).await.unwrap();
    tick_for(&a.runner, clock.now(), 200).await;
    assert_eq!(trunk.dialled().len(), 6);
    assert_eq!(
        store.outbound_call(1).await.unwrap().unwrap().status,
        OutboundStatus::Busy
    );
    a.shut().await;
}
