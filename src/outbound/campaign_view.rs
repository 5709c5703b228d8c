//! What the chat shows of a campaign: the report of its creation, the progress message (edited
//! as it runs, with ▶ ⏸ ⏹), the status with its figures and A/B comparison, the summary when it
//! finishes, and the list. Pure rendering in the chat's language.

use std::time::Duration;

use super::campaign::kpi::Kpis;
use super::campaign_import::ImportReport;
use crate::domain::{
    CallbackData, Campaign, CampaignAction, CampaignStatus, ContactCounts, ContactState,
};
use crate::i18n::{t, t_args, Lang};
use crate::notify::Keyboard;

/// Line numbers shown of the invalid ones.
const SHOWN_LINES: usize = 15;
/// Cells of the progress bar.
const BAR: usize = 10;

pub fn status_name(lang: Lang, s: CampaignStatus) -> String {
    t(lang, &format!("campaign-status-{}", s.as_str()))
}

/// `12 %` (or `—` without data).
pub fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".into(), |s| format!("{:.0} %", s * 100.0))
}

/// `1 мин 20 с` / `1 h 5 min`.
pub fn duration(lang: Lang, secs: f64) -> String {
    let s = secs.round() as u64;
    let (h, m, s) = (s / 3600, s % 3600 / 60, s % 60);
    match lang {
        Lang::Ru if h > 0 => format!("{h} ч {m} мин"),
        Lang::Ru if m > 0 => format!("{m} мин {s} с"),
        Lang::Ru => format!("{s} с"),
        Lang::En if h > 0 => format!("{h} h {m} min"),
        Lang::En if m > 0 => format!("{m} min {s} s"),
        Lang::En => format!("{s} s"),
    }
}

fn bar(done: i64, total: i64) -> String {
    let filled = if total > 0 {
        usize::try_from(done * BAR as i64 / total)
            .unwrap_or(0)
            .min(BAR)
    } else {
        0
    };
    format!("{}{}", "▓".repeat(filled), "░".repeat(BAR - filled))
}

/// The buttons a campaign's status allows (none once finished).
pub fn keyboard(lang: Lang, c: &Campaign) -> Option<Keyboard> {
    let button = |a: CampaignAction| {
        (
            t(lang, &format!("campaign-button-{}", a.as_str())),
            CallbackData::Campaign {
                id: c.id,
                action: a,
            }
            .to_string(),
        )
    };
    let row = match c.status {
        CampaignStatus::Finished => return None,
        CampaignStatus::Running => {
            vec![button(CampaignAction::Pause), button(CampaignAction::Stop)]
        }
        CampaignStatus::Paused => vec![button(CampaignAction::Start), button(CampaignAction::Stop)],
        CampaignStatus::Stopped => vec![button(CampaignAction::Start)],
    };
    Some(Keyboard(vec![row]))
}

/// The progress message.
pub fn progress(
    lang: Lang,
    c: &Campaign,
    counts: &ContactCounts,
    k: &Kpis,
    eta: Option<Duration>,
) -> String {
    let total = counts.total();
    let done = counts.finished();
    let mut lines = vec![
        t_args(
            lang,
            "campaign-progress-title",
            &[
                ("id", c.id.into()),
                ("name", c.name.as_str().into()),
                ("status", status_name(lang, c.status).into()),
            ],
        ),
        t_args(
            lang,
            "campaign-progress-bar",
            &[
                ("bar", bar(done, total).into()),
                (
                    "percent",
                    (if total > 0 { done * 100 / total } else { 0 }).into(),
                ),
                ("finished", done.into()),
                ("total", total.into()),
            ],
        ),
        t_args(
            lang,
            "campaign-progress-reached",
            &[
                ("reached", k.reached.into()),
                ("conversion", percent(k.conversion()).into()),
                ("converted", k.converted.into()),
            ],
        ),
    ];
    if !k.outcomes.is_empty() {
        let outcomes: Vec<String> = k
            .outcomes
            .iter()
            .map(|(o, n)| {
                format!(
                    "{} {n}",
                    t(lang, &format!("campaign-outcome-{}", o.as_str()))
                )
            })
            .collect();
        lines.push(t_args(
            lang,
            "campaign-progress-outcomes",
            &[("outcomes", outcomes.join(", ").into())],
        ));
    }
    if c.status != CampaignStatus::Finished {
        lines.push(t_args(
            lang,
            "campaign-progress-now",
            &[
                ("calling", counts.get(ContactState::Calling).into()),
                ("waiting", counts.get(ContactState::Pending).into()),
                ("retry", counts.get(ContactState::Retry).into()),
            ],
        ));
    }
    if c.status == CampaignStatus::Running {
        let eta = eta.map_or_else(
            || t(lang, "campaign-eta-unknown"),
            |d| duration(lang, d.as_secs_f64().max(60.0)),
        );
        lines.push(t_args(
            lang,
            "campaign-progress-eta",
            &[("eta", eta.into())],
        ));
    }
    lines.join("\n")
}

