//! `callops check`: validates the configuration and reaches every configured service.

use std::time::Duration;

use crate::config::Config;
use crate::store;

/// One line of the check table.
#[derive(Debug, Clone)]
pub struct CheckRow {
    pub service: &'static str,
    /// `None` when the service is not configured.
    pub ok: Option<bool>,
    pub detail: String,
}

/// Runs every check (each with a timeout).
pub async fn run_checks(cfg: &Config) -> Vec<CheckRow> {
    let timeout = Duration::from_secs(10);
    let mut rows = Vec::new();

    let db = tokio::time::timeout(timeout, async {
        let s = store::connect(&cfg.service.database_url).await?;
        s.ping().await?;
        s.migrate().await?;
        Ok::<_, store::StoreError>(s.backend())
    })
    .await;
    rows.push(match db {
        Ok(Ok(backend)) => row(
            "database",
            true,
            format!(
                "{backend:?} at {}, migrations applied",
                store::redact_url(&cfg.service.database_url)
            ),
        ),
        Ok(Err(e)) => row("database", false, e.to_string()),
        Err(_) => row("database", false, "timed out".into()),
    });

    let client = crate::http::client_builder().timeout(timeout).build();
    let Ok(client) = client else {
        rows.push(row(
            "http client",
            false,
            "cannot build an HTTP client".into(),
        ));
        return rows;
    };

    let me = match &cfg.telegram.bot_token {
        None => {
            rows.push(not_configured("telegram", "TELEGRAM_BOT_TOKEN"));
            None
        }
        Some(token) => {
            match bot_api(&client, cfg, token.expose(), "getMe", serde_json::json!({})).await {
                Ok(me) => {
                    let name = me["username"].as_str().unwrap_or("?");
                    rows.push(row("telegram", true, format!("@{name}")));
                    Some(me)
                }
                Err(e) => {
                    rows.push(row("telegram", false, e));
                    None
                }
            }
        }
    };

    rows.push(match &cfg.openai.api_key {
        None => not_configured("llm", "OPENAI_API_KEY"),
        Some(key) => {
            let url = format!("{}/models", cfg.openai.base_url);
            match client.get(&url).bearer_auth(key.expose()).send().await {
                Ok(resp) if resp.status().is_success() => {
                    let body: serde_json::Value = resp.json().await.unwrap_or_default();
                    let ids: Vec<&str> = body["data"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect())
                        .unwrap_or_default();
                    let has = ids.contains(&cfg.openai.llm_model.as_str());
                    row(
                        "llm",
                        true,
                        format!(
                            "{} models at {}; {} {}",
                            ids.len(),
                            cfg.openai.base_url,
                            cfg.openai.llm_model,
                            if has { "available" } else { "not listed" }
                        ),
                    )
                }
                Ok(resp) if matches!(resp.status().as_u16(), 404 | 405 | 501) => CheckRow {
                    service: "llm",
                    ok: None,
                    detail: format!(
                        "{} has no /models (a proxy?): not verified; the first call will tell",
                        cfg.openai.base_url
                    ),
                },
                Ok(resp) => row(
                    "llm",
                    false,
                    format!(
                        "HTTP {} from {}: check OPENAI_API_KEY and OPENAI_BASE_URL",
                        resp.status(),
                        cfg.openai.base_url
                    ),
                ),
                Err(e) => row("llm", false, e.without_url().to_string()),
            }
        }
    });

    if cfg.speech.uses(crate::speech::SpeechVendor::Salute) {
        rows.push(salute(cfg, timeout).await);
    }
    if cfg.speech.uses(crate::speech::SpeechVendor::ElevenLabs) {
        rows.push(elevenlabs(cfg, &client).await);
    }
    if cfg.openai.api_key.is_some() && cfg.speech.uses(crate::speech::SpeechVendor::OpenAi) {
        rows.push(CheckRow {
            service: "stt/tts",
            ok: None,
            detail: format!(
                "{} and {} at {} (same key and endpoint as the LLM)",
                cfg.openai.stt_model, cfg.openai.tts_model, cfg.openai.base_url
            ),
        });
    }
    if let Some(token) = &cfg.telegram.bot_token {
        rows.push(team_chat(cfg, &client, token.expose(), me.as_ref()).await);
        if cfg.telegram.webhook_url.is_some() {
            rows.push(webhook(cfg, &client, token.expose()).await);
        }
    }
    rows.extend(pbx(cfg, timeout).await);
    rows.push(sheets(cfg, timeout).await);
    rows.push(sip_trunk(cfg, timeout).await);
    rows
}

