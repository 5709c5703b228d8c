//! SaluteSpeech recognition over REST. Short clips (a live utterance, a voice note) go to the
//! synchronous `speech:recognize`; longer audio, and recordings, to the asynchronous API:
//! `data:upload`, `speech:async_recognize`, `task:get` until done, `data:download`, whose
//! utterances carry their place in the audio (`processed_audio_start`/`_end`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{SaluteClient, SaluteError};
use crate::speech::{Segment, Stt, SttError};

/// Clips up to this long (and [`SYNC_MAX_BYTES`]) are recognised synchronously.
const SYNC_MAX_MS: i64 = 55_000;
const SYNC_MAX_BYTES: usize = 1_900_000;

/// How the audio is encoded, for both APIs.
struct Encoding {
    /// `Content-Type` of synchronous recognition.
    content_type: String,
    /// `audio_encoding` of asynchronous recognition.
    name: &'static str,
    sample_rate: u32,
    channels: u16,
}

pub struct SaluteStt {
    client: Arc<SaluteClient>,
    model: String,
    attempts: u32,
    /// Between `task:get` requests.
    poll: Duration,
    /// A task not done by then is given up (transiently: the job tries again later).
    task_timeout: Duration,
    /// Audio up to this long goes to synchronous recognition (one segment, no timings).
    sync_max_ms: i64,
}

impl SaluteStt {
    pub fn new(client: Arc<SaluteClient>, model: &str) -> Self {
        Self {
            client,
            model: model.to_string(),
            attempts: 4,
            poll: Duration::from_secs(1),
            task_timeout: Duration::from_secs(15 * 60),
            sync_max_ms: SYNC_MAX_MS,
        }
    }

    /// Always the asynchronous API, whose utterances carry their times (a call's channel,
    /// however short, must interleave with the other side).
    pub fn always_async(mut self) -> Self {
        self.sync_max_ms = -1;
        self
    }

    /// At most `n` attempts per request (live calls cannot wait long).
    pub fn with_attempts(mut self, n: u32) -> Self {
        self.attempts = n.max(1);
        self
    }

    /// How often a task is asked about, and how long it may take.
    pub fn with_polling(mut self, poll: Duration, timeout: Duration) -> Self {
        self.poll = poll;
        self.task_timeout = timeout;
        self
    }

    async fn recognize_sync(
        &self,
        body: Vec<u8>,
        enc: &Encoding,
        duration_ms: i64,
    ) -> Result<Vec<Segment>, SaluteError> {
        let url = format!("{}/rest/v1/speech:recognize", self.client.api());
        let resp = self
            .client
            .send("speech:recognize", self.attempts, |http, token| {
                http.post(&url)
                    .bearer_auth(token)
                    .header("Content-Type", &enc.content_type)
                    .query(&[("language", "ru-RU"), ("model", self.model.as_str())])
                    .body(body.clone())
            })
            .await?;
        let answer: Value = read_json(resp).await?;
        let text = match &answer["result"] {
            Value::Array(parts) => parts
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
            Value::String(s) => s.trim().to_string(),
            _ => String::new(),
        };
        Ok(if text.is_empty() {
            Vec::new()
        } else {
            vec![Segment {
                start_ms: 0,
                end_ms: duration_ms,
                text,
            }]
        })
    }

    async fn recognize_async(
        &self,
        body: Vec<u8>,
        enc: &Encoding,
    ) -> Result<Vec<Segment>, SaluteError> {
        let api = self.client.api().to_string();
        let upload = format!("{api}/rest/v1/data:upload");
        let resp = self
            .client
            .send("data:upload", self.attempts, |http, token| {
                http.post(&upload)
                    .bearer_auth(token)
                    .header("Content-Type", "application/octet-stream")
                    .body(body.clone())
            })
            .await?;
        let uploaded = read_json(resp).await?;
        let file_id = field(&uploaded, "request_file_id")?;
        let request = json!({
            "options": {
                "language": "ru-RU",
                "model": self.model,
                "audio_encoding": enc.name,
                "sample_rate": enc.sample_rate,
                "channels_count": enc.channels,
                "hypotheses_count": 1,
                "enable_profanity_filter": false,
            },
            "request_file_id": file_id,
        });
        let start = format!("{api}/rest/v1/speech:async_recognize");
        let resp = self
            .client
            .send("speech:async_recognize", self.attempts, |http, token| {
                http.post(&start).bearer_auth(token).json(&request)
            })
            .await?;
        let task = read_json(resp).await?;
        let task_id = field(&task, "id")?;
        let response_file = self.wait_for(&api, &task_id).await?;
        let download = format!("{api}/rest/v1/data:download");
        let resp = self
            .client
            .send("data:download", self.attempts, |http, token| {
                http.get(&download)
                    .bearer_auth(token)
                    .query(&[("response_file_id", response_file.as_str())])
            })
            .await?;
        let utterances = read_json(resp).await?;
        Ok(parse_utterances(&utterances))
    }

