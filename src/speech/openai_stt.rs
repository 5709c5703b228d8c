//! OpenAI-compatible `POST {base}/audio/transcriptions` (OpenAI, a proxy, LiteLLM, a local
//! whisper server). `verbose_json` with segment times for `whisper-1`, plain `json` for models
//! that support only that. Retries 429, 5xx and timeouts with backoff, honouring `Retry-After`.

use std::time::Duration;

use async_trait::async_trait;

use crate::retry::{retry_after, RetryPolicy};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

use super::{Segment, Stt, SttError};

pub struct OpenAiStt {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
    language: String,
    max_attempts: u32,
    backoff: Duration,
}

impl OpenAiStt {
    pub fn new(base_url: &str, api_key: &str, model: &str) -> Self {
        Self {
            http: crate::http::client_builder()
                .timeout(Duration::from_secs(300))
                .build()
                .unwrap_or_default(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            language: "ru".into(),
            max_attempts: 4,
            backoff: Duration::from_secs(2),
        }
    }

    /// Shorter waits between retries (tests, benchmarks).
    pub fn with_backoff(mut self, backoff: Duration, timeout: Duration) -> Self {
        self.backoff = backoff;
        self.http = crate::http::client_builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        self
    }

    fn verbose(&self) -> bool {
        self.model.starts_with("whisper")
    }

    /// At most `n` attempts per request (live calls cannot wait long).
    pub fn with_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    async fn attempt(&self, audio: &[u8], name: &str) -> Result<reqwest::Response, reqwest::Error> {
        let mime = match name.rsplit('.').next() {
            Some("ogg" | "oga" | "opus") => "audio/ogg",
            Some("mp3") => "audio/mpeg",
            _ => "audio/wav",
        };
        let file = Part::bytes(audio.to_vec())
            .file_name(name.to_string())
            .mime_str(mime)?;
        let mut form = Form::new()
            .part("file", file)
            .text("model", self.model.clone())
            .text("language", self.language.clone())
            .text("temperature", "0");
        form = if self.verbose() {
            form.text("response_format", "verbose_json")
                .text("timestamp_granularities[]", "segment")
        } else {
            form.text("response_format", "json")
        };
        self.http
            .post(format!("{}/audio/transcriptions", self.base_url))
            .bearer_auth(&self.api_key)
            .multipart(form)
            .send()
            .await
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    text: String,
    #[serde(default)]
    segments: Option<Vec<AnswerSegment>>,
}

#[derive(Deserialize)]
struct AnswerSegment {
    start: f64,
    end: f64,
    text: String,
}

fn parse_answer(body: &str, duration_ms: i64) -> Result<Vec<Segment>, SttError> {
    let answer: Answer = serde_json::from_str(body)
        .map_err(|e| SttError::Transient(format!("unreadable transcription answer: {e}")))?;
    let segments = match answer.segments {
        Some(segs) if !segs.is_empty() => segs
            .into_iter()
            .map(|s| Segment {
                start_ms: (s.start * 1000.0).round() as i64,
                end_ms: (s.end * 1000.0).round() as i64,
                text: s.text.trim().to_string(),
            })
            .filter(|s| !s.text.is_empty())
            .collect(),
        _ if answer.text.trim().is_empty() => Vec::new(),
        _ => vec![Segment {
            start_ms: 0,
            end_ms: duration_ms,
            text: answer.text.trim().to_string(),
        }],
    };
    Ok(segments)
}

#[async_trait]
impl Stt for OpenAiStt {
    async fn transcribe_file(
        &self,
        audio: Vec<u8>,
        file_name: &str,
        duration_ms: i64,
    ) -> Result<Vec<Segment>, SttError> {
        crate::telemetry::timed(
            "openai",
            "stt",
            self.transcribe_with_retries(audio, file_name, duration_ms),
        )
        .await
    }
}

impl OpenAiStt {
    async fn transcribe_with_retries(
        &self,
        audio: Vec<u8>,
        file_name: &str,
        duration_ms: i64,
    ) -> Result<Vec<Segment>, SttError> {
        let mut last = String::new();
        let policy = RetryPolicy::new(self.backoff, self.max_attempts);
        for attempt in 1..=self.max_attempts {
            let wait = match self.attempt(&audio, file_name).await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(resp.headers());
                    let body = resp.text().await.unwrap_or_default();
                    if status.is_success() {
                        return parse_answer(&body, duration_ms);
                    }
                    let snippet: String = body.chars().take(300).collect();
                    last = format!("HTTP {status}: {snippet}");
                    if status.as_u16() == 429 || status.is_server_error() {
                        policy.wait(attempt, retry_after)
                    } else {
                        return Err(SttError::Rejected(last));
                    }
                }
                Err(e) => {
                    last = e.without_url().to_string();
                    policy.wait(attempt, None)
                }
            };
            metrics::counter!("callops_stt_retries_total").increment(1);
            if policy.again_after(attempt) {
                tracing::warn!(attempt, error = %last, retry_in = ?wait, "transcription failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
        Err(SttError::Transient(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_and_plain_answers() {
        let v = r#"{"task":"transcribe","language":"russian","duration":8.47,"text":"x",
            "segments":[{"id":0,"start":0.0,"end":3.32,"text":" Здравствуйте."},{"id":1,"start":3.5,"end":4.0,"text":"  "}]}"#;
        assert_eq!(
            parse_answer(v, 0).unwrap(),
            vec![Segment {
                start_ms: 0,
                end_ms: 3320,
                text: "Здравствуйте.".into()
            }]
        );
        let p = r#"{"text":"Алло, добрый день","usage":{"type":"duration","seconds":9}}"#;
        assert_eq!(parse_answer(p, 9000).unwrap()[0].end_ms, 9000);
        assert!(parse_answer(r#"{"text":""}"#, 10).unwrap().is_empty());
        assert!(parse_answer("<html>", 10).is_err());
    }
}
