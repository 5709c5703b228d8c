//! The call protocol as the sales team reads it in Telegram (HTML): a header with direction, date,
//! phone and duration, the profile's sections, then the speaker-labelled transcript. When it would
//! not fit one message, the protocol stays one message and the transcript goes to a `.txt` file.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::domain::{
    Call, Direction, Feedback, FeedbackChoice, LeadCategory, PhoneNumber, TurnTiming, Utterance,
};
use crate::i18n::{t, t_args, t_opt, Lang};
use crate::notify::{utf16_len, TELEGRAM_TEXT_LIMIT};

use super::profile::{FieldKind, Profile};
use crate::domain::Speaker;

/// A rendered protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The message text (HTML).
    pub text: String,
    /// The full transcript as a file, when it did not fit the message.
    pub transcript_file: Option<Vec<u8>>,
}

/// HTML-escapes text for Telegram.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `5м 23с`.
pub fn duration(lang: Lang, secs: i64) -> String {
    let secs = secs.max(0);
    t_args(
        lang,
        "duration-format",
        &[("m", (secs / 60).into()), ("s", (secs % 60).into())],
    )
}

/// The client's phone: the caller of an incoming call, the callee of an outgoing one.
pub fn client_phone(call: &Call) -> String {
    let client = match call.direction {
        Direction::Incoming => &call.caller,
        Direction::Outgoing => &call.called,
    };
    client
        .phone()
        .map_or_else(|| client.as_str().to_string(), PhoneNumber::pretty)
}

fn local_time(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%d.%m.%Y %H:%M").to_string()
}

fn header(lang: Lang, call: &Call, operator: Option<&str>, agency: Option<&str>, tz: Tz) -> String {
    let mut out = format!(
        "<b>{}</b>\n📅 {}: {}\n☎️ {}: {}\n⏱ {}: {}",
        t(
            lang,
            match call.direction {
                Direction::Incoming => "header-incoming",
                Direction::Outgoing => "header-outgoing",
            }
        ),
        t(lang, "proto-date"),
        local_time(call.started_at, tz),
        t(lang, "proto-phone"),
        esc(&client_phone(call)),
        t(lang, "proto-duration"),
        duration(lang, call.duration_secs),
    );
    if let Some(o) = operator {
        out.push_str(&format!("\n🧑‍💼 {}: {}", t(lang, "proto-operator"), esc(o)));
    }
    if let Some(a) = agency.filter(|a| !a.trim().is_empty()) {
        out.push_str(&format!("\n🏢 {}: {}", t(lang, "proto-agency"), esc(a)));
    }
    out.push_str(&format!(
        "\n<i>{}</i>",
        t_args(lang, "proto-call-id", &[("id", call.id.into())])
    ));
    out
}

fn category_label(lang: Lang, v: &str) -> Option<String> {
    Some(category_name(lang, v.parse().ok()?))
}

fn category_name(lang: Lang, cat: LeadCategory) -> String {
    format!(
        "{} {}",
        cat.emoji(),
        t(lang, &format!("category-{}", cat.as_str()))
    )
}