    /// Asks about the task until it is done; returns its response file id.
    async fn wait_for(&self, api: &str, task_id: &str) -> Result<String, SaluteError> {
        let url = format!("{api}/rest/v1/task:get");
        let started = Instant::now();
        loop {
            let resp = self
                .client
                .send("task:get", self.attempts, |http, token| {
                    http.get(&url).bearer_auth(token).query(&[("id", task_id)])
                })
                .await?;
            let answer = read_json(resp).await?;
            let result = result_of(&answer);
            let status = result["status"].as_str().unwrap_or("").to_ascii_uppercase();
            match status.as_str() {
                "DONE" | "COMPLETED" | "SUCCESS" => return field(&answer, "response_file_id"),
                "ERROR" | "FAILED" => {
                    return Err(SaluteError::Transient(format!(
                        "recognition task failed: {}",
                        result["error"].as_str().unwrap_or("no reason given")
                    )))
                }
                "CANCELED" | "CANCELLED" => {
                    return Err(SaluteError::Transient("recognition task cancelled".into()))
                }
                _ => {}
            }
            if started.elapsed() > self.task_timeout {
                return Err(SaluteError::Transient(format!(
                    "recognition task not done after {:?} (status {status})",
                    self.task_timeout
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn recognize(
        &self,
        body: Vec<u8>,
        enc: Encoding,
        duration_ms: i64,
    ) -> Result<Vec<Segment>, SttError> {
        let result = if duration_ms <= self.sync_max_ms && body.len() <= SYNC_MAX_BYTES {
            self.recognize_sync(body, &enc, duration_ms).await
        } else {
            self.recognize_async(body, &enc).await
        };
        result.map_err(|e| match e {
            SaluteError::Transient(m) => SttError::Transient(m),
            SaluteError::Rejected(m) => SttError::Rejected(m),
        })
    }
}

#[async_trait]
impl Stt for SaluteStt {
    async fn transcribe_file(
        &self,
        audio: Vec<u8>,
        file_name: &str,
        duration_ms: i64,
    ) -> Result<Vec<Segment>, SttError> {
        let ext = file_name
            .rsplit('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let (body, enc) = match ext.as_str() {
            "ogg" | "oga" | "opus" => (
                audio,
                Encoding {
                    content_type: "audio/ogg;codecs=opus".into(),
                    name: "OPUS",
                    sample_rate: 48_000,
                    channels: 1,
                },
            ),
            "mp3" => (
                audio,
                Encoding {
                    content_type: "audio/mpeg".into(),
                    name: "MP3",
                    sample_rate: 8_000,
                    channels: 1,
                },
            ),
            _ => {
                let wav = WavPcm::parse(&audio)
                    .ok_or_else(|| SttError::Rejected("not a 16-bit PCM WAV file".into()))?;
                let enc = Encoding {
                    content_type: format!("audio/x-pcm;bit=16;rate={}", wav.sample_rate),
                    name: "PCM_S16LE",
                    sample_rate: wav.sample_rate,
                    channels: wav.channels,
                };
                (audio[wav.data].to_vec(), enc)
            }
        };
        crate::telemetry::timed("salute", "stt", self.recognize(body, enc, duration_ms)).await
    }
}

/// Where the samples of a 16-bit PCM WAV file are, and how they are laid out.
struct WavPcm {
    sample_rate: u32,
    channels: u16,
    data: std::ops::Range<usize>,
}

impl WavPcm {
    fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
            return None;
        }
        let (mut pos, mut format) = (12, None);
        while pos + 8 <= b.len() {
            let id = &b[pos..pos + 4];
            let size = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().ok()?) as usize;
            let body = pos + 8;
            if id == b"fmt " && size >= 16 && body + 16 <= b.len() {
                let tag = u16::from_le_bytes([b[body], b[body + 1]]);
                let channels = u16::from_le_bytes([b[body + 2], b[body + 3]]);
                let rate = u32::from_le_bytes(b[body + 4..body + 8].try_into().ok()?);
                let bits = u16::from_le_bytes([b[body + 14], b[body + 15]]);
                if tag != 1 || bits != 16 || channels == 0 {
                    return None;
                }
                format = Some((rate, channels));
            } else if id == b"data" {
                let (sample_rate, channels) = format?;
                let end = body.saturating_add(size).min(b.len());
                return Some(Self {
                    sample_rate,
                    channels,
                    data: body..end,
                });
            }
            pos = body.checked_add(size)?.checked_add(size % 2)?;
        }
        None
    }
}

async fn read_json(resp: reqwest::Response) -> Result<Value, SaluteError> {
    let body = resp
        .text()
        .await
        .map_err(|e| SaluteError::Transient(e.without_url().to_string()))?;
    serde_json::from_str(&body).map_err(|e| {
        SaluteError::Transient(format!(
            "unreadable answer ({e}): {}",
            body.chars().take(200).collect::<String>()
        ))
    })
}

/// The `result` object of an answer (`{"status":200,"result":{…}}`), or the answer itself.
fn result_of(answer: &Value) -> &Value {
    match answer.get("result") {
        Some(r) if r.is_object() => r,
        _ => answer,
    }
}

fn field(answer: &Value, name: &str) -> Result<String, SaluteError> {
    result_of(answer)[name]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| SaluteError::Transient(format!("the answer has no {name}")))
}

/// `"10.2s"`, `"10.2"` or `10.2` seconds, in ms.
fn seconds_ms(v: &Value) -> Option<i64> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().trim_end_matches('s').parse().ok()?,
        _ => return None,
    };
    Some((secs * 1000.0).round() as i64)
}

