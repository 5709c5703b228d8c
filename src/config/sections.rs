//! Every setting of callops, declared once per section (see [`super::setting::section`]).
//! Room is left for the `sip` and `outbound` sections of live calling.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::setting::*;
use super::{LogFormat, Secret};
use crate::domain::{CallWindow, CallingSchedule, Days, Greeting, PhoneNumber, Speaker};
use crate::llm::{JsonMode, PriceTable};
use crate::speech::SpeechVendor;
use crate::speech::{PriceList, SpeechPrices};

section! {
    /// The process itself: storage, HTTP, logs, workers.
    pub struct ServiceSettings("service") {
        /// `sqlite://path` or `postgres://user:pass@host/db`
        database_url: String = "DATABASE_URL", "sqlite://callops.db", database_url;
        /// where `/health`, `/metrics` and `/api` listen
        http_addr: SocketAddr = "HTTP_ADDR", "127.0.0.1:8080", addr;
        /// required in `X-API-Key` for `/api/*`; unset, the API answers 403
        api_key: Option<Secret> = "API_KEY", "", secret;
        /// `human` or `json`
        log_format: LogFormat = "LOG_FORMAT", "human", log_format;
        /// jobs run at once by this process
        worker_concurrency: usize = "WORKER_CONCURRENCY", "8", num(1, 1024);
        /// a claimed job's lease; renewed while it runs, taken over by another worker after it lapses
        job_lease_secs: u64 = "JOB_LEASE_SECS", "60", num(5, 86_400);
        /// lease of singleton work (PBX polling, schedules, the campaign tick, long polling); another instance takes over within it when the leader dies
        leader_lease_secs: u64 = "LEADER_LEASE_SECS", "15", num(2, 3_600);
        /// first retry wait of a failed job, in ms (doubling, with jitter)
        job_retry_base_ms: u64 = "JOB_RETRY_BASE_MS", "5000", num(0, 3_600_000);
        /// first retry wait of provider clients (STT, LLM, PBX), in ms (doubling, with jitter)
        retry_base_ms: u64 = "RETRY_BASE_MS", "2000", num(0, 600_000);
        /// time zone of dates shown to people
        timezone: Tz = "TIMEZONE", "Europe/Moscow", timezone;
    }
}

section! {
    /// The Telegram bot.
    pub struct TelegramSettings("telegram") {
        /// the bot's token from @BotFather (required by `run`)
        bot_token: Option<Secret> = "TELEGRAM_BOT_TOKEN", "", secret;
        /// Bot API base URL (a local Bot API server, a proxy, a test fake)
        api_url: String = "TELEGRAM_API_URL", "https://api.telegram.org", url;
        /// the team chat that receives protocols; its members may use the bot as viewers
        chat_id: Option<i64> = "TELEGRAM_CHAT_ID", "", opt_chat_id;
        /// comma-separated user ids of administrators
        admins: Vec<u64> = "TELEGRAM_ADMINS", "", user_ids;
        /// public URL Telegram posts updates to (unset: long polling); its path is served by our HTTP server
        webhook_url: Option<String> = "TELEGRAM_WEBHOOK_URL", "", opt_url;
        /// `secret_token` checked in `X-Telegram-Bot-Api-Secret-Token` (`A-Z a-z 0-9 _ -`; unset: derived from the bot token, the same on every instance)
        webhook_secret: Option<Secret> = "TELEGRAM_WEBHOOK_SECRET", "", webhook_secret;
        /// minimum gap between messages to one private chat, in ms
        chat_interval_ms: u64 = "TELEGRAM_CHAT_INTERVAL_MS", "1000", num(0, 60_000);
        /// minimum gap between messages to one group, in ms (Telegram allows 20/min)
        group_interval_ms: u64 = "TELEGRAM_GROUP_INTERVAL_MS", "3000", num(0, 60_000);
    }
}

