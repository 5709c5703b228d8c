//! Novofon API 1.0 (Zadarma-compatible REST): signed requests, the PBX call statistics with paging
//! and the 3-per-minute limit, recording links, and the `NOTIFY_*` webhooks.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use serde_json::Value;
use sha1::Sha1;

use super::pace::StatsPace;
use super::{constant_eq, download_recording, CallSource, ProviderCall, TelephonyError};
use crate::domain::{Direction, MAX_CALL_SECS};
use crate::retry::retry_after;

pub const PROVIDER: &str = "novofon";
/// The provider name of Zadarma's calls (the same API on another host).
pub const ZADARMA: &str = "zadarma";
const STATS_METHOD: &str = "/v1/statistics/pbx/";
const RECORD_METHOD: &str = "/v1/pbx/record/request/";

/// Percent-encodes like PHP `urlencode` (RFC 1738): letters, digits and `-_.` stay, space is `+`.
pub fn php_urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The sorted query string of `params`.
pub fn query_string(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", php_urlencode(k), php_urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `base64(hex(HMAC-SHA1(secret, data)))`, the Zadarma/Novofon signature.
pub fn hmac_b64hex(secret: &str, data: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(data.as_bytes());
    let hex = hex::encode(mac.finalize().into_bytes());
    base64::engine::general_purpose::STANDARD.encode(hex)
}

/// The request signature: over `method + qs + md5hex(qs)`.
pub fn sign(method: &str, qs: &str, secret: &str) -> String {
    let md5 = hex::encode(Md5::digest(qs.as_bytes()));
    hmac_b64hex(secret, &format!("{method}{qs}{md5}"))
}

/// Settings of the Novofon 1.0 client (Zadarma's API too, on its own host).
#[derive(Debug, Clone)]
pub struct NovofonV1Config {
    /// The provider name stored with its calls: [`PROVIDER`] or [`ZADARMA`].
    pub provider: &'static str,
    pub base_url: String,
    pub key: String,
    pub secret: String,
    /// The cabinet's time zone (times in the API carry none).
    pub timezone: Tz,
    /// Gap between statistics requests (the limit is 3 per minute).
    pub stats_interval: Duration,
    /// First wait after a 429 without `Retry-After`.
    pub backoff: Duration,
    /// Rows per page (1000 in production; smaller in tests).
    pub page_size: usize,
    /// Recordings larger than this are refused before their body is read (`MAX_RECORDING_MB`).
    pub max_recording_bytes: u64,
}

pub struct NovofonV1 {
    cfg: NovofonV1Config,
    http: reqwest::Client,
    pace: StatsPace,
}

impl NovofonV1 {
    pub fn new(cfg: NovofonV1Config) -> Self {
        let http = crate::http::client_builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self {
            pace: StatsPace::new(cfg.stats_interval, cfg.backoff, Duration::from_secs(120)),
            cfg,
            http,
        }
    }

    async fn get(
        &self,
        method: &str,
        mut params: BTreeMap<String, String>,
    ) -> Result<Value, TelephonyError> {
        params.insert("format".into(), "json".into());
        let qs = query_string(&params);
        let signature = sign(method, &qs, &self.cfg.secret);
        let url = format!("{}{method}?{qs}", self.cfg.base_url.trim_end_matches('/'));
        let resp = self
            .http
            .get(&url)
            .header("Authorization", format!("{}:{signature}", self.cfg.key))
            .send()
            .await
            .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
        let status = resp.status();
        if status.as_u16() == 429 {
            return Err(TelephonyError::RateLimited(
                retry_after(resp.headers()).unwrap_or(self.cfg.backoff),
            ));
        }
        let body = resp
            .text()
            .await
            .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
        let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let message = json["message"].as_str().unwrap_or("").to_string();
        if status.as_u16() == 401
            || status.as_u16() == 403
            || message.to_lowercase().contains("not authorized")
        {
            return Err(TelephonyError::Auth(format!("HTTP {status}: {message}")));
        }
        if status.is_server_error() {
            return Err(TelephonyError::Transient(format!("HTTP {status}")));
        }
        if json["status"].as_str() != Some("success") {
            let snippet: String = body.chars().take(200).collect();
            let msg = if message.is_empty() { snippet } else { message };
            return Err(if status.is_success() {
                TelephonyError::Rejected(msg)
            } else {
                TelephonyError::Transient(format!("HTTP {status}: {msg}"))
            });
        }
        Ok(json)
    }

    /// One statistics request, paced and retried on 429 (three times).
    async fn stats_page(&self, params: BTreeMap<String, String>) -> Result<Value, TelephonyError> {
        self.pace
            .run(self.cfg.provider, || self.get(STATS_METHOD, params.clone()))
            .await
    }

    fn local(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.cfg.timezone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn parse_local(&self, s: &str) -> Option<DateTime<Utc>> {
        let naive = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
        self.cfg
            .timezone
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    fn parse_item(&self, item: &Value) -> Option<ProviderCall> {
        let pbx_call_id = text(&item["pbx_call_id"])?;
        let started_at = self.parse_local(&text(&item["callstart"])?)?;
        let disposition = text(&item["disposition"]).unwrap_or_default();
        Some(ProviderCall {
            direction: direction_from_id(&pbx_call_id),
            // A call_id sent as a JSON number (e.g. 1715671234.2702773) may have lost digits in
            // parsing; then the recording is fetched by pbx_call_id instead.
            recording_ref: item["call_id"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            provider_call_id: pbx_call_id,
            caller: text(&item["clid"]).unwrap_or_default(),
            called: text(&item["destination"]).unwrap_or_default(),
            started_at,
            duration_secs: number(&item["seconds"]).unwrap_or(0),
            answered: disposition.eq_ignore_ascii_case("answered"),
            disposition,
            recorded: truthy(&item["is_recorded"]),
            // The employee's extension (`sip`; `internal` in the webhooks).
            operator: text(&item["sip"]).or_else(|| text(&item["internal"])),
        })
    }
}

/// `in_...` is incoming, `out_...` outgoing (the reference marks this UNCERTAIN: `None` otherwise).
pub fn direction_from_id(pbx_call_id: &str) -> Option<Direction> {
    if pbx_call_id.starts_with("in_") {
        Some(Direction::Incoming)
    } else if pbx_call_id.starts_with("out_") {
        Some(Direction::Outgoing)
    } else {
        None
    }
}

/// A loosely typed field as text: strings as they are, numbers printed.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64().unwrap_or(0) != 0,
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        _ => false,
    }
}

#[async_trait]
impl CallSource for NovofonV1 {
    fn name(&self) -> &'static str {
        self.cfg.provider
    }

    async fn list_calls(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProviderCall>, TelephonyError> {
        let mut out = Vec::new();
        let mut skip = 0usize;
        loop {
            let mut params = BTreeMap::new();
            params.insert("start".to_string(), self.local(from));
            params.insert("end".to_string(), self.local(to));
            params.insert("version".to_string(), "2".to_string());
            params.insert("skip".to_string(), skip.to_string());
            params.insert("limit".to_string(), self.cfg.page_size.to_string());
            let page = self.stats_page(params).await?;
            let items = page["stats"].as_array().cloned().unwrap_or_default();
            let n = items.len();
            for item in &items {
                match self.parse_item(item) {
                    Some(c) => out.push(c),
                    None => {
                        tracing::warn!(row = %row_summary(item), "Novofon: skipping an unreadable statistics row");
                        tracing::debug!(item = %item, "the unreadable row")
                    }
                }
            }
            if n < self.cfg.page_size {
                break;
            }
            skip += self.cfg.page_size;
        }
        Ok(out)
    }

    async fn fetch_recording(
        &self,
        provider_call_id: &str,
        recording_ref: Option<&str>,
    ) -> Result<(Vec<u8>, String), TelephonyError> {
        let mut params = BTreeMap::new();
        match recording_ref {
            Some(r) => params.insert("call_id".to_string(), r.to_string()),
            None => params.insert("pbx_call_id".to_string(), provider_call_id.to_string()),
        };
        let answer = match self.get(RECORD_METHOD, params).await {
            Err(TelephonyError::Rejected(m)) => return Err(TelephonyError::NotReady(m)),
            other => other?,
        };
        let link = answer["link"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                answer["links"]
                    .as_array()
                    .and_then(|l| l.first())
                    .and_then(|l| l.as_str())
                    .map(str::to_string)
            })
            .ok_or_else(|| TelephonyError::NotReady("no recording link in the answer".into()))?;
        download_recording(&self.http, &link, self.cfg.max_recording_bytes).await
    }
}

/// What a Novofon webhook told us.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookEvent {
    /// NOTIFY_END / NOTIFY_OUT_END: a call ended.
    CallEnded(ProviderCall),
    /// NOTIFY_RECORD: the recording of a call is ready.
    RecordReady {
        pbx_call_id: String,
        recording_ref: String,
    },
    /// Another event (acknowledged, nothing to do).
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("missing Signature header")]
    MissingSignature,
    #[error("wrong signature")]
    BadSignature,
    #[error("malformed webhook: {0}")]
    Malformed(String),
}