/// The figures: contacts and conversion, conversation length, objections, funnel, A/B.
pub fn kpi_lines(lang: Lang, c: &Campaign, k: &Kpis) -> Vec<String> {
    let mut lines = vec![t_args(
        lang,
        "campaign-kpi-contacts",
        &[
            ("total", k.contacts.into()),
            ("reached", k.reached.into()),
            ("conversion", percent(k.conversion()).into()),
            ("converted", k.converted.into()),
        ],
    )];
    if let Some(secs) = k.avg_duration_secs {
        lines.push(t_args(
            lang,
            "campaign-kpi-duration",
            &[("duration", duration(lang, secs).into())],
        ));
    }
    if k.objections_met > 0 {
        lines.push(t_args(
            lang,
            "campaign-kpi-objections",
            &[
                ("share", percent(k.objections_share()).into()),
                ("handled", k.objections_handled.into()),
                ("met", k.objections_met.into()),
            ],
        ));
    }
    if k.funnel.first().is_some_and(|(_, n)| *n > 0) {
        let steps: Vec<String> = k
            .funnel
            .iter()
            .map(|(s, n)| format!("{} {n}", t(lang, &format!("campaign-stage-{}", s.as_str()))))
            .collect();
        lines.push(t_args(
            lang,
            "campaign-kpi-funnel",
            &[("funnel", steps.join(" → ").into())],
        ));
    }
    lines.extend(ab_lines(lang, c, k));
    lines
}

fn letter(i: usize) -> String {
    char::from(b'A' + u8::try_from(i.min(25)).unwrap_or(0)).to_string()
}

/// Each variant's figures and, in words, how likely it beats A.
pub fn ab_lines(lang: Lang, c: &Campaign, k: &Kpis) -> Vec<String> {
    if k.variants.len() < 2 {
        return Vec::new();
    }
    let mut lines: Vec<String> = k
        .variants
        .iter()
        .map(|v| {
            let conversion =
                (v.tally.reached > 0).then(|| v.tally.converted as f64 / v.tally.reached as f64);
            t_args(
                lang,
                "campaign-ab-line",
                &[
                    ("variant", letter(v.index).into()),
                    (
                        "script",
                        c.scripts.get(v.index).cloned().unwrap_or_default().into(),
                    ),
                    ("reached", v.tally.reached.into()),
                    ("conversion", percent(conversion).into()),
                    ("converted", v.tally.converted.into()),
                ],
            )
        })
        .collect();
    let mut compared = false;
    for v in k.variants.iter().skip(1) {
        let Some(p) = v.better_than_a else { continue };
        compared = true;
        let (key, share) = if p >= 0.5 {
            ("campaign-ab-better", p)
        } else {
            ("campaign-ab-worse", 1.0 - p)
        };
        lines.push(t_args(
            lang,
            key,
            &[
                ("variant", letter(v.index).into()),
                ("percent", format!("{:.0}", share * 100.0).into()),
            ],
        ));
    }
    if !compared {
        lines.push(t(lang, "campaign-ab-too-few"));
    }
    lines
}

