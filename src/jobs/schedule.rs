//! The status of periodic jobs (next run, last success, last error), for `/api/scheduler`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, Default)]
pub struct ScheduleStatus {
    pub name: String,
    pub every_secs: u64,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// Shared registry of periodic jobs.
#[derive(Debug, Default)]
pub struct Schedules(Mutex<BTreeMap<String, ScheduleStatus>>);

impl Schedules {
    fn update(&self, name: &str, f: impl FnOnce(&mut ScheduleStatus)) {
        if let Ok(mut m) = self.0.lock() {
            let e = m.entry(name.to_string()).or_insert_with(|| ScheduleStatus {
                name: name.to_string(),
                ..Default::default()
            });
            f(e);
        }
    }
    pub fn register(&self, name: &str, every_secs: u64) {
        self.update(name, |s| s.every_secs = every_secs);
    }
    pub fn started(&self, name: &str) {
        self.update(name, |s| s.last_run = Some(Utc::now()));
    }
    pub fn succeeded(&self, name: &str, next: DateTime<Utc>) {
        self.update(name, |s| {
            s.last_success = Some(Utc::now());
            s.next_run = Some(next);
        });
    }
    pub fn failed(&self, name: &str, error: &str, next: DateTime<Utc>) {
        self.update(name, |s| {
            s.last_error = Some(error.to_string());
            s.last_error_at = Some(Utc::now());
            s.next_run = Some(next);
        });
    }
    pub fn all(&self) -> Vec<ScheduleStatus> {
        self.0
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}
