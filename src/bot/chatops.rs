//! Chat-ops commands: `/leads` (paginated, buttons edit the same message), `/lead`, `/stats`,
//! `/export`, `/reanalyze`, `/users`. Each is reached only after the role check in `handlers`.

use chrono_tz::Tz;
use teloxide::payloads::{
    EditMessageTextSetters, SendDocumentSetters, SendMessageSetters, SendPhotoSetters,
};
use teloxide::prelude::*;
use teloxide::types::{InputFile, ParseMode};

use super::context::{BotDeps, BotError};
use crate::analysis::protocol::{client_phone, esc, feedback_footer};
use crate::analysis::queue::enqueue_reanalysis;
use crate::analysis::view::{feedback_keyboard, render_current};
use crate::domain::period::{parse_period, today, Period};
use crate::domain::PostKind;
use crate::domain::{CallFilter, CallStatus, CallbackData, LeadCategory, Role};
use crate::i18n::{t, t_args, Lang};
use crate::notify::{inline_markup, Keyboard};
use crate::store::{TelegramPost, User};

const PAGE: u32 = 8;

/// Who asks, where, in which language.
pub struct Ctx<'a> {
    pub bot: &'a Bot,
    pub deps: &'a BotDeps,
    pub chat: ChatId,
    pub lang: Lang,
    pub user_id: u64,
    pub reply_to_user: Option<u64>,
}

impl Ctx<'_> {
    /// Whether `id` is an administrator from TELEGRAM_ADMINS (changed only in the configuration).
    fn is_config_admin(&self, id: i64) -> bool {
        self.deps
            .admins
            .iter()
            .any(|a| i64::try_from(*a).ok() == Some(id))
    }
    fn tz(&self) -> Tz {
        self.deps.timezone
    }
    async fn say(&self, text: String) -> Result<(), BotError> {
        self.bot.send_message(self.chat, text).await?;
        Ok(())
    }
    /// Sends an HTML message; returns its id.
    async fn say_html(&self, text: String, keyboard: Option<&Keyboard>) -> Result<i32, BotError> {
        let mut req = self
            .bot
            .send_message(self.chat, text)
            .parse_mode(ParseMode::Html);
        if let Some(k) = keyboard {
            req = req.reply_markup(inline_markup(k));
        }
        Ok(req.await?.id.0)
    }
}

fn parse_category(word: &str) -> Option<LeadCategory> {
    word.parse().ok()
}

fn category_title(lang: Lang, c: Option<LeadCategory>) -> String {
    match c {
        None => t(lang, "leads-all"),
        Some(c) => format!(
            "{} {}",
            c.emoji(),
            t(lang, &format!("category-{}", c.as_str()))
        ),
    }
}