/// SaluteSpeech: a token for the configured key and scope (the API itself takes audio, so the
/// token is what can be checked without spending any).
async fn salute(cfg: &Config, timeout: Duration) -> CheckRow {
    let s = &cfg.speech;
    let Some(key) = &s.salute_auth_key else {
        return not_configured("salute", "SALUTE_AUTH_KEY");
    };
    let client = crate::speech::salute::SaluteClient::new(crate::speech::salute::SaluteConfig {
        auth_url: s.salute_auth_url.clone(),
        api_url: s.salute_api_url.clone(),
        auth_key: key.expose().to_string(),
        scope: s.salute_scope.clone(),
        backoff: Duration::from_millis(200),
    });
    match tokio::time::timeout(timeout, client.token()).await {
        Ok(Ok(_)) => row(
            "salute",
            true,
            format!("token for {} from {}", s.salute_scope, s.salute_auth_url),
        ),
        Ok(Err(e)) => {
            let text = redact(e.to_string(), key.expose());
            let fix = if text.contains("certificate") || text.contains("UnknownIssuer") {
                " (set EXTRA_CA_CERTS to the Russian Trusted Root CA)"
            } else {
                ""
            };
            row("salute", false, format!("{text}{fix}"))
        }
        Err(_) => row("salute", false, format!("{} timed out", s.salute_auth_url)),
    }
}

/// ElevenLabs: the key's account (`GET /v1/user`), through the configured base URL (a proxy
/// abroad from Russia). Spends no characters.
async fn elevenlabs(cfg: &Config, client: &reqwest::Client) -> CheckRow {
    let s = &cfg.speech;
    let Some(key) = &s.elevenlabs_api_key else {
        return not_configured("elevenlabs", "ELEVENLABS_API_KEY");
    };
    let url = format!("{}/v1/user", s.elevenlabs_api_url.trim_end_matches('/'));
    match client.get(&url).header("xi-api-key", key.expose()).send().await {
        Ok(resp) if resp.status().is_success() => row(
            "elevenlabs",
            true,
            format!("key accepted at {}", s.elevenlabs_api_url),
        ),
        Ok(resp) if matches!(resp.status().as_u16(), 401 | 403) => row(
            "elevenlabs",
            false,
            format!(
                "HTTP {} from {}: check ELEVENLABS_API_KEY (ElevenLabs answers 403 to Russian addresses: use a proxy in ELEVENLABS_API_URL)",
                resp.status(),
                s.elevenlabs_api_url
            ),
        ),
        Ok(resp) if matches!(resp.status().as_u16(), 404 | 405 | 501) => CheckRow {
            service: "elevenlabs",
            ok: None,
            detail: format!(
                "{} has no /v1/user (a proxy?): not verified; the first call will tell",
                s.elevenlabs_api_url
            ),
        },
        Ok(resp) => row(
            "elevenlabs",
            false,
            format!("HTTP {} from {}", resp.status(), s.elevenlabs_api_url),
        ),
        Err(e) => row(
            "elevenlabs",
            false,
            format!(
                "{} unreachable ({}): ElevenLabs blocks Russia, set ELEVENLABS_API_URL to a proxy abroad",
                s.elevenlabs_api_url,
                e.without_url()
            ),
        ),
    }
}

/// A Bot API method's `result`, or its description as the error.
async fn bot_api(
    client: &reqwest::Client,
    cfg: &Config,
    token: &str,
    method: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let url = format!("{}/bot{token}/{method}", cfg.telegram.api_url);
    let resp = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| redact(e.without_url().to_string(), token))?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if body["ok"].as_bool() == Some(true) {
        Ok(body["result"].clone())
    } else {
        Err(format!(
            "HTTP {status}: {}",
            body["description"].as_str().unwrap_or("no description")
        ))
    }
}