/// The utterances of an asynchronous result (a JSON array, or an object holding one), placed by
/// `processed_audio_start`/`_end` (absolute), else by the hypothesis's own times.
fn parse_utterances(v: &Value) -> Vec<Segment> {
    let items = match v {
        Value::Array(a) => a.as_slice(),
        // `{"status":200,"result":[…]}`, or one utterance on its own.
        Value::Object(o) => match o.get("result") {
            Some(Value::Array(a)) => a.as_slice(),
            _ if o.contains_key("results") => std::slice::from_ref(v),
            _ => &[],
        },
        _ => &[],
    };
    let mut segments: Vec<Segment> = items
        .iter()
        .filter_map(|u| {
            let best = u["results"].as_array()?.first()?;
            let text = [&best["normalized_text"], &best["text"]]
                .iter()
                .filter_map(|t| t.as_str())
                .map(str::trim)
                .find(|t| !t.is_empty())?
                .to_string();
            let start_ms = seconds_ms(&u["processed_audio_start"])
                .or_else(|| seconds_ms(&best["start"]))
                .unwrap_or(0);
            let end_ms = seconds_ms(&u["processed_audio_end"])
                .or_else(|| seconds_ms(&best["end"]))
                .unwrap_or(start_ms)
                .max(start_ms);
            Some(Segment {
                start_ms,
                end_ms,
                text,
            })
        })
        .collect();
    segments.sort_by_key(|s| s.start_ms);
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utterances_are_placed_by_their_absolute_times() {
        let v: Value = serde_json::from_str(
            r#"[
              {"results":[{"text":"алло добрый день","normalized_text":"Алло, добрый день!","start":"0.48s","end":"3.12s"}],
               "eou":true,"processed_audio_start":"0.4s","processed_audio_end":"3.2s","channel":0},
              {"results":[{"text":"","normalized_text":""}],"eou":true,"processed_audio_start":"3.2s","processed_audio_end":"4s"},
              {"results":[{"text":"метров на двести","start":"0.1s","end":"1.5s"}],
               "processed_audio_start":"10.2s","processed_audio_end":"13.4s"}
            ]"#,
        )
        .unwrap();
        assert_eq!(
            parse_utterances(&v),
            vec![
                Segment {
                    start_ms: 400,
                    end_ms: 3200,
                    text: "Алло, добрый день!".into()
                },
                Segment {
                    start_ms: 10_200,
                    end_ms: 13_400,
                    text: "метров на двести".into()
                },
            ]
        );
        let wrapped = json!({"status": 200, "result": v});
        assert_eq!(parse_utterances(&wrapped).len(), 2);
        assert!(parse_utterances(&json!("junk")).is_empty());
    }

    #[test]
    fn wav_files_are_read_for_their_samples_and_others_refused() {
        let wav = crate::speech::audio::wav_bytes(&[0.0; 800], 8000);
        let p = WavPcm::parse(&wav).unwrap();
        assert_eq!((p.sample_rate, p.channels), (8000, 1));
        assert_eq!(p.data.len(), 1600);
        assert!(WavPcm::parse(b"OggS....").is_none());
        assert!(WavPcm::parse(&wav[..20]).is_none());
    }

    #[test]
    fn durations_come_in_several_spellings() {
        assert_eq!(seconds_ms(&json!("10.2s")), Some(10_200));
        assert_eq!(seconds_ms(&json!("3")), Some(3000));
        assert_eq!(seconds_ms(&json!(1.25)), Some(1250));
        assert_eq!(seconds_ms(&json!(null)), None);
    }
}
