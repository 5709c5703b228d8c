//! T-Bank TQM (speech analytics) as a call source. Its API is reverse-engineered (the reference marks
//! it UNCERTAIN): log in for a bearer token, search the day's call sessions page by page, and read
//! each call's ready transcript with its speakers; TQM gives no recording, so those calls skip
//! speech-to-text. Every field is read through [`TbankFields`], a list of candidate paths per
//! field, so a renamed field is fixed in `TBANK_FIELDS`, not in code.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::novofon_v1::{number, text};
use super::{CallSource, ProviderCall, TelephonyError};
use crate::domain::{Direction, Speaker, Utterance, MAX_CALL_SECS};

pub const PROVIDER: &str = "tbank";

const LOGIN_PATHS: [&str; 2] = [
    "/v2/bff-core-app/auth/session-start",
    "/rest/auth/session-start",
];
const SEARCH_PATH: &str = "/v2/bff-communication-search/callsessions";
const SEGMENT_PATH: &str = "/v2/bff-core-app/transcription/segment";
const OPERATORS_PATH: &str = "/v2/bff-core-app/organizational-structures/autocomplete-search";

/// The fields read from TQM's answers, each with the paths tried in order (`a.b.0.c`: keys and
/// array indexes). `TBANK_FIELDS` puts its paths in front of these.
pub const DEFAULT_FIELDS: &[(&str, &str)] = &[
    ("token", "accessToken|access_token|token|data.accessToken"),
    ("items", "items|data.items|content|result.items|data"),
    ("next_page", "nextPage|paging.nextPage|data.nextPage"),
    ("id", "id|callSessionId|sessionId|communicationId"),
    (
        "segment",
        "smeCallId|segmentId|segments.0.smeCallId|segments.0.id",
    ),
    (
        "started",
        "startDate|startTime|callStartTime|beginTime|date|start",
    ),
    (
        "duration",
        "duration|durationSec|callDuration|talkDuration|durationSeconds",
    ),
    (
        "client",
        "clientPhone|client.phone|customerPhone|phoneNumber|ani|clientNumber",
    ),
    (
        "line",
        "operatorPhone|dnis|companyPhone|lineNumber|operatorNumber",
    ),
    ("operator_id", "operatorId|operator.id|employeeId|agentId"),
    (
        "operator_name",
        "operatorName|operator.name|operator.fullName|employeeName|agentName",
    ),
    ("direction", "direction|callDirection|callType|type"),
    (
        "phrases",
        "phrases|utterances|transcription.phrases|transcription|dialog|items|segments|data",
    ),
    (
        "speaker",
        "speaker|role|speakerType|participant|channel|side",
    ),
    ("text", "text|phrase|message|value|content"),
    ("start", "startMs|start|startTime|begin|from|offset"),
    ("end", "endMs|end|endTime|to|finish"),
    (
        "operators",
        "items|data|content|result|organizationalStructures",
    ),
    ("operator_entry_id", "id|operatorId|employeeId"),
    ("operator_entry_name", "name|fullName|title|displayName"),
];

/// Every field name `TBANK_FIELDS` may set.
pub fn field_names() -> Vec<&'static str> {
    DEFAULT_FIELDS.iter().map(|(k, _)| *k).collect()
}

/// Candidate paths per field: the configured ones first, then the defaults.
#[derive(Debug, Clone)]
pub struct TbankFields(BTreeMap<String, Vec<String>>);

impl TbankFields {
    /// The defaults with `overrides` (from `TBANK_FIELDS`) tried first.
    pub fn new(overrides: &[(String, Vec<String>)]) -> Self {
        let mut map: BTreeMap<String, Vec<String>> = DEFAULT_FIELDS
            .iter()
            .map(|(k, v)| (k.to_string(), v.split('|').map(str::to_string).collect()))
            .collect();
        for (k, paths) in overrides {
            let entry = map.entry(k.clone()).or_default();
            let mut first = paths.clone();
            first.extend(entry.drain(..).filter(|p| !paths.contains(p)));
            *entry = first;
        }
        Self(map)
    }

