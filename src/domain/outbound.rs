//! An outbound call the agent places: one attempt, written down before anything is dialled, and
//! the states it goes through. An attempt is dialled at most once; one that was under way when
//! its instance stopped ends `interrupted` and is never redialled.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PhoneNumber;

/// Why an attempt failed, in the cases the chat explains in its own words (others keep the
/// trunk's or the system's text).
pub const REASON_CANCELLED: &str = "hung up before dialling";
pub const REASON_HUNG_UP_RINGING: &str = "hung up before the answer";
pub const REASON_DO_NOT_CALL: &str = "the number is on the do-not-call list";

/// Where an outbound call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundStatus {
    Queued,
    Dialling,
    Ringing,
    Talking,
    /// The conversation took place (see the outcome).
    Ended,
    Busy,
    NoAnswer,
    Declined,
    /// See the reason.
    Failed,
    /// Under way when the instance placing it stopped; not redialled.
    Interrupted,
}

impl OutboundStatus {
    pub const ALL: [OutboundStatus; 10] = [
        OutboundStatus::Queued,
        OutboundStatus::Dialling,
        OutboundStatus::Ringing,
        OutboundStatus::Talking,
        OutboundStatus::Ended,
        OutboundStatus::Busy,
        OutboundStatus::NoAnswer,
        OutboundStatus::Declined,
        OutboundStatus::Failed,
        OutboundStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboundStatus::Queued => "queued",
            OutboundStatus::Dialling => "dialling",
            OutboundStatus::Ringing => "ringing",
            OutboundStatus::Talking => "talking",
            OutboundStatus::Ended => "ended",
            OutboundStatus::Busy => "busy",
            OutboundStatus::NoAnswer => "no_answer",
            OutboundStatus::Declined => "declined",
            OutboundStatus::Failed => "failed",
            OutboundStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// A line is (or may be) in use: counts against the concurrency limit.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            OutboundStatus::Dialling | OutboundStatus::Ringing | OutboundStatus::Talking
        )
    }

    /// Nothing more will happen to the attempt.
    pub fn is_final(self) -> bool {
        !self.is_active() && self != OutboundStatus::Queued
    }
}

impl fmt::Display for OutboundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call to place.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboundCall {
    pub phone: PhoneNumber,
    pub script: String,
    /// Values for the script's `{placeholders}`.
    pub variables: serde_json::Value,
    /// The Telegram user who asked (none from the API).
    pub requested_by: Option<i64>,
    /// Where its status and protocol go.
    pub chat_id: Option<i64>,
}

/// A stored outbound call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboundCall {
    pub id: i64,
    pub phone: PhoneNumber,
    pub script: String,
    pub variables: serde_json::Value,
    pub requested_by: Option<i64>,
    pub chat_id: Option<i64>,
    pub status: OutboundStatus,
    pub reason: Option<String>,
    /// The agent's outcome once the conversation ended.
    pub outcome: Option<String>,
    /// The stored call (transcript, analysis) once there was a conversation.
    pub call_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The chat message that shows its status (edited as it goes), when it was started from a chat.
    pub status_message_id: Option<i32>,
    /// Who picked up, once the agent told.
    pub answered_by: Option<super::AnsweredBy>,
    /// The campaign contact it calls, when a campaign placed it.
    pub campaign_contact_id: Option<i64>,
}

/// A line of a call's live transcript, as it was said.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboundLine {
    /// Its place in the call, from 0.
    pub seq: i32,
    pub speaker: super::Speaker,
    pub text: String,
    /// From the answer, in ms.
    pub at_ms: i64,
}

/// What the chat or the API asked of a call under way since its owner last looked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundSignals {
    /// Someone pressed ⏹ or called the hang-up API.
    pub stop: bool,
    /// A manager's hints for the agent, oldest first.
    pub hints: Vec<String>,
}

/// What a hang-up request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// It was still queued: it ends now and is never dialled.
    Cancelled,
    /// It is under way: its owner hangs up (with a goodbye once answered).
    Flagged,
    /// It had ended already.
    AlreadyOver(OutboundStatus),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_classify() {
        for s in OutboundStatus::ALL {
            assert_eq!(OutboundStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert!(!(s.is_active() && s.is_final()));
        }
        assert!(OutboundStatus::Ringing.is_active());
        assert!(!OutboundStatus::Queued.is_active() && !OutboundStatus::Queued.is_final());
        assert!(OutboundStatus::Interrupted.is_final());
    }
}
