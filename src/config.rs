//! Configuration: defaults, then an optional `callops.toml`, then environment variables
//! (a `.env` file is loaded into the environment first). Secrets live in [`Secret`], whose
//! `Debug` and `Display` never show the value.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::{PhoneNumber, Speaker};
use crate::llm::{JsonMode, PriceTable};

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

/// The whole configuration of one callops process.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub http_addr: SocketAddr,
    pub api_key: Option<Secret>,
    pub log_format: LogFormat,
    pub telegram_bot_token: Option<Secret>,
    pub telegram_api_url: String,
    pub telegram_chat_id: Option<i64>,
    pub telegram_admins: Vec<u64>,
    /// Public URL Telegram posts updates to; unset means long polling.
    pub telegram_webhook_url: Option<String>,
    /// The `secret_token` Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`.
    pub telegram_webhook_secret: Option<Secret>,
    /// Minimum gap between two messages to one private chat, in milliseconds.
    pub telegram_chat_interval_ms: u64,
    /// Minimum gap between two messages to one group chat, in milliseconds (20/min).
    pub telegram_group_interval_ms: u64,
    pub openai_api_key: Option<Secret>,
    pub openai_base_url: String,
    pub llm_model: String,
    pub stt_model: String,
    /// Worker pool size (jobs run at once in this process).
    pub worker_concurrency: usize,
    /// How long a claimed job stays leased before another worker may take it.
    pub job_lease_secs: u64,

    // ---- call analysis ----
    pub novofon_api_url: String,
    pub novofon_api_key: Option<Secret>,
    pub novofon_api_secret: Option<Secret>,
    pub novofon_poll_secs: u64,
    pub novofon_window_mins: u64,
    pub novofon_stats_interval_ms: u64,
    pub novofon_numbers: Vec<PhoneNumber>,
    pub novofon_timezone: Tz,
    pub novofon_data_api_url: String,
    pub novofon_media_url: String,
    pub novofon_access_token: Option<Secret>,
    pub min_call_secs: i64,
    pub recording_delay_secs: u64,
    /// Recordings larger than this many MB are refused before their body is read.
    pub max_recording_mb: u64,
    /// The longest recording analysed, in minutes (also capped by the call's own duration).
    pub max_recording_minutes: u64,
    pub channel_roles: Vec<Speaker>,
    pub profile: String,
    pub profile_by_number: Vec<(PhoneNumber, String)>,
    pub chat_by_number: Vec<(PhoneNumber, i64)>,
    pub llm_json_mode: JsonMode,
    pub llm_prices: PriceTable,
    pub prompts_dir: Option<PathBuf>,
    /// Time zone of dates shown to people.
    pub timezone: Tz,
    /// First retry wait of provider clients (STT, LLM, PBX), in milliseconds.
    pub retry_base_ms: u64,
    /// First retry wait of a failed job, in milliseconds (doubles per attempt, with jitter).
    pub job_retry_base_ms: u64,
    /// Recent corrections per profile given to the LLM as examples.
    pub fewshot_examples: i64,

    // ---- the voice agent ----
    pub tts_model: String,
    pub tts_voice: String,
    /// The call script used when none is named (`prompts/agent/<name>.toml`).
    pub agent_script: String,
    pub agent_scripts_dir: Option<PathBuf>,
    pub max_call_duration_sec: u64,
    pub max_dialog_turns: u32,
    /// Silence before the agent reprompts, in seconds.
    pub agent_reprompt_sec: u64,
    /// Speech shorter than this is not a turn (ms).
    pub agent_min_speech_ms: u64,
    /// Silence that ends the caller's turn (ms).
    pub agent_end_silence_ms: u64,
    /// Caller speech this long interrupts the agent (ms).
    pub agent_barge_in_ms: u64,
    /// When the agent greets (`AGENT_GREETING`: answer | callee, `AGENT_GREETING_WAIT_MS`).
    pub agent_greeting: crate::domain::Greeting,
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

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://callops.db".into(),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_key: None,
            log_format: LogFormat::Human,
            telegram_bot_token: None,
            telegram_api_url: "https://api.telegram.org".into(),
            telegram_chat_id: None,
            telegram_admins: Vec::new(),
            telegram_webhook_url: None,
            telegram_webhook_secret: None,
            telegram_chat_interval_ms: 1000,
            telegram_group_interval_ms: 3000,
            openai_api_key: None,
            openai_base_url: "https://api.openai.com/v1".into(),
            llm_model: "gpt-4o".into(),
            stt_model: "whisper-1".into(),
            worker_concurrency: 8,
            job_lease_secs: 60,
            novofon_api_url: "https://api.novofon.com".into(),
            novofon_api_key: None,
            novofon_api_secret: None,
            novofon_poll_secs: 60,
            novofon_window_mins: 120,
            novofon_stats_interval_ms: 20_000,
            novofon_numbers: Vec::new(),
            novofon_timezone: chrono_tz::Europe::Moscow,
            novofon_data_api_url: "https://dataapi-jsonrpc.novofon.ru/v2.0".into(),
            novofon_media_url: "https://app.novofon.ru".into(),
            novofon_access_token: None,
            min_call_secs: 10,
            recording_delay_secs: 40,
            max_recording_mb: 100,
            max_recording_minutes: 180,
            channel_roles: vec![Speaker::Manager, Speaker::Client],
            profile: "realty_lead".into(),
            profile_by_number: Vec::new(),
            chat_by_number: Vec::new(),
            llm_json_mode: JsonMode::JsonSchema,
            llm_prices: PriceTable::default(),
            prompts_dir: None,
            timezone: chrono_tz::Europe::Moscow,
            retry_base_ms: 2000,
            job_retry_base_ms: 5000,
            fewshot_examples: 5,
            tts_model: "gpt-4o-mini-tts".into(),
            tts_voice: "coral".into(),
            agent_script: "realty_cold".into(),
            agent_scripts_dir: None,
            max_call_duration_sec: 300,
            max_dialog_turns: 20,
            agent_reprompt_sec: 5,
            agent_min_speech_ms: 250,
            agent_end_silence_ms: 600,
            agent_barge_in_ms: 300,
            agent_greeting: crate::domain::Greeting::OnAnswer,
        }
    }
}

