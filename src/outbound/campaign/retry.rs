//! What follows an attempt: done, another try at a time inside the calling schedule, or no
//! tries left. Busy and no answer get 2 more tries 30 minutes apart by default, a failed call 1;
//! voicemail and screeners as the campaign sets (none by default); a declined call and an
//! opt-out never.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::domain::{CallingSchedule, ContactOutcome};

/// Further tries after an outcome, and the wait before each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub tries: u32,
    pub interval: Duration,
}

impl Retry {
    pub const NEVER: Retry = Retry {
        tries: 0,
        interval: Duration::zero(),
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub busy: Retry,
    pub no_answer: Retry,
    pub failed: Retry,
    pub voicemail: Retry,
    pub screened: Retry,
}

impl RetryPolicy {
    /// `tries` more for busy and no answer, one for a failure, `interval` apart
    /// (`CAMPAIGN_RETRIES`, `CAMPAIGN_RETRY_MIN`).
    pub fn new(tries: u32, interval: Duration) -> Self {
        Self {
            busy: Retry { tries, interval },
            no_answer: Retry { tries, interval },
            failed: Retry {
                tries: tries.min(1),
                interval,
            },
            voicemail: Retry::NEVER,
            screened: Retry::NEVER,
        }
    }

    fn of(&self, outcome: ContactOutcome) -> Retry {
        match outcome {
            ContactOutcome::Busy => self.busy,
            ContactOutcome::NoAnswer => self.no_answer,
            ContactOutcome::Failed => self.failed,
            ContactOutcome::Voicemail => self.voicemail,
            ContactOutcome::Screened => self.screened,
            ContactOutcome::Reached
            | ContactOutcome::Converted
            | ContactOutcome::Declined
            | ContactOutcome::OptedOut
            | ContactOutcome::Interrupted => Retry::NEVER,
        }
    }

    /// What follows an attempt that ended with `outcome` at `ended`, `retries_used` tries after
    /// the first having been made already.
    pub fn after(
        &self,
        outcome: ContactOutcome,
        retries_used: u32,
        ended: DateTime<Utc>,
        schedule: &CallingSchedule,
        tz: Tz,
    ) -> Next {
        let retry = self.of(outcome);
        if retry.tries == 0 {
            return Next::Done;
        }
        if retries_used >= retry.tries {
            return Next::Exhausted;
        }
        match schedule.next_open(ended + retry.interval, tz) {
            Some(at) => Next::RetryAt(at),
            None => Next::Exhausted,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new(2, Duration::minutes(30))
    }
}

/// What the dialer does with a contact after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The outcome stands (reached, converted, declined, opted out; or one not retried).
    Done,
    RetryAt(DateTime<Utc>),
    /// Retried as often as allowed.
    Exhausted,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MOSCOW: Tz = chrono_tz::Europe::Moscow;

    fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    #[test]
    fn busy_and_no_answer_are_tried_twice_more_half_an_hour_apart_inside_the_window() {
        let p = RetryPolicy::default();
        let s = CallingSchedule::default();
        // Thursday 12:00 Moscow (09:00 UTC): busy → 12:30, then 13:00 after the second, then no more.
        let ended = utc(26, 9, 0);
        assert_eq!(
            p.after(ContactOutcome::Busy, 0, ended, &s, MOSCOW),
            Next::RetryAt(utc(26, 9, 30))
        );
        assert_eq!(
            p.after(ContactOutcome::NoAnswer, 1, utc(26, 9, 31), &s, MOSCOW),
            Next::RetryAt(utc(26, 10, 1))
        );
        assert_eq!(
            p.after(ContactOutcome::Busy, 2, utc(26, 10, 2), &s, MOSCOW),
            Next::Exhausted
        );
        // 19:50 Friday in Moscow: 20:20 is outside; Monday 09:00.
        assert_eq!(
            p.after(ContactOutcome::NoAnswer, 0, utc(27, 16, 50), &s, MOSCOW),
            Next::RetryAt(utc(30, 6, 0))
        );
    }

    #[test]
    fn failures_get_one_more_try_and_refusals_none() {
        let p = RetryPolicy::default();
        let s = CallingSchedule::default();
        let ended = utc(26, 9, 0);
        assert!(matches!(
            p.after(ContactOutcome::Failed, 0, ended, &s, MOSCOW),
            Next::RetryAt(_)
        ));
        assert_eq!(
            p.after(ContactOutcome::Failed, 1, ended, &s, MOSCOW),
            Next::Exhausted
        );
        for o in [
            ContactOutcome::Declined,
            ContactOutcome::OptedOut,
            ContactOutcome::Reached,
            ContactOutcome::Converted,
            ContactOutcome::Voicemail,
            ContactOutcome::Screened,
        ] {
            assert_eq!(p.after(o, 0, ended, &s, MOSCOW), Next::Done, "{o}");
        }
        // Voicemail retried when the campaign says so.
        let p = RetryPolicy {
            voicemail: Retry {
                tries: 1,
                interval: Duration::hours(2),
            },
            ..p
        };
        assert_eq!(
            p.after(ContactOutcome::Voicemail, 0, ended, &s, MOSCOW),
            Next::RetryAt(utc(26, 11, 0))
        );
    }
}