/// That the bot is in the team chat and may post there.
async fn team_chat(
    cfg: &Config,
    client: &reqwest::Client,
    token: &str,
    me: Option<&serde_json::Value>,
) -> CheckRow {
    const NAME: &str = "team chat";
    let Some(chat) = cfg.telegram.chat_id else {
        return not_configured(NAME, "TELEGRAM_CHAT_ID");
    };
    let Some(me) = me else {
        return row(
            NAME,
            false,
            "not checked: the bot token does not work (see telegram)".into(),
        );
    };
    let member = bot_api(
        client,
        cfg,
        token,
        "getChatMember",
        serde_json::json!({ "chat_id": chat, "user_id": me["id"] }),
    )
    .await;
    match member {
        Ok(m) => {
            let status = m["status"].as_str().unwrap_or("?");
            let may_post = match status {
                "creator" | "administrator" => m["can_post_messages"].as_bool() != Some(false),
                "member" => true,
                "restricted" => m["can_send_messages"].as_bool() == Some(true),
                _ => false,
            };
            if may_post {
                row(
                    NAME,
                    true,
                    format!("{chat}: the bot is {status} and may post"),
                )
            } else {
                row(
                    NAME,
                    false,
                    format!("{chat}: the bot is {status} and may not post: add it to the chat and let it send messages"),
                )
            }
        }
        Err(e) => row(
            NAME,
            false,
            format!("{chat}: {e}: add the bot to the chat, then send /start there"),
        ),
    }
}

/// In webhook mode, what Telegram last reported about delivering to us.
async fn webhook(cfg: &Config, client: &reqwest::Client, token: &str) -> CheckRow {
    const NAME: &str = "webhook";
    match bot_api(client, cfg, token, "getWebhookInfo", serde_json::json!({})).await {
        Ok(info) => match info["last_error_message"].as_str() {
            Some(err) if !err.is_empty() => row(
                NAME,
                false,
                format!(
                    "Telegram's last delivery failed: {err} ({} updates pending): check that TELEGRAM_WEBHOOK_URL reaches this server over HTTPS",
                    info["pending_update_count"].as_i64().unwrap_or(0)
                ),
            ),
            _ => row(
                NAME,
                true,
                format!(
                    "{} ({} updates pending)",
                    info["url"].as_str().filter(|u| !u.is_empty()).unwrap_or("not set yet: `callops run` sets it"),
                    info["pending_update_count"].as_i64().unwrap_or(0)
                ),
            ),
        },
        Err(e) => row(NAME, false, format!("getWebhookInfo: {e}")),
    }
}

/// Each configured PBX: one statistics request over the last hour, with its credentials.
async fn pbx(cfg: &Config, timeout: Duration) -> Vec<CheckRow> {
    let sources = crate::app::call_sources(cfg);
    if sources.is_empty() {
        return vec![not_configured(
            "pbx",
            "NOVOFON_API_KEY/NOVOFON_API_SECRET, NOVOFON_ACCESS_TOKEN, ZADARMA_API_KEY/ZADARMA_API_SECRET, MANGO_API_KEY/MANGO_API_SALT or TBANK_LOGIN/TBANK_PASSWORD",
        )];
    }
    let mut rows = Vec::new();
    for (name, source) in sources {
        let to = chrono::Utc::now();
        let from = to - chrono::Duration::hours(1);
        let result = tokio::time::timeout(timeout, source.list_calls(from, to)).await;
        rows.push(match result {
            Ok(Ok(calls)) => row(
                "pbx",
                true,
                format!("{name}: {} calls in the last hour", calls.len()),
            ),
            Ok(Err(e)) => row(
                "pbx",
                false,
                format!("{name}: {e}: check the API key and secret in the PBX's settings"),
            ),
            Err(_) => row(
                "pbx",
                false,
                format!("{name}: no answer: check its API URL"),
            ),
        });
    }
    rows
}