fn render_field(lang: Lang, kind: FieldKind, name: &str, v: &Value) -> Option<String> {
    let label = t(lang, &format!("field-{name}"));
    let line = |value: String| Some(format!("<b>{label}:</b> {value}"));
    match kind {
        _ if v.is_null() => None,
        FieldKind::Text | FieldKind::Number => match v {
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => line(esc(s.trim())),
            other => line(esc(&other.to_string())),
        },
        FieldKind::Paragraph => v
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(|s| esc(s.trim())),
        FieldKind::List => {
            let items: Vec<String> = v
                .as_array()?
                .iter()
                .filter_map(|i| i.as_str().map(str::trim).filter(|s| !s.is_empty()).map(esc))
                .collect();
            if items.is_empty() {
                return None;
            }
            Some(format!(
                "<b>{label}:</b>\n{}",
                items
                    .iter()
                    .map(|i| format!("• {i}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        }
        FieldKind::Bool => line(t(lang, if v.as_bool()? { "bool-yes" } else { "bool-no" })),
        FieldKind::Rating => line(format!("{}/10", v.as_i64()?)),
        FieldKind::Category => line(category_label(lang, v.as_str()?)?),
        FieldKind::Priority => line(t(lang, &format!("priority-{}", v.as_str()?))),
        FieldKind::Outcome => line(t(lang, &format!("outcome-{}", v.as_str()?))),
        FieldKind::Scores => {
            let lines: Vec<String> = v
                .as_object()?
                .iter()
                .filter_map(|(k, s)| {
                    let n = criterion_score(s)?;
                    // A criterion of the team's own checklist is named as the sheet names it.
                    let name = t_opt(lang, &format!("score-{k}")).unwrap_or_else(|| k.clone());
                    Some(
                        match s["reason"].as_str().filter(|r| !r.trim().is_empty()) {
                            Some(reason) => format!("• {name}: {n}/10 — {}", esc(reason)),
                            None => format!("• {name}: {n}/10"),
                        },
                    )
                })
                .collect();
            Some(format!("<b>{label}:</b>\n{}", lines.join("\n")))
        }
    }
}

/// A checklist criterion's score: `{"score": 7, "reason": …}`, or a bare number (older analyses).
pub fn criterion_score(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v["score"].as_i64())
}

/// One line per agent turn: how long the caller waited for the answer, and its parts.
pub fn timing_lines(lang: Lang, timings: &[TurnTiming]) -> Vec<String> {
    let secs = |ms: Option<i64>, from: i64| {
        ms.map(|m| format!("{:.2}", (m - from) as f64 / 1000.0).replace('.', ","))
            .unwrap_or_else(|| "—".into())
    };
    timings
        .iter()
        .map(|tm| {
            let mut line = t_args(
                lang,
                "timing-turn",
                &[
                    ("turn", i64::from(tm.turn).into()),
                    ("total", secs(tm.first_audio_ms, tm.caller_end_ms).into()),
                    ("stt", secs(tm.stt_done_ms, tm.caller_end_ms).into()),
                    ("llm", secs(tm.llm_first_token_ms, tm.caller_end_ms).into()),
                    ("tts", secs(tm.tts_first_byte_ms, tm.caller_end_ms).into()),
                ],
            );
            if tm.barge_in_ms.is_some() {
                line.push_str(&format!(" · {}", t(lang, "timing-interrupted")));
            }
            line
        })
        .collect()
}

/// The speaker-labelled transcript as plain text lines.
pub fn transcript_lines(lang: Lang, utterances: &[Utterance]) -> Vec<String> {
    utterances
        .iter()
        .map(|u| {
            let s = u.start_ms / 1000;
            let icon = match u.speaker {
                Speaker::Manager | Speaker::Agent => "👔",
                Speaker::Client => "👤",
                Speaker::Unknown => "🗣",
            };
            let who = t(lang, &format!("speaker-{}", u.speaker));
            format!("[{:02}:{:02}] {icon} {who}: {}", s / 60, s % 60, u.text)
        })
        .collect()
}

/// The feedback footer: who confirmed or corrected the category.
pub fn feedback_footer(lang: Lang, feedback: &[Feedback]) -> String {
    feedback
        .iter()
        .map(|f| {
            let who = f.user_name.clone().unwrap_or_else(|| f.user_id.to_string());
            if let FeedbackChoice::Category(c) = f.choice {
                let cat = category_name(lang, c);
                t_args(
                    lang,
                    "feedback-corrected",
                    &[("category", cat.into()), ("who", esc(&who).into())],
                )
            } else {
                t_args(lang, "feedback-confirmed", &[("who", esc(&who).into())])
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders the protocol of `call` analysed by `profile`.
#[allow(clippy::too_many_arguments)]
pub fn render(
    lang: Lang,
    tz: Tz,
    call: &Call,
    operator: Option<&str>,
    profile: &Profile,
    result: &Value,
    utterances: &[Utterance],
    feedback: &[Feedback],
    timings: &[TurnTiming],
) -> Rendered {
    let mut text = header(lang, call, operator, result["agency_name"].as_str(), tz);
    for section in &profile.sections {
        let lines: Vec<String> = section
            .fields
            .iter()
            .filter_map(|f| render_field(lang, f.kind, &f.field, &result[f.field.as_str()]))
            .collect();
        if lines.is_empty() {
            continue;
        }
        text.push_str(&format!(
            "\n\n{} <b>{}</b>\n{}",
            section.emoji,
            t(lang, &format!("section-{}", section.id)),
            lines.join("\n")
        ));
    }
    if !timings.is_empty() {
        text.push_str(&format!(
            "\n\n⏱ <b>{}</b>\n{}",
            t(lang, "section-timings"),
            timing_lines(lang, timings).join("\n")
        ));
    }
    let footer = feedback_footer(lang, feedback);
    let footer = if footer.is_empty() {
        String::new()
    } else {
        format!("\n\n{footer}")
    };

    let lines = transcript_lines(lang, utterances);
    let body = if lines.is_empty() {
        t(lang, "transcript-empty")
    } else {
        esc(&lines.join("\n"))
    };
    let with_transcript = format!(
        "{text}\n\n💬 <b>{}</b>\n{body}{footer}",
        t(lang, "section-transcript")
    );
    if utf16_len(&with_transcript) <= TELEGRAM_TEXT_LIMIT {
        return Rendered {
            text: with_transcript,
            transcript_file: None,
        };
    }
    let note = format!("\n\n💬 <i>{}</i>", t(lang, "transcript-in-file"));
    let budget = TELEGRAM_TEXT_LIMIT - utf16_len(&note) - utf16_len(&footer);
    let mut head = text;
    if utf16_len(&head) > budget {
        head = truncate_utf16(&head, budget.saturating_sub(1));
        head.push('…');
    }
    Rendered {
        text: format!("{head}{note}{footer}"),
        transcript_file: Some(lines.join("\n").into_bytes()),
    }
}

/// Cuts at a line end if possible, never inside an HTML tag or entity.
fn truncate_utf16(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    for line in s.split_inclusive('\n') {
        let l = utf16_len(line);
        if n + l > max {
            break;
        }
        out.push_str(line);
        n += l;
    }
    // Close any <b>/<i> left open by the cut.
    for tag in ["b", "i"] {
        let opens = out.matches(&format!("<{tag}>")).count();
        let closes = out.matches(&format!("</{tag}>")).count();
        for _ in closes..opens {
            out.push_str(&format!("</{tag}>"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Profiles;
    use chrono::TimeZone;
    use serde_json::json;

    fn call() -> Call {
        Call {
            id: 7,
            provider: "novofon".into(),
            provider_call_id: "in_1".into(),
            direction: Direction::Incoming,
            caller: "79161234567".into(),
            called: "74951234567".into(),
            started_at: Utc.with_ymd_and_hms(2026, 11, 20, 10, 30, 0).unwrap(),
            duration_secs: 323,
            status: crate::domain::CallStatus::Analyzed,
            reason: None,
            recording_ref: None,
            operator: Some("101".into()),
        }
    }

    fn result() -> Value {
        json!({
            "agency_name": "Этажи & Ко", "agent_name": "Ольга", "lead_category": "hot", "interest_rating": 8,
            "rating_reasons": ["Есть 3 покупателя", "Готовы смотреть на этой неделе"], "has_buyers": true,
            "buyers_count": 3, "clients_budget": "до 12 млн ₽", "deal_timeframe": "1–2 месяца",
            "agency_commission": "2%", "key_interests": ["двухкомнатные"], "objections": [], "competitors": ["ПИК"],
            "priority": "high", "next_steps": ["Показ в четверг"], "recommended_actions": ["Отправить подборку"],
            "summary": "Агент <Ольга> готова привести покупателей."
        })
    }

    #[test]
    fn realty_layout_reads_like_the_team_expects() {
        let profiles = Profiles::load(None).unwrap();
        let p = profiles.get("realty_lead").unwrap();
        let u = vec![
            Utterance {
                speaker: Speaker::Manager,
                start_ms: 0,
                end_ms: 2000,
                text: "Добрый день!".into(),
            },
            Utterance {
                speaker: Speaker::Client,
                start_ms: 2500,
                end_ms: 4000,
                text: "Здравствуйте".into(),
            },
        ];
        let r = render(
            Lang::Ru,
            chrono_tz::Europe::Moscow,
            &call(),
            Some("Анна (101)"),
            p,
            &result(),
            &u,
            &[],
            &[],
        );
        let text = &r.text;
        for needle in [
            "📞 ВХОДЯЩИЙ ЗВОНОК",
            "20.11.2026 13:30",
            "+7 (916) 123-45-67",
            "5м 23с",
            "🧑‍💼 Менеджер: Анна (101)",
            "Этажи &amp; Ко",
            "ОЦЕНКА ЗАИНТЕРЕСОВАННОСТИ",
            "🔥 ГОРЯЧИЙ ЛИД",
            "8/10",
            "• Есть 3 покупателя",
            "КОММЕРЧЕСКИЙ ПОТЕНЦИАЛ",
            "Есть покупатели:</b> Да",
            "КЛЮЧЕВЫЕ МОМЕНТЫ",
            "РЕКОМЕНДАЦИИ",
            "Агент &lt;Ольга&gt;",
            "👔 Менеджер: Добрый день!",
            "👤 Клиент: Здравствуйте",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("Возражения"), "empty lists are left out");
        assert!(r.transcript_file.is_none());
        let en = render(
            Lang::En,
            chrono_tz::Europe::Moscow,
            &call(),
            Some("Анна (101)"),
            p,
            &result(),
            &u,
            &[],
            &[],
        );
        assert!(
            en.text.contains("INCOMING CALL")
                && en.text.contains("HOT LEAD")
                && en.text.contains("5m 23s")
        );
    }

    #[test]
    fn long_transcripts_move_to_a_file_and_the_protocol_stays_one_message() {
        let profiles = Profiles::load(None).unwrap();
        let p = profiles.get("realty_lead").unwrap();
        let u: Vec<Utterance> = (0..400)
            .map(|i| Utterance {
                speaker: Speaker::Client,
                start_ms: i * 1000,
                end_ms: i * 1000 + 900,
                text: format!("Фраза номер {i} о квартире"),
            })
            .collect();
        let fb = vec![Feedback {
            call_id: 7,
            user_id: 1,
            user_name: Some("Анна".into()),
            choice: crate::domain::FeedbackChoice::parse("warm").unwrap(),
            created_at: Utc::now(),
        }];
        let r = render(
            Lang::Ru,
            chrono_tz::Europe::Moscow,
            &call(),
            Some("Анна (101)"),
            p,
            &result(),
            &u,
            &fb,
            &[],
        );
        assert!(utf16_len(&r.text) <= TELEGRAM_TEXT_LIMIT);
        assert!(r.text.contains("в файле ниже") && r.text.contains("ГОРЯЧИЙ ЛИД"));
        assert!(
            r.text.contains("исправлена на «☀️ ТЁПЛЫЙ»: Анна"),
            "{}",
            r.text
        );
        let file = String::from_utf8(r.transcript_file.unwrap()).unwrap();
        assert_eq!(file.lines().count(), 400);
    }

    #[test]
    fn checklist_scores_come_with_their_reasons() {
        let profiles = Profiles::load(None).unwrap();
        let p = profiles.get("qa_checklist").unwrap();
        let result = json!({"scores": {
                "greeting": {"score": 9, "reason": "Представилась и назвала агентство"},
                "objection_handling": {"score": 4, "reason": "На «дорого» не ответила"},
                "politeness": 10},
            "total": 8, "agreements": [], "decline_reasons": [], "recommendations": [], "summary": "—"});
        let r = render(
            Lang::Ru,
            chrono_tz::Europe::Moscow,
            &call(),
            None,
            p,
            &result,
            &[],
            &[],
            &[],
        );
        for needle in [
            "• Приветствие: 9/10 — Представилась и назвала агентство",
            "• Работа с возражениями: 4/10 — На «дорого» не ответила",
            "• Вежливость: 10/10",
        ] {
            assert!(r.text.contains(needle), "{needle:?} in\n{}", r.text);
        }
        assert!(!r.text.contains("Менеджер:"), "no operator, no line");
    }
}