/// The names read from the environment (and, lower-cased, from `callops.toml`).
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "HTTP_ADDR",
    "API_KEY",
    "LOG_FORMAT",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "TELEGRAM_CHAT_ID",
    "TELEGRAM_ADMINS",
    "TELEGRAM_WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "TELEGRAM_CHAT_INTERVAL_MS",
    "TELEGRAM_GROUP_INTERVAL_MS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LLM_MODEL",
    "STT_MODEL",
    "WORKER_CONCURRENCY",
    "JOB_LEASE_SECS",
    "NOVOFON_API_URL",
    "NOVOFON_API_KEY",
    "NOVOFON_API_SECRET",
    "NOVOFON_POLL_SECS",
    "NOVOFON_WINDOW_MINS",
    "NOVOFON_STATS_INTERVAL_MS",
    "NOVOFON_NUMBERS",
    "NOVOFON_TIMEZONE",
    "NOVOFON_DATA_API_URL",
    "NOVOFON_MEDIA_URL",
    "NOVOFON_ACCESS_TOKEN",
    "MIN_CALL_SECS",
    "RECORDING_DELAY_SECS",
    "MAX_RECORDING_MB",
    "MAX_RECORDING_MINUTES",
    "CHANNEL_ROLES",
    "PROFILE",
    "PROFILE_BY_NUMBER",
    "CHAT_BY_NUMBER",
    "LLM_JSON_MODE",
    "LLM_PRICES",
    "PROMPTS_DIR",
    "TIMEZONE",
    "RETRY_BASE_MS",
    "JOB_RETRY_BASE_MS",
    "FEWSHOT_EXAMPLES",
    "TTS_MODEL",
    "TTS_VOICE",
    "AGENT_SCRIPT",
    "AGENT_SCRIPTS_DIR",
    "MAX_CALL_DURATION_SEC",
    "MAX_DIALOG_TURNS",
    "AGENT_REPROMPT_SEC",
    "AGENT_MIN_SPEECH_MS",
    "AGENT_END_SILENCE_MS",
    "AGENT_BARGE_IN_MS",
    "AGENT_GREETING",
    "AGENT_GREETING_WAIT_MS",
];

