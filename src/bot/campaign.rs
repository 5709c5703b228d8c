//! `/campaign` in the chat. A CSV or Excel file captioned `/campaign Название [скрипт…]
//! [линии=5 …]` creates a campaign (paused) and answers with what was read, left out and
//! flagged, the plan and the consent reminder, then posts the progress message with ▶ ⏸ ⏹.
//! `/campaign` lists campaigns; `статус|status N`, `старт|start N`, `пауза|pause N`,
//! `стоп|stop N`, `выгрузка|export N` work on one. Managers and admins only.

use std::sync::Arc;

use teloxide::prelude::*;
use teloxide::types::{Document, InputFile};

use super::access::Access;
use super::chatops::Ctx;
use super::contact_file::read_contact_file;
use super::context::{allowed, role_required, BotDeps, BotError, Pressed};
use crate::domain::{CallbackData, Campaign, CampaignAction, NewCampaign, Role};
use crate::i18n::{t, t_args, Lang};
use crate::notify::TextFormat;
use crate::outbound::campaign::kpi::kpis;
use crate::outbound::campaign_import::{self, apply_option, OptionError};
use crate::outbound::campaign_runner::ActionResult;
use crate::outbound::campaign_view::{created, keyboard, list_line, progress, status};

/// Campaigns listed by `/campaign`.
const LISTED: usize = 15;
/// Scripts an A/B test may compare.
const MAX_VARIANTS: usize = 4;

async fn say(ctx: &Ctx<'_>, text: String) -> Result<(), BotError> {
    ctx.bot.send_message(ctx.chat, text).await?;
    Ok(())
}

/// What a `/campaign` word asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Status,
    Act(CampaignAction),
    Export,
    Help,
}

fn verb(word: &str) -> Option<Verb> {
    Some(match word.to_lowercase().as_str() {
        "статус" | "status" | "итоги" => Verb::Status,
        "старт" | "пуск" | "запустить" | "start" | "resume" | "продолжить" => {
            Verb::Act(CampaignAction::Start)
        }
        "пауза" | "pause" => Verb::Act(CampaignAction::Pause),
        "стоп" | "stop" | "остановить" => Verb::Act(CampaignAction::Stop),
        "выгрузка" | "экспорт" | "export" => Verb::Export,
        "помощь" | "help" | "?" => Verb::Help,
        _ => return None,
    })
}

pub async fn campaign(ctx: &Ctx<'_>, args: &str) -> Result<(), BotError> {
    let lang = ctx.lang;
    let words: Vec<&str> = args.split_whitespace().collect();
    let Some(first) = words.first() else {
        return list(ctx).await;
    };
    let Some(v) = verb(first) else {
        return say(ctx, t(lang, "campaign-needs-file")).await;
    };
    if v == Verb::Help {
        return say(ctx, t(lang, "campaign-usage")).await;
    }
    let Some(id) = words
        .get(1)
        .and_then(|w| w.trim_start_matches('#').parse::<i64>().ok())
    else {
        return say(ctx, t(lang, "campaign-bad-id")).await;
    };
    let Some(c) = ctx.deps.store.campaign(id).await? else {
        return say(
            ctx,
            t_args(lang, "campaign-not-found", &[("id", id.into())]),
        )
        .await;
    };
    match v {
        Verb::Status => {
            let counts = ctx.deps.store.campaign_counts(id).await?;
            let contacts = ctx.deps.store.campaign_contacts(id).await?;
            let k = kpis(&contacts, c.scripts.len());
            say(ctx, status(lang, &c, &counts, &k, None)).await
        }
        Verb::Act(action) => act(ctx, &c, action).await,
        Verb::Export => export(ctx, &c).await,
        Verb::Help => Ok(()),
    }
}

async fn list(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let lang = ctx.lang;
    let all = ctx.deps.store.campaigns().await?;
    if all.is_empty() {
        return say(
            ctx,
            format!(
                "{}\n\n{}",
                t(lang, "campaign-none"),
                t(lang, "campaign-usage")
            ),
        )
        .await;
    }
    let mut text = t(lang, "campaign-list-header");
    for c in all.iter().take(LISTED) {
        let counts = ctx.deps.store.campaign_counts(c.id).await?;
        let contacts = ctx.deps.store.campaign_contacts(c.id).await?;
        let reached = kpis(&contacts, c.scripts.len()).reached;
        text.push('\n');
        text.push_str(&list_line(lang, c, &counts, reached));
    }
    text.push_str("\n\n");
    text.push_str(&t(lang, "campaign-usage"));
    say(ctx, text).await
}