section! {
    /// The OpenAI-compatible endpoint: LLM, speech-to-text, text-to-speech.
    pub struct OpenAiSettings("openai") {
        /// key of the OpenAI-compatible endpoint
        api_key: Option<Secret> = "OPENAI_API_KEY", "", secret;
        /// any OpenAI-compatible base URL (a proxy from Russia, LiteLLM, a local server)
        base_url: String = "OPENAI_BASE_URL", "https://api.openai.com/v1", url;
        /// chat model for analysis and the voice agent
        llm_model: String = "LLM_MODEL", "gpt-4o", text;
        /// transcription model
        stt_model: String = "STT_MODEL", "whisper-1", text;
        /// text-to-speech model of the voice agent (`/audio/speech`)
        tts_model: String = "TTS_MODEL", "gpt-4o-mini-tts", text;
        /// the agent's voice
        tts_voice: String = "TTS_VOICE", "coral", text;
        /// `json_schema` (strict structured output) or `json_object` (schema in the prompt)
        json_mode: JsonMode = "LLM_JSON_MODE", "json_schema", |s| JsonMode::parse(s).ok_or_else(|| "use json_schema or json_object".to_string());
        /// `model=prompt:completion` USD per million tokens over the built-in gpt-4o(-mini), gpt-4.1(-mini) prices
        prices: PriceTable = "LLM_PRICES", "", PriceTable::parse;
    }
}

