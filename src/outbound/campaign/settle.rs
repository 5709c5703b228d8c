//! What the end of an attempt does to its contact, free of IO: the outcome as the campaign
//! counts it (from the line, who answered and what the agent established), then done, another
//! try inside the calling schedule, a callback at the time the callee asked for, or no tries
//! left. An attempt never dialled (cancelled while queued, or the number on the do-not-call list
//! by then) does not count as a try.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::retry::{Next, Retry, RetryPolicy};
use crate::domain::{
    parse_spoken_time, AnsweredBy, CallingSchedule, Campaign, CampaignContact, ContactOutcome,
    ContactSkip, ContactState, Conversation, OutboundStatus, Settlement, REASON_CANCELLED,
    REASON_DO_NOT_CALL, REASON_HUNG_UP_RINGING,
};

/// Tries a contact may get in all, callbacks included (a callee who keeps asking to be called
/// later is not called forever).
pub const MAX_ATTEMPTS: i64 = 6;

/// What the agent established in a conversation, when the call was answered and the attempt
/// ended on a running instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Talk {
    /// The goal was reached: a decision maker's contact or a request (the agent's «interested»).
    pub converted: bool,
    pub opted_out: bool,
    pub conversation: Conversation,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEnd {
    pub status: OutboundStatus,
    pub reason: Option<String>,
    pub answered_by: Option<AnsweredBy>,
    /// The agent's outcome category as stored (`interested`, `callback`...).
    pub agent_outcome: Option<String>,
    pub talk: Option<Talk>,
    pub ended: DateTime<Utc>,
}

/// The outcome as the campaign counts it; `None` when the attempt was never dialled.
pub fn outcome(end: &AttemptEnd) -> Result<ContactOutcome, NotDialled> {
    Ok(match end.status {
        OutboundStatus::Busy => ContactOutcome::Busy,
        OutboundStatus::NoAnswer => ContactOutcome::NoAnswer,
        OutboundStatus::Declined => ContactOutcome::Declined,
        OutboundStatus::Failed => match end.reason.as_deref() {
            Some(REASON_CANCELLED) => return Err(NotDialled::Cancelled),
            Some(REASON_DO_NOT_CALL) => return Err(NotDialled::DoNotCall),
            // We hung up while it rang (a stop, a restart): to the callee, a missed call.
            Some(REASON_HUNG_UP_RINGING) => ContactOutcome::NoAnswer,
            _ => ContactOutcome::Failed,
        },
        OutboundStatus::Ended => match end.answered_by {
            Some(AnsweredBy::Voicemail) => ContactOutcome::Voicemail,
            Some(AnsweredBy::Ivr | AnsweredBy::Screener) => ContactOutcome::Screened,
            _ => match &end.talk {
                Some(t) if t.opted_out => ContactOutcome::OptedOut,
                Some(t) if t.converted => ContactOutcome::Converted,
                Some(_) => ContactOutcome::Reached,
                None if end.agent_outcome.as_deref() == Some("interested") => {
                    ContactOutcome::Converted
                }
                None => ContactOutcome::Reached,
            },
        },
        // Under way when its instance stopped (or, impossibly, not ended yet): never redialled.
        OutboundStatus::Interrupted
        | OutboundStatus::Queued
        | OutboundStatus::Dialling
        | OutboundStatus::Ringing
        | OutboundStatus::Talking => ContactOutcome::Interrupted,
    })
}

/// Why an attempt did not count as a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotDialled {
    /// Cancelled while queued (the campaign paused or stopped): the contact waits again.
    Cancelled,
    /// The number was on the do-not-call list by the time of the dial.
    DoNotCall,
}