/// The status: progress, figures, where to look further.
pub fn status(
    lang: Lang,
    c: &Campaign,
    counts: &ContactCounts,
    k: &Kpis,
    eta: Option<Duration>,
) -> String {
    let mut text = progress(lang, c, counts, k, eta);
    text.push_str("\n\n");
    text.push_str(&kpi_lines(lang, c, k).join("\n"));
    text.push('\n');
    text.push_str(&t_args(lang, "campaign-kpi-more", &[("id", c.id.into())]));
    text
}

/// The message when a campaign finishes.
pub fn summary(lang: Lang, c: &Campaign, k: &Kpis) -> String {
    let mut lines = vec![t_args(
        lang,
        "campaign-summary-title",
        &[("id", c.id.into()), ("name", c.name.as_str().into())],
    )];
    lines.extend(kpi_lines(lang, c, k));
    lines.push(t_args(lang, "campaign-kpi-more", &[("id", c.id.into())]));
    lines.join("\n")
}

/// The reply to a created campaign: what was read, left out and flagged, the plan, the reminder.
pub fn created(lang: Lang, c: &Campaign, r: &ImportReport) -> String {
    let mut lines = vec![
        t_args(
            lang,
            "campaign-created",
            &[("id", c.id.into()), ("name", c.name.as_str().into())],
        ),
        t_args(
            lang,
            "campaign-report-read",
            &[("rows", r.rows.into()), ("added", r.added.into())],
        ),
    ];
    if !r.invalid.is_empty() {
        let mut shown: Vec<String> = r
            .invalid
            .iter()
            .take(SHOWN_LINES)
            .map(|i| i.line.to_string())
            .collect();
        if r.invalid.len() > SHOWN_LINES {
            shown.push("…".into());
        }
        lines.push(t_args(
            lang,
            "campaign-report-invalid",
            &[
                ("count", r.invalid.len().into()),
                ("lines", shown.join(", ").into()),
            ],
        ));
    }
    let counted = [
        ("campaign-report-duplicates", r.duplicates),
        ("campaign-report-dnc", r.do_not_call),
    ];
    for (key, n) in counted {
        if n > 0 {
            lines.push(t_args(lang, key, &[("count", n.into())]));
        }
    }
    if r.unknown_zone > 0 {
        lines.push(t_args(
            lang,
            "campaign-report-unknown-zone",
            &[
                ("count", r.unknown_zone.into()),
                ("zone", c.zone.name().into()),
            ],
        ));
    }
    if !r.variables.is_empty() {
        let vars: Vec<String> = r.variables.iter().map(|v| format!("{{{v}}}")).collect();
        lines.push(t_args(
            lang,
            "campaign-report-variables",
            &[("variables", vars.join(", ").into())],
        ));
    }
    lines.push(t_args(
        lang,
        "campaign-report-plan",
        &[
            ("scripts", c.scripts.join(" / ").into()),
            ("window", c.plan.window.to_string().into()),
            ("days", c.plan.days.to_string().into()),
            ("lines", c.concurrency.into()),
            ("retries", i64::from(c.plan.retries).into()),
            ("interval", i64::from(c.plan.retry_min).into()),
        ],
    ));
    lines.push(String::new());
    lines.push(t(lang, "campaign-consent-reminder"));
    lines.join("\n")
}