section! {
    /// Speech vendors: which one transcribes recordings and which serves live calls; SaluteSpeech.
    pub struct SpeechSettings("speech") {
        /// speech-to-text of recordings and voice notes: `openai` or `salute` (SaluteSpeech)
        stt_provider: SpeechVendor = "STT_PROVIDER", "openai", speech_vendor;
        /// text-to-speech: `openai`, `salute`, `yandex` or `elevenlabs`
        tts_provider: SpeechVendor = "TTS_PROVIDER", "openai", speech_vendor;
        /// speech-to-text of live calls: `openai`, `salute` or `yandex`, the last two streaming (unset: `STT_PROVIDER`)
        agent_stt_provider: Option<SpeechVendor> = "AGENT_STT_PROVIDER", "", opt_speech_vendor;
        /// text-to-speech of live calls (unset: `TTS_PROVIDER`)
        agent_tts_provider: Option<SpeechVendor> = "AGENT_TTS_PROVIDER", "", opt_speech_vendor;
        /// a PEM file of extra CA certificates every client trusts (the Russian Trusted Root CA for SaluteSpeech)
        extra_ca_certs: Option<PathBuf> = "EXTRA_CA_CERTS", "", path;
        /// SaluteSpeech authorization key from Studio (base64 of client_id:client_secret)
        salute_auth_key: Option<Secret> = "SALUTE_AUTH_KEY", "", secret;
        /// SaluteSpeech scope: `SALUTE_SPEECH_PERS`, `SALUTE_SPEECH_CORP` or `SALUTE_SPEECH_B2B`
        salute_scope: String = "SALUTE_SCOPE", "SALUTE_SPEECH_PERS", salute_scope;
        /// SaluteSpeech OAuth endpoint
        salute_auth_url: String = "SALUTE_AUTH_URL", "https://ngw.devices.sberbank.ru:9443/api/v2/oauth", url;
        /// SaluteSpeech REST API base URL
        salute_api_url: String = "SALUTE_API_URL", "https://smartspeech.sber.ru", url;
        /// SaluteSpeech recognition model (`general`, `callcenter`)
        salute_stt_model: String = "SALUTE_STT_MODEL", "callcenter", text;
        /// SaluteSpeech voice (`May`, `Nec`, `Bys`, `Tur`, `Ost`, `Pon`…); `_8000` is added for calls, `_24000` for voice notes
        salute_voice: String = "SALUTE_VOICE", "May", text;
        /// SaluteSpeech gRPC endpoint (streaming recognition of live calls)
        salute_grpc_url: String = "SALUTE_GRPC_URL", "https://smartspeech.sber.ru:443", url;
        /// Yandex SpeechKit API key of a service account with `ai.speechkit-stt.user`
        yandex_api_key: Option<Secret> = "YANDEX_API_KEY", "", secret;
        /// Yandex IAM token, instead of an API key
        yandex_iam_token: Option<Secret> = "YANDEX_IAM_TOKEN", "", secret;
        /// Yandex Cloud folder (needed with an IAM token of a user account)
        yandex_folder_id: Option<String> = "YANDEX_FOLDER_ID", "", opt_text;
        /// Yandex SpeechKit v3 gRPC endpoint
        yandex_stt_url: String = "YANDEX_STT_URL", "https://stt.api.cloud.yandex.net:443", url;
        /// Yandex recognition model
        yandex_stt_model: String = "YANDEX_STT_MODEL", "general", text;
        /// Yandex SpeechKit v3 synthesis base URL
        yandex_tts_url: String = "YANDEX_TTS_URL", "https://tts.api.cloud.yandex.net", url;
        /// Yandex voice (`alena`, `filipp`, `ermil`, `jane`, `omazh`, `zahar`, `dasha`, `kirill`…)
        yandex_voice: String = "YANDEX_VOICE", "alena", text;
        /// ElevenLabs API key (synthesis with `TTS_PROVIDER=elevenlabs`)
        elevenlabs_api_key: Option<Secret> = "ELEVENLABS_API_KEY", "", secret;
        /// ElevenLabs base URL: ElevenLabs blocks Russia, so point it at a proxy abroad
        elevenlabs_api_url: String = "ELEVENLABS_API_URL", "https://api.elevenlabs.io", url;
        /// ElevenLabs model (`eleven_flash_v2_5` answers fastest; `eleven_multilingual_v2`)
        elevenlabs_model: String = "ELEVENLABS_MODEL", "eleven_flash_v2_5", text;
        /// ElevenLabs voice id (from its voice library)
        elevenlabs_voice: String = "ELEVENLABS_VOICE", "JBFqnCBsd6RMkjVDRZzb", text;
        /// what recognition costs, USD per minute of audio, per vendor (`openai=0.003,salute=0.016`); `/stats` shows the cost of live calls' speech
        stt_price_per_min: PriceList = "STT_PRICE_PER_MIN", "openai=0.003", price_list;
        /// what synthesis costs, USD per thousand characters, per vendor (`openai=0.015,yandex=0.2`)
        tts_price_per_1k_chars: PriceList = "TTS_PRICE_PER_1K_CHARS", "openai=0.015", price_list;
    }
}

