//! Rust both backends share after their SQL: reading typed values from columns, and the
//! period-stats fold (including the agreement rule, which is a business rule and so lives here,
//! not in SQL).

use std::collections::BTreeMap;

use super::{CallTokens, PeriodStats, StoreError};
use crate::domain::{
    Call, CallSummary, FeedbackChoice, LeadCategory, OutboundStatus, PhoneNumber, Speaker,
    TurnTiming,
};

/// A stored lead category. Values written before categories were parsed at the edge may be in
/// another spelling (`Горячий`); those are read leniently, anything else is no category.
pub(crate) fn category(stored: Option<String>) -> Option<LeadCategory> {
    stored.and_then(|s| s.parse().ok())
}

/// A stored feedback choice.
pub(crate) fn choice(stored: &str) -> Result<FeedbackChoice, StoreError> {
    FeedbackChoice::parse(stored)
        .ok_or_else(|| StoreError::Corrupt(format!("feedback choice {stored:?}")))
}

/// A stored speaker.
pub(crate) fn speaker(stored: &str) -> Result<Speaker, StoreError> {
    stored
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("speaker {stored:?}")))
}

/// A stored `answered_by`.
pub(crate) fn answered_by(stored: &str) -> Result<crate::domain::AnsweredBy, StoreError> {
    crate::domain::AnsweredBy::parse(stored)
        .ok_or_else(|| StoreError::Corrupt(format!("answered_by {stored:?}")))
}

/// The stop flag and the hints just taken (in the order they were left).
pub(crate) fn signals(stop: bool, mut hints: Vec<(i64, String)>) -> crate::domain::OutboundSignals {
    hints.sort_by_key(|(id, _)| *id);
    crate::domain::OutboundSignals {
        stop,
        hints: hints.into_iter().map(|(_, text)| text).collect(),
    }
}

/// The statuses under way, as an SQL list (from [`OutboundStatus::is_active`], our constants).
pub(crate) fn active_statuses_sql() -> String {
    OutboundStatus::ALL
        .into_iter()
        .filter(|s| s.is_active())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A stored outbound status.
pub(crate) fn outbound_status(stored: &str) -> Result<OutboundStatus, StoreError> {
    OutboundStatus::parse(stored)
        .ok_or_else(|| StoreError::Corrupt(format!("outbound status {stored:?}")))
}

/// A stored phone number.
pub(crate) fn phone(stored: &str) -> Result<PhoneNumber, StoreError> {
    PhoneNumber::parse(stored).map_err(|_| StoreError::Corrupt(format!("phone {stored:?}")))
}

/// A call with the promoted fields of its current analysis, from a listing's row.
pub(crate) fn summary<'r, R>(row: &'r R, call: Call) -> Result<CallSummary, StoreError>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(CallSummary {
        call,
        lead_category: category(row.try_get("lead_category")?),
        interest_rating: row.try_get("interest_rating")?,
        priority: row.try_get("priority")?,
        agency_name: row.try_get("agency_name")?,
    })
}

/// A stored turn timing as both backends select it (turn, caller end, then the milestones).
pub(crate) type TurnRow = (
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    bool,
    Option<String>,
    Option<i64>,
);

/// The timing of a stored turn.
pub(crate) fn turn_timing(r: TurnRow) -> TurnTiming {
    TurnTiming {
        turn: u32::try_from(r.0).unwrap_or(0),
        caller_end_ms: r.1,
        stt_done_ms: r.2,
        llm_first_token_ms: r.3,
        first_sentence_ms: r.4,
        tts_first_byte_ms: r.5,
        first_audio_ms: r.6,
        barge_in_ms: r.7,
        stt_vendor: r.8,
        speech_ms: r.9,
        stt_fallback: r.10,
        tts_vendor: r.11,
        tts_chars: r.12,
    }
}

/// Calls of a period grouped by their status, category, profile and latest feedback.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatsGroup {
    pub status: String,
    pub category: Option<String>,
    pub profile: Option<String>,
    pub last_feedback: Option<String>,
    pub calls: i64,
    pub rating_sum: i64,
    pub rated_by_ai: i64,
}

/// Whether a person's latest choice agrees with the AI's category: they confirmed it, or picked
/// the same one. `None` when there is nothing to compare (no category or no feedback).
fn agreement(category: Option<&str>, feedback: Option<&str>) -> Option<bool> {
    let ai = category?;
    let choice = feedback?;
    Some(match FeedbackChoice::parse(choice) {
        Some(FeedbackChoice::Confirm) => true,
        Some(FeedbackChoice::Category(c)) => ai.parse::<LeadCategory>().ok() == Some(c),
        None => false,
    })
}

