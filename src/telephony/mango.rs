//! Mango Office VPBX API: every request is a signed form (`vpbx_api_key`, `sign`, `json`); the call
//! history is a statistics request whose `;`-separated CSV is fetched by its key once ready; a
//! recording is a one-shot link behind a 302. Mango's own events (`summary`, `record/added`, …)
//! carry the same signature and are parsed here too.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::novofon_v1::{number, text};
use super::pace::StatsPace;
use super::{download_recording, CallSource, ProviderCall, TelephonyError};
use crate::domain::{Direction, MAX_CALL_SECS};
use crate::retry::retry_after;

pub const PROVIDER: &str = "mango";

/// The columns asked of the statistics, in the order the CSV returns them.
pub const STATS_FIELDS: &str = "records,start,finish,answer,from_extension,from_number,to_extension,to_number,disconnect_reason,line_number,location,entry_id";

/// Mango's documents disagree on whether `date_from`/`date_to` are UTC or UTC+3 (UNCERTAIN): the
/// request reaches this far past the window's end, so neither reading loses the newest calls.
const TZ_SLACK: chrono::TimeDelta = chrono::TimeDelta::hours(3);

/// `lowercase_hex(SHA256(key + json + salt))`: the signature of requests and of Mango's events.
pub fn sign(key: &str, json: &str, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update(json.as_bytes());
    h.update(salt.as_bytes());
    hex::encode(h.finalize())
}

/// Settings of the Mango client.
#[derive(Debug, Clone)]
pub struct MangoConfig {
    /// The API root with `/vpbx` (`https://app.mango-office.ru/vpbx`).
    pub base_url: String,
    pub key: String,
    pub salt: String,
    /// Gap between statistics requests (Mango allows one per 2 s).
    pub stats_interval: Duration,
    /// How often a statistics result is asked for while Mango answers 204 (no more than every 5 s).
    pub result_poll: Duration,
    /// How long a statistics result is waited for before the poll gives up (and tries next time).
    pub result_wait: Duration,
    /// First wait after a 429 without `Retry-After`.
    pub backoff: Duration,
    /// Recordings larger than this are refused before their body is read.
    pub max_recording_bytes: u64,
}

impl MangoConfig {
    /// Production pacing for the given credentials and API root.
    pub fn new(base_url: &str, key: &str, salt: &str, backoff: Duration, max_bytes: u64) -> Self {
        Self {
            base_url: base_url.to_string(),
            key: key.to_string(),
            salt: salt.to_string(),
            stats_interval: Duration::from_secs(2),
            result_poll: Duration::from_secs(5),
            result_wait: Duration::from_secs(120),
            backoff,
            max_recording_bytes: max_bytes,
        }
    }
}

pub struct Mango {
    cfg: MangoConfig,
    http: reqwest::Client,
    /// Follows no redirect: a recording's answer is a 302 whose one-shot link is read, not followed.
    http_no_redirect: reqwest::Client,
    pace: StatsPace,
}