section! {
    /// The PBX the calls come from (Novofon API 1.0 and 2.0 today).
    pub struct PbxSettings("pbx") {
        /// Novofon API 1.0 base URL
        novofon_api_url: String = "NOVOFON_API_URL", "https://api.novofon.com", url;
        /// Novofon API 1.0 key
        novofon_api_key: Option<Secret> = "NOVOFON_API_KEY", "", secret;
        /// Novofon API 1.0 secret; it also verifies webhooks
        novofon_api_secret: Option<Secret> = "NOVOFON_API_SECRET", "", secret;
        /// Novofon 2.0 Data API key (either API, or both)
        novofon_access_token: Option<Secret> = "NOVOFON_ACCESS_TOKEN", "", secret;
        /// Novofon 2.0 Data API endpoint
        novofon_data_api_url: String = "NOVOFON_DATA_API_URL", "https://dataapi-jsonrpc.novofon.ru/v2.0", url;
        /// Novofon 2.0 recordings host
        novofon_media_url: String = "NOVOFON_MEDIA_URL", "https://app.novofon.ru", url;
        /// our numbers in any format (`+7…`, `8…`, spaces, dashes); a call is ours when one is the caller or callee (unset: all calls)
        novofon_numbers: Vec<PhoneNumber> = "NOVOFON_NUMBERS", "", phones;
        /// polling interval, in seconds
        novofon_poll_secs: u64 = "NOVOFON_POLL_SECS", "60", num(1, 86_400);
        /// the sliding window each poll re-reads, in minutes
        novofon_window_mins: u64 = "NOVOFON_WINDOW_MINS", "120", num(1, 10_080);
        /// gap between statistics requests, in ms (Novofon allows 3 per minute)
        novofon_stats_interval_ms: u64 = "NOVOFON_STATS_INTERVAL_MS", "20000", num(0, 600_000);
        /// the PBX cabinet's time zone (its times carry none)
        novofon_timezone: Tz = "NOVOFON_TIMEZONE", "Europe/Moscow", timezone;
        /// Zadarma API key (its API 1.0, which Novofon 1.0 forked); Zadarma is polled beside any other PBX
        zadarma_api_key: Option<Secret> = "ZADARMA_API_KEY", "", secret;
        /// Zadarma API secret; it also verifies Zadarma's webhooks (`/webhooks/zadarma`)
        zadarma_api_secret: Option<Secret> = "ZADARMA_API_SECRET", "", secret;
        /// Zadarma API base URL
        zadarma_api_url: String = "ZADARMA_API_URL", "https://api.zadarma.com", url;
        /// Zadarma polling interval, in seconds (statistics requests keep `NOVOFON_STATS_INTERVAL_MS` apart: the same 3-a-minute limit)
        zadarma_poll_secs: u64 = "ZADARMA_POLL_SECS", "60", num(1, 86_400);
        /// the Zadarma cabinet's time zone (its times carry none)
        zadarma_timezone: Tz = "ZADARMA_TIMEZONE", "Europe/Moscow", timezone;
        /// Mango Office VPBX API key (the cabinet's «Интеграции → API»); Mango is polled beside any other PBX
        mango_api_key: Option<Secret> = "MANGO_API_KEY", "", secret;
        /// Mango Office signing salt; it also verifies Mango's events (`/webhooks/mango/events/…`)
        mango_api_salt: Option<Secret> = "MANGO_API_SALT", "", secret;
        /// Mango Office API root, with `/vpbx`
        mango_api_url: String = "MANGO_API_URL", "https://app.mango-office.ru/vpbx", url;
        /// Mango polling interval, in seconds
        mango_poll_secs: u64 = "MANGO_POLL_SECS", "60", num(1, 86_400);
        /// how often a Mango statistics result is asked for while it is not ready, in ms (Mango asks for no more than every 5 s)
        mango_result_poll_ms: u64 = "MANGO_RESULT_POLL_MS", "5000", num(10, 60_000);
        /// T-Bank TQM login (speech analytics: its calls come with ready transcripts, no speech-to-text)
        tbank_login: Option<String> = "TBANK_LOGIN", "", opt_text;
        /// T-Bank TQM password
        tbank_password: Option<Secret> = "TBANK_PASSWORD", "", secret;
        /// T-Bank TQM API root
        tbank_api_url: String = "TBANK_API_URL", "https://tqm-cloud.tbank.ru", url;
        /// T-Bank polling interval (today's calls), in seconds
        tbank_poll_secs: u64 = "TBANK_POLL_SECS", "300", num(1, 86_400);
        /// `field=path|path,...`: where T-Bank's answers keep a field, tried before the built-in paths (its API is reverse-engineered; a renamed field is fixed here)
        tbank_fields: Vec<(String, Vec<String>)> = "TBANK_FIELDS", "", tbank_fields;
        /// the nightly batch reads the T-Bank calls of this many days ago again, as CallQ does (0: off; calls already taken stay as they are)
        tbank_nightly_days_ago: u32 = "TBANK_NIGHTLY_DAYS_AGO", "1", num(0, 30);
        /// the local hour (`TIMEZONE`) the nightly batch runs at
        tbank_nightly_hour: u32 = "TBANK_NIGHTLY_HOUR", "3", num(0, 23);
    }
}