    /// The first present, non-null value of `field` in `v`.
    pub fn get<'a>(&self, v: &'a Value, field: &str) -> Option<&'a Value> {
        self.0
            .get(field)?
            .iter()
            .filter_map(|p| at_path(v, p))
            .find(|x| !x.is_null())
    }

    fn text(&self, v: &Value, field: &str) -> Option<String> {
        self.get(v, field).and_then(text)
    }
}

/// `a.b.0.c` in `v`.
fn at_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, part| match cur {
        Value::Object(m) => m.get(part),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Settings of the T-Bank client.
#[derive(Debug, Clone)]
pub struct TbankConfig {
    pub base_url: String,
    pub login: String,
    pub password: String,
    /// TQM's dates carry no zone: they are read and written in this one.
    pub timezone: Tz,
    pub fields: TbankFields,
    pub page_size: usize,
    /// Who speaks on channel 0 and 1 when TQM names its speakers by number.
    pub channel_roles: Vec<Speaker>,
}

pub struct Tbank {
    cfg: TbankConfig,
    http: reqwest::Client,
    token: Mutex<Option<String>>,
}

/// A member of TQM's operators directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TbankOperator {
    pub id: String,
    pub name: String,
}

impl Tbank {
    pub fn new(cfg: TbankConfig) -> Self {
        let http = crate::http::client_builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            cfg,
            http,
            token: Mutex::new(None),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.base_url.trim_end_matches('/'))
    }

    /// Logs in (the current path, then the legacy one) and returns the bearer token.
    async fn login(&self) -> Result<String, TelephonyError> {
        let body = json!({
            "login": self.cfg.login,
            "password": self.cfg.password,
            // sic: TQM's own spelling.
            "authentificationType": "tqm",
            "authSystem": "tqm",
        });
        let mut last = TelephonyError::Transient("no login path answered".into());
        for path in LOGIN_PATHS {
            let resp = self
                .http
                .post(self.url(path))
                .json(&body)
                .send()
                .await
                .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            match status {
                200..=299 => {
                    return self.cfg.fields.text(&v, "token").ok_or_else(|| {
                        TelephonyError::Auth(
                            "the login answer has no token (TBANK_FIELDS token=…)".into(),
                        )
                    })
                }
                401 | 403 => {
                    return Err(TelephonyError::Auth(format!(
                        "HTTP {status}: check TBANK_LOGIN / TBANK_PASSWORD"
                    )))
                }
                404 | 405 => last = TelephonyError::Rejected(format!("HTTP {status} for {path}")),
                s if s >= 500 => return Err(TelephonyError::Transient(format!("HTTP {s}"))),
                s => return Err(TelephonyError::Rejected(format!("login: HTTP {s}"))),
            }
        }
        Err(last)
    }

    /// A request with the bearer token; a 401 logs in again once.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, TelephonyError> {
        for fresh in [false, true] {
            let token = {
                let mut held = self.token.lock().await;
                match (&*held, fresh) {
                    (Some(t), false) => t.clone(),
                    _ => {
                        let t = self.login().await?;
                        *held = Some(t.clone());
                        t
                    }
                }
            };
            let mut req = self
                .http
                .request(method.clone(), self.url(path))
                .bearer_auth(&token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
            let status = resp.status().as_u16();
            if status == 401 && !fresh {
                continue;
            }
            if status == 429 {
                return Err(TelephonyError::RateLimited(
                    crate::retry::retry_after(resp.headers()).unwrap_or(Duration::from_secs(30)),
                ));
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
            return match status {
                200..=299 => serde_json::from_slice(&bytes).map_err(|e| {
                    TelephonyError::Transient(format!(
                        "TQM answered something that is not JSON: {e}"
                    ))
                }),
                401 | 403 => Err(TelephonyError::Auth(format!("HTTP {status} for {path}"))),
                404 => Err(TelephonyError::NotReady(format!("HTTP 404 for {path}"))),
                s if s >= 500 => Err(TelephonyError::Transient(format!("HTTP {s} for {path}"))),
                s => Err(TelephonyError::Rejected(format!("HTTP {s} for {path}"))),
            };
        }
        Err(TelephonyError::Auth("TQM refused a fresh token".into()))
    }

    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.cfg.timezone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// A TQM date: RFC 3339, local `YYYY-MM-DD[ T]HH:MM:SS[.fff]`, or unix seconds/milliseconds.
    pub fn parse_time(&self, v: &Value) -> Option<DateTime<Utc>> {
        if let Some(n) = v.as_i64() {
            let secs = if n > 100_000_000_000 { n / 1000 } else { n };
            return Utc.timestamp_opt(secs, 0).single();
        }
        let s = v.as_str()?.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&Utc));
        }
        [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%d.%m.%Y %H:%M:%S",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .and_then(|n| self.cfg.timezone.from_local_datetime(&n).earliest())
        .map(|t| t.with_timezone(&Utc))
    }

    /// One call session as a provider call; `None` when it has no id or start.
    pub fn parse_item(&self, item: &Value) -> Option<ProviderCall> {
        let f = &self.cfg.fields;
        // A TQM communication is split into segments, each with its own transcript: a segment is
        // the call here, and its id is what the transcript is asked for.
        let id = f.text(item, "segment").or_else(|| f.text(item, "id"))?;
        let started_at = f.get(item, "started").and_then(|v| self.parse_time(v))?;
        let duration = f
            .get(item, "duration")
            .and_then(number)
            .map(|d| if d > 100_000 { d / 1000 } else { d })
            .unwrap_or(0)
            .clamp(0, MAX_CALL_SECS);
        let direction = f.text(item, "direction").and_then(|d| {
            let d = d.to_lowercase();
            if d.starts_with("in") || d.contains("вход") {
                Some(Direction::Incoming)
            } else if d.starts_with("out") || d.contains("исход") {
                Some(Direction::Outgoing)
            } else {
                None
            }
        });
        let client = f.text(item, "client").unwrap_or_default();
        let line = f
            .text(item, "line")
            .or_else(|| f.text(item, "operator_id"))
            .unwrap_or_default();
        let (caller, called) = match direction {
            Some(Direction::Outgoing) => (line, client),
            _ => (client, line),
        };
        Some(ProviderCall {
            // No recording to fetch (nor to offer under the protocol): the transcript is ready.
            recording_ref: None,
            provider_call_id: id,
            direction,
            caller,
            called,
            started_at,
            duration_secs: duration,
            // TQM lists the calls it has analysed: they were answered and have a transcript.
            answered: true,
            disposition: "transcribed".into(),
            recorded: true,
            operator: f.text(item, "operator_id"),
        })
    }

    /// The utterances of a transcript answer, in time order.
    pub fn parse_transcript(&self, v: &Value) -> Vec<Utterance> {
        let f = &self.cfg.fields;
        let list = match v {
            Value::Array(a) => a.as_slice(),
            other => f
                .get(other, "phrases")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        };
        let ms = |x: Option<&Value>| {
            x.and_then(|x| match x {
                Value::Number(n) if n.is_f64() => n.as_f64().map(|s| (s * 1000.0) as i64),
                other => number(other),
            })
        };
        let mut out: Vec<Utterance> = list
            .iter()
            .filter_map(|p| {
                if let Value::Array(pair) = p {
                    // Mango-style `[speaker, text]` pairs.
                    let speaker = pair
                        .first()
                        .map(|s| self.speaker(s))
                        .unwrap_or(Speaker::Unknown);
                    let text = pair.get(1).and_then(text)?;
                    return Some(Utterance {
                        speaker,
                        start_ms: 0,
                        end_ms: 0,
                        text,
                    });
                }
                let text = f.text(p, "text")?;
                let start_ms = ms(f.get(p, "start")).unwrap_or(0);
                Some(Utterance {
                    speaker: f
                        .get(p, "speaker")
                        .map(|s| self.speaker(s))
                        .unwrap_or(Speaker::Unknown),
                    start_ms,
                    end_ms: ms(f.get(p, "end")).unwrap_or(start_ms).max(start_ms),
                    text,
                })
            })
            .collect();
        out.sort_by_key(|u| u.start_ms);
        out
    }

    /// TQM's word for a side: operator/agent/employee words, client words, or a channel number.
    fn speaker(&self, v: &Value) -> Speaker {
        let channel = |i: usize| {
            self.cfg
                .channel_roles
                .get(i)
                .copied()
                .unwrap_or(Speaker::Unknown)
        };
        if let Some(n) = v.as_i64() {
            return usize::try_from(n).map(channel).unwrap_or(Speaker::Unknown);
        }
        let s = v.as_str().unwrap_or("").to_lowercase();
        const OURS: [&str; 7] = [
            "oper",
            "agent",
            "employee",
            "manager",
            "оператор",
            "сотрудник",
            "менеджер",
        ];
        const THEIRS: [&str; 5] = ["client", "customer", "abonent", "клиент", "абонент"];
        if OURS.iter().any(|w| s.contains(w)) {
            Speaker::Manager
        } else if THEIRS.iter().any(|w| s.contains(w)) {
            Speaker::Client
        } else if s == "left" || s == "0" {
            channel(0)
        } else if s == "right" || s == "1" {
            channel(1)
        } else {
            Speaker::Unknown
        }
    }

    /// The operators directory (ids and names).
    pub async fn operators(&self) -> Result<Vec<TbankOperator>, TelephonyError> {
        let path = format!("{OPERATORS_PATH}?term=&type=&parentFolderId=");
        let v = self.call(reqwest::Method::GET, &path, None).await?;
        let f = &self.cfg.fields;
        let list = match &v {
            Value::Array(a) => a.clone(),
            other => f
                .get(other, "operators")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        Ok(list
            .iter()
            .filter_map(|o| {
                Some(TbankOperator {
                    id: f.text(o, "operator_entry_id")?,
                    name: f.text(o, "operator_entry_name")?,
                })
            })
            .collect())
    }
}