/// One line of `/campaign`.
pub fn list_line(lang: Lang, c: &Campaign, counts: &ContactCounts, reached: u64) -> String {
    t_args(
        lang,
        "campaign-list-line",
        &[
            ("id", c.id.into()),
            ("name", c.name.as_str().into()),
            ("status", status_name(lang, c.status).into()),
            ("finished", counts.finished().into()),
            ("total", counts.total().into()),
            ("reached", reached.into()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CampaignPlan, ContactOutcome, Stage};
    use crate::outbound::campaign::ab::Tally;
    use crate::outbound::campaign::kpi::Variant;
    use chrono::Utc;

    fn campaign(status: CampaignStatus) -> Campaign {
        Campaign {
            id: 3,
            name: "Склады".into(),
            scripts: vec!["logistics_cold".into(), "realty_cold".into()],
            status,
            chat_id: Some(-100),
            created_by: None,
            zone: chrono_tz::Europe::Moscow,
            concurrency: 5,
            priority: 0,
            plan: CampaignPlan::default(),
            created_at: Utc::now(),
            status_message_id: None,
            finished_at: None,
        }
    }

    fn kpis() -> Kpis {
        Kpis {
            contacts: 500,
            finished: 240,
            outcomes: vec![(ContactOutcome::Busy, 40), (ContactOutcome::Converted, 24)],
            reached: 200,
            converted: 24,
            avg_duration_secs: Some(83.0),
            objections_met: 40,
            objections_handled: 18,
            funnel: vec![(Stage::Greeting, 200), (Stage::Contact, 24)],
            variants: vec![
                Variant {
                    index: 0,
                    tally: Tally {
                        reached: 100,
                        converted: 8,
                    },
                    better_than_a: None,
                },
                Variant {
                    index: 1,
                    tally: Tally {
                        reached: 100,
                        converted: 16,
                    },
                    better_than_a: Some(0.961),
                },
            ],
        }
    }

    #[test]
    fn progress_status_and_summary_read_naturally_in_both_languages() {
        let counts = ContactCounts(vec![
            (ContactState::Pending, 250),
            (ContactState::Calling, 5),
            (ContactState::Retry, 5),
            (ContactState::Done, 230),
            (ContactState::Skipped, 10),
        ]);
        let c = campaign(CampaignStatus::Running);
        let text = progress(
            Lang::Ru,
            &c,
            &counts,
            &kpis(),
            Some(Duration::from_secs(4800)),
        );
        assert!(text.contains("Кампания #3 «Склады» — идёт"), "{text}");
        assert!(text.contains("▓▓▓▓░░░░░░ 48 % (240 из 500)"), "{text}");
        assert!(text.contains("Сейчас звонков: 5"), "{text}");
        assert!(text.contains("1 ч 20 мин"), "{text}");
        assert!(text.contains("занято 40"), "{text}");
        let status = status(Lang::Ru, &c, &counts, &kpis(), None);
        assert!(
            status.contains("Вариант B лучше варианта A с вероятностью 96 %"),
            "{status}"
        );
        assert!(status.contains("конверсия: 12 % (24)"), "{status}");
        assert!(status.contains("1 мин 23 с"), "{status}");
        assert!(status.contains("45 %"), "{status}");
        for lang in [Lang::Ru, Lang::En] {
            for s in CampaignStatus::ALL {
                let c = campaign(*s);
                let all = [
                    progress(lang, &c, &counts, &kpis(), None),
                    status_text(lang, &c, &counts),
                    summary(lang, &c, &kpis()),
                    created(
                        lang,
                        &c,
                        &ImportReport {
                            rows: 3,
                            added: 2,
                            invalid: vec![crate::outbound::contacts::Invalid {
                                line: 4,
                                value: "x".into(),
                            }],
                            invalid_count: 1,
                            duplicates: 1,
                            do_not_call: 1,
                            unknown_zone: 1,
                            variables: vec!["name".into()],
                        },
                    ),
                ];
                for text in all {
                    assert!(!text.contains("campaign-"), "{lang:?} {s}: {text}");
                }
                assert_eq!(keyboard(lang, &c).is_none(), *s == CampaignStatus::Finished);
            }
        }
    }

    fn status_text(lang: Lang, c: &Campaign, counts: &ContactCounts) -> String {
        status(lang, c, counts, &kpis(), Some(Duration::from_secs(30)))
    }
}