section! {
    /// Call analysis: which calls, how recordings are read, which profile.
    pub struct AnalysisSettings("analysis") {
        /// shorter calls are skipped (stored with the reason), in seconds
        min_call_secs: i64 = "MIN_CALL_SECS", "10", num(0, 86_400);
        /// wait after a call ends before fetching its recording, in seconds
        recording_delay_secs: u64 = "RECORDING_DELAY_SECS", "40", num(0, 86_400);
        /// a larger recording is refused before its body is read (by `Content-Length`, or as soon as the bytes pass it)
        max_recording_mb: u64 = "MAX_RECORDING_MB", "100", num(1, 4096);
        /// the longest recording analysed; a call's own PBX duration (plus a minute and a tenth) caps it too
        max_recording_minutes: u64 = "MAX_RECORDING_MINUTES", "180", num(1, 1440);
        /// who speaks on the left and right channel of stereo recordings (`manager`, `client`; Russian words too)
        channel_roles: Vec<Speaker> = "CHANNEL_ROLES", "manager,client", speakers;
        /// default analysis profile
        profile: String = "PROFILE", "realty_lead", text;
        /// departments: `[[departments]]` tables in `callops.toml` (`name`, `numbers`, `operators = { "101" = "Анна" }`, `chat`, `topic`, `profile`), or the same as a JSON array; a call is its operator's department's, else its number's
        departments: crate::domain::Departments = "DEPARTMENTS", "", departments;
        /// `number=profile,...`: the profile per our number
        profile_by_number: Vec<(PhoneNumber, String)> = "PROFILE_BY_NUMBER", "", number_pairs;
        /// `number=chat_id,...`: the chat per our number
        chat_by_number: Vec<(PhoneNumber, i64)> = "CHAT_BY_NUMBER", "", number_chats;
        /// a folder of profile files overriding or adding to the shipped ones
        prompts_dir: Option<PathBuf> = "PROMPTS_DIR", "", path;
        /// recent corrections per profile given to the LLM as examples (0 = off)
        fewshot_examples: i64 = "FEWSHOT_EXAMPLES", "5", num(0, 50);
        /// a Google service account key file (JSON); share the Sheets with its `client_email`
        google_service_account_file: Option<PathBuf> = "GOOGLE_SERVICE_ACCOUNT_FILE", "", path;
        /// the Sheet holding the `qa_checklist` criteria (column A: criterion, B: what it checks; a row «Инструкции» adds instructions)
        sheets_criteria_id: Option<String> = "SHEETS_CRITERIA_ID", "", opt_text;
        /// the range the criteria are read from
        sheets_criteria_range: String = "SHEETS_CRITERIA_RANGE", "A1:B100", text;
        /// the Sheet each analysis is appended to as a row
        sheets_results_id: Option<String> = "SHEETS_RESULTS_ID", "", opt_text;
        /// the range rows are appended after
        sheets_results_range: String = "SHEETS_RESULTS_RANGE", "A1", text;
        /// how often the criteria Sheet is read again, in seconds
        sheets_refresh_secs: u64 = "SHEETS_REFRESH_SECS", "300", num(5, 86_400);
        /// Google Sheets API root (a proxy where Google is out of reach)
        sheets_api_url: String = "SHEETS_API_URL", "https://sheets.googleapis.com", url;
    }
}

impl AnalysisSettings {
    /// The largest recording download, in bytes.
    pub fn max_recording_bytes(&self) -> u64 {
        self.max_recording_mb.saturating_mul(1024 * 1024)
    }
}

