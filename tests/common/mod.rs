//! Shared test helpers: stores on both backends and local fake servers.
#![allow(dead_code)]

pub mod fake_google;
pub mod fake_grpc;
pub mod fake_mango;
pub mod fake_novofon;
pub mod fake_openai;
pub mod fake_salute;
pub mod fake_tbank;
pub mod fake_telegram;
pub mod sipp;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use callops::config::{Config, Purpose};
use callops::store::{self, Store};

/// A migrated SQLite store in a temp dir (kept alive by the returned guard).
pub async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    callops::http::install_crypto();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/test.db", dir.path().display());
    let store = store::connect(&url).await.expect("sqlite connect");
    store.migrate().await.expect("sqlite migrate");
    (store, dir)
}

pub type Cleanup = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// A migrated Postgres store on a fresh schema, or `None` (with a message) without
/// `TEST_DATABASE_URL`.
pub async fn pg_store(test: &str) -> Option<(Arc<dyn Store>, Cleanup)> {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("skipped: TEST_DATABASE_URL not set ({test} on PostgreSQL)");
        return None;
    };
    let (store, cleanup) = callops::bench::fresh_postgres_schema(&url)
        .await
        .expect("postgres schema");
    Some((store, Box::pin(cleanup)))
}

/// A `DATABASE_URL` for the app on a fresh PostgreSQL schema, or `None` (with a message) without
/// `TEST_DATABASE_URL`.
pub async fn pg_app_url(test: &str) -> Option<(String, Cleanup)> {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("skipped: TEST_DATABASE_URL not set ({test} on PostgreSQL)");
        return None;
    };
    let (scoped, cleanup) = callops::bench::fresh_postgres_schema_url(&url)
        .await
        .expect("postgres schema");
    Some((scoped, Box::pin(cleanup)))
}

/// A config from `NAME=value` pairs (nothing read from the environment).
pub fn config(pairs: &[(&str, &str)], purpose: Purpose) -> Config {
    callops::http::install_crypto();
    let values: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_values(&values, purpose).expect("test config")
}

/// Polls `cond` every 20 ms until it is true or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    callops::http::install_crypto();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("timed out after {secs}s waiting for: {what}");
}