/// What `end` does to `contact` of `campaign` (holidays from the settings).
pub fn settle(
    end: &AttemptEnd,
    contact: &CampaignContact,
    campaign: &Campaign,
    schedule: &CallingSchedule,
) -> Settlement {
    let base = Settlement {
        state: ContactState::Done,
        outcome: None,
        skip: None,
        next_at: None,
        not_dialled: false,
        conversation: end.talk.as_ref().map(|t| t.conversation.clone()),
        ended: end.ended,
    };
    let outcome = match outcome(end) {
        Ok(o) => o,
        Err(NotDialled::Cancelled) => {
            return Settlement {
                state: ContactState::Pending,
                not_dialled: true,
                ..base
            }
        }
        Err(NotDialled::DoNotCall) => {
            return Settlement {
                state: ContactState::Skipped,
                skip: Some(ContactSkip::DoNotCall),
                not_dialled: true,
                ..base
            }
        }
    };
    let tz = contact.zone.unwrap_or(campaign.zone);
    let base = Settlement {
        outcome: Some(outcome),
        ..base
    };
    if outcome == ContactOutcome::Reached && contact.attempts < MAX_ATTEMPTS {
        if let Some(at) = callback_at(end, tz, schedule) {
            return Settlement {
                state: ContactState::Retry,
                next_at: Some(at),
                ..base
            };
        }
    }
    let interval = chrono::Duration::minutes(i64::from(campaign.plan.retry_min));
    let policy = RetryPolicy {
        voicemail: Retry {
            tries: campaign.plan.voicemail_retries,
            interval,
        },
        screened: Retry {
            tries: campaign.plan.screened_retries,
            interval,
        },
        ..RetryPolicy::new(campaign.plan.retries, interval)
    };
    let used = u32::try_from(contact.attempts.saturating_sub(1)).unwrap_or(0);
    match policy.after(outcome, used, end.ended, schedule, tz) {
        Next::Done => base,
        Next::RetryAt(at) => Settlement {
            state: ContactState::Retry,
            next_at: Some(at),
            ..base
        },
        Next::Exhausted => Settlement {
            state: ContactState::Exhausted,
            ..base
        },
    }
}