/// Google Sheets: the service account's token, then the criteria Sheet read (or the results
/// Sheet's first cell).
async fn sheets(cfg: &Config, timeout: Duration) -> CheckRow {
    const NAME: &str = "sheets";
    let a = &cfg.analysis;
    let target = a
        .sheets_criteria_id
        .as_ref()
        .map(|id| (id, a.sheets_criteria_range.as_str(), true))
        .or_else(|| a.sheets_results_id.as_ref().map(|id| (id, "A1", false)));
    let Some((id, range, criteria)) = target else {
        return not_configured(NAME, "SHEETS_CRITERIA_ID / SHEETS_RESULTS_ID");
    };
    let Some(file) = &a.google_service_account_file else {
        return row(
            NAME,
            false,
            "GOOGLE_SERVICE_ACCOUNT_FILE is not set: the Sheets need a service account key".into(),
        );
    };
    let account = match crate::sheets::ServiceAccount::from_file(file) {
        Ok(a) => a,
        Err(e) => return row(NAME, false, e.to_string()),
    };
    let email = account.client_email.clone();
    let policy = crate::retry::RetryPolicy::new(Duration::from_millis(200), 2);
    let tokens = std::sync::Arc::new(crate::sheets::TokenSource::new(account, policy));
    let client = crate::sheets::SheetsClient::new(&a.sheets_api_url, tokens, policy);
    match tokio::time::timeout(timeout, client.values(id, range)).await {
        Ok(Ok(rows)) if criteria => match crate::domain::Checklist::from_rows(&rows) {
            Ok(c) => row(
                NAME,
                true,
                format!("{} criteria read as {email}", c.criteria.len()),
            ),
            Err(e) => row(
                NAME,
                false,
                format!("the criteria Sheet is not a checklist: {e}"),
            ),
        },
        Ok(Ok(_)) => row(
            NAME,
            true,
            format!("the results Sheet is reachable as {email}"),
        ),
        Ok(Err(e)) => row(NAME, false, format!("{e}: share the Sheet with {email}")),
        Err(_) => row(NAME, false, "no answer: check SHEETS_API_URL".into()),
    }
}

/// Registers with the SIP trunk (and unregisters at once) from a port of its own, so a running
/// instance is not disturbed.
async fn sip_trunk(cfg: &Config, timeout: Duration) -> CheckRow {
    const NAME: &str = "sip trunk";
    let Some(server) = cfg.sip.server.clone() else {
        return not_configured(NAME, "SIP_SERVER");
    };
    if !cfg.sip.register {
        return CheckRow {
            service: NAME,
            ok: None,
            detail: format!(
                "{server}: not checked (SIP_REGISTER=false, the trunk authenticates by IP)"
            ),
        };
    }
    let mut sip = crate::telephony::sip::SipConfig::from_settings(&cfg.sip, server.clone());
    // A port of its own, so a running instance is not disturbed.
    sip.bind.set_port(0);
    let stop = tokio_util::sync::CancellationToken::new();
    let sip = crate::telephony::sip::SipTrunk::start(sip, stop.clone()).await;
    let sip = match sip {
        Ok(s) => s,
        Err(e) => return row(NAME, false, format!("cannot start SIP: {e}")),
    };
    let result = tokio::time::timeout(timeout, sip.register(60)).await;
    let out = match result {
        Ok(Ok(granted)) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), sip.register(0)).await;
            row(
                NAME,
                true,
                format!("registered at {server} (granted {granted} s), then unregistered"),
            )
        }
        Ok(Err(crate::telephony::sip::InviteError::Refused(code @ (401 | 403 | 407)))) => row(
            NAME,
            false,
            format!("{server} refused REGISTER ({code}): check SIP_USERNAME and SIP_PASSWORD"),
        ),
        Ok(Err(e)) => row(NAME, false, format!("{server}: {e}")),
        Err(_) => row(
            NAME,
            false,
            format!("no answer from {server}: check SIP_SERVER and that UDP to it is allowed"),
        ),
    };
    stop.cancel();
    out
}

fn row(service: &'static str, ok: bool, detail: String) -> CheckRow {
    CheckRow {
        service,
        ok: Some(ok),
        detail,
    }
}

fn not_configured(service: &'static str, var: &str) -> CheckRow {
    CheckRow {
        service,
        ok: None,
        detail: format!("not configured ({var} is not set)"),
    }
}

fn redact(s: String, secret: &str) -> String {
    s.replace(secret, "***")
}

/// The table as printed by `callops check`.
pub fn render(rows: &[CheckRow]) -> String {
    let mut out = format!("{:<12} {:<8} {}\n", "SERVICE", "STATUS", "DETAIL");
    for r in rows {
        let status = match r.ok {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "-",
        };
        out.push_str(&format!("{:<12} {:<8} {}\n", r.service, status, r.detail));
    }
    out
}