async fn act(ctx: &Ctx<'_>, c: &Campaign, action: CampaignAction) -> Result<(), BotError> {
    let lang = ctx.lang;
    let Some(runner) = &ctx.deps.campaigns else {
        return say(ctx, t(lang, "campaign-calls-off")).await;
    };
    tracing::info!(user = ctx.user_id, campaign = c.id, action = %action, "campaign action");
    match runner.act(c.id, action).await? {
        ActionResult::Done(now) => {
            if let Some(chat) = &ctx.deps.campaign_chat {
                chat.redraw(&now, true).await?;
            }
            let key = match action {
                CampaignAction::Start => "campaign-started",
                CampaignAction::Pause => "campaign-paused",
                CampaignAction::Stop => "campaign-stopped",
            };
            say(ctx, t_args(lang, key, &[("id", c.id.into())])).await
        }
        ActionResult::Finished => {
            say(
                ctx,
                t_args(lang, "campaign-finished-already", &[("id", c.id.into())]),
            )
            .await
        }
        ActionResult::NotFound => {
            say(
                ctx,
                t_args(lang, "campaign-not-found", &[("id", c.id.into())]),
            )
            .await
        }
    }
}

async fn export(ctx: &Ctx<'_>, c: &Campaign) -> Result<(), BotError> {
    let lang = ctx.lang;
    let contacts = ctx.deps.store.campaign_contacts(c.id).await?;
    if contacts.is_empty() {
        return say(
            ctx,
            t_args(lang, "campaign-export-empty", &[("id", c.id.into())]),
        )
        .await;
    }
    let bytes = crate::outbound::campaign_export::xlsx(lang, c, &contacts)
        .map_err(|e| BotError::Internal(format!("building the campaign's XLSX: {e}")))?;
    let caption = t_args(
        lang,
        "campaign-export-caption",
        &[
            ("id", c.id.into()),
            ("name", c.name.as_str().into()),
            ("total", contacts.len().into()),
        ],
    );
    ctx.bot
        .send_document(
            ctx.chat,
            InputFile::memory(bytes).file_name(format!("campaign-{}.xlsx", c.id)),
        )
        .caption(caption)
        .await?;
    Ok(())
}

/// Whether `/chart` arguments name a campaign (`campaign 3`, `кампания 3`): then `Some` with its
/// id when given.
pub fn chart_of(args: &str) -> Option<Option<i64>> {
    let mut words = args.split_whitespace();
    let first = words.next()?.to_lowercase();
    matches!(first.as_str(), "campaign" | "кампания").then(|| {
        words
            .next()
            .and_then(|w| w.trim_start_matches('#').parse().ok())
    })
}

/// `/chart campaign ID`: the funnel of the stages its conversations reached and, for an A/B
/// test, the conversion of each variant.
pub async fn chart(ctx: &Ctx<'_>, id: Option<i64>) -> Result<(), BotError> {
    use crate::charts::{Labels, Series};
    let lang = ctx.lang;
    let Some(id) = id else {
        return say(ctx, t(lang, "campaign-bad-id")).await;
    };
    let Some(c) = ctx.deps.store.campaign(id).await? else {
        return say(
            ctx,
            t_args(lang, "campaign-not-found", &[("id", id.into())]),
        )
        .await;
    };
    let contacts = ctx.deps.store.campaign_contacts(id).await?;
    let k = kpis(&contacts, c.scripts.len());
    if k.reached == 0 {
        return say(
            ctx,
            t_args(lang, "campaign-chart-empty", &[("id", id.into())]),
        )
        .await;
    }
    let mut pictures = vec![(
        Series::Bars(
            k.funnel
                .iter()
                .map(|(s, n)| (s.as_str().to_string(), *n as f64))
                .collect(),
        ),
        Labels {
            title: t_args(lang, "campaign-chart-title", &[("id", id.into())]),
            empty: t_args(lang, "campaign-chart-empty", &[("id", id.into())]),
            names: k
                .funnel
                .iter()
                .map(|(s, _)| t(lang, &format!("campaign-stage-{}", s.as_str())))
                .collect(),
        },
    )];
    if k.variants.len() > 1 {
        let bars: Vec<(String, f64)> = k
            .variants
            .iter()
            .map(|v| {
                let share = if v.tally.reached > 0 {
                    v.tally.converted as f64 * 100.0 / v.tally.reached as f64
                } else {
                    0.0
                };
                let script = c.scripts.get(v.index).cloned().unwrap_or_default();
                (
                    format!("{} {script}, %", char::from(b'A' + v.index as u8)),
                    share,
                )
            })
            .collect();
        pictures.push((
            Series::Bars(bars),
            Labels {
                title: t_args(lang, "campaign-chart-ab-title", &[("id", id.into())]),
                empty: t_args(lang, "campaign-chart-empty", &[("id", id.into())]),
                names: Vec::new(),
            },
        ));
    }
    let caption = crate::outbound::campaign_view::ab_lines(lang, &c, &k).join("\n");
    for (series, labels) in pictures {
        let png = tokio::task::spawn_blocking(move || crate::charts::draw(&series, &labels))
            .await
            .map_err(|e| BotError::Internal(e.to_string()))?
            .map_err(|e| BotError::Internal(e.to_string()))?;
        ctx.bot
            .send_photo(
                ctx.chat,
                InputFile::memory(png).file_name(format!("campaign-{id}.png")),
            )
            .caption(caption.clone())
            .await?;
    }
    Ok(())
}

