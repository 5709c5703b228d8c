//! Configuration: defaults, then an optional `callops.toml`, then environment variables
//! (a `.env` file is loaded into the environment first). Each setting is declared once, in
//! `sections` (name, default, parser, doc line); the README's table is generated from there. Secrets live in [`Secret`], whose
//! `Debug` and `Display` never show the value.

mod sections;
pub(crate) mod setting;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use sections::{
    AgentSettings, AnalysisSettings, NumberFormat, OpenAiSettings, OutboundCallSettings,
    PbxSettings, ServiceSettings, SipSettings, SipTransport, SpeechSettings, SpeechUse,
    TelegramSettings,
};
pub use setting::Setting;

/// A secret string: printed as `***` by `Debug` and `Display`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret value; call only where it goes on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// The whole configuration of one callops process, by section.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceSettings,
    pub telegram: TelegramSettings,
    pub openai: OpenAiSettings,
    pub speech: SpeechSettings,
    pub pbx: PbxSettings,
    pub analysis: AnalysisSettings,
    pub agent: AgentSettings,
    pub sip: SipSettings,
    pub outbound: OutboundCallSettings,
}

/// Every setting, section by section.
pub fn settings() -> impl Iterator<Item = &'static Setting> {
    [
        ServiceSettings::SETTINGS,
        TelegramSettings::SETTINGS,
        OpenAiSettings::SETTINGS,
        SpeechSettings::SETTINGS,
        PbxSettings::SETTINGS,
        AnalysisSettings::SETTINGS,
        AgentSettings::SETTINGS,
        SipSettings::SETTINGS,
        OutboundCallSettings::SETTINGS,
    ]
    .into_iter()
    .flatten()
}

/// The names read from the environment (and, lower-cased, from `callops.toml`).
pub fn variables() -> impl Iterator<Item = &'static str> {
    settings().map(|s| s.name)
}

/// The settings as a Markdown table, section by section (the README's, `callops settings`).
pub fn settings_table() -> String {
    let mut out = String::from("| variable | default | meaning |\n|---|---|---|\n");
    let mut section = "";
    for s in settings() {
        if s.section != section {
            section = s.section;
            out.push_str(&format!("| **{section}** | | |\n"));
        }
        let default = if s.default.is_empty() {
            "—".to_string()
        } else {
            format!("`{}`", s.default)
        };
        out.push_str(&format!("| `{}` | {default} | {} |\n", s.name, s.doc));
    }
    out
}

/// What the process is about to do: decides which settings are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `callops run`: the bot needs its token.
    Run,
    /// `callops migrate`, `callops check`, `callops bench`: nothing beyond defaults.
    Tooling,
}

/// Everything that can be wrong with the configuration, listed at once.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{}", render_problems(.missing, .invalid))]
    Invalid {
        missing: Vec<&'static str>,
        invalid: Vec<String>,
    },
}

