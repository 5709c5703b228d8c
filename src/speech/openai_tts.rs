//! OpenAI-compatible `POST {base}/audio/speech`: `pcm` (24 kHz s16le mono, streamed with chunked
//! transfer) for live calls, `opus` for voice notes. Retries 429/5xx/connect errors briefly
//! before the first byte; a live call cannot wait long, so the budget is small.

use std::time::Duration;

use async_trait::async_trait;

use crate::retry::{send_retrying, RetryPolicy};
use futures::StreamExt;
use serde_json::json;

use super::tts::{Tts, TtsError, TtsFormat, TtsStream};
use super::SpeechVendor;

/// The sample rate of OpenAI's `pcm` format.
pub const OPENAI_PCM_RATE: u32 = 24000;

pub struct OpenAiTts {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
    voice: String,
    instructions: Option<String>,
    max_attempts: u32,
    backoff: Duration,
}

impl OpenAiTts {
    pub fn new(base_url: &str, api_key: &str, model: &str, voice: &str) -> Self {
        Self {
            http: crate::http::client_builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            voice: voice.to_string(),
            instructions: None,
            max_attempts: 3,
            backoff: Duration::from_millis(300),
        }
    }

    /// Speaking style for models that take it (not `tts-1`).
    pub fn with_instructions(mut self, instructions: Option<String>) -> Self {
        self.instructions = instructions.filter(|s| !s.trim().is_empty());
        self
    }

    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    fn body(&self, text: &str, format: TtsFormat) -> serde_json::Value {
        let mut body = json!({
            "model": self.model,
            "voice": self.voice,
            "input": text.chars().take(4096).collect::<String>(),
            "response_format": match format { TtsFormat::Pcm => "pcm", TtsFormat::Opus => "opus" },
        });
        if let Some(i) = &self.instructions {
            if !self.model.starts_with("tts-1") {
                body["instructions"] = json!(i);
            }
        }
        body
    }
}

#[async_trait]
impl Tts for OpenAiTts {
    fn vendor(&self) -> SpeechVendor {
        SpeechVendor::OpenAi
    }

    async fn synthesize_in(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError> {
        // The stream is returned at the first byte: this is the time to first byte.
        crate::telemetry::timed(
            "openai",
            "tts",
            self.synthesize_with_retries(text, format, voice),
        )
        .await
    }
}

impl OpenAiTts {
    async fn synthesize_with_retries(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError> {
        let mut body = self.body(text, format);
        if let Some(v) = voice {
            body["voice"] = json!(v);
        }
        let policy = RetryPolicy::new(self.backoff, self.max_attempts);
        let build = || {
            self.http
                .post(format!("{}/audio/speech", self.base_url))
                .bearer_auth(&self.api_key)
                .json(&body)
        };
        let resp = send_retrying(&policy, build, |attempt, error| {
            metrics::counter!("callops_tts_retries_total").increment(1);
            if policy.again_after(attempt) {
                tracing::warn!(attempt, error, "speech synthesis failed; retrying");
            }
        })
        .await
        .map_err(TtsError::from)?;
        let chunks = resp
            .bytes_stream()
            .map(|c| c.map_err(|e| TtsError::Transient(e.without_url().to_string())));
        Ok(TtsStream {
            sample_rate: OPENAI_PCM_RATE,
            chunks: Box::pin(chunks),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_follows_the_model() {
        let t = OpenAiTts::new("http://x", "k", "tts-1", "alloy")
            .with_instructions(Some("тепло".into()));
        let b = t.body("Привет", TtsFormat::Pcm);
        assert_eq!(b["response_format"], "pcm");
        assert!(b.get("instructions").is_none());
        let t = OpenAiTts::new("http://x", "k", "gpt-4o-mini-tts", "coral")
            .with_instructions(Some("тепло".into()));
        let b = t.body("Привет", TtsFormat::Opus);
        assert_eq!(b["response_format"], "opus");
        assert_eq!(b["instructions"], "тепло");
    }
}