/// What a signed request answered, before its meaning is read.
struct Answer {
    status: u16,
    location: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Mango {
    pub fn new(cfg: MangoConfig) -> Self {
        let build = |redirects: bool| {
            let b = crate::http::client_builder().timeout(Duration::from_secs(60));
            let b = if redirects {
                b
            } else {
                b.redirect(reqwest::redirect::Policy::none())
            };
            b.build().unwrap_or_default()
        };
        Self {
            http: build(true),
            http_no_redirect: build(false),
            pace: StatsPace::new(cfg.stats_interval, cfg.backoff, Duration::from_secs(60)),
            cfg,
        }
    }

    /// The form Mango expects for `json`: compact JSON, signed as sent.
    pub fn form(&self, json: &Value) -> Vec<(&'static str, String)> {
        let body = json.to_string();
        vec![
            ("vpbx_api_key", self.cfg.key.clone()),
            ("sign", sign(&self.cfg.key, &body, &self.cfg.salt)),
            ("json", body),
        ]
    }

    async fn post(
        &self,
        path: &str,
        json: &Value,
        redirects: bool,
    ) -> Result<Answer, TelephonyError> {
        let url = format!("{}/{path}", self.cfg.base_url.trim_end_matches('/'));
        let client = if redirects {
            &self.http
        } else {
            &self.http_no_redirect
        };
        let resp = client
            .post(&url)
            .form(&self.form(json))
            .send()
            .await
            .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        if status == 429 {
            return Err(TelephonyError::RateLimited(
                retry_after(resp.headers()).unwrap_or(self.cfg.backoff),
            ));
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header(reqwest::header::LOCATION);
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let body = resp
            .bytes()
            .await
            .map_err(|e| TelephonyError::Transient(e.without_url().to_string()))?
            .to_vec();
        if status == 401 || status == 403 {
            return Err(TelephonyError::Auth(format!(
                "HTTP {status} (MANGO_API_KEY / MANGO_API_SALT)"
            )));
        }
        if status >= 500 {
            return Err(TelephonyError::Transient(format!("HTTP {status}")));
        }
        // 420 "Method Failure" carries Mango's result code.
        if status == 420 {
            let code = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| number(&v["code"]).or_else(|| number(&v["result"])))
                .unwrap_or(0);
            return Err(result_code_error(code));
        }
        Ok(Answer {
            status,
            location,
            content_type,
            body,
        })
    }

    async fn paced_stats_request(&self, json: &Value) -> Result<String, TelephonyError> {
        let a = self
            .pace
            .run(PROVIDER, || self.post("stats/request", json, true))
            .await?;
        let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        if let Some(key) = text(&v["key"]) {
            return Ok(key);
        }
        Err(match number(&v["result"]).unwrap_or(0) {
            0 => TelephonyError::Transient(format!(
                "HTTP {}: no key in the statistics answer",
                a.status
            )),
            code => result_code_error(code),
        })
    }

    /// Asks for the result of a statistics request until it is ready (204 means not yet).
    async fn stats_result(&self, key: &str) -> Result<String, TelephonyError> {
        let started = Instant::now();
        loop {
            let a = self
                .post("stats/result", &json!({ "key": key }), true)
                .await?;
            match a.status {
                200 => return Ok(String::from_utf8_lossy(&a.body).into_owned()),
                204 => {}
                404 => {
                    return Err(TelephonyError::Transient(
                        "the statistics key expired before its result was read".into(),
                    ))
                }
                s => {
                    return Err(TelephonyError::Transient(format!(
                        "HTTP {s} for stats/result"
                    )))
                }
            }
            if started.elapsed() >= self.cfg.result_wait {
                return Err(TelephonyError::Transient(format!(
                    "the statistics were not ready within {:?}",
                    self.cfg.result_wait
                )));
            }
            tokio::time::sleep(self.cfg.result_poll).await;
        }
    }
}

/// Mango's result codes: 2xxx billing, 31xx parameters, 33xx not found, 5xxx its own failure.
fn result_code_error(code: i64) -> TelephonyError {
    match code {
        5000..=5999 => TelephonyError::Transient(format!("Mango result code {code}")),
        3300..=3399 => TelephonyError::NotReady(format!("Mango result code {code}: not found")),
        _ => TelephonyError::Rejected(format!("Mango result code {code}")),
    }
}

/// One row of the statistics CSV, read by [`STATS_FIELDS`]' order. Rows that cannot be a call
/// (no entry id, no start) give `None`.
pub fn parse_stats_row(line: &str) -> Option<ProviderCall> {
    let cols: Vec<&str> = line.split(';').map(str::trim).collect();
    let col = |i: usize| cols.get(i).copied().unwrap_or("");
    let records: Vec<String> = col(0)
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    let secs = |s: &str| s.parse::<i64>().ok().filter(|t| *t > 0);
    let start = secs(col(1))?;
    let finish = secs(col(2)).unwrap_or(start);
    let answer = secs(col(3));
    let entry_id = col(11);
    if entry_id.is_empty() {
        return None;
    }
    let (from_ext, from_num, to_ext, to_num) = (col(4), col(5), col(6), col(7));
    let started_at = Utc.timestamp_opt(start, 0).single()?;
    let duration = answer
        .map(|a| (finish - a).clamp(0, MAX_CALL_SECS))
        .unwrap_or(0);
    Some(ProviderCall {
        provider_call_id: entry_id.to_string(),
        recording_ref: records.first().cloned(),
        direction: direction(from_ext, to_ext),
        caller: first_of(from_num, from_ext),
        called: first_of(to_num, to_ext),
        started_at,
        duration_secs: duration,
        answered: answer.is_some(),
        disposition: col(8).to_string(),
        recorded: !records.is_empty(),
        // The employee's extension: the callee's of an incoming call, the caller's of an outgoing one.
        operator: [to_ext, from_ext]
            .into_iter()
            .find(|e| !e.is_empty())
            .map(str::to_string),
    })
}

/// An employee's extension on one side only tells the direction; otherwise our numbers decide.
fn direction(from_ext: &str, to_ext: &str) -> Option<Direction> {
    match (from_ext.is_empty(), to_ext.is_empty()) {
        (false, true) => Some(Direction::Outgoing),
        (true, false) => Some(Direction::Incoming),
        _ => None,
    }
}

fn first_of(number: &str, extension: &str) -> String {
    if number.is_empty() {
        extension.to_string()
    } else {
        number.to_string()
    }
}

/// The calls of a statistics CSV. A call transferred between employees comes as several rows
/// with one entry id: the row with a recording (then the longest) stands for it.
pub fn parse_stats_csv(csv: &str) -> (Vec<ProviderCall>, usize) {
    let mut calls: Vec<ProviderCall> = Vec::new();
    let mut unreadable = 0;
    for line in csv.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some(call) = parse_stats_row(line) else {
            unreadable += 1;
            continue;
        };
        match calls
            .iter_mut()
            .find(|c| c.provider_call_id == call.provider_call_id)
        {
            Some(seen) => {
                let better =
                    (call.recorded, call.duration_secs) > (seen.recorded, seen.duration_secs);
                if better {
                    let first_start = seen.started_at.min(call.started_at);
                    *seen = call;
                    seen.started_at = first_start;
                }
            }
            None => calls.push(call),
        }
    }
    (calls, unreadable)
}