/// What a caption asks for: the name, the scripts, the settings.
#[derive(Debug, Clone, PartialEq)]
struct Caption {
    name: String,
    scripts: Vec<String>,
    options: Vec<(String, String)>,
}

/// Why a caption was refused.
#[derive(Debug, Clone, PartialEq)]
enum CaptionError {
    NoName,
    UnknownScript(String),
}

/// Reads `Склады Q4 logistics_cold realty_cold линии=5`: `key=value` words are settings, known
/// script names are scripts, a word that looks like a script name (`snake_case`) but is none is
/// refused, the rest is the name.
fn caption(args: &str, known: &[String]) -> Result<Caption, CaptionError> {
    let mut c = Caption {
        name: String::new(),
        scripts: Vec::new(),
        options: Vec::new(),
    };
    let mut name = Vec::new();
    for w in args.split_whitespace() {
        if let Some((k, v)) = w.split_once('=') {
            c.options.push((k.to_string(), v.to_string()));
        } else if known.iter().any(|s| s == w) {
            c.scripts.push(w.to_string());
        } else if w.contains('_') && w.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_') {
            return Err(CaptionError::UnknownScript(w.to_string()));
        } else {
            name.push(w);
        }
    }
    c.name = name.join(" ");
    if c.name.is_empty() {
        return Err(CaptionError::NoName);
    }
    Ok(c)
}

/// A file captioned `/campaign …`: the campaign is created from it, paused.
pub async fn file(ctx: &Ctx<'_>, doc: &Document, args: &str) -> Result<(), BotError> {
    let lang = ctx.lang;
    let (Some(runner), Some(defaults)) = (&ctx.deps.campaigns, &ctx.deps.campaign_defaults) else {
        return say(ctx, t(lang, "campaign-calls-off")).await;
    };
    let known = runner.scripts.names();
    let cap = match caption(args, &known) {
        Ok(c) => c,
        Err(CaptionError::NoName) => return say(ctx, t(lang, "campaign-needs-name")).await,
        Err(CaptionError::UnknownScript(s)) => {
            return say(
                ctx,
                t_args(
                    lang,
                    "campaign-unknown-script",
                    &[("script", s.into()), ("known", known.join(", ").into())],
                ),
            )
            .await
        }
    };
    if cap.scripts.len() > MAX_VARIANTS {
        return say(ctx, t(lang, "campaign-too-many-scripts")).await;
    }
    let mut new = NewCampaign {
        name: cap.name.chars().take(100).collect(),
        scripts: if cap.scripts.is_empty() {
            vec![defaults.script.clone()]
        } else {
            cap.scripts
        },
        chat_id: Some(ctx.chat.0),
        created_by: i64::try_from(ctx.user_id).ok(),
        zone: defaults.zone,
        concurrency: defaults.concurrency,
        priority: 0,
        plan: defaults.plan,
    };
    for (k, v) in &cap.options {
        if let Err(e) = apply_option(&mut new, k, v) {
            let why = match e {
                OptionError::Unknown(_) => t(lang, "campaign-usage"),
                OptionError::Bad { why, .. } => why,
            };
            return say(
                ctx,
                t_args(
                    lang,
                    "campaign-bad-option",
                    &[("option", format!("{k}={v}").into()), ("why", why.into())],
                ),
            )
            .await;
        }
    }
    let Some(list) = read_contact_file(ctx, doc).await? else {
        return Ok(());
    };
    let (c, report) = campaign_import::create(ctx.deps.store.as_ref(), &new, &list).await?;
    tracing::info!(
        user = ctx.user_id,
        campaign = c.id,
        contacts = report.added,
        invalid = report.invalid.len(),
        do_not_call = report.do_not_call,
        "campaign created"
    );
    say(ctx, created(lang, &c, &report)).await?;
    show_progress(ctx.deps, &c, lang).await
}