section! {
    /// The voice agent: its script, pacing and limits.
    pub struct AgentSettings("agent") {
        /// call script used when none is named (`prompts/agent/*.toml`)
        script: String = "AGENT_SCRIPT", "realty_cold", text;
        /// extra or overriding call scripts
        scripts_dir: Option<PathBuf> = "AGENT_SCRIPTS_DIR", "", path;
        /// the agent says goodbye and hangs up after this, in seconds
        max_call_duration_sec: u64 = "MAX_CALL_DURATION_SEC", "300", num(1, 7200);
        /// caller turns before the agent closes the call
        max_dialog_turns: u32 = "MAX_DIALOG_TURNS", "20", num(1, 500);
        /// caller silence before a reprompt (three, then goodbye), in seconds
        reprompt_sec: u64 = "AGENT_REPROMPT_SEC", "5", num(1, 120);
        /// caller speech shorter than this is not a turn, in ms
        min_speech_ms: u64 = "AGENT_MIN_SPEECH_MS", "250", num(20, 10_000);
        /// silence that ends the caller's turn, in ms
        end_silence_ms: u64 = "AGENT_END_SILENCE_MS", "600", num(20, 10_000);
        /// caller speech this long interrupts the agent ("угу" under it does not), in ms
        barge_in_ms: u64 = "AGENT_BARGE_IN_MS", "300", num(20, 10_000);
        /// with a streaming recogniser (`AGENT_STT_PROVIDER` salute or yandex): a pause this long inside the caller's turn starts the reply on the interim text, thrown away unheard if the caller goes on; 0 turns it off, in ms
        preempt_ms: u64 = "AGENT_PREEMPT_MS", "200", num(0, 5_000);
        /// `callee`: greet after the callee's first words ("Алло?") or `AGENT_GREETING_WAIT_MS` of silence, so the greeting is heard; `answer`: as soon as the call is answered
        greeting_mode: Greeting = "AGENT_GREETING", "callee", |s| Greeting::parse(s, Duration::ZERO).ok_or_else(|| "use answer (greet at once) or callee (after their first words)".to_string());
        /// with `AGENT_GREETING=callee`: the silence from the answer after which the agent greets anyway, in ms
        greeting_wait_ms: u64 = "AGENT_GREETING_WAIT_MS", "1500", num(0, 30_000);
        /// with `AGENT_GREETING=callee`: tell a person from a voicemail, an IVR menu or an AI secretary in the first seconds (the script says what to do with each)
        screening: bool = "AGENT_SCREENING", "true", flag;
    }
}

impl AgentSettings {
    /// When the agent greets, with its wait.
    pub fn greeting(&self) -> Greeting {
        match self.greeting_mode {
            Greeting::OnAnswer => Greeting::OnAnswer,
            Greeting::AfterCallee { .. } => Greeting::AfterCallee {
                silence: Duration::from_millis(self.greeting_wait_ms),
            },
        }
    }
}

/// How SIP traffic is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipTransport {
    Udp,
    Tcp,
}

/// How a trunk wants the number in the Request-URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberFormat {
    /// `7XXXXXXXXXX` (Zadarma, the default).
    Seven,
    /// `+7XXXXXXXXXX`.
    PlusSeven,
    /// `8XXXXXXXXXX`.
    Eight,
}

impl NumberFormat {
    /// The number as the trunk wants it (numbers outside +7 keep their digits).
    pub fn dial_string(self, n: &PhoneNumber) -> String {
        let e164 = n.as_str();
        let digits = e164.trim_start_matches('+');
        match (self, digits.strip_prefix('7')) {
            (NumberFormat::Seven, _) => digits.to_string(),
            (NumberFormat::PlusSeven, _) => e164.to_string(),
            (NumberFormat::Eight, Some(national)) => format!("8{national}"),
            (NumberFormat::Eight, None) => format!("810{digits}"),
        }
    }
}

fn sip_transport(s: &str) -> Result<SipTransport, String> {
    match s.to_ascii_lowercase().as_str() {
        "udp" => Ok(SipTransport::Udp),
        "tcp" => Ok(SipTransport::Tcp),
        _ => Err("use udp or tcp".into()),
    }
}