#[async_trait]
impl CallSource for Mango {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    async fn list_calls(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProviderCall>, TelephonyError> {
        let request = json!({
            "date_from": from.timestamp().to_string(),
            "date_to": (to + TZ_SLACK).timestamp().to_string(),
            "fields": STATS_FIELDS,
            "request_id": format!("callops-{}", from.timestamp()),
        });
        let key = self.paced_stats_request(&request).await?;
        let csv = self.stats_result(&key).await?;
        let (calls, unreadable) = parse_stats_csv(&csv);
        if unreadable > 0 {
            tracing::warn!(
                unreadable,
                "Mango: skipped statistics rows that are not calls"
            );
        }
        Ok(calls
            .into_iter()
            .filter(|c| c.started_at >= from && c.started_at < to + TZ_SLACK)
            .collect())
    }

    async fn fetch_recording(
        &self,
        _provider_call_id: &str,
        recording_ref: Option<&str>,
    ) -> Result<(Vec<u8>, String), TelephonyError> {
        let Some(id) = recording_ref.filter(|r| !r.is_empty()) else {
            return Err(TelephonyError::NotReady(
                "Mango has not named a recording for this call yet".into(),
            ));
        };
        let a = self
            .post(
                "queries/recording/post",
                &json!({ "recording_id": id, "action": "download" }),
                false,
            )
            .await?;
        match a.status {
            301 | 302 | 303 | 307 => {
                let link = a.location.ok_or_else(|| {
                    TelephonyError::Transient("a redirect without a Location".into())
                })?;
                download_recording(&self.http, &link, self.cfg.max_recording_bytes).await
            }
            200 => {
                super::check_audio_body(a.content_type.as_deref(), &a.body)?;
                if a.body.len() as u64 > self.cfg.max_recording_bytes {
                    return Err(TelephonyError::TooLarge(format!(
                        "the recording is larger than {} bytes",
                        self.cfg.max_recording_bytes
                    )));
                }
                Ok((a.body, super::audio_ext("", a.content_type.as_deref())))
            }
            // Not in the cloud yet: Mango advises trying again in about a minute.
            404 => Err(TelephonyError::NotReady(
                "the recording is not stored yet".into(),
            )),
            s => Err(TelephonyError::Transient(format!(
                "HTTP {s} for the recording link"
            ))),
        }
    }
}

/// What one of Mango's events told us.
#[derive(Debug, Clone, PartialEq)]
pub enum MangoEvent {
    /// `summary`: a call ended.
    CallEnded(ProviderCall),
    /// `record/added` (or a completed `recording`): a recording is in the cloud.
    RecordReady {
        entry_id: String,
        recording_id: String,
    },
    /// Any other event (acknowledged, nothing to do).
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MangoEventError {
    #[error("missing vpbx_api_key, sign or json")]
    Missing,
    #[error("wrong key or signature")]
    BadSignature,
    #[error("malformed event: {0}")]
    Malformed(String),
}

/// Verifies an event's form (`vpbx_api_key`, `sign`, `json`) and reads the event named by the last
/// part of its path (`summary`, `record/added`, `recording`, `call`…).
pub fn parse_event(
    event: &str,
    form: &std::collections::BTreeMap<String, String>,
    key: &str,
    salt: &str,
) -> Result<MangoEvent, MangoEventError> {
    let (Some(given_key), Some(given_sign), Some(body)) =
        (form.get("vpbx_api_key"), form.get("sign"), form.get("json"))
    else {
        return Err(MangoEventError::Missing);
    };
    let expected = sign(key, body, salt);
    let sign_ok = super::constant_eq(
        given_sign.trim().to_ascii_lowercase().as_bytes(),
        expected.as_bytes(),
    );
    if given_key != key || !sign_ok {
        return Err(MangoEventError::BadSignature);
    }
    let v: Value =
        serde_json::from_str(body).map_err(|e| MangoEventError::Malformed(e.to_string()))?;
    let event = event.trim_matches('/');
    match event {
        "summary" => summary(&v).map(MangoEvent::CallEnded),
        "record/added" => record_ready(&v),
        "recording" if text(&v["recording_state"]).as_deref() == Some("Completed") => {
            record_ready(&v)
        }
        other => Ok(MangoEvent::Other(other.to_string())),
    }
}

fn record_ready(v: &Value) -> Result<MangoEvent, MangoEventError> {
    match (text(&v["entry_id"]), text(&v["recording_id"])) {
        (Some(entry_id), Some(recording_id)) => Ok(MangoEvent::RecordReady {
            entry_id,
            recording_id,
        }),
        _ => Err(MangoEventError::Malformed(
            "no entry_id or recording_id".into(),
        )),
    }
}

fn summary(v: &Value) -> Result<ProviderCall, MangoEventError> {
    let entry_id =
        text(&v["entry_id"]).ok_or_else(|| MangoEventError::Malformed("no entry_id".into()))?;
    let create = number(&v["create_time"])
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
        .ok_or_else(|| MangoEventError::Malformed("no create_time".into()))?;
    let talk = number(&v["talk_time"]).filter(|t| *t > 0);
    let end = number(&v["end_time"]).unwrap_or(0);
    let answered = number(&v["entry_result"]) == Some(1) && talk.is_some();
    let side = |s: &Value| {
        first_of(
            &text(&s["number"]).unwrap_or_default(),
            &text(&s["extension"]).unwrap_or_default(),
        )
    };
    let direction = match number(&v["call_direction"]) {
        Some(1) => Some(Direction::Incoming),
        Some(2) => Some(Direction::Outgoing),
        _ => None,
    };
    Ok(ProviderCall {
        provider_call_id: entry_id,
        recording_ref: None,
        direction,
        caller: side(&v["from"]),
        called: side(&v["to"]),
        started_at: create,
        duration_secs: talk.map(|t| (end - t).clamp(0, MAX_CALL_SECS)).unwrap_or(0),
        answered,
        disposition: text(&v["disconnect_reason"]).unwrap_or_default(),
        // Whether it was recorded is told by `record/added` and the statistics.
        recorded: answered,
        operator: [text(&v["to"]["extension"]), text(&v["from"]["extension"])]
            .into_iter()
            .flatten()
            .next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_reference_test_vector_signs() {
        assert_eq!(
            sign(
                "5f4dcc3b5aa765d61d8327deb882cf99",
                r#"{"command_id":"cbk1","from":{"extension":"101"},"to_number":"79161234567"}"#,
                "testsalt"
            ),
            "cd0a35d80b9f01a52fd0b3cd472ac2699302ab6b6ec3b1b9ad3e9f4171077792"
        );
    }

    #[test]
    fn statistics_rows_become_calls_and_legs_of_one_call_merge() {
        let csv = "[MToxMDE0NDU5OjE2NjQ3NjQ4Nzox];1715670000;1715670125;1715670005;;79161234567;101;74951234567;1100;74951234567;abonent;ENTRY1\n\
                   [];1715670000;1715670030;;;79161234567;102;;1100;74951234567;queue;ENTRY1\n\
                   [];1715671000;1715671090;1715671010;101;74951234567;;79035550011;1110;74951234567;abonent;ENTRY2\n\
                   [];1715672000;1715672003;;;79035550012;101;;1120;;ivr;ENTRY3\n\
                   garbage line\n";
        let (calls, unreadable) = parse_stats_csv(csv);
        assert_eq!(unreadable, 1);
        assert_eq!(calls.len(), 3);
        let c1 = &calls[0];
        assert_eq!(c1.provider_call_id, "ENTRY1");
        assert_eq!(
            c1.recording_ref.as_deref(),
            Some("MToxMDE0NDU5OjE2NjQ3NjQ4Nzox")
        );
        assert_eq!(c1.direction, Some(Direction::Incoming));
        assert_eq!(c1.caller, "79161234567");
        assert_eq!(c1.called, "74951234567");
        assert_eq!(c1.duration_secs, 120);
        assert!(c1.answered && c1.recorded);
        let c2 = &calls[1];
        assert_eq!(c2.direction, Some(Direction::Outgoing));
        assert_eq!(
            (c2.caller.as_str(), c2.called.as_str()),
            ("74951234567", "79035550011")
        );
        assert_eq!(c2.duration_secs, 80);
        assert!(!c2.recorded);
        let c3 = &calls[2];
        assert!(!c3.answered);
        assert_eq!(c3.duration_secs, 0);
    }

    fn signed(json: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("vpbx_api_key".to_string(), "k".to_string()),
            ("sign".to_string(), sign("k", json, "s")),
            ("json".to_string(), json.to_string()),
        ])
    }

    #[test]
    fn events_are_verified_and_read() {
        let json = r#"{"entry_id":"E1","call_direction":1,"from":{"number":"79161234567"},"to":{"extension":"101","number":"74951234567"},"line_number":"74951234567","create_time":1715670000,"forward_time":1715670001,"talk_time":1715670005,"end_time":1715670125,"entry_result":1,"disconnect_reason":1100}"#;
        let form = signed(json);
        let MangoEvent::CallEnded(c) = parse_event("summary", &form, "k", "s").unwrap() else {
            panic!("a call")
        };
        assert_eq!(c.provider_call_id, "E1");
        assert_eq!(c.direction, Some(Direction::Incoming));
        assert_eq!(c.called, "74951234567");
        assert_eq!(c.duration_secs, 120);
        assert!(c.answered);
        assert_eq!(
            parse_event("summary", &form, "k", "other salt"),
            Err(MangoEventError::BadSignature)
        );
        assert_eq!(
            parse_event("summary", &form, "other key", "s"),
            Err(MangoEventError::BadSignature)
        );
        let rec = signed(
            r#"{"entry_id":"E1","recording_id":"R1","product_id":1,"user_id":2,"timestamp":1715670130}"#,
        );
        assert_eq!(
            parse_event("/record/added", &rec, "k", "s").unwrap(),
            MangoEvent::RecordReady {
                entry_id: "E1".into(),
                recording_id: "R1".into()
            }
        );
        assert_eq!(
            parse_event("call", &signed("{}"), "k", "s").unwrap(),
            MangoEvent::Other("call".into())
        );
        assert_eq!(
            parse_event("summary", &signed("{not json"), "k", "s"),
            Err(MangoEventError::Malformed(
                "key must be a string at line 1 column 2".into()
            ))
        );
        assert_eq!(
            parse_event("summary", &BTreeMap::new(), "k", "s"),
            Err(MangoEventError::Missing)
        );
    }
}