/// The text and buttons of one page of `/leads`.
pub async fn leads_view(
    deps: &BotDeps,
    lang: Lang,
    category: Option<LeadCategory>,
    period: Period,
    page: u32,
) -> Result<(String, Keyboard), BotError> {
    let tz = deps.timezone;
    let (from, to) = period.bounds(tz);
    let filter = CallFilter {
        status: None,
        category: category.map(|c| c.as_str().to_string()),
        from: Some(from),
        to: Some(to),
        limit: i64::from(PAGE),
        offset: i64::from(page) * i64::from(PAGE),
    };
    let (items, total) = deps.store.list_calls(&filter).await?;
    let items: Vec<_> = items
        .into_iter()
        .filter(|c| c.lead_category.is_some() || category.is_none())
        .collect();
    let pages = ((total as u32).saturating_add(PAGE - 1) / PAGE).max(1);
    let mut text = format!(
        "<b>{}</b>",
        t_args(
            lang,
            "leads-header",
            &[
                ("category", category_title(lang, category).into()),
                ("period", period.label().into()),
                ("total", total.into()),
            ]
        )
    );
    let mut rows = Vec::new();
    if items.is_empty() {
        text.push_str(&format!("\n\n{}", t(lang, "leads-empty")));
    }
    for c in &items {
        let cat = c.lead_category;
        let emoji = cat.map_or("▫️", LeadCategory::emoji);
        let rating = c
            .interest_rating
            .map(|r| format!("{r}/10"))
            .unwrap_or_else(|| "—".into());
        let who = c
            .agency_name
            .clone()
            .unwrap_or_else(|| client_phone(&c.call));
        let when = c.call.started_at.with_timezone(&tz).format("%d.%m %H:%M");
        text.push_str(&format!(
            "\n{emoji} <b>{rating}</b> · {} · {} · {when} · №{}",
            esc(&who),
            esc(&client_phone(&c.call)),
            c.call.id
        ));
        rows.push(vec![(
            format!(
                "{emoji} №{} {}",
                c.call.id,
                who.chars().take(24).collect::<String>()
            ),
            CallbackData::OpenLead { call_id: c.call.id }.to_string(),
        )]);
    }
    if pages > 1 {
        text.push_str(&format!(
            "\n\n<i>{}</i>",
            t_args(
                lang,
                "leads-page",
                &[
                    ("page", i64::from(page + 1).into()),
                    ("pages", i64::from(pages).into())
                ]
            )
        ));
        let nav = |p: u32| {
            CallbackData::LeadsPage {
                category,
                first: period.first,
                last: period.last,
                page: p,
            }
            .to_string()
        };
        let mut row = Vec::new();
        if page > 0 {
            row.push(("◀".to_string(), nav(page - 1)));
        }
        if page + 1 < pages {
            row.push(("▶".to_string(), nav(page + 1)));
        }
        rows.push(row);
    }
    Ok((text, Keyboard(rows)))
}

/// Splits arguments into a category, a period and the rest; unknown words are reported.
fn read_period(ctx: &Ctx<'_>, words: &[&str], default: Period) -> Result<Period, String> {
    let mut period = default;
    for w in words {
        match parse_period(w, today(ctx.tz())) {
            Some(p) => period = p,
            None => return Err(t_args(ctx.lang, "unknown-period", &[("arg", (*w).into())])),
        }
    }
    Ok(period)
}

pub async fn leads(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let mut category = None;
    let mut rest = Vec::new();
    // "за" as in «горячие за неделю» carries no meaning of its own.
    for w in args
        .split_whitespace()
        .filter(|w| !w.eq_ignore_ascii_case("за"))
    {
        match parse_category(w) {
            Some(c) => category = Some(c),
            None => rest.push(w),
        }
    }
    let week = Period::last_days(today(ctx.tz()), 7);
    let period = match read_period(ctx, &rest, week) {
        Ok(p) => p,
        Err(msg) => return ctx.say(msg).await,
    };
    let (text, keyboard) = leads_view(ctx.deps, ctx.lang, category, period, 0).await?;
    ctx.say_html(text, Some(&keyboard)).await.map(drop)
}

