//! callops: a Telegram-first chat-ops application that turns a sales team's phone calls into
//! decisions. This library holds everything; `main.rs` only calls [`cli::main`].
#![forbid(unsafe_code)]

pub mod agent;
pub mod analysis;
pub mod analyze_cmd;
pub mod app;
pub mod bench;
pub mod bot;
pub mod charts;
pub mod check;
pub mod cli;
pub mod config;
pub mod domain;
pub mod export;
pub mod http;
pub mod i18n;
pub mod jobs;
pub mod llm;
pub mod notify;
pub mod numbering_cmd;
pub mod outbound;
pub mod retry;
pub mod sheets;
pub mod speech;
pub mod store;
pub mod telemetry;
pub mod telephony;
pub mod web;
pub mod workers;