/// Verifies and parses a form-encoded webhook.
pub fn parse_webhook(
    form: &BTreeMap<String, String>,
    signature: Option<&str>,
    secret: &str,
    tz: Tz,
) -> Result<WebhookEvent, WebhookError> {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let event = get("event");
    let signed = match event {
        "NOTIFY_START" | "NOTIFY_INTERNAL" | "NOTIFY_END" | "NOTIFY_IVR" => {
            format!(
                "{}{}{}",
                get("caller_id"),
                get("called_did"),
                get("call_start")
            )
        }
        "NOTIFY_ANSWER" => format!(
            "{}{}{}",
            get("caller_id"),
            get("destination"),
            get("call_start")
        ),
        "NOTIFY_OUT_START" | "NOTIFY_OUT_END" => format!(
            "{}{}{}",
            get("internal"),
            get("destination"),
            get("call_start")
        ),
        "NOTIFY_RECORD" => format!("{}{}", get("pbx_call_id"), get("call_id_with_rec")),
        "" => return Err(WebhookError::Malformed("no event field".into())),
        _ => format!(
            "{}{}{}",
            get("caller_id"),
            get("called_did"),
            get("call_start")
        ),
    };
    let given = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(WebhookError::MissingSignature)?;
    let expected = hmac_b64hex(secret, &signed);
    if !constant_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(WebhookError::BadSignature);
    }
    let started = |s: &str| {
        NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
            .ok()
            .and_then(|n| tz.from_local_datetime(&n).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| WebhookError::Malformed(format!("bad call_start {s:?}")))
    };
    match event {
        "NOTIFY_END" | "NOTIFY_OUT_END" => {
            let pbx_call_id = get("pbx_call_id").to_string();
            if pbx_call_id.is_empty() {
                return Err(WebhookError::Malformed("no pbx_call_id".into()));
            }
            let incoming = event == "NOTIFY_END";
            let disposition = get("disposition").to_string();
            let rec = get("call_id_with_rec");
            Ok(WebhookEvent::CallEnded(ProviderCall {
                direction: Some(if incoming {
                    Direction::Incoming
                } else {
                    Direction::Outgoing
                }),
                caller: if incoming {
                    get("caller_id")
                } else {
                    non_empty(get("caller_id"), get("internal"))
                }
                .to_string(),
                called: if incoming {
                    get("called_did")
                } else {
                    get("destination")
                }
                .to_string(),
                started_at: started(get("call_start"))?,
                duration_secs: duration(get("duration"))?,
                answered: disposition.eq_ignore_ascii_case("answered"),
                disposition,
                recorded: matches!(get("is_recorded").trim(), "1" | "true"),
                recording_ref: (!rec.is_empty()).then(|| rec.to_string()),
                provider_call_id: pbx_call_id,
                operator: Some(get("internal").trim())
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            }))
        }
        "NOTIFY_RECORD" => Ok(WebhookEvent::RecordReady {
            pbx_call_id: get("pbx_call_id").to_string(),
            recording_ref: get("call_id_with_rec").to_string(),
        }),
        other => Ok(WebhookEvent::Other(other.to_string())),
    }
}