impl Config {
    /// The largest recording download, in bytes.
    pub fn max_recording_bytes(&self) -> u64 {
        self.max_recording_mb.saturating_mul(1024 * 1024)
    }

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
        for name in VARIABLES {
            if let Ok(v) = std::env::var(name) {
                values.insert((*name).to_string(), v);
            }
        }
        Self::from_values(&values, purpose)
    }

    /// Builds a config from flat `NAME -> value` pairs over the defaults.
    pub fn from_values(
        values: &BTreeMap<String, String>,
        purpose: Purpose,
    ) -> Result<Self, ConfigError> {
        let mut cfg = Config::default();
        let mut invalid = Vec::new();
        let get = |name: &str| {
            values
                .get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = get("DATABASE_URL") {
            cfg.database_url = v;
        }
        if let Some(v) = get("HTTP_ADDR") {
            match v.parse() {
                Ok(a) => cfg.http_addr = a,
                Err(_) => invalid.push(format!(
                    "HTTP_ADDR={v:?} is not host:port, e.g. 127.0.0.1:8080"
                )),
            }
        }
        cfg.api_key = get("API_KEY").map(Secret::new);
        if let Some(v) = get("LOG_FORMAT") {
            match v.to_ascii_lowercase().as_str() {
                "json" => cfg.log_format = LogFormat::Json,
                "human" | "text" | "pretty" => cfg.log_format = LogFormat::Human,
                _ => invalid.push(format!("LOG_FORMAT={v:?}: use json or human")),
            }
        }
        cfg.telegram_bot_token = get("TELEGRAM_BOT_TOKEN").map(Secret::new);
        if let Some(v) = get("TELEGRAM_API_URL") {
            match url::Url::parse(&v) {
                Ok(_) => cfg.telegram_api_url = v.trim_end_matches('/').to_string(),
                Err(e) => invalid.push(format!("TELEGRAM_API_URL is not a URL: {e}")),
            }
        }
        if let Some(v) = get("TELEGRAM_CHAT_ID") {
            match v.parse() {
                Ok(id) => cfg.telegram_chat_id = Some(id),
                Err(_) => invalid.push(format!(
                    "TELEGRAM_CHAT_ID={v:?} is not a chat id (an integer, e.g. -1001234567890)"
                )),
            }
        }
        if let Some(v) = get("TELEGRAM_ADMINS") {
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.parse() {
                    Ok(id) => cfg.telegram_admins.push(id),
                    Err(_) => invalid.push(format!("TELEGRAM_ADMINS: {part:?} is not a user id")),
                }
            }
        }
        if let Some(v) = get("TELEGRAM_WEBHOOK_URL") {
            match url::Url::parse(&v) {
                Ok(_) => cfg.telegram_webhook_url = Some(v),
                Err(e) => invalid.push(format!("TELEGRAM_WEBHOOK_URL is not a URL: {e}")),
            }
        }
        if let Some(v) = get("TELEGRAM_WEBHOOK_SECRET") {
            let ok = (1..=256).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if ok {
                cfg.telegram_webhook_secret = Some(Secret::new(v));
            } else {
                invalid.push(
                    "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -".into(),
                );
            }
        }
        parse_num(
            &get,
            "TELEGRAM_CHAT_INTERVAL_MS",
            &mut cfg.telegram_chat_interval_ms,
            &mut invalid,
        );
        parse_num(
            &get,
            "TELEGRAM_GROUP_INTERVAL_MS",
            &mut cfg.telegram_group_interval_ms,
            &mut invalid,
        );
        cfg.openai_api_key = get("OPENAI_API_KEY").map(Secret::new);
        if let Some(v) = get("OPENAI_BASE_URL") {
            match url::Url::parse(&v) {
                Ok(_) => cfg.openai_base_url = v.trim_end_matches('/').to_string(),
                Err(e) => invalid.push(format!("OPENAI_BASE_URL is not a URL: {e}")),
            }
        }
        if let Some(v) = get("LLM_MODEL") {
            cfg.llm_model = v;
        }
        if let Some(v) = get("STT_MODEL") {
            cfg.stt_model = v;
        }
        parse_num(
            &get,
            "WORKER_CONCURRENCY",
            &mut cfg.worker_concurrency,
            &mut invalid,
        );
        parse_num(
            &get,
            "JOB_LEASE_SECS",
            &mut cfg.job_lease_secs,
            &mut invalid,
        );
        if cfg.worker_concurrency == 0 {
            invalid.push("WORKER_CONCURRENCY must be at least 1".into());
        }
        if cfg.job_lease_secs < 5 {
            invalid.push("JOB_LEASE_SECS must be at least 5".into());
        }
        if let Some(v) = get("NOVOFON_API_URL") {
            cfg.novofon_api_url = v.trim_end_matches('/').to_string();
        }
        cfg.novofon_api_key = get("NOVOFON_API_KEY").map(Secret::new);
        cfg.novofon_api_secret = get("NOVOFON_API_SECRET").map(Secret::new);
        parse_num(
            &get,
            "NOVOFON_POLL_SECS",
            &mut cfg.novofon_poll_secs,
            &mut invalid,
        );
        parse_num(
            &get,
            "NOVOFON_WINDOW_MINS",
            &mut cfg.novofon_window_mins,
            &mut invalid,
        );
        parse_num(
            &get,
            "NOVOFON_STATS_INTERVAL_MS",
            &mut cfg.novofon_stats_interval_ms,
            &mut invalid,
        );
        if let Some(v) = get("NOVOFON_NUMBERS") {
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match PhoneNumber::parse(part) {
                    Ok(p) => cfg.novofon_numbers.push(p),
                    Err(e) => invalid.push(format!("NOVOFON_NUMBERS: {e}")),
                }
            }
        }
        for (name, slot) in [
            ("NOVOFON_TIMEZONE", &mut cfg.novofon_timezone),
            ("TIMEZONE", &mut cfg.timezone),
        ] {
            if let Some(v) = get(name) {
                match v.parse::<Tz>() {
                    Ok(tz) => *slot = tz,
                    Err(_) => invalid.push(format!(
                        "{name}={v:?} is not a time zone (e.g. Europe/Moscow)"
                    )),
                }
            }
        }
        if let Some(v) = get("NOVOFON_DATA_API_URL") {
            cfg.novofon_data_api_url = v;
        }
        if let Some(v) = get("NOVOFON_MEDIA_URL") {
            cfg.novofon_media_url = v.trim_end_matches('/').to_string();
        }
        cfg.novofon_access_token = get("NOVOFON_ACCESS_TOKEN").map(Secret::new);
        parse_num(&get, "MIN_CALL_SECS", &mut cfg.min_call_secs, &mut invalid);
        parse_num(
            &get,
            "RECORDING_DELAY_SECS",
            &mut cfg.recording_delay_secs,
            &mut invalid,
        );
        parse_num(
            &get,
            "MAX_RECORDING_MB",
            &mut cfg.max_recording_mb,
            &mut invalid,
        );
        parse_num(
            &get,
            "MAX_RECORDING_MINUTES",
            &mut cfg.max_recording_minutes,
            &mut invalid,
        );
        if cfg.max_recording_mb == 0 || cfg.max_recording_minutes == 0 {
            invalid.push("MAX_RECORDING_MB and MAX_RECORDING_MINUTES must be above 0".into());
        }
        parse_num(&get, "RETRY_BASE_MS", &mut cfg.retry_base_ms, &mut invalid);
        parse_num(
            &get,
            "JOB_RETRY_BASE_MS",
            &mut cfg.job_retry_base_ms,
            &mut invalid,
        );
        if let Some(v) = get("CHANNEL_ROLES") {
            let roles: Result<Vec<Speaker>, String> = v
                .split(',')
                .filter(|r| !r.trim().is_empty())
                .map(str::parse)
                .collect();
            match roles {
                Ok(roles) => cfg.channel_roles = roles,
                Err(e) => invalid.push(format!("CHANNEL_ROLES: {e}")),
            }
        }
        if let Some(v) = get("PROFILE") {
            cfg.profile = v;
        }
        for (number, value) in pairs(&get, "PROFILE_BY_NUMBER", &mut invalid) {
            cfg.profile_by_number.push((number, value));
        }
        for (number, value) in pairs(&get, "CHAT_BY_NUMBER", &mut invalid) {
            match value.parse() {
                Ok(chat) => cfg.chat_by_number.push((number, chat)),
                Err(_) => invalid.push(format!("CHAT_BY_NUMBER: {value:?} is not a chat id")),
            }
        }
        if let Some(v) = get("LLM_JSON_MODE") {
            match JsonMode::parse(&v) {
                Some(m) => cfg.llm_json_mode = m,
                None => invalid.push(format!(
                    "LLM_JSON_MODE={v:?}: use json_schema or json_object"
                )),
            }
        }
        if let Some(v) = get("LLM_PRICES") {
            match PriceTable::parse(&v) {
                Ok(t) => cfg.llm_prices = t,
                Err(e) => invalid.push(format!("LLM_PRICES: {e}")),
            }
        }
        cfg.prompts_dir = get("PROMPTS_DIR").map(PathBuf::from);
        if let Some(v) = get("TTS_MODEL") {
            cfg.tts_model = v;
        }
        if let Some(v) = get("TTS_VOICE") {
            cfg.tts_voice = v;
        }
        if let Some(v) = get("AGENT_SCRIPT") {
            cfg.agent_script = v;
        }
        cfg.agent_scripts_dir = get("AGENT_SCRIPTS_DIR").map(PathBuf::from);
        parse_num(
            &get,
            "MAX_CALL_DURATION_SEC",
            &mut cfg.max_call_duration_sec,
            &mut invalid,
        );
        parse_num(
            &get,
            "MAX_DIALOG_TURNS",
            &mut cfg.max_dialog_turns,
            &mut invalid,
        );
        parse_num(
            &get,
            "AGENT_REPROMPT_SEC",
            &mut cfg.agent_reprompt_sec,
            &mut invalid,
        );
        for (name, field) in [
            ("AGENT_MIN_SPEECH_MS", &mut cfg.agent_min_speech_ms),
            ("AGENT_END_SILENCE_MS", &mut cfg.agent_end_silence_ms),
            ("AGENT_BARGE_IN_MS", &mut cfg.agent_barge_in_ms),
        ] {
            parse_num(&get, name, field, &mut invalid);
            if *field < 20 || *field > 10_000 {
                invalid.push(format!("{name}: must be 20..10000 ms"));
            }
        }
        let mut greeting_wait_ms: u64 = 1500;
        parse_num(
            &get,
            "AGENT_GREETING_WAIT_MS",
            &mut greeting_wait_ms,
            &mut invalid,
        );
        if let Some(word) = get("AGENT_GREETING") {
            match crate::domain::Greeting::parse(&word, std::time::Duration::from_millis(greeting_wait_ms)) {
                Some(g) => cfg.agent_greeting = g,
                None => invalid.push(format!(
                    "AGENT_GREETING={word:?}: use answer (greet at once) or callee (after their first words)"
                )),
            }
        }
        for (name, value) in [
            ("MAX_CALL_DURATION_SEC", cfg.max_call_duration_sec),
            ("AGENT_REPROMPT_SEC", cfg.agent_reprompt_sec),
            ("MAX_DIALOG_TURNS", u64::from(cfg.max_dialog_turns)),
        ] {
            if value == 0 {
                invalid.push(format!("{name}: must be above 0"));
            }
        }
        if !(cfg.database_url.starts_with("sqlite:")
            || cfg.database_url.starts_with("postgres://")
            || cfg.database_url.starts_with("postgresql://"))
        {
            invalid
                .push("DATABASE_URL must start with sqlite:, postgres:// or postgresql://".into());
        }

        let mut missing = Vec::new();
        if purpose == Purpose::Run && cfg.telegram_bot_token.is_none() {
            missing.push("TELEGRAM_BOT_TOKEN");
        }
        if missing.is_empty() && invalid.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid { missing, invalid })
        }
    }
}

