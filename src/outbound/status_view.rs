//! The chat message that shows one outbound call as it goes: queued → dialling → ringing →
//! talking m:ss with the last lines of the live transcript → how it ended. Pure rendering; the
//! follower (`live.rs`) edits the message in place.

use std::time::Duration;

use crate::domain::{
    AnsweredBy, CallbackData, OutboundCall, OutboundLine, OutboundStatus, Speaker,
    REASON_CANCELLED, REASON_DO_NOT_CALL, REASON_HUNG_UP_RINGING,
};
use crate::i18n::{t, t_args, Lang};
use crate::notify::Keyboard;

/// How many transcript lines the message shows.
pub const SHOWN_LINES: usize = 3;
/// The longest transcript line shown, in characters.
const LINE_CHARS: usize = 160;

/// `m:ss`.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

fn status_line(lang: Lang, call: &OutboundCall, talked: Option<Duration>) -> String {
    let key = format!("outbound-status-{}", call.status.as_str().replace('_', "-"));
    match call.status {
        OutboundStatus::Talking => t_args(
            lang,
            &key,
            &[("clock", clock(talked.unwrap_or_default()).into())],
        ),
        OutboundStatus::Ended => {
            let outcome = call
                .outcome
                .as_deref()
                .map(|o| t(lang, &format!("outcome-{o}")))
                .unwrap_or_else(|| t(lang, "outbound-outcome-none"));
            t_args(
                lang,
                &key,
                &[
                    ("clock", clock(talked.unwrap_or_default()).into()),
                    ("outcome", outcome.into()),
                ],
            )
        }
        OutboundStatus::Failed | OutboundStatus::Interrupted => t_args(
            lang,
            &key,
            &[("reason", reason(lang, call.reason.as_deref()).into())],
        ),
        _ => t(lang, &key),
    }
}

/// Why it failed, in the chat's words where the reason is ours (a trunk's text stays as sent).
fn reason(lang: Lang, reason: Option<&str>) -> String {
    match reason {
        Some(REASON_CANCELLED) => t(lang, "outbound-reason-cancelled"),
        Some(REASON_HUNG_UP_RINGING) => t(lang, "outbound-reason-hung-up-ringing"),
        Some(REASON_DO_NOT_CALL) => t(lang, "outbound-reason-do-not-call"),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// The message text: the number and script, the status, and while talking the last lines.
pub fn render(
    lang: Lang,
    call: &OutboundCall,
    talked: Option<Duration>,
    last: &[OutboundLine],
) -> String {
    let mut out = t_args(
        lang,
        "outbound-header",
        &[
            ("id", call.id.into()),
            ("phone", call.phone.pretty().into()),
            ("script", call.script.clone().into()),
        ],
    );
    out.push('\n');
    out.push_str(&status_line(lang, call, talked));
    if let Some(who) = call
        .answered_by
        .filter(|w| !matches!(w, AnsweredBy::Human | AnsweredBy::Uncertain))
    {
        out.push('\n');
        out.push_str(&t(lang, &format!("outbound-answered-by-{}", who.as_str())));
    }
    if call.status == OutboundStatus::Talking {
        for line in last.iter().rev().take(SHOWN_LINES).rev() {
            let who = match line.speaker {
                Speaker::Agent => t(lang, "outbound-line-agent"),
                _ => t(lang, "outbound-line-callee"),
            };
            let text: String = line.text.chars().take(LINE_CHARS).collect();
            out.push_str(&format!("\n{who}: {text}"));
        }
        out.push('\n');
        out.push_str(&t(lang, "outbound-coaching-hint"));
    }
    out
}

/// The ⏹ button while the call can still be stopped; none once it ended.
pub fn keyboard(lang: Lang, call: &OutboundCall) -> Option<Keyboard> {
    if call.status.is_final() {
        return None;
    }
    Some(Keyboard(vec![vec![(
        t(lang, "outbound-button-hangup"),
        CallbackData::HangUp {
            outbound_id: call.id,
        }
        .to_string(),
    )]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PhoneNumber;

    fn call(status: OutboundStatus) -> OutboundCall {
        OutboundCall {
            id: 7,
            phone: PhoneNumber::parse("+79161234567").unwrap(),
            script: "realty_cold".into(),
            variables: serde_json::json!({}),
            requested_by: Some(1),
            chat_id: Some(-100),
            status,
            reason: None,
            outcome: Some("callback".into()),
            call_id: None,
            created_at: chrono::Utc::now(),
            answered_at: None,
            ended_at: None,
            status_message_id: Some(5),
            answered_by: None,
            campaign_contact_id: None,
        }
    }

    fn line(seq: i32, speaker: Speaker, text: &str) -> OutboundLine {
        OutboundLine {
            seq,
            speaker,
            text: text.into(),
            at_ms: 0,
        }
    }

    #[test]
    fn every_status_reads_in_both_languages() {
        for lang in [Lang::Ru, Lang::En] {
            for s in OutboundStatus::ALL {
                let text = render(lang, &call(s), Some(Duration::from_secs(83)), &[]);
                assert!(!text.contains("outbound-"), "{lang:?} {s}: {text}");
                assert_eq!(keyboard(lang, &call(s)).is_none(), s.is_final());
            }
            for who in AnsweredBy::ALL {
                let c = OutboundCall {
                    answered_by: Some(who),
                    ..call(OutboundStatus::Ended)
                };
                let text = render(lang, &c, None, &[]);
                assert!(!text.contains("outbound-"), "{lang:?} {who}: {text}");
            }
        }
    }

    #[test]
    fn talking_shows_the_clock_and_the_last_three_lines() {
        let lines = [
            line(0, Speaker::Agent, "Здравствуйте!"),
            line(1, Speaker::Client, "Алло"),
            line(2, Speaker::Agent, "Меня зовут Анна"),
            line(3, Speaker::Client, "Слушаю вас"),
        ];
        let text = render(
            Lang::Ru,
            &call(OutboundStatus::Talking),
            Some(Duration::from_secs(83)),
            &lines,
        );
        assert!(text.contains("1:23"), "{text}");
        assert!(!text.contains("Здравствуйте"), "{text}");
        assert!(
            text.contains("Алло") && text.contains("Слушаю вас"),
            "{text}"
        );
        let ended = render(
            Lang::Ru,
            &call(OutboundStatus::Ended),
            Some(Duration::from_secs(125)),
            &lines,
        );
        assert!(ended.contains("2:05") && !ended.contains("Алло"), "{ended}");
    }
}