/// What a log may say about a provider's row: its ids and field names, never its numbers.
pub(crate) fn row_summary(item: &Value) -> String {
    let id = ["pbx_call_id", "call_id", "id"]
        .iter()
        .find_map(|k| text(&item[*k]))
        .unwrap_or_else(|| "?".into());
    let fields: Vec<&str> = item
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    format!("id {id}, fields [{}]", fields.join(", "))
}

/// A webhook's duration: lenient about missing or odd text (0), strict about impossible numbers.
fn duration(raw: &str) -> Result<i64, WebhookError> {
    match raw.trim().parse::<i64>() {
        Ok(n) if (0..=MAX_CALL_SECS).contains(&n) => Ok(n),
        Ok(n) => Err(WebhookError::Malformed(format!(
            "duration {n} is outside 0–{MAX_CALL_SECS} s"
        ))),
        Err(_) if raw.trim().chars().all(|c| c.is_ascii_digit()) && !raw.trim().is_empty() => {
            Err(WebhookError::Malformed("duration is out of range".into()))
        }
        Err(_) => Ok(0),
    }
}

fn non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "dbf5606ea4c1f2234201";

    #[test]
    fn reference_signature_vectors() {
        let mut p = BTreeMap::new();
        p.insert("start".to_string(), "2018-09-01 08:00:00".to_string());
        p.insert("end".to_string(), "2018-10-04 08:00:00".to_string());
        let qs = query_string(&p);
        assert_eq!(
            qs,
            "end=2018-10-04+08%3A00%3A00&start=2018-09-01+08%3A00%3A00"
        );
        assert_eq!(
            sign("/v1/statistics/", &qs, SECRET),
            "ZmI3YzA1MmJkNzQyYmE1YzI3OWY3OTRjNTlmZDFkMTE2MmI4YmI0Yg=="
        );

        let mut p = BTreeMap::new();
        p.insert("start".to_string(), "2024-05-14 00:00:00".to_string());
        p.insert("end".to_string(), "2024-05-14 23:59:59".to_string());
        p.insert("version".to_string(), "2".to_string());
        p.insert("format".to_string(), "json".to_string());
        let qs = query_string(&p);
        assert_eq!(
            qs,
            "end=2024-05-14+23%3A59%3A59&format=json&start=2024-05-14+00%3A00%3A00&version=2"
        );
        assert_eq!(
            sign("/v1/statistics/pbx/", &qs, SECRET),
            "Y2FlODU5MjRlY2M0ZjJmZWM3OWQxMTIwOTllZjUzN2YzMTk0MzIwZg=="
        );

        assert_eq!(
            hmac_b64hex(SECRET, "+79161234567749512345672024-05-14 10:15:00"),
            "NWYwYTFmNjNhZDlkNzViNDA3OGI5ZmE5ZTdlZDA1NTVjZWJhMzBjMw=="
        );
        assert_eq!(php_urlencode("a*b~c d+e"), "a%2Ab%7Ec+d%2Be");
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn notify_end_is_verified_and_parsed() {
        let f = form(&[
            ("event", "NOTIFY_END"),
            ("call_start", "2024-05-14 10:15:00"),
            ("pbx_call_id", "in_ae6b03b3b0765d127ec0b739209346bbc4f0d52d"),
            ("caller_id", "+79161234567"),
            ("called_did", "74951234567"),
            ("internal", "100"),
            ("duration", "187"),
            ("disposition", "answered"),
            ("status_code", "16"),
            ("is_recorded", "1"),
            ("call_id_with_rec", "1715671234.2702773"),
        ]);
        let sig = "NWYwYTFmNjNhZDlkNzViNDA3OGI5ZmE5ZTdlZDA1NTVjZWJhMzBjMw==";
        let WebhookEvent::CallEnded(c) =
            parse_webhook(&f, Some(sig), SECRET, chrono_tz::Europe::Moscow).unwrap()
        else {
            panic!("expected CallEnded")
        };
        assert_eq!(c.direction, Some(Direction::Incoming));
        assert_eq!(
            c.started_at,
            Utc.with_ymd_and_hms(2024, 5, 14, 7, 15, 0).unwrap(),
            "Moscow is UTC+3"
        );
        assert_eq!((c.duration_secs, c.answered, c.recorded), (187, true, true));
        assert_eq!(c.recording_ref.as_deref(), Some("1715671234.2702773"));
        assert_eq!(
            parse_webhook(&f, Some("AAAA"), SECRET, chrono_tz::Europe::Moscow),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            parse_webhook(&f, None, SECRET, chrono_tz::Europe::Moscow),
            Err(WebhookError::MissingSignature)
        );
    }

    #[test]
    fn unreadable_rows_are_summarised_without_numbers() {
        let row = serde_json::json!({"pbx_call_id": "in_1", "clid": "79161234567", "destination": "74951112233"});
        let s = row_summary(&row);
        assert!(s.contains("in_1") && s.contains("clid"), "{s}");
        assert!(!s.contains("79161234567") && !s.contains("1112233"), "{s}");
    }

    #[test]
    fn lenient_fields() {
        assert_eq!(
            text(&serde_json::json!(1439981389.2702773)).as_deref(),
            Some("1439981389.2702773")
        );
        assert_eq!(number(&serde_json::json!("187")), Some(187));
        assert!(
            truthy(&serde_json::json!("true"))
                && truthy(&serde_json::json!(1))
                && !truthy(&serde_json::json!("false"))
        );
        assert_eq!(direction_from_id("out_2c9f"), Some(Direction::Outgoing));
        assert_eq!(direction_from_id("1715"), None);
    }
}
