//! `callops analyze FILE...`: runs local recordings through the same transcription and analysis as
//! PBX calls, stores them (provider `local`), prints each protocol, and with `--post` posts it.

use crate::speech::audio::AudioLimits;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use md5::{Digest, Md5};

use crate::analysis::analyze::analyse;
use crate::analysis::pipeline::PipelineDeps;
use crate::analysis::queue::post_key;
use crate::analysis::results::{record_tokens, save_analysed};
use crate::analysis::transcribe::transcribe;
use crate::analysis::view::{feedback_keyboard, render_current};
use crate::config::Config;
use crate::domain::CallOrigin;
use crate::domain::Endpoint;
use crate::domain::PostKind;
use crate::domain::{CallStatus, Direction, NewCall};
use crate::notify::{
    post_once, send_document_once, ChatPacer, DocumentRequest, PostRequest, TelegramNotifier,
    TextFormat,
};

/// Turns the protocol's Telegram HTML into terminal text.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn analyze_one(
    deps: &Arc<PipelineDeps>,
    cfg: &Config,
    file: &PathBuf,
    profile: Option<&str>,
    post: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let digest = hex::encode(Md5::digest(&bytes));
    let transcript = transcribe(
        deps.stt.as_ref(),
        bytes,
        ext.as_deref(),
        &deps.settings.channel_roles,
        AudioLimits::absolute(deps.settings.max_recording),
    )
    .await
    .with_context(|| format!("{}", file.display()))?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("audio");
    let store = &deps.store;
    let (call, _) = store
        .insert_call(&NewCall {
            provider: CallOrigin::LocalFile.provider().unwrap_or("local").into(),
            provider_call_id: format!("{name}:{digest}"),
            direction: Direction::Incoming,
            caller: Endpoint::Other(String::new()),
            called: Endpoint::Other(String::new()),
            started_at: Utc::now(),
            duration_secs: transcript.duration_ms / 1000,
            recording_ref: Some(file.display().to_string()),
            operator: None,
        })
        .await?;
    store
        .replace_utterances(call.id, &transcript.utterances)
        .await?;
    let profile_name = profile
        .map(str::to_string)
        .unwrap_or_else(|| deps.settings.default_profile.clone());
    let profile = deps.profiles.get(&profile_name).with_context(|| {
        format!(
            "unknown profile {profile_name:?}; known: {}",
            deps.profiles.names().join(", ")
        )
    })?;
    let analysed = analyse(
        &deps.llm,
        profile,
        &transcript.utterances,
        transcript.mono,
        "",
    )
    .await;
    let replies = match &analysed {
        Ok(a) => a.replies.clone(),
        Err(f) => f.replies.clone(),
    };
    record_tokens(store.as_ref(), call.id, "analysis", &replies).await;
    let analysed = match analysed {
        Ok(a) => a,
        Err(f) => {
            store
                .set_call_status(call.id, CallStatus::Failed, Some(&f.reason))
                .await?;
            anyhow::bail!("{}: analysis failed: {}", file.display(), f.reason);
        }
    };
    let analysis_id = save_analysed(deps, call.id, profile, &analysed.result, &replies).await?;
    let Some((rendered, _)) = render_current(&deps.views, call.id, deps.settings.lang).await?
    else {
        anyhow::bail!("the stored analysis could not be rendered");
    };
    println!("{}\n", html_to_text(&rendered.text));
    if rendered.transcript_file.is_some() {
        println!(
            "{}\n",
            crate::analysis::protocol::transcript_lines(deps.settings.lang, &transcript.utterances)
                .join("\n")
        );
    }
    if post {
        let (Some(token), Some(chat)) = (&cfg.telegram.bot_token, cfg.telegram.chat_id) else {
            anyhow::bail!("--post needs TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID");
        };
        let url = reqwest::Url::parse(&cfg.telegram.api_url)?;
        let bot = teloxide::Bot::new(token.expose()).set_api_url(url);
        let pacer = Arc::new(ChatPacer::new(
            std::time::Duration::from_millis(cfg.telegram.chat_interval_ms),
            std::time::Duration::from_millis(cfg.telegram.group_interval_ms),
        ));
        let notifier = TelegramNotifier::new(bot, pacer, token.expose());
        let key = post_key(call.id, analysis_id);
        let req = PostRequest {
            post_key: key.clone(),
            chat_id: chat,
            text: rendered.text,
            format: TextFormat::Html,
            call_id: Some(call.id),
            kind: PostKind::Protocol,
            keyboard: Some(feedback_keyboard(
                deps.settings.lang,
                call.id,
                call.recording_ref.is_some(),
            )),
            reply_to: None,
            silent: false,
            topic: None,
        };
        post_once(store.as_ref(), &notifier, &req, None).await?;
        store.mark_posted(call.id).await?;
        if let Some(f) = rendered.transcript_file {
            let doc = DocumentRequest {
                post_key: format!("{key}:transcript"),
                call_id: Some(call.id),
                chat_id: chat,
                file_name: format!("call-{}.txt", call.id),
                bytes: f,
                caption: name.to_string(),
            };
            send_document_once(store.as_ref(), &notifier, doc, None).await?;
        }
        println!("posted to chat {chat}");
    }
    Ok(())
}

/// Runs the command; returns how many files failed.
pub async fn run(
    cfg: &Config,
    files: &[PathBuf],
    profile: Option<&str>,
    post: bool,
) -> anyhow::Result<usize> {
    let store = crate::app::open_store(cfg).await?;
    let deps = crate::app::build_pipeline(
        cfg,
        store.clone(),
        Default::default(),
        Arc::new(tokio::sync::Notify::new()),
        &crate::app::Speech::new(cfg),
    )?
    .context("OPENAI_API_KEY is not set: analysis needs an OpenAI-compatible endpoint")?;
    let mut failed = 0;
    for file in files {
        if let Err(e) = analyze_one(&deps, cfg, file, profile, post).await {
            eprintln!("callops analyze: {e:#}");
            failed += 1;
        }
    }
    store.close().await;
    Ok(failed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            super::html_to_text("<b>Агентство:</b> A &amp; B &lt;3"),
            "Агентство: A & B <3"
        );
    }
}
