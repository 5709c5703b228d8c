//! A calling campaign and its contacts as stored: the campaign's state, each contact's durable
//! state (pending → calling → done | retry at a time | exhausted | skipped), all typed values
//! stored by their `as_str` names.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::named::named;
use super::{CallWindow, ContactOutcome, Days, PhoneNumber, Stage};

/// Where a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CampaignStatus {
    /// Created, or paused: nothing is dialled.
    Paused,
    Running,
    /// Stopped: calls under way finish politely, nothing new is dialled.
    Stopped,
    /// Every contact is done, exhausted or skipped.
    Finished,
}
named!(CampaignStatus {
    Paused = "paused",
    Running = "running",
    Stopped = "stopped",
    Finished = "finished",
});

/// What a manager asks of a campaign (▶ ⏸ ⏹).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignAction {
    Start,
    Pause,
    Stop,
}
named!(CampaignAction {
    Start = "start",
    Pause = "pause",
    Stop = "stop",
});

/// Where one contact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactState {
    Pending,
    /// An attempt is written for it and may be under way.
    Calling,
    /// Another try is due at the contact's `next_at`.
    Retry,
    Done,
    /// Tried as often as the retry policy allows.
    Exhausted,
    /// Never dialled (see [`ContactSkip`]).
    Skipped,
}
named!(ContactState {
    Pending = "pending",
    Calling = "calling",
    Retry = "retry",
    Done = "done",
    Exhausted = "exhausted",
    Skipped = "skipped",
});

impl ContactState {
    /// Nothing more will be tried.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Exhausted | Self::Skipped)
    }
}

/// Why a contact is never dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactSkip {
    /// On the do-not-call list (at import or just before dialling).
    DoNotCall,
}
named!(ContactSkip {
    DoNotCall = "do_not_call",
});

/// How a campaign calls: tries after busy / no answer and the wait between them, and the local
/// hours and days (holidays come from the settings, shared by all campaigns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignPlan {
    /// More tries after busy or no answer (`CAMPAIGN_RETRIES`); a failed call gets at most one.
    pub retries: u32,
    /// Minutes between tries (`CAMPAIGN_RETRY_MIN`).
    pub retry_min: u32,
    pub window: CallWindow,
    pub days: Days,
    /// More tries after a voicemail answered (none by default).
    pub voicemail_retries: u32,
    /// More tries after a menu or an AI secretary answered (none by default).
    pub screened_retries: u32,
}

impl Default for CampaignPlan {
    fn default() -> Self {
        Self {
            retries: 2,
            retry_min: 30,
            window: CallWindow::default(),
            days: Days::WEEKDAYS,
            voicemail_retries: 0,
            screened_retries: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub name: String,
    /// One script, or 2–4 for an A/B test.
    pub scripts: Vec<String>,
    pub chat_id: Option<i64>,
    pub created_by: Option<i64>,
    /// The zone of contacts whose own zone is unknown.
    pub zone: Tz,
    /// Calls of this campaign at once (the global `CALL_CONCURRENCY` caps all together).
    pub concurrency: i64,
    /// Higher goes first among campaigns.
    pub priority: i64,
    pub plan: CampaignPlan,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub scripts: Vec<String>,
    pub status: CampaignStatus,
    pub chat_id: Option<i64>,
    pub created_by: Option<i64>,
    pub zone: Tz,
    pub concurrency: i64,
    pub priority: i64,
    pub plan: CampaignPlan,
    pub created_at: DateTime<Utc>,
    /// The chat message that shows its progress.
    pub status_message_id: Option<i32>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Campaign {
    /// The script of a variant, if the campaign names one.
    pub fn script(&self, variant: i64) -> Option<&str> {
        usize::try_from(variant)
            .ok()
            .and_then(|i| self.scripts.get(i))
            .map(String::as_str)
    }
}

/// A stored contact of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignContact {
    pub id: i64,
    pub campaign_id: i64,
    pub line: i64,
    pub phone: PhoneNumber,
    pub variables: serde_json::Value,
    pub zone: Option<Tz>,
    pub consent: Option<String>,
    pub source: Option<String>,
    pub variant: i64,
    pub state: ContactState,
    pub skip: Option<ContactSkip>,
    pub outcome: Option<ContactOutcome>,
    /// Attempts written for it (each dialled at most once).
    pub attempts: i64,
    /// When it is due (a retry, a callback, or the opening of its window).
    pub next_at: Option<DateTime<Utc>>,
    /// Its latest attempt.
    pub outbound_id: Option<i64>,
    /// What its latest conversation came to, when there was one.
    pub conversation: Option<Conversation>,
    /// When its latest attempt ended.
    pub last_at: Option<DateTime<Utc>>,
}

/// What a conversation with a contact came to (for the funnel, the KPIs and the export).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// The furthest stage reached.
    pub stage: Stage,
    /// `Some(handled)` when objections came up: whether the agent got past them.
    pub objections: Option<bool>,
    pub duration_ms: i64,
    /// The callback time as the callee said it.
    pub callback: Option<String>,
    /// The contact details the agent captured, as one line.
    pub captured: Option<String>,
    /// The stored call (transcript, protocol).
    pub call_id: Option<i64>,
}

/// What an attempt's end does to its contact (written only if the contact is still on it).
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    pub state: ContactState,
    pub outcome: Option<ContactOutcome>,
    pub skip: Option<ContactSkip>,
    pub next_at: Option<DateTime<Utc>>,
    /// The attempt was never dialled (cancelled while queued): it does not count.
    pub not_dialled: bool,
    pub conversation: Option<Conversation>,
    pub ended: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaignContact {
    /// The line of the uploaded file (0 for contacts added by the API).
    pub line: i64,
    pub phone: PhoneNumber,
    pub variables: serde_json::Value,
    /// The contact's zone, when the file or the registry tells it.
    pub zone: Option<Tz>,
    pub consent: Option<String>,
    pub source: Option<String>,
    /// The A/B variant (an index into the campaign's scripts).
    pub variant: i64,
    /// Set when the contact is never to be dialled.
    pub skip: Option<ContactSkip>,
}

/// How many contacts of a campaign are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactCounts(pub Vec<(ContactState, i64)>);

impl ContactCounts {
    pub fn get(&self, state: ContactState) -> i64 {
        self.0
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    }

    pub fn total(&self) -> i64 {
        self.0.iter().map(|(_, n)| n).sum()
    }

    /// Contacts nothing more will be tried for: done, exhausted or skipped.
    pub fn finished(&self) -> i64 {
        self.0
            .iter()
            .filter(|(s, _)| s.is_final())
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for s in CampaignStatus::ALL {
            assert_eq!(s.as_str().parse::<CampaignStatus>(), Ok(*s));
        }
        for s in ContactState::ALL {
            assert_eq!(s.as_str().parse::<ContactState>(), Ok(*s));
        }
        assert_eq!("do_not_call".parse(), Ok(ContactSkip::DoNotCall));
        assert!("running?".parse::<CampaignStatus>().is_err());
    }
}
