//! `callops bench bot --calls N`: fills a database (SQLite, and PostgreSQL when a URL is given)
//! with N analysed calls over a year and times what the bot does for `/leads`, `/stats` and each
//! chart, without Telegram: p50 and p95 per operation.

use std::sync::Arc;
use std::time::Instant;

use crate::bot::chatops::{leads_view, render_chart, stats_text};
use crate::bot::BotDeps;
use crate::charts::ChartKind;
use crate::domain::period::{today, Period};
use crate::domain::LeadCategory;
use crate::i18n::Lang;
use crate::store::{PgStore, SqliteStore, Store};

const RUNS: usize = 20;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[(((v.len() - 1) as f64) * p).round() as usize]
}

async fn time<F, Fut>(name: &str, mut f: F) -> anyhow::Result<()>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut ms = Vec::with_capacity(RUNS);
    f(0).await?; // warm-up
    for i in 0..RUNS {
        let t = Instant::now();
        f(i).await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "  {name:<26} p50 {:>7.1} ms   p95 {:>7.1} ms",
        pct(&mut ms, 0.5),
        pct(&mut ms, 0.95)
    );
    Ok(())
}

async fn measure(store: Arc<dyn Store>) -> anyhow::Result<()> {
    let tz = chrono_tz::Europe::Moscow;
    let deps = BotDeps {
        store,
        admins: Vec::new(),
        team_chat: None,
        team_chats: Vec::new(),
        intake: None,
        sources: Vec::new(),
        views: None,
        notifier: None,
        timezone: tz,
        rehearsal: None,
        dialer: None,
        call_window: Default::default(),
        numbering: std::sync::Arc::new(crate::domain::numbering::Numbering::shipped().clone()),
        campaigns: None,
        campaign_chat: None,
        campaign_defaults: None,
        speech_prices: Default::default(),
    };
    let day = today(tz);
    let week = Period::last_days(day, 7);
    time("/leads hot week (page i)", |i| {
        let deps = &deps;
        async move {
            leads_view(
                deps,
                Lang::Ru,
                Some(LeadCategory::Hot),
                week,
                (i % 5) as u32,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        }
    })
    .await?;
    time("/leads all week", |_| {
        let deps = &deps;
        async move {
            leads_view(deps, Lang::Ru, None, week, 0)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        }
    })
    .await?;
    time("/stats today", |_| {
        let deps = &deps;
        async move {
            stats_text(
                deps,
                Lang::Ru,
                Period {
                    first: day,
                    last: day,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        }
    })
    .await?;
    time("/stats week", |_| {
        let deps = &deps;
        async move {
            stats_text(deps, Lang::Ru, week)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        }
    })
    .await?;
    time("chart rows query (week)", |_| {
        let deps = &deps;
        async move {
            let (from, to) = week.bounds(tz);
            deps.store.chart_rows(from, to).await?;
            Ok(())
        }
    })
    .await?;
    for kind in ChartKind::ALL {
        time(&format!("/chart {kind} week"), |_| {
            let deps = &deps;
            async move {
                render_chart(deps, Lang::Ru, kind, week)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok(())
            }
        })
        .await?;
    }
    Ok(())
}

pub async fn run(calls: usize, postgres_url: Option<String>) -> anyhow::Result<()> {
    println!(
        "callops bench bot: {calls} calls over a year (~{} a week), {RUNS} runs each",
        calls / 52
    );
    let dir = std::env::temp_dir().join(format!(
        "callops-bench-bot-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    {
        let sqlite = SqliteStore::connect(&format!("sqlite://{}/bench.db", dir.display())).await?;
        sqlite.migrate().await?;
        let t = Instant::now();
        sqlite.fill_benchmark_data(calls as i64).await?;
        println!("sqlite: filled in {:.1} s", t.elapsed().as_secs_f64());
        let store: Arc<dyn Store> = Arc::new(sqlite);
        measure(store.clone()).await?;
        store.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    match postgres_url {
        None => println!("postgres: skipped (set TEST_DATABASE_URL or --database-url)"),
        Some(url) => {
            let schema = format!("callops_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&url).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await?;
            let pg =
                PgStore::connect(&crate::store::postgres_url_with_schema(&url, &schema)?).await?;
            pg.migrate().await?;
            let t = Instant::now();
            pg.fill_benchmark_data(calls as i64).await?;
            println!("postgres: filled in {:.1} s", t.elapsed().as_secs_f64());
            let store: Arc<dyn Store> = Arc::new(pg);
            let result = measure(store.clone()).await;
            store.close().await;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await?;
            result?;
        }
    }
    Ok(())
}