fn number_format(s: &str) -> Result<NumberFormat, String> {
    let digits: String = s
        .chars()
        .filter(|c| *c != 'X' && *c != 'x' && *c != '…')
        .collect();
    match digits.as_str() {
        "7" => Ok(NumberFormat::Seven),
        "+7" => Ok(NumberFormat::PlusSeven),
        "8" => Ok(NumberFormat::Eight),
        _ => Err("use 7XXXXXXXXXX, +7XXXXXXXXXX or 8XXXXXXXXXX".into()),
    }
}

fn flag(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" | "да" => Ok(true),
        "false" | "no" | "0" | "off" | "нет" => Ok(false),
        _ => Err("use true or false".into()),
    }
}

fn opt_phone(s: &str) -> Result<Option<PhoneNumber>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    PhoneNumber::parse(s).map(Some).map_err(|e| e.to_string())
}

fn opt_host_port(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let host = s
        .rsplit_once(':')
        .map_or(s, |(h, p)| if p.parse::<u16>().is_ok() { h } else { s });
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return Err("use host[:port], e.g. sip.novofon.ru or sip.zadarma.com:5060".into());
    }
    Ok(Some(s.to_string()))
}

fn opt_ip(s: &str) -> Result<Option<std::net::IpAddr>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|_| "not an IP address".into())
}

section! {
    /// The SIP trunk the agent calls through (unset `SIP_SERVER`: no phone calls).
    pub struct SipSettings("sip") {
        /// the trunk's `host[:port]` (e.g. `sip.novofon.ru`, `sip.zadarma.com`); unset, telephony is off
        server: Option<String> = "SIP_SERVER", "", opt_host_port;
        /// digest login
        username: Option<String> = "SIP_USERNAME", "", opt_text;
        /// digest password
        password: Option<Secret> = "SIP_PASSWORD", "", secret;
        /// the SIP domain of the URIs (default: `SIP_SERVER`); it must reach the trunk, since a CANCEL follows it
        domain: Option<String> = "SIP_DOMAIN", "", opt_text;
        /// our number shown to the callee, E.164
        caller_id: Option<PhoneNumber> = "SIP_CALLER_ID", "", opt_phone;
        /// where our SIP listens
        bind: SocketAddr = "SIP_BIND", "0.0.0.0:5060", addr;
        /// the public address put in SIP and SDP behind NAT
        public_ip: Option<std::net::IpAddr> = "SIP_PUBLIC_IP", "", opt_ip;
        /// `udp` or `tcp` (with `tcp` we connect to the trunk over TCP and listen on `SIP_BIND` for TCP too)
        transport: SipTransport = "SIP_TRANSPORT", "udp", sip_transport;
        /// REGISTER with the trunk (`false` for trunks that authenticate by IP)
        register: bool = "SIP_REGISTER", "true", flag;
        /// how the trunk wants numbers: `7XXXXXXXXXX`, `+7XXXXXXXXXX` or `8XXXXXXXXXX`
        number_format: NumberFormat = "SIP_NUMBER_FORMAT", "7XXXXXXXXXX", number_format;
        /// the first RTP port
        rtp_port_min: u16 = "RTP_PORT_MIN", "20000", num(1024, 65_534);
        /// the last RTP port
        rtp_port_max: u16 = "RTP_PORT_MAX", "20999", num(1025, 65_535);
    }
}