#[async_trait]
impl CallSource for Tbank {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn list_calls(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProviderCall>, TelephonyError> {
        let mut out = Vec::new();
        let mut page: i64 = 1;
        // A guard against a server that keeps answering the same nextPage.
        for _ in 0..1000 {
            let body = json!({
                "filters": {"date": {"min": self.local(from), "max": self.local(to - chrono::TimeDelta::seconds(1))}},
                "paging": {"page": page, "itemsPerPage": self.cfg.page_size, "itemsCount": 0},
            });
            let v = self
                .call(reqwest::Method::POST, SEARCH_PATH, Some(&body))
                .await?;
            let items = match &v {
                Value::Array(a) => a.clone(),
                other => self
                    .cfg
                    .fields
                    .get(other, "items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            };
            for item in &items {
                match self.parse_item(item) {
                    Some(c) if c.started_at >= from && c.started_at < to => out.push(c),
                    Some(_) => {}
                    None => tracing::warn!(
                        "T-Bank: a call session without an id or start time was skipped (TBANK_FIELDS id=… / started=…)"
                    ),
                }
            }
            match self.cfg.fields.get(&v, "next_page").and_then(number) {
                Some(next) if next > page && !items.is_empty() => page = next,
                _ => break,
            }
        }
        Ok(out)
    }

    async fn fetch_recording(
        &self,
        _provider_call_id: &str,
        _recording_ref: Option<&str>,
    ) -> Result<(Vec<u8>, String), TelephonyError> {
        Err(TelephonyError::Rejected(
            "T-Bank TQM gives transcripts, not recordings".into(),
        ))
    }

    async fn fetch_transcript(
        &self,
        segment: &str,
        _recording_ref: Option<&str>,
    ) -> Result<Option<Vec<Utterance>>, TelephonyError> {
        let id: Value = segment
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(segment));
        let v = self
            .call(
                reqwest::Method::POST,
                SEGMENT_PATH,
                Some(&json!({ "segmentId": id })),
            )
            .await?;
        let utterances = self.parse_transcript(&v);
        if utterances.is_empty() {
            return Err(TelephonyError::NotReady(
                "TQM has no transcript phrases for this call yet (TBANK_FIELDS phrases=… if it renamed them)".into(),
            ));
        }
        Ok(Some(utterances))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(overrides: &[(String, Vec<String>)]) -> Tbank {
        Tbank::new(TbankConfig {
            base_url: "http://127.0.0.1:9".into(),
            login: "l".into(),
            password: "p".into(),
            timezone: chrono_tz::Europe::Moscow,
            fields: TbankFields::new(overrides),
            page_size: 100,
            channel_roles: vec![Speaker::Manager, Speaker::Client],
        })
    }

    #[test]
    fn call_sessions_are_read_leniently_and_a_renamed_field_is_a_setting() {
        let t = client(&[]);
        let item = json!({"id": 771, "smeCallId": 9001, "startDate": "2026-11-27 14:32:00",
            "duration": 125, "clientPhone": "79161234567", "operatorPhone": "74951234567",
            "direction": "INCOMING", "operator": {"id": "op-1", "name": "Анна"}});
        let c = t.parse_item(&item).unwrap();
        assert_eq!(c.provider_call_id, "9001", "the segment is the call");
        assert_eq!(c.recording_ref, None);
        assert_eq!(c.started_at.to_rfc3339(), "2026-11-27T11:32:00+00:00");
        assert_eq!(c.duration_secs, 125);
        assert_eq!(c.direction, Some(Direction::Incoming));
        assert_eq!(
            (c.caller.as_str(), c.called.as_str()),
            ("79161234567", "74951234567")
        );
        // TQM renames startDate: the default paths miss it, a setting finds it.
        let renamed =
            json!({"id": 772, "whenStarted": 1764243120000_i64, "clientPhone": "79161234567"});
        assert!(t.parse_item(&renamed).is_none());
        let t2 = client(&[("started".into(), vec!["whenStarted".into()])]);
        let c2 = t2.parse_item(&renamed).unwrap();
        assert_eq!(c2.started_at.timestamp(), 1_764_243_120);
    }

    #[test]
    fn transcripts_keep_their_speakers_in_time_order() {
        let t = client(&[]);
        let v = json!({"phrases": [
            {"speaker": "CLIENT", "text": "Здравствуйте, я по объявлению", "start": 1.5, "end": 3.0},
            {"speaker": "OPERATOR", "text": "Агентство «Дом», Анна, слушаю", "start": 0.2, "end": 1.4},
            {"speaker": 1, "text": "Сколько стоит?", "startMs": 4000, "endMs": 5000},
            {"speaker": "OPERATOR", "text": ""}
        ]});
        let u = t.parse_transcript(&v);
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].speaker, Speaker::Manager);
        assert_eq!((u[0].start_ms, u[0].end_ms), (200, 1400));
        assert_eq!(u[1].speaker, Speaker::Client);
        assert_eq!(u[2].speaker, Speaker::Client);
        assert_eq!(u[2].start_ms, 4000);
        let pairs = json!([["operator", "Алло"], ["client", "Да"]]);
        let u = t.parse_transcript(&pairs);
        assert_eq!(
            u.iter().map(|x| x.speaker).collect::<Vec<_>>(),
            vec![Speaker::Manager, Speaker::Client]
        );
    }
}