/// Posts the progress message (the one later edited) and remembers it.
async fn show_progress(deps: &BotDeps, c: &Campaign, lang: Lang) -> Result<(), BotError> {
    let Some(chat) = c.chat_id else { return Ok(()) };
    let counts = deps.store.campaign_counts(c.id).await?;
    let contacts = deps.store.campaign_contacts(c.id).await?;
    let text = progress(lang, c, &counts, &kpis(&contacts, c.scripts.len()), None);
    let Some(notifier) = &deps.notifier else {
        return Ok(());
    };
    let id = notifier
        .send_message(
            chat,
            &text,
            TextFormat::Plain,
            keyboard(lang, c).as_ref(),
            None,
        )
        .await
        .map_err(|e| BotError::Internal(e.to_string()))?;
    deps.store.set_campaign_message(c.id, id).await?;
    Ok(())
}

/// ▶ ⏸ ⏹ under a campaign's progress message (managers only; only under its own message).
pub async fn on_press(
    bot: Bot,
    q: CallbackQuery,
    data: CallbackData,
    pressed: Pressed,
    access: Access,
    deps: Arc<BotDeps>,
) -> Result<(), BotError> {
    let lang = Lang::from_code(q.from.language_code.as_deref());
    if !allowed(
        &bot,
        &q,
        access,
        Role::Manager,
        role_required(lang, Role::Manager),
    )
    .await?
    {
        return Ok(());
    }
    let CallbackData::Campaign { id, action } = data else {
        return Ok(());
    };
    bot.answer_callback_query(q.id.clone()).await?;
    let Some(c) = deps.store.campaign(id).await? else {
        return Ok(());
    };
    // Buttons can be forged: only the campaign's own progress message steers it.
    if c.chat_id != Some(pressed.chat.0) || c.status_message_id != Some(pressed.message.0) {
        tracing::warn!(
            user = q.from.id.0,
            campaign = id,
            "campaign button refused: not its message"
        );
        return Ok(());
    }
    let Some(runner) = &deps.campaigns else {
        return Ok(());
    };
    tracing::info!(user = q.from.id.0, campaign = id, action = %action, "campaign button");
    if let ActionResult::Done(now) = runner.act(id, action).await? {
        if let Some(chat) = &deps.campaign_chat {
            chat.redraw(&now, true).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_as_managers_write_them() {
        let known = vec!["realty_cold".to_string(), "logistics_cold".to_string()];
        assert_eq!(
            caption(
                "Склады Q4 logistics_cold realty_cold линии=5 окно=10:00-19:00",
                &known
            ),
            Ok(Caption {
                name: "Склады Q4".into(),
                scripts: vec!["logistics_cold".into(), "realty_cold".into()],
                options: vec![
                    ("линии".into(), "5".into()),
                    ("окно".into(), "10:00-19:00".into())
                ],
            })
        );
        assert_eq!(
            caption("Весна logistic_cold", &known),
            Err(CaptionError::UnknownScript("logistic_cold".into()))
        );
        assert_eq!(caption("linii=5", &known), Err(CaptionError::NoName));
        assert_eq!(caption("", &known), Err(CaptionError::NoName));
        assert_eq!(verb("Статус"), Some(Verb::Status));
        assert_eq!(verb("пауза"), Some(Verb::Act(CampaignAction::Pause)));
        assert_eq!(verb("EXPORT"), Some(Verb::Export));
        assert_eq!(verb("склады"), None);
        assert_eq!(chart_of("campaign 3"), Some(Some(3)));
        assert_eq!(chart_of("Кампания #4"), Some(Some(4)));
        assert_eq!(chart_of("кампания"), Some(None));
        assert_eq!(chart_of("funnel week"), None);
    }
}