/// The figures of some of a period's calls (a department's), from their chart rows; tokens are
/// not kept per call and stay zero.
pub fn period_from_rows(rows: &[crate::store::ChartRow]) -> PeriodStats {
    fold_period(
        rows.iter().map(|r| StatsGroup {
            status: r.status.clone(),
            category: r.category.clone(),
            profile: r.profile.clone(),
            last_feedback: r.last_feedback.clone(),
            calls: 1,
            rating_sum: r.rating.map_or(0, i64::from),
            rated_by_ai: i64::from(r.rating.is_some()),
        }),
        CallTokens::default(),
    )
}

/// Sums the groups of a period into its figures.
pub(crate) fn fold_period(
    groups: impl IntoIterator<Item = StatsGroup>,
    tokens: CallTokens,
) -> PeriodStats {
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_category: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_profile: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let (mut rating_sum, mut rating_n, mut rated, mut agreed) = (0i64, 0i64, 0i64, 0i64);
    for g in groups {
        *by_status.entry(g.status).or_default() += g.calls;
        if let Some(c) = &g.category {
            *by_category.entry(c.clone()).or_default() += g.calls;
        }
        rating_sum += g.rating_sum;
        rating_n += g.rated_by_ai;
        let Some(agrees) = agreement(g.category.as_deref(), g.last_feedback.as_deref()) else {
            continue;
        };
        let agreeing = if agrees { g.calls } else { 0 };
        rated += g.calls;
        agreed += agreeing;
        if let Some(profile) = g.profile {
            let e = by_profile.entry(profile).or_default();
            e.0 += g.calls;
            e.1 += agreeing;
        }
    }
    PeriodStats {
        by_status: by_status.into_iter().collect(),
        by_category: by_category.into_iter().collect(),
        avg_rating: (rating_n > 0).then(|| rating_sum as f64 / rating_n as f64),
        rated,
        agreed,
        agreement_by_profile: by_profile
            .into_iter()
            .map(|(p, (r, a))| (p, r, a))
            .collect(),
        tokens,
    }
}

/// A campaign from its row; its times are read by the caller (each backend stores time its way).
pub(crate) fn campaign<'r, R>(
    row: &'r R,
    (created_at, finished_at): (
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    ),
) -> Result<crate::domain::Campaign, StoreError>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let text = |col: &'r str| row.try_get::<String, _>(col);
    let (scripts, status, zone) = (text("scripts")?, text("status")?, text("zone")?);
    let (window, days) = (text("call_window")?, text("days")?);
    let count = |col: &'r str| -> Result<u32, StoreError> {
        let n: i64 = row.try_get(col)?;
        u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("campaign {col} {n}")))
    };
    Ok(crate::domain::Campaign {
        id: row.try_get("id")?,
        name: text("name")?,
        scripts: serde_json::from_str(&scripts)
            .map_err(|_| StoreError::Corrupt(format!("campaign scripts {scripts:?}")))?,
        status: status
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("campaign status {status:?}")))?,
        chat_id: row.try_get("chat_id")?,
        created_by: row.try_get("created_by")?,
        zone: zone
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("campaign zone {zone:?}")))?,
        concurrency: row.try_get("concurrency")?,
        priority: row.try_get("priority")?,
        plan: crate::domain::CampaignPlan {
            retries: count("retries")?,
            retry_min: count("retry_min")?,
            window: crate::domain::CallWindow::parse(&window)
                .map_err(|_| StoreError::Corrupt(format!("campaign window {window:?}")))?,
            days: crate::domain::Days::parse(&days)
                .map_err(|_| StoreError::Corrupt(format!("campaign days {days:?}")))?,
            voicemail_retries: count("voicemail_retries")?,
            screened_retries: count("screened_retries")?,
        },
        created_at,
        status_message_id: row.try_get("status_message_id")?,
        finished_at,
    })
}

