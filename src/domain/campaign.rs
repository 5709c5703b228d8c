//! A calling campaign and its contacts as stored: the campaign's state, each contact's durable
//! state (pending → calling → done | retry at a time | exhausted | skipped), all typed values
//! stored by their `as_str` names.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::named::named;
use super::PhoneNumber;

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

/// Why a contact is never dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactSkip {
    /// On the do-not-call list (at import or just before dialling).
    DoNotCall,
}
named!(ContactSkip {
    DoNotCall = "do_not_call",
});

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
    pub created_at: DateTime<Utc>,
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