fn render_problems(missing: &[&'static str], invalid: &[String]) -> String {
    let mut out = String::new();
    if !missing.is_empty() {
        out.push_str("missing required settings: ");
        out.push_str(&missing.join(", "));
        out.push_str(
            "\n  set them in the environment, in .env (see .env.example), or in callops.toml (lower-case keys)",
        );
    }
    for problem in invalid {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("invalid setting: ");
        out.push_str(problem);
    }
    out
}

impl Config {
    /// Loads `.env`, the optional TOML file and the process environment.
    pub fn load(config_file: Option<&Path>, purpose: Purpose) -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let mut values = BTreeMap::new();
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("CALLOPS_CONFIG").map(PathBuf::from))
            .or_else(|| {
                let p = PathBuf::from("callops.toml");
                p.exists().then_some(p)
            });
        if let Some(path) = file {
            values.extend(read_toml(&path)?);
        }
        for name in variables() {
            if let Ok(v) = std::env::var(name) {
                values.insert(name.to_string(), v);
            }
        }
        Self::from_values(&values, purpose)
    }

    /// Builds a config from flat `NAME -> value` pairs over the defaults.
    pub fn from_values(
        values: &BTreeMap<String, String>,
        purpose: Purpose,
    ) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            values
                .get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut invalid = Vec::new();
        let service = ServiceSettings::read(&get, &mut invalid);
        let telegram = TelegramSettings::read(&get, &mut invalid);
        let openai = OpenAiSettings::read(&get, &mut invalid);
        let speech = SpeechSettings::read(&get, &mut invalid);
        let pbx = PbxSettings::read(&get, &mut invalid);
        let analysis = AnalysisSettings::read(&get, &mut invalid);
        let agent = AgentSettings::read(&get, &mut invalid);
        let sip = SipSettings::read(&get, &mut invalid);
        let outbound = OutboundCallSettings::read(&get, &mut invalid);
        let mut missing = Vec::new();
        if purpose == Purpose::Run && get("TELEGRAM_BOT_TOKEN").is_none() {
            missing.push("TELEGRAM_BOT_TOKEN");
        }
        if let Some(s) = &speech {
            invalid.extend(s.problems());
        }
        if let Some(s) = &sip {
            if s.rtp_port_min >= s.rtp_port_max {
                invalid.push("RTP_PORT_MIN must be below RTP_PORT_MAX".into());
            }
            if s.server.is_some() && s.register && s.username.is_none() {
                invalid.push(
                    "SIP_USERNAME is needed to register with SIP_SERVER (or set SIP_REGISTER=false)"
                        .into(),
                );
            }
        }
        match (
            service, telegram, openai, speech, pbx, analysis, agent, sip, outbound,
        ) {
            (
                Some(service),
                Some(telegram),
                Some(openai),
                Some(speech),
                Some(pbx),
                Some(analysis),
                Some(agent),
                Some(sip),
                Some(outbound),
            ) if missing.is_empty() && invalid.is_empty() => Ok(Config {
                service,
                telegram,
                openai,
                speech,
                pbx,
                analysis,
                agent,
                sip,
                outbound,
            }),
            _ => Err(ConfigError::Invalid { missing, invalid }),
        }
    }
}

