//! ElevenLabs synthesis over HTTP streaming: `POST {base}/v1/text-to-speech/{voice_id}/stream`
//! with `output_format=pcm_16000` (raw 16-bit mono, resampled to the line) for live calls and
//! `opus_48000_64` for voice notes; the audio is passed on chunk by chunk as it arrives.
//! Authorised by the `xi-api-key` header. ElevenLabs blocks Russia, so the base URL is a setting
//! (a proxy abroad). Retried briefly before the first byte.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::json;

use super::tts::{Tts, TtsError, TtsFormat, TtsStream};
use super::SpeechVendor;
use crate::retry::{send_retrying, RetryPolicy};

/// The rate of the PCM asked for phone calls.
const PCM_RATE: u32 = 16000;
/// ElevenLabs takes at most this many characters per request (flash and turbo models).
const MAX_CHARS: usize = 5000;

pub struct ElevenLabsTts {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
    voice: String,
    attempts: u32,
    backoff: Duration,
}

impl ElevenLabsTts {
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
            voice: voice.trim().to_string(),
            attempts: 3,
            backoff: Duration::from_millis(300),
        }
    }

    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    fn url(&self, voice: &str, format: TtsFormat) -> String {
        let output = match format {
            TtsFormat::Pcm => "pcm_16000",
            TtsFormat::Opus => "opus_48000_64",
        };
        format!(
            "{}/v1/text-to-speech/{}/stream?output_format={output}",
            self.base_url,
            path_segment(voice)
        )
    }

    async fn start(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError> {
        let url = self.url(voice.unwrap_or(&self.voice), format);
        let body = json!({
            "text": text.chars().take(MAX_CHARS).collect::<String>(),
            "model_id": self.model,
        });
        let policy = RetryPolicy::new(self.backoff, self.attempts);
        let resp = send_retrying(
            &policy,
            || {
                self.http
                    .post(&url)
                    .header("xi-api-key", &self.api_key)
                    .json(&body)
            },
            |_, _| {
                metrics::counter!("callops_vendor_retries_total", "vendor" => "elevenlabs")
                    .increment(1);
            },
        )
        .await
        .map_err(TtsError::from)?;
        let chunks = resp
            .bytes_stream()
            .map(|c| c.map_err(|e| TtsError::Transient(e.without_url().to_string())));
        Ok(TtsStream {
            sample_rate: PCM_RATE,
            chunks: Box::pin(chunks),
        })
    }
}

/// A voice id as one path segment (ids are letters and digits; anything else is escaped).
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait]
impl Tts for ElevenLabsTts {
    fn vendor(&self) -> SpeechVendor {
        SpeechVendor::ElevenLabs
    }

    async fn synthesize_in(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError> {
        crate::telemetry::timed("elevenlabs", "tts", self.start(text, format, voice)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_ask_for_16_khz_pcm_and_voice_notes_for_opus() {
        let t = ElevenLabsTts::new("http://proxy/el/", "k", "eleven_flash_v2_5", "JBFqn");
        assert_eq!(
            t.url("JBFqn", TtsFormat::Pcm),
            "http://proxy/el/v1/text-to-speech/JBFqn/stream?output_format=pcm_16000"
        );
        assert_eq!(
            t.url("a b", TtsFormat::Opus),
            "http://proxy/el/v1/text-to-speech/a%20b/stream?output_format=opus_48000_64"
        );
    }
}