/// The callback time the callee asked for, moved into the calling hours, when one can be told.
fn callback_at(end: &AttemptEnd, tz: Tz, schedule: &CallingSchedule) -> Option<DateTime<Utc>> {
    let said = end.talk.as_ref()?.conversation.callback.as_deref()?;
    let local_now = end.ended.with_timezone(&tz).naive_local();
    let local = parse_spoken_time(said, local_now)?;
    let at = tz
        .from_local_datetime(&local)
        .earliest()?
        .with_timezone(&Utc);
    schedule.next_open(at.max(end.ended), tz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CampaignPlan, CampaignStatus, PhoneNumber, Stage};

    const MOSCOW: Tz = chrono_tz::Europe::Moscow;

    fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap()
    }

    fn campaign() -> Campaign {
        Campaign {
            id: 1,
            name: "t".into(),
            scripts: vec!["realty_cold".into()],
            status: CampaignStatus::Running,
            chat_id: None,
            created_by: None,
            zone: MOSCOW,
            concurrency: 2,
            priority: 0,
            plan: CampaignPlan::default(),
            created_at: utc(25, 6, 0),
            status_message_id: None,
            finished_at: None,
        }
    }

    fn contact(attempts: i64) -> CampaignContact {
        CampaignContact {
            id: 7,
            campaign_id: 1,
            line: 2,
            phone: PhoneNumber::parse("+79161234567").unwrap(),
            variables: serde_json::json!({}),
            zone: None,
            consent: None,
            source: None,
            variant: 0,
            state: ContactState::Calling,
            skip: None,
            outcome: None,
            attempts,
            next_at: None,
            outbound_id: Some(3),
            conversation: None,
            last_at: None,
        }
    }

    fn end(status: OutboundStatus) -> AttemptEnd {
        AttemptEnd {
            status,
            reason: None,
            answered_by: None,
            agent_outcome: None,
            talk: None,
            // Thursday 12:00 in Moscow.
            ended: utc(26, 9, 0),
        }
    }

    fn talk(converted: bool, callback: Option<&str>) -> Talk {
        Talk {
            converted,
            opted_out: false,
            conversation: Conversation {
                stage: Stage::Objections,
                objections: Some(converted),
                duration_ms: 42_000,
                callback: callback.map(Into::into),
                captured: None,
                call_id: Some(5),
            },
        }
    }

    #[test]
    fn line_outcomes_are_retried_by_the_policy() {
        let s = CallingSchedule::default();
        let st = settle(&end(OutboundStatus::Busy), &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.outcome, st.next_at),
            (
                ContactState::Retry,
                Some(ContactOutcome::Busy),
                Some(utc(26, 9, 30))
            )
        );
        let st = settle(&end(OutboundStatus::NoAnswer), &contact(3), &campaign(), &s);
        assert_eq!(st.state, ContactState::Exhausted);
        let st = settle(&end(OutboundStatus::Declined), &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.outcome),
            (ContactState::Done, Some(ContactOutcome::Declined))
        );
        let st = settle(
            &end(OutboundStatus::Interrupted),
            &contact(1),
            &campaign(),
            &s,
        );
        assert_eq!(
            (st.state, st.outcome),
            (ContactState::Done, Some(ContactOutcome::Interrupted)),
            "an interrupted call is never redialled"
        );
    }

    #[test]
    fn attempts_never_dialled_do_not_count() {
        let s = CallingSchedule::default();
        let mut e = end(OutboundStatus::Failed);
        e.reason = Some(REASON_CANCELLED.into());
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!((st.state, st.not_dialled), (ContactState::Pending, true));
        e.reason = Some(REASON_DO_NOT_CALL.into());
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.skip, st.not_dialled),
            (ContactState::Skipped, Some(ContactSkip::DoNotCall), true)
        );
        e.reason = Some(REASON_HUNG_UP_RINGING.into());
        assert_eq!(outcome(&e), Ok(ContactOutcome::NoAnswer));
        e.reason = Some("503 Service Unavailable".into());
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.outcome),
            (ContactState::Retry, Some(ContactOutcome::Failed))
        );
    }

    #[test]
    fn conversations_end_done_or_at_the_callback_the_callee_asked_for() {
        let s = CallingSchedule::default();
        let mut e = end(OutboundStatus::Ended);
        e.talk = Some(talk(true, None));
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.outcome),
            (ContactState::Done, Some(ContactOutcome::Converted))
        );
        assert_eq!(st.conversation.unwrap().duration_ms, 42_000);
        // «перезвоните в пятницу после обеда»: Friday 14:00 Moscow = 11:00 UTC.
        e.talk = Some(talk(false, Some("перезвоните в пятницу после обеда")));
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.outcome, st.next_at),
            (
                ContactState::Retry,
                Some(ContactOutcome::Reached),
                Some(utc(27, 11, 0))
            )
        );
        // «в субботу»: moved to Monday's opening.
        e.talk = Some(talk(false, Some("в субботу")));
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!(st.next_at, Some(utc(30, 6, 0)));
        // A callee who keeps asking is not called forever.
        let st = settle(&e, &contact(MAX_ATTEMPTS), &campaign(), &s);
        assert_eq!(st.state, ContactState::Done);
        // An opt-out, a voicemail.
        let mut t = talk(false, Some("завтра"));
        t.opted_out = true;
        e.talk = Some(t);
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.outcome),
            (ContactState::Done, Some(ContactOutcome::OptedOut))
        );
        e.answered_by = Some(AnsweredBy::Voicemail);
        let st = settle(&e, &contact(1), &campaign(), &s);
        assert_eq!(
            (st.state, st.outcome),
            (ContactState::Done, Some(ContactOutcome::Voicemail))
        );
        // A campaign that tries a voicemail again: 30 minutes later.
        let mut c = campaign();
        c.plan.voicemail_retries = 1;
        let st = settle(&e, &contact(1), &c, &s);
        assert_eq!(
            (st.state, st.next_at),
            (ContactState::Retry, Some(utc(26, 9, 30)))
        );
        // Settled later from the stored attempt alone (the instance stopped before settling).
        let mut e = end(OutboundStatus::Ended);
        e.agent_outcome = Some("interested".into());
        assert_eq!(outcome(&e), Ok(ContactOutcome::Converted));
    }

    #[test]
    fn a_vladivostok_contacts_retry_waits_for_its_morning() {
        let s = CallingSchedule::default();
        let mut k = contact(1);
        k.zone = Some(chrono_tz::Asia::Vladivostok);
        // 12:00 Moscow = 19:00 Vladivostok; +30 min = 19:30 there, open; at 19:40 +30 = 20:10, closed.
        let mut e = end(OutboundStatus::Busy);
        e.ended = utc(26, 9, 40);
        let st = settle(&e, &k, &campaign(), &s);
        // Friday 09:00 Vladivostok = Thursday 23:00 UTC.
        assert_eq!(st.next_at, Some(utc(26, 23, 0)));
    }
}
