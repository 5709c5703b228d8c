//! Showing a protocol: its rendering with the call's current analysis, feedback and timings, the
//! feedback buttons under it, the chat's language, and what a re-analysis changed.

use super::pipeline::ProtocolViews;
use super::protocol::{render, Rendered};
use crate::domain::{Analysis, CallbackData, FeedbackChoice, LeadCategory};
use crate::i18n::{t, t_args, Lang};
use crate::notify::Keyboard;
use crate::store::StoreError;

/// The feedback buttons under a protocol.
/// The buttons under a protocol: the rating, and «🎧 Запись» when the PBX has the call's
/// recording (`recording`: the call's `recording_ref` is known).
pub fn feedback_keyboard(lang: Lang, call_id: i64, recording: bool) -> Keyboard {
    let button = |label: &str, choice| {
        (
            t(lang, label),
            CallbackData::Feedback { call_id, choice }.to_string(),
        )
    };
    Keyboard(vec![
        vec![
            button("button-hot", FeedbackChoice::Category(LeadCategory::Hot)),
            button("button-warm", FeedbackChoice::Category(LeadCategory::Warm)),
        ],
        vec![
            button("button-cold", FeedbackChoice::Category(LeadCategory::Cold)),
            button(
                "button-refusal",
                FeedbackChoice::Category(LeadCategory::Refusal),
            ),
        ],
        if recording {
            vec![
                button("button-confirm", FeedbackChoice::Confirm),
                (
                    t(lang, "button-recording"),
                    CallbackData::Recording { call_id }.to_string(),
                ),
            ]
        } else {
            vec![button("button-confirm", FeedbackChoice::Confirm)]
        },
    ])
}

/// Renders the current protocol of a call (also used to redraw it after feedback).
/// The language of a chat: its setting, else the default.
pub async fn chat_lang(views: &ProtocolViews, chat_id: i64) -> Result<Lang, StoreError> {
    Ok(views
        .store
        .chat_language(chat_id)
        .await?
        .map_or(views.settings.lang, |c| Lang::from_code(Some(&c))))
}

pub async fn render_current(
    views: &ProtocolViews,
    call_id: i64,
    lang: Lang,
) -> Result<Option<(Rendered, String)>, StoreError> {
    let store = &views.store;
    let (Some(call), Some(analysis)) = (
        store.call(call_id).await?,
        store.current_analysis(call_id).await?,
    ) else {
        return Ok(None);
    };
    let Some(profile) = views.profiles.get(&analysis.profile) else {
        return Ok(None);
    };
    let utterances = store.utterances(call_id).await?;
    let feedback = store.feedback(call_id).await?;
    let timings = if call.origin().is_agent() {
        store.agent_turns(call_id).await?
    } else {
        Vec::new()
    };
    let rendered = render(
        lang,
        views.settings.timezone,
        &call,
        views.settings.operator_label(&call).as_deref(),
        profile,
        &analysis.result,
        &utterances,
        &feedback,
        &timings,
    );
    Ok(Some((rendered, profile.name.clone())))
}

/// "category ❄️ ХОЛОДНЫЙ → 🔥 ГОРЯЧИЙ ЛИД, rating 3/10 → 8/10", or that nothing changed.
pub fn what_changed(lang: Lang, before: &Analysis, after: Option<&Analysis>) -> String {
    let cat = |a: Option<&Analysis>| {
        a.and_then(|a| a.lead_category)
            .map(|c| {
                format!(
                    "{} {}",
                    c.emoji(),
                    t(lang, &format!("category-{}", c.as_str()))
                )
            })
            .unwrap_or_else(|| "—".into())
    };
    let rating = |a: Option<&Analysis>| {
        a.and_then(|a| a.interest_rating)
            .map(|r| format!("{r}/10"))
            .unwrap_or_else(|| "—".into())
    };
    let mut parts = Vec::new();
    if before.lead_category != after.and_then(|a| a.lead_category) {
        parts.push(t_args(
            lang,
            "reanalysis-category",
            &[
                ("before", cat(Some(before)).into()),
                ("after", cat(after).into()),
            ],
        ));
    }
    if before.interest_rating != after.and_then(|a| a.interest_rating) {
        parts.push(t_args(
            lang,
            "reanalysis-rating",
            &[
                ("before", rating(Some(before)).into()),
                ("after", rating(after).into()),
            ],
        ));
    }
    if parts.is_empty() {
        t(lang, "reanalysis-same")
    } else {
        t_args(
            lang,
            "reanalysis-changed",
            &[("what", parts.join(", ").into())],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(cat: Option<&str>, rating: Option<i32>) -> Analysis {
        Analysis {
            id: 1,
            call_id: 1,
            profile: "realty_lead".into(),
            result: serde_json::json!({}),
            lead_category: cat.map(|c| c.parse().unwrap()),
            interest_rating: rating,
            priority: None,
            agency_name: None,
            model: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn what_changed_names_category_and_rating() {
        let before = analysis(Some("cold"), Some(3));
        let after = analysis(Some("hot"), Some(8));
        let s = what_changed(Lang::Ru, &before, Some(&after));
        assert!(
            s.contains("❄️ ХОЛОДНЫЙ → 🔥 ГОРЯЧИЙ ЛИД") && s.contains("3/10 → 8/10"),
            "{s}"
        );
        assert!(what_changed(Lang::Ru, &before, Some(&before)).contains("не изменились"));
        let en = what_changed(Lang::En, &before, Some(&analysis(Some("cold"), Some(5))));
        assert!(
            en.contains("rating 3/10 → 5/10") && !en.contains("category"),
            "{en}"
        );
    }
}