/// Reads a flat TOML file; keys are the variable names in any case.
fn read_toml(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Toml {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let text = match value {
            toml::Value::String(s) => s,
            // `[[departments]]` and other arrays of tables: kept as JSON for their setting.
            toml::Value::Array(items)
                if !items.is_empty() && items.iter().all(toml::Value::is_table) =>
            {
                serde_json::to_string(&items).map_err(|e| ConfigError::Toml {
                    path: path.to_path_buf(),
                    message: format!("{key}: {e}"),
                })?
            }
            toml::Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        out.insert(key.to_ascii_uppercase(), text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Speaker;
    use crate::llm::JsonMode;

    fn vals(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn run_without_token_names_it() {
        let err = Config::from_values(&vals(&[]), Purpose::Run).unwrap_err();
        assert!(err.to_string().contains("TELEGRAM_BOT_TOKEN"), "{err}");
    }

    #[test]
    fn tooling_needs_no_token_and_defaults_hold() {
        let cfg = Config::from_values(&vals(&[]), Purpose::Tooling).unwrap();
        assert_eq!(cfg.service.database_url, "sqlite://callops.db");
        assert_eq!(cfg.service.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.openai.llm_model, "gpt-4o");
        assert_eq!(cfg.openai.stt_model, "whisper-1");
    }

    #[test]
    fn all_problems_are_listed_together() {
        let err = Config::from_values(
            &vals(&[
                ("HTTP_ADDR", "nope"),
                ("TELEGRAM_ADMINS", "1, x"),
                ("LOG_FORMAT", "xml"),
            ]),
            Purpose::Run,
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "TELEGRAM_BOT_TOKEN",
            "HTTP_ADDR",
            "TELEGRAM_ADMINS",
            "LOG_FORMAT",
        ] {
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let cfg = Config::from_values(
            &vals(&[
                ("TELEGRAM_BOT_TOKEN", "123:SECRETTOKEN"),
                ("API_KEY", "k-very-secret"),
                ("OPENAI_API_KEY", "sk-abc"),
            ]),
            Purpose::Run,
        )
        .unwrap();
        let dbg = format!("{cfg:?}");
        assert!(
            !dbg.contains("SECRETTOKEN")
                && !dbg.contains("k-very-secret")
                && !dbg.contains("sk-abc"),
            "{dbg}"
        );
        assert_eq!(
            cfg.telegram.bot_token.as_ref().unwrap().expose(),
            "123:SECRETTOKEN"
        );
    }

    #[test]
    fn pipeline_settings_parse() {
        let cfg = Config::from_values(
            &vals(&[
                ("NOVOFON_NUMBERS", "8 (495) 123-45-67, +7 916 000-00-01"),
                ("PROFILE_BY_NUMBER", "74951234567=qa_checklist"),
                ("CHAT_BY_NUMBER", "+79160000001=-1005"),
                ("CHANNEL_ROLES", "Client, Manager"),
                ("LLM_JSON_MODE", "json_object"),
                ("NOVOFON_TIMEZONE", "Asia/Yekaterinburg"),
            ]),
            Purpose::Tooling,
        )
        .unwrap();
        assert_eq!(
            cfg.pbx
                .novofon_numbers
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>(),
            ["+74951234567", "+79160000001"]
        );
        assert_eq!(cfg.analysis.profile_by_number[0].1, "qa_checklist");
        assert_eq!(cfg.analysis.chat_by_number[0].1, -1005);
        assert_eq!(
            cfg.analysis.channel_roles,
            [Speaker::Client, Speaker::Manager]
        );
        assert_eq!(cfg.openai.json_mode, JsonMode::JsonObject);
        assert_eq!(cfg.pbx.novofon_timezone, chrono_tz::Asia::Yekaterinburg);
        let err = Config::from_values(
            &vals(&[("NOVOFON_NUMBERS", "abc"), ("TIMEZONE", "Mars/Base")]),
            Purpose::Tooling,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("NOVOFON_NUMBERS") && err.contains("TIMEZONE"),
            "{err}"
        );
    }

    #[test]
    fn admins_and_chat_parse() {
        let cfg = Config::from_values(
            &vals(&[
                ("TELEGRAM_ADMINS", "11, 22,"),
                ("TELEGRAM_CHAT_ID", "-1001"),
                ("TELEGRAM_API_URL", "http://127.0.0.1:9/"),
            ]),
            Purpose::Tooling,
        )
        .unwrap();
        assert_eq!(cfg.telegram.admins, vec![11, 22]);
        assert_eq!(cfg.telegram.chat_id, Some(-1001));
        assert_eq!(cfg.telegram.api_url, "http://127.0.0.1:9");
    }

    #[test]
    fn toml_file_is_read_and_env_style_keys_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callops.toml");
        std::fs::write(
            &path,
            "database_url = \"sqlite://x.db\"\ntelegram_admins = [1, 2]\nworker_concurrency = 3\n",
        )
        .unwrap();
        let values = read_toml(&path).unwrap();
        let cfg = Config::from_values(&values, Purpose::Tooling).unwrap();
        assert_eq!(cfg.service.database_url, "sqlite://x.db");
        assert_eq!(cfg.telegram.admins, vec![1, 2]);
        assert_eq!(cfg.service.worker_concurrency, 3);
    }

    #[test]
    fn departments_come_from_toml_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callops.toml");
        std::fs::write(
            &path,
            r#"
profile = "realty_lead"

[[departments]]
name = "Продажи"
numbers = ["+7 (495) 123-45-67"]
chat = -1001
operators = { "101" = "Анна", "102" = "Игорь" }

[[departments]]
name = "Контроль качества"
profile = "qa_checklist"
operators = { "op-7" = "Ольга" }
"#,
        )
        .unwrap();
        let values = read_toml(&path).unwrap();
        let cfg = Config::from_values(&values, Purpose::Tooling).unwrap();
        let d = cfg.analysis.departments.list();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "Продажи");
        assert_eq!(d[0].chat, Some(-1001));
        assert_eq!(d[0].operators["101"], "Анна");
        assert_eq!(d[1].profile.as_deref(), Some("qa_checklist"));
        let bad = Config::from_values(
            &vals(&[("DEPARTMENTS", r#"[{"name": "Склад", "numbers": ["abc"]}]"#)]),
            Purpose::Tooling,
        )
        .unwrap_err();
        assert!(bad.to_string().contains("DEPARTMENTS"), "{bad}");
    }

    #[test]
    fn sip_and_outbound_settings_parse_with_trunk_examples() {
        let cfg = Config::from_values(&vals(&[]), Purpose::Tooling).unwrap();
        assert_eq!(cfg.sip.server, None, "no SIP_SERVER: telephony is off");
        assert_eq!(cfg.outbound.concurrency, 2);
        assert_eq!(cfg.outbound.ring_timeout_sec, 40);
        assert_eq!(cfg.outbound.window.to_string(), "09:00-20:00");
        let zadarma = Config::from_values(
            &vals(&[
                ("SIP_SERVER", "sip.zadarma.com:5060"),
                ("SIP_USERNAME", "123456"),
                ("SIP_PASSWORD", "secret"),
                ("SIP_CALLER_ID", "8 (495) 123-45-67"),
                ("SIP_NUMBER_FORMAT", "7XXXXXXXXXX"),
                ("CALL_CONCURRENCY", "4"),
            ]),
            Purpose::Tooling,
        )
        .unwrap();
        assert_eq!(zadarma.sip.server.as_deref(), Some("sip.zadarma.com:5060"));
        assert_eq!(
            zadarma.sip.caller_id.as_ref().map(|p| p.as_str()),
            Some("+74951234567")
        );
        assert!(zadarma.sip.register);
        assert_eq!(zadarma.sip.transport, SipTransport::Udp);
        let n = crate::domain::PhoneNumber::parse("+79161234567").unwrap();
        assert_eq!(zadarma.sip.number_format.dial_string(&n), "79161234567");
        assert_eq!(NumberFormat::PlusSeven.dial_string(&n), "+79161234567");
        assert_eq!(NumberFormat::Eight.dial_string(&n), "89161234567");
        let novofon_by_ip = Config::from_values(
            &vals(&[
                ("SIP_SERVER", "sip.novofon.ru"),
                ("SIP_REGISTER", "false"),
                ("SIP_NUMBER_FORMAT", "+7XXXXXXXXXX"),
                ("SIP_TRANSPORT", "TCP"),
                ("CALL_WINDOW", "10:00-19:00"),
            ]),
            Purpose::Tooling,
        )
        .unwrap();
        assert!(!novofon_by_ip.sip.register);
        assert_eq!(novofon_by_ip.sip.transport, SipTransport::Tcp);
        assert_eq!(novofon_by_ip.sip.number_format, NumberFormat::PlusSeven);
        let err = Config::from_values(
            &vals(&[
                ("SIP_SERVER", "sip.novofon.ru"),
                ("SIP_TRANSPORT", "sctp"),
                ("SIP_NUMBER_FORMAT", "00X"),
                ("CALL_WINDOW", "всегда"),
            ]),
            Purpose::Tooling,
        )
        .unwrap_err()
        .to_string();
        for needle in ["SIP_TRANSPORT", "SIP_NUMBER_FORMAT", "CALL_WINDOW"] {
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
        let err = Config::from_values(
            &vals(&[
                ("SIP_SERVER", "sip.novofon.ru"),
                ("RTP_PORT_MIN", "30000"),
                ("RTP_PORT_MAX", "20000"),
            ]),
            Purpose::Tooling,
        )
        .unwrap_err()
        .to_string();
        for needle in ["RTP_PORT_MIN must be below", "SIP_USERNAME is needed"] {
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
    }
}