/// Answers a ◀ ▶ press by editing the list in place.
pub async fn leads_page(
    bot: &Bot,
    deps: &BotDeps,
    lang: Lang,
    message: (ChatId, teloxide::types::MessageId),
    data: CallbackData,
) -> Result<(), BotError> {
    let CallbackData::LeadsPage {
        category,
        first,
        last,
        page,
    } = data
    else {
        return Ok(());
    };
    let (text, keyboard) = leads_view(deps, lang, category, Period { first, last }, page).await?;
    match bot
        .edit_message_text(message.0, message.1, text)
        .parse_mode(ParseMode::Html)
        .reply_markup(inline_markup(&keyboard))
        .await
    {
        Ok(_) | Err(teloxide::RequestError::Api(teloxide::ApiError::MessageNotModified)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn lead(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let Ok(id) = args
        .trim()
        .trim_start_matches('№')
        .trim_start_matches('#')
        .parse::<i64>()
    else {
        return ctx.say(t(ctx.lang, "lead-usage")).await;
    };
    show_lead(ctx, id).await
}

pub async fn show_lead(ctx: &Ctx<'_>, id: i64) -> Result<(), BotError> {
    let Some(views) = &ctx.deps.views else {
        return ctx.say(t(ctx.lang, "analysis-off")).await;
    };
    let Some(call) = ctx.deps.store.call(id).await? else {
        return ctx
            .say(t_args(ctx.lang, "lead-not-found", &[("id", id.into())]))
            .await;
    };
    let Some((rendered, _)) = render_current(views, id, ctx.lang).await? else {
        let reason = call.reason.map(|r| format!(": {r}")).unwrap_or_default();
        return ctx
            .say(t_args(
                ctx.lang,
                "lead-not-analyzed",
                &[
                    ("id", id.into()),
                    (
                        "status",
                        t(ctx.lang, &format!("call-status-{}", call.status.as_str())).into(),
                    ),
                    ("reason", reason.into()),
                ],
            ))
            .await;
    };
    let message_id = ctx
        .say_html(
            rendered.text,
            Some(&feedback_keyboard(
                views.settings.lang,
                id,
                call.recording_ref.is_some(),
            )),
        )
        .await?;
    // Its buttons rate the call like the posted protocol's: record it as one.
    ctx.deps
        .store
        .record_telegram_post(&TelegramPost {
            post_key: format!("lead:{}:{message_id}", ctx.chat.0),
            call_id: Some(id),
            kind: PostKind::Lead,
            chat_id: ctx.chat.0,
            message_id,
            extra_ids: Vec::new(),
        })
        .await?;
    if let Some(file) = rendered.transcript_file {
        ctx.bot
            .send_document(
                ctx.chat,
                InputFile::memory(file).file_name(format!("call-{id}.txt")),
            )
            .await?;
    }
    let history = ctx.deps.store.feedback(id).await?;
    if !history.is_empty() {
        let lines = feedback_footer(ctx.lang, &history);
        ctx.say(format!("{}\n{lines}", t(ctx.lang, "lead-feedback-header")))
            .await?;
    }
    Ok(())
}

fn pct(lang: Lang, v: Option<f64>) -> String {
    v.map(|p| format!("{p:.0}%"))
        .unwrap_or_else(|| t(lang, "stats-agreement-none"))
}

pub async fn stats(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let todays = Period::last_days(today(ctx.tz()), 1);
    let period = match read_period(ctx, &words, todays) {
        Ok(p) => p,
        Err(msg) => return ctx.say(msg).await,
    };
    let text = stats_text(ctx.deps, ctx.lang, period).await?;
    ctx.say_html(text, None).await.map(drop)
}

/// The `/stats` message for a period (with agreement in the period before it).
pub async fn stats_text(deps: &BotDeps, lang: Lang, period: Period) -> Result<String, BotError> {
    let tz = deps.timezone;
    let (from, to) = period.bounds(tz);
    let st = deps.store.period_stats(from, to).await?;
    let before = period.previous();
    let (bf, bt) = before.bounds(tz);
    let prev = deps.store.period_stats(bf, bt).await?;
    let mut lines = vec![
        format!(
            "<b>{}</b>",
            t_args(lang, "stats-header", &[("period", period.label().into())])
        ),
        t_args(
            lang,
            "stats-calls",
            &[
                ("total", st.total().into()),
                ("analyzed", st.count("analyzed").into()),
                ("skipped", st.count("skipped").into()),
                ("failed", st.count("failed").into()),
            ],
        ),
    ];
    let cats: Vec<String> = LeadCategory::ALL
        .iter()
        .map(|c| {
            let n = st
                .by_category
                .iter()
                .find(|(k, _)| k == c.as_str())
                .map_or(0, |(_, n)| *n);
            format!(
                "{} {}: {n}",
                c.emoji(),
                t(lang, &format!("category-{}", c.as_str()))
            )
        })
        .collect();
    lines.push(cats.join(" · "));
    if let Some(avg) = st.avg_rating {
        lines.push(t_args(
            lang,
            "stats-avg",
            &[("avg", format!("{avg:.1}").into())],
        ));
    }
    match st.agreement() {
        Some(p) => lines.push(t_args(
            lang,
            "stats-agreement",
            &[
                ("pct", format!("{p:.0}").into()),
                ("agreed", st.agreed.into()),
                ("rated", st.rated.into()),
            ],
        )),
        None => lines.push(format!(
            "{}: {}",
            t(lang, "stats-agreement-label"),
            t(lang, "stats-agreement-none")
        )),
    }
    if st.agreement_by_profile.len() > 1 {
        for (profile, rated, agreed) in &st.agreement_by_profile {
            let pct = *agreed as f64 * 100.0 / *rated as f64;
            lines.push(format!("   {profile}: {pct:.0}% ({agreed}/{rated})"));
        }
    }
    lines.push(t_args(
        lang,
        "stats-agreement-before",
        &[
            ("period", before.label().into()),
            ("pct", pct(lang, prev.agreement()).into()),
        ],
    ));
    lines.push(t_args(
        lang,
        "stats-tokens",
        &[
            ("prompt", st.tokens.prompt_tokens.into()),
            ("completion", st.tokens.completion_tokens.into()),
            ("cost", format!("{:.2}", st.tokens.cost_usd).into()),
        ],
    ));
    lines.extend(agent_lines(deps, lang, (from, to)).await?);
    lines.extend(campaign_lines(deps, lang, (from, to)).await?);
    lines.extend(operator_lines(deps, lang, (from, to)).await?);
    Ok(lines.join("\n"))
}

/// The operators' figures of the period (none when no PBX named an operator): calls, the
/// checklist average and the weakest criteria.
async fn operator_lines(
    deps: &BotDeps,
    lang: Lang,
    (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) -> Result<Vec<String>, BotError> {
    let rows = deps.store.chart_rows(from, to).await?;
    if rows.iter().all(|r| r.operator.is_none()) {
        return Ok(Vec::new());
    }
    let qa = deps
        .store
        .operator_results(from, to, "qa_checklist", 20_000)
        .await?;
    let departments = deps
        .views
        .as_ref()
        .map(|v| v.settings.departments.clone())
        .unwrap_or_default();
    let figures = crate::analysis::operators::operator_figures(&rows, &qa, &departments);
    let mut lines = vec![format!("\n<b>{}</b>", t(lang, "stats-operators"))];
    for f in figures.iter().take(15) {
        let mut parts = vec![t_args(
            lang,
            "stats-operator",
            &[
                ("name", crate::analysis::protocol::esc(&f.label).into()),
                ("calls", (f.calls as i64).into()),
            ],
        )];
        if let Some(avg) = f.qa_avg {
            parts.push(t_args(
                lang,
                "stats-operator-qa",
                &[("avg", format!("{avg:.1}").into())],
            ));
        }
        if !f.weakest.is_empty() {
            let weak: Vec<String> = f
                .weakest
                .iter()
                .map(|(k, v)| {
                    let name = crate::i18n::t_opt(lang, &format!("score-{k}"))
                        .unwrap_or_else(|| k.clone());
                    format!("{name} {v:.1}")
                })
                .collect();
            parts.push(t_args(
                lang,
                "stats-operator-weak",
                &[("list", weak.join(", ").into())],
            ));
        }
        lines.push(parts.join(" · "));
    }
    Ok(lines)
}

/// The voice agent's calls of the period, per speech vendor: delays, stream failures, use and
/// cost (none when the agent made no calls).
async fn agent_lines(
    deps: &BotDeps,
    lang: Lang,
    (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) -> Result<Vec<String>, BotError> {
    let turns = deps.store.agent_turns_between(from, to).await?;
    let f = crate::agent::figures::agent_figures(&turns, &deps.speech_prices);
    if f.turns == 0 {
        return Ok(Vec::new());
    }
    let ms = |v: Option<i64>| v.map_or_else(|| "—".to_string(), |v| v.to_string());
    let cost = |c: Option<f64>| match c {
        Some(c) => format!("${c:.2}"),
        None => t(lang, "stats-agent-no-price"),
    };
    let mut lines = vec![t_args(
        lang,
        "stats-agent",
        &[
            ("turns", (f.turns as i64).into()),
            ("v2v", ms(f.voice_to_voice_p50_ms).into()),
            ("ttft", ms(f.llm_first_token_p50_ms).into()),
        ],
    )];
    for v in &f.recognition {
        lines.push(t_args(
            lang,
            "stats-agent-stt",
            &[
                ("vendor", vendor_name(&v.vendor).into()),
                ("delay", ms(v.delay_p50_ms).into()),
                ("minutes", format!("{:.1}", v.used as f64 / 60_000.0).into()),
                ("fallbacks", (v.fallbacks as i64).into()),
                ("cost", cost(v.cost_usd).into()),
            ],
        ));
    }
    for v in &f.synthesis {
        lines.push(t_args(
            lang,
            "stats-agent-tts",
            &[
                ("vendor", vendor_name(&v.vendor).into()),
                ("delay", ms(v.delay_p50_ms).into()),
                ("chars", v.used.into()),
                ("cost", cost(v.cost_usd).into()),
            ],
        ));
    }
    Ok(lines)
}

/// A speech vendor as people know it.
fn vendor_name(vendor: &str) -> String {
    match crate::speech::SpeechVendor::parse(vendor) {
        Ok(crate::speech::SpeechVendor::OpenAi) => "OpenAI".into(),
        Ok(crate::speech::SpeechVendor::Salute) => "SaluteSpeech".into(),
        Ok(crate::speech::SpeechVendor::Yandex) => "SpeechKit".into(),
        Ok(crate::speech::SpeechVendor::ElevenLabs) => "ElevenLabs".into(),
        Err(_) => vendor.to_string(),
    }
}

/// The campaigns that ran in the period (running now, or finished or created in it): reached,
/// conversion and the average conversation.
async fn campaign_lines(
    deps: &BotDeps,
    lang: Lang,
    (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) -> Result<Vec<String>, BotError> {
    use crate::domain::CampaignStatus;
    use crate::outbound::campaign_view::{duration, percent};
    let in_period = |t: chrono::DateTime<chrono::Utc>| from <= t && t < to;
    let mut lines = Vec::new();
    for c in deps.store.campaigns().await?.iter().take(10) {
        let ran = c.status == CampaignStatus::Running
            || in_period(c.created_at)
            || c.finished_at.is_some_and(in_period);
        if !ran {
            continue;
        }
        let contacts = deps.store.campaign_contacts(c.id).await?;
        let k = crate::outbound::campaign::kpi::kpis(&contacts, c.scripts.len());
        if lines.is_empty() {
            lines.push(format!("<b>{}</b>", t(lang, "campaign-stats-header")));
        }
        lines.push(t_args(
            lang,
            "campaign-stats-line",
            &[
                ("id", c.id.into()),
                ("name", teloxide::utils::html::escape(&c.name).into()),
                ("reached", k.reached.into()),
                ("conversion", percent(k.conversion()).into()),
                (
                    "duration",
                    k.avg_duration_secs
                        .map_or_else(|| "—".to_string(), |s| duration(lang, s))
                        .into(),
                ),
            ],
        ));
    }
    Ok(lines)
}

pub async fn export(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let mut csv = false;
    let mut words = Vec::new();
    for w in args.split_whitespace() {
        if w.eq_ignore_ascii_case("csv") {
            csv = true;
        } else {
            words.push(w);
        }
    }
    let month = Period::last_days(today(ctx.tz()), 30);
    let period = match read_period(ctx, &words, month) {
        Ok(p) => p,
        Err(msg) => return ctx.say(msg).await,
    };
    let (from, to) = period.bounds(ctx.tz());
    let filter = CallFilter {
        from: Some(from),
        to: Some(to),
        limit: 100_000,
        ..Default::default()
    };
    let (rows, _) = ctx.deps.store.list_calls(&filter).await?;
    let (bytes, ext) = if csv {
        (crate::export::csv(ctx.lang, ctx.tz(), &rows), "csv")
    } else {
        match crate::export::xlsx(ctx.lang, ctx.tz(), &rows) {
            Ok(b) => (b, "xlsx"),
            Err(e) => {
                tracing::error!(error = %e, "building the XLSX failed");
                return ctx.say(t(ctx.lang, "internal-error")).await;
            }
        }
    };
    let name = format!(
        "callops-{}-{}.{ext}",
        period.first.format("%Y%m%d"),
        period.last.format("%Y%m%d")
    );
    let caption = t_args(
        ctx.lang,
        "export-caption",
        &[
            ("period", period.label().into()),
            ("n", (rows.len() as i64).into()),
        ],
    );
    ctx.bot
        .send_document(ctx.chat, InputFile::memory(bytes).file_name(name))
        .caption(caption)
        .await?;
    Ok(())
}

/// The most days one `/pull` reads.
const PULL_MAX_DAYS: i64 = 31;

/// `/pull [source] [day or period]`: the PBX's calls of those days read again (T-Bank's nightly
/// batch on demand); calls already taken stay as they are, missing ones are analysed.
pub async fn pull(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let Some(intake) = &ctx.deps.intake else {
        return ctx.say(t(ctx.lang, "analysis-off")).await;
    };
    let sources = &ctx.deps.sources;
    if sources.is_empty() {
        return ctx.say(t(ctx.lang, "pull-no-source")).await;
    }
    let mut words: Vec<&str> = args.split_whitespace().collect();
    let chosen: Vec<String> = match words.first() {
        Some(w) if sources.iter().any(|s| s.eq_ignore_ascii_case(w)) => {
            let w = words.remove(0).to_lowercase();
            vec![w]
        }
        _ => sources.clone(),
    };
    let yesterday = Period::last_days(today(ctx.tz()) - chrono::Days::new(1), 1);
    let period = match read_period(ctx, &words, yesterday) {
        Ok(p) => p,
        Err(msg) => {
            return ctx
                .say(format!(
                    "{msg}\n{}",
                    t_args(
                        ctx.lang,
                        "pull-usage",
                        &[("sources", sources.join(", ").into())]
                    )
                ))
                .await
        }
    };
    if (period.last - period.first).num_days() >= PULL_MAX_DAYS {
        return ctx
            .say(t_args(
                ctx.lang,
                "pull-too-long",
                &[("max", PULL_MAX_DAYS.into())],
            ))
            .await;
    }
    let run = chrono::Utc::now().format("%Y%m%d%H%M").to_string();
    for source in &chosen {
        for day in period.first.iter_days().take_while(|d| *d <= period.last) {
            let payload = crate::analysis::queue::DayPayload {
                source: source.clone(),
                day,
            };
            crate::analysis::queue::enqueue_day(intake, &payload, &run).await?;
        }
    }
    ctx.say(t_args(
        ctx.lang,
        "pull-queued",
        &[
            ("sources", chosen.join(", ").into()),
            ("period", period.label().into()),
        ],
    ))
    .await
}

pub async fn reanalyze(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let (Some(intake), Some(views)) = (&ctx.deps.intake, &ctx.deps.views) else {
        return ctx.say(t(ctx.lang, "analysis-off")).await;
    };
    let words: Vec<&str> = args.split_whitespace().collect();
    let Some(first) = words.first() else {
        return ctx.say(t(ctx.lang, "reanalyze-usage")).await;
    };
    if let Ok(id) = first.trim_start_matches('№').parse::<i64>() {
        let profile = words.get(1).map(|p| p.to_string());
        if let Some(p) = &profile {
            if views.profiles.get(p).is_none() {
                return ctx
                    .say(t_args(
                        ctx.lang,
                        "reanalyze-unknown-profile",
                        &[
                            ("profile", p.as_str().into()),
                            ("known", views.profiles.names().join(", ").into()),
                        ],
                    ))
                    .await;
            }
        }
        let Some(call) = ctx.deps.store.call(id).await? else {
            return ctx
                .say(t_args(ctx.lang, "lead-not-found", &[("id", id.into())]))
                .await;
        };
        enqueue_reanalysis(intake, id, profile.clone()).await?;
        let profile = profile.unwrap_or_else(|| views.settings.profile_for(&call));
        return ctx
            .say(t_args(
                ctx.lang,
                "reanalyze-queued",
                &[("id", id.into()), ("profile", profile.into())],
            ))
            .await;
    }
    let filter = if first.eq_ignore_ascii_case("failed") {
        CallFilter {
            status: Some(CallStatus::Failed),
            limit: 1000,
            ..Default::default()
        }
    } else {
        let period = match read_period(ctx, &words, Period::last_days(today(ctx.tz()), 1)) {
            Ok(p) => p,
            Err(_) => return ctx.say(t(ctx.lang, "reanalyze-usage")).await,
        };
        let (from, to) = period.bounds(ctx.tz());
        CallFilter {
            status: Some(CallStatus::Analyzed),
            from: Some(from),
            to: Some(to),
            limit: 1000,
            ..Default::default()
        }
    };
    let (calls, _) = ctx.deps.store.list_calls(&filter).await?;
    if calls.is_empty() {
        return ctx.say(t(ctx.lang, "reanalyze-none")).await;
    }
    let mut jobs = Vec::with_capacity(calls.len());
    for c in &calls {
        jobs.push(enqueue_reanalysis(intake, c.call.id, None).await?);
    }
    ctx.say(t_args(
        ctx.lang,
        "reanalyze-many",
        &[("n", (calls.len() as i64).into())],
    ))
    .await?;
    let n = jobs.len() as i64;
    let progress = ctx
        .bot
        .send_message(
            ctx.chat,
            t_args(
                ctx.lang,
                "reanalyze-progress",
                &[("done", 0i64.into()), ("n", n.into())],
            ),
        )
        .await?;
    tokio::spawn(track_progress(
        ctx.bot.clone(),
        ctx.deps.store.clone(),
        ctx.lang,
        (ctx.chat, progress.id),
        jobs,
    ));
    Ok(())
}

pub async fn users(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let lang = ctx.lang;
    let role_name = |r: Role| t(lang, &format!("role-{}", r.as_str()));
    match words.as_slice() {
        [] | ["list"] => {
            let users = ctx.deps.store.list_users().await?;
            if users.is_empty() {
                return ctx.say(t(lang, "users-empty")).await;
            }
            let mut text = t(lang, "users-header");
            for u in users {
                let name = u.name.map(|n| format!(" ({n})")).unwrap_or_default();
                text.push('\n');
                text.push_str(&t_args(
                    lang,
                    "users-line",
                    &[
                        ("id", u.telegram_id.into()),
                        ("role", role_name(u.role).into()),
                        ("name", name.into()),
                    ],
                ));
            }
            ctx.say(text).await
        }
        ["add", rest @ ..] => {
            let (target, role) = match (rest, ctx.reply_to_user) {
                ([id, role], _) => (id.parse::<i64>().ok(), role.parse::<Role>().ok()),
                ([role], Some(replied)) => (i64::try_from(replied).ok(), role.parse::<Role>().ok()),
                _ => (None, None),
            };
            let (Some(id), Some(role)) = (target, role) else {
                return ctx.say(t(lang, "users-usage")).await;
            };
            if ctx.is_config_admin(id) {
                return ctx
                    .say(t_args(lang, "users-protected", &[("id", id.into())]))
                    .await;
            }
            let added_by = i64::try_from(ctx.user_id).ok();
            ctx.deps
                .store
                .upsert_user(&User {
                    telegram_id: id,
                    role,
                    name: None,
                    added_by,
                })
                .await?;
            tracing::info!(admin = ctx.user_id, user = id, %role, "user role set");
            ctx.say(t_args(
                lang,
                "users-added",
                &[("id", id.into()), ("role", role_name(role).into())],
            ))
            .await
        }
        ["remove", id] => {
            let Ok(id) = id.parse::<i64>() else {
                return ctx.say(t(lang, "users-usage")).await;
            };
            if ctx.is_config_admin(id) {
                return ctx
                    .say(t_args(lang, "users-protected", &[("id", id.into())]))
                    .await;
            }
            let key = if ctx.deps.store.remove_user(id).await? {
                "users-removed"
            } else {
                "users-not-found"
            };
            tracing::info!(admin = ctx.user_id, user = id, "user removed");
            ctx.say(t_args(lang, key, &[("id", id.into())])).await
        }
        _ => ctx.say(t(lang, "users-usage")).await,
    }
}

/// Renders a chart of the period (data from the store, drawing off the async threads).
pub async fn render_chart(
    deps: &BotDeps,
    lang: Lang,
    kind: crate::charts::ChartKind,
    period: Period,
) -> Result<Vec<u8>, BotError> {
    let (from, to) = period.bounds(deps.timezone);
    let mut rows = deps.store.chart_rows(from, to).await?;
    if let Some(v) = &deps.views {
        crate::charts::label_operators(&mut rows, &v.settings.departments);
    }
    let labels = crate::charts::labels(lang, kind, &period);
    let tz = deps.timezone;
    let png = tokio::task::spawn_blocking(move || {
        crate::charts::chart_png(kind, &rows, tz, period.first, period.last, &labels)
    })
    .await
    .map_err(|e| BotError::Internal(e.to_string()))?
    .map_err(|e| BotError::Internal(e.to_string()))?;
    Ok(png)
}

pub async fn chart(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let Some(kind) = words
        .first()
        .and_then(|w| w.parse::<crate::charts::ChartKind>().ok())
    else {
        return ctx.say(t(ctx.lang, "chart-usage")).await;
    };
    let week = Period::last_days(today(ctx.tz()), 7);
    let period = match read_period(ctx, &words[1..], week) {
        Ok(p) => p,
        Err(msg) => return ctx.say(msg).await,
    };
    let png = render_chart(ctx.deps, ctx.lang, kind, period).await?;
    let caption = crate::charts::labels(ctx.lang, kind, &period).title;
    ctx.bot
        .send_photo(
            ctx.chat,
            InputFile::memory(png).file_name(format!("{kind}.png")),
        )
        .caption(caption)
        .await?;
    Ok(())
}

pub async fn digest(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let tz = ctx
        .deps
        .store
        .digest_schedules()
        .await?
        .into_iter()
        .find(|s| s.chat_id == ctx.chat.0)
        .map(|s| s.timezone)
        .unwrap_or_else(|| "Europe/Moscow".into());
    let arg = args.trim().to_lowercase();
    let time = match arg.as_str() {
        "off" | "выкл" => {
            ctx.deps.store.set_digest_time(ctx.chat.0, None).await?;
            return ctx.say(t(ctx.lang, "digest-off")).await;
        }
        "on" | "вкл" => "09:00".to_string(),
        other => match crate::domain::period::parse_time(other) {
            Some(t) => t.format("%H:%M").to_string(),
            None => {
                return ctx
                    .say(t_args(ctx.lang, "digest-usage", &[("tz", tz.into())]))
                    .await
            }
        },
    };
    ctx.deps
        .store
        .set_digest_time(ctx.chat.0, Some(&time))
        .await?;
    tracing::info!(chat = ctx.chat.0, %time, "daily digest scheduled");
    ctx.say(t_args(
        ctx.lang,
        "digest-on",
        &[("time", time.into()), ("tz", tz.into())],
    ))
    .await
}

/// Edits one progress message at most every 2 s until every job has finished, then sums up.
async fn track_progress(
    bot: Bot,
    store: std::sync::Arc<dyn crate::store::Store>,
    lang: Lang,
    message: (ChatId, teloxide::types::MessageId),
    jobs: Vec<i64>,
) {
    use crate::store::JobState;
    let n = jobs.len() as i64;
    let mut shown = 0i64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let (mut ok, mut failed) = (0i64, 0i64);
        for id in &jobs {
            match store.job(*id).await {
                Ok(Some(j)) if j.state == JobState::Done => ok += 1,
                Ok(Some(j)) if j.state == JobState::Dead => failed += 1,
                _ => {}
            }
        }
        let done = ok + failed;
        let finished = done >= n || std::time::Instant::now() > deadline;
        let text = if finished {
            t_args(
                lang,
                "reanalyze-done",
                &[
                    ("ok", ok.into()),
                    ("n", n.into()),
                    ("failed", failed.into()),
                ],
            )
        } else if done != shown {
            t_args(
                lang,
                "reanalyze-progress",
                &[("done", done.into()), ("n", n.into())],
            )
        } else {
            continue;
        };
        shown = done;
        if let Err(e) = bot.edit_message_text(message.0, message.1, text).await {
            tracing::warn!(error = %e, "progress edit failed");
        }
        if finished {
            return;
        }
    }
}
