//! Outbound calls placed by the voice agent: a request is checked and written down as a queued
//! attempt; placing it claims it once (within the concurrency limit of every instance), checks the
//! do-not-call list again, dials through a [`crate::telephony::trunk::Trunk`], lets the agent talk,
//! and records the conversation like any call. Every step is in the database as it happens.

pub mod campaign;
pub mod campaign_chat;
pub mod campaign_export;
pub mod campaign_import;
pub mod campaign_runner;
pub mod campaign_view;
pub mod contacts;
pub mod dialer;
pub mod queue;
mod talk;

pub use dialer::{Dialer, OutboundSettings, Placed, RequestError};
pub mod live;
pub mod status_view;