/// The times of a contact's row, read by the caller: `next_at` and `last_at`.
pub(crate) type ContactTimes = (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// A campaign contact from its row (variables stored as JSON text on both backends).
pub(crate) fn campaign_contact<'r, R>(
    row: &'r R,
    (next_at, last_at): ContactTimes,
) -> Result<crate::domain::CampaignContact, StoreError>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let opt = |col: &'r str| row.try_get::<Option<String>, _>(col);
    let variables: String = row.try_get("variables")?;
    let state: String = row.try_get("state")?;
    let zone = opt("zone")?
        .map(|z| z.parse().map_err(|_| corrupt("zone", &z)))
        .transpose()?;
    let skip = opt("skip_reason")?
        .map(|z| z.parse().map_err(|_| corrupt("skip", &z)))
        .transpose()?;
    let outcome = opt("outcome")?
        .map(|z| z.parse().map_err(|_| corrupt("outcome", &z)))
        .transpose()?;
    let conversation = match opt("stage")? {
        None => None,
        Some(stage) => Some(crate::domain::Conversation {
            stage: crate::domain::Stage::parse(&stage).ok_or_else(|| corrupt("stage", &stage))?,
            objections: row.try_get::<Option<i64>, _>("objections")?.map(|n| n > 0),
            duration_ms: row.try_get::<Option<i64>, _>("duration_ms")?.unwrap_or(0),
            callback: opt("callback")?,
            captured: opt("captured")?,
            call_id: row.try_get("call_id")?,
        }),
    };
    Ok(crate::domain::CampaignContact {
        id: row.try_get("id")?,
        campaign_id: row.try_get("campaign_id")?,
        line: row.try_get("line")?,
        phone: phone(&row.try_get::<String, _>("phone")?)?,
        variables: serde_json::from_str(&variables).unwrap_or_default(),
        zone,
        consent: opt("consent")?,
        source: opt("source")?,
        variant: row.try_get("variant")?,
        state: state.parse().map_err(|_| corrupt("state", &state))?,
        skip,
        outcome,
        attempts: row.try_get("attempts")?,
        next_at,
        outbound_id: row.try_get("outbound_id")?,
        conversation,
        last_at,
    })
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("contact {what} {v:?}"))
}

/// How a settlement's objections are stored: none met, met and not handled (0), handled (1).
pub(crate) fn objections_code(s: &crate::domain::Settlement) -> Option<i64> {
    s.conversation
        .as_ref()
        .and_then(|c| c.objections)
        .map(i64::from)
}

/// A do-not-call entry from its stored phone, reason and time.
pub(crate) fn do_not_call_entry(
    (phone_text, reason, added_at): (String, String, chrono::DateTime<chrono::Utc>),
) -> Result<crate::store::DoNotCallEntry, StoreError> {
    Ok(crate::store::DoNotCallEntry {
        phone: phone(&phone_text)?,
        reason,
        added_at,
    })
}

/// Counts by stored state name.
pub(crate) fn contact_counts(
    rows: Vec<(String, i64)>,
) -> Result<crate::domain::ContactCounts, StoreError> {
    let mut counts = rows
        .into_iter()
        .map(|(s, n)| {
            s.parse::<crate::domain::ContactState>()
                .map(|s| (s, n))
                .map_err(|_| StoreError::Corrupt(format!("contact state {s:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    counts.sort();
    Ok(crate::domain::ContactCounts(counts))
}

/// The state a new contact starts in.
pub(crate) fn initial_state(c: &crate::domain::NewCampaignContact) -> crate::domain::ContactState {
    match c.skip {
        Some(_) => crate::domain::ContactState::Skipped,
        None => crate::domain::ContactState::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(status: &str, cat: Option<&str>, fb: Option<&str>, calls: i64) -> StatsGroup {
        StatsGroup {
            status: status.into(),
            category: cat.map(Into::into),
            profile: Some("realty_lead".into()),
            last_feedback: fb.map(Into::into),
            calls,
            rating_sum: 7 * calls,
            rated_by_ai: calls,
        }
    }

    #[test]
    fn agreement_is_a_confirmation_or_the_same_category() {
        let s = fold_period(
            [
                group("analyzed", Some("hot"), Some("confirm"), 2),
                group("analyzed", Some("hot"), Some("hot"), 1),
                group("analyzed", Some("warm"), Some("cold"), 3),
                group("analyzed", None, Some("hot"), 5),
                group("analyzed", Some("cold"), None, 4),
                group("failed", None, None, 1),
            ],
            CallTokens::default(),
        );
        assert_eq!((s.rated, s.agreed), (6, 3));
        assert_eq!(
            s.agreement_by_profile,
            vec![("realty_lead".to_string(), 6, 3)]
        );
        assert_eq!(
            s.by_status,
            vec![("analyzed".to_string(), 15), ("failed".to_string(), 1)]
        );
        assert_eq!(
            s.by_category,
            vec![
                ("cold".to_string(), 4),
                ("hot".to_string(), 3),
                ("warm".to_string(), 3)
            ]
        );
        assert_eq!(s.avg_rating, Some(7.0));
    }
}
