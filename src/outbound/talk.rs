//! What a campaign counts from a finished conversation: converted (the agent judged the callee
//! interested, or captured a phone or an e-mail), opted out, the furthest stage, whether
//! objections came up and were got past, the callback asked for, and the captured contact.

use super::campaign::settle::Talk;
use crate::agent::engine::CallReport;
use crate::agent::state::Outcome;
use crate::domain::{Conversation, Stage};

pub fn talk(report: &CallReport) -> Talk {
    let st = &report.state;
    let c = &st.contact;
    let captured_reach = c.phone.is_some() || c.email.is_some();
    let converted =
        !st.opted_out && (matches!(st.outcome, Some((Outcome::Interested, _))) || captured_reach);
    let met_objections = st.visited.contains(&Stage::Objections);
    let got_past = converted || st.visited.contains(&Stage::Contact);
    let captured: Vec<&str> = [&c.name, &c.role, &c.phone, &c.email]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    Talk {
        converted,
        opted_out: st.opted_out,
        conversation: Conversation {
            stage: st.furthest(),
            objections: met_objections.then_some(got_past),
            duration_ms: i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX),
            callback: st.callback.clone(),
            captured: (!captured.is_empty()).then(|| captured.join(", ")),
            call_id: None,
        },
    }
}