section! {
    /// Placing outbound calls: limits and hours.
    pub struct OutboundCallSettings("outbound") {
        /// calls under way at once across every instance sharing the database
        concurrency: i64 = "CALL_CONCURRENCY", "2", num(1, 1000);
        /// ringing ends after this, in seconds
        ring_timeout_sec: u64 = "CALL_RING_TIMEOUT_SEC", "40", num(5, 180);
        /// the callee's local hours in which `/call` dials without asking (`HH:MM-HH:MM`); outside them it asks first, and the hours campaigns call in unless they set their own
        window: CallWindow = "CALL_WINDOW", "09:00-20:00", CallWindow::parse;
        /// campaigns: more tries after busy or no answer (a failed call gets at most one); a campaign may set its own
        campaign_retries: u32 = "CAMPAIGN_RETRIES", "2", num(0, 10);
        /// campaigns: minutes between tries
        campaign_retry_min: u32 = "CAMPAIGN_RETRY_MIN", "30", num(1, 10_080);
        /// campaigns: days of the week they call on (`пн-пт`, `mon-sat`, `ежедневно`), in the callee's time zone
        campaign_days: Days = "CAMPAIGN_DAYS", "пн-пт", Days::parse;
        /// campaigns: dates nobody is called, e.g. `2027-01-01,2027-01-02,08.03.2027`
        campaign_holidays: BTreeSet<NaiveDate> = "CAMPAIGN_HOLIDAYS", "", CallingSchedule::parse_holidays;
        /// campaigns: calls of one campaign at once unless it sets its own (all together stay under `CALL_CONCURRENCY`)
        campaign_concurrency: i64 = "CAMPAIGN_CONCURRENCY", "2", num(1, 1000);
    }
}

/// Where speech is used: the vendors may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechUse {
    /// Recordings and voice notes.
    Recordings,
    /// Live calls and rehearsals.
    Calls,
}

impl SpeechSettings {
    /// The prices of speech per vendor.
    pub fn prices(&self) -> SpeechPrices {
        SpeechPrices {
            stt_per_min: self.stt_price_per_min.clone(),
            tts_per_1k_chars: self.tts_price_per_1k_chars.clone(),
        }
    }

    /// The speech-to-text vendor for `use_`.
    pub fn stt(&self, use_: SpeechUse) -> SpeechVendor {
        match use_ {
            SpeechUse::Calls => self.agent_stt_provider.unwrap_or(self.stt_provider),
            SpeechUse::Recordings => self.stt_provider,
        }
    }

    /// The text-to-speech vendor for `use_`.
    pub fn tts(&self, use_: SpeechUse) -> SpeechVendor {
        match use_ {
            SpeechUse::Calls => self.agent_tts_provider.unwrap_or(self.tts_provider),
            SpeechUse::Recordings => self.tts_provider,
        }
    }

    /// What cannot work as set.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.uses(SpeechVendor::Salute) && self.salute_auth_key.is_none() {
            out.push("SALUTE_AUTH_KEY is needed when a *_PROVIDER is salute".into());
        }
        if self.stt_provider == SpeechVendor::Yandex {
            out.push("STT_PROVIDER=yandex: SpeechKit serves live calls only in this version (AGENT_STT_PROVIDER=yandex)".into());
        }
        if self.uses(SpeechVendor::Yandex)
            && self.yandex_api_key.is_none()
            && self.yandex_iam_token.is_none()
        {
            out.push("a *_PROVIDER=yandex needs YANDEX_API_KEY or YANDEX_IAM_TOKEN".into());
        }
        let recognises = |v| {
            [SpeechUse::Recordings, SpeechUse::Calls]
                .iter()
                .any(|u| self.stt(*u) == v)
        };
        if recognises(SpeechVendor::ElevenLabs) {
            out.push("ElevenLabs serves synthesis only in this version: set STT_PROVIDER and AGENT_STT_PROVIDER to openai, salute or yandex".into());
        }
        if self.uses(SpeechVendor::ElevenLabs) && self.elevenlabs_api_key.is_none() {
            out.push("ELEVENLABS_API_KEY is needed when TTS_PROVIDER or AGENT_TTS_PROVIDER is elevenlabs".into());
        }
        out
    }

    /// Whether any use goes to `vendor`.
    pub fn uses(&self, vendor: SpeechVendor) -> bool {
        [SpeechUse::Recordings, SpeechUse::Calls]
            .iter()
            .any(|u| self.stt(*u) == vendor || self.tts(*u) == vendor)
    }
}