/// Parses `number=value,number=value` lists.
fn pairs(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    invalid: &mut Vec<String>,
) -> Vec<(PhoneNumber, String)> {
    let mut out = Vec::new();
    if let Some(v) = get(name) {
        for item in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match item.split_once('=') {
                Some((n, val)) => match PhoneNumber::parse(n) {
                    Ok(p) => out.push((p, val.trim().to_string())),
                    Err(e) => invalid.push(format!("{name}: {e}")),
                },
                None => invalid.push(format!("{name}: {item:?} should be number=value")),
            }
        }
    }
    out
}

fn parse_num<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    slot: &mut T,
    invalid: &mut Vec<String>,
) {
    if let Some(v) = get(name) {
        match v.parse() {
            Ok(n) => *slot = n,
            Err(_) => invalid.push(format!("{name}={v:?} is not a number")),
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
        assert_eq!(cfg.database_url, "sqlite://callops.db");
        assert_eq!(cfg.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.llm_model, "gpt-4o");
        assert_eq!(cfg.stt_model, "whisper-1");
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
            cfg.telegram_bot_token.as_ref().unwrap().expose(),
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
            cfg.novofon_numbers
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>(),
            ["+74951234567", "+79160000001"]
        );
        assert_eq!(cfg.profile_by_number[0].1, "qa_checklist");
        assert_eq!(cfg.chat_by_number[0].1, -1005);
        assert_eq!(cfg.channel_roles, [Speaker::Client, Speaker::Manager]);
        assert_eq!(cfg.llm_json_mode, JsonMode::JsonObject);
        assert_eq!(cfg.novofon_timezone, chrono_tz::Asia::Yekaterinburg);
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
        assert_eq!(cfg.telegram_admins, vec![11, 22]);
        assert_eq!(cfg.telegram_chat_id, Some(-1001));
        assert_eq!(cfg.telegram_api_url, "http://127.0.0.1:9");
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
        assert_eq!(cfg.database_url, "sqlite://x.db");
        assert_eq!(cfg.telegram_admins, vec![1, 2]);
        assert_eq!(cfg.worker_concurrency, 3);
    }
}
