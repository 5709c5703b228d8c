//! Yandex SpeechKit v3 synthesis over REST: `POST {base}/tts/v3/utteranceSynthesis` answers
//! newline-delimited JSON, one `{"result":{"audioChunk":{"data":"<base64>"}}}` per line; each
//! chunk is passed on as it arrives. Raw 16-bit PCM at 8 kHz for phone calls, OGG/Opus for voice
//! notes. Authorised by API key or IAM token; retried briefly before the first byte.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::grpc::YandexAuth;
use super::tts::{Tts, TtsError, TtsFormat, TtsStream};
use super::SpeechVendor;
use crate::retry::{send_retrying, RetryPolicy};

/// The rate of the PCM asked for phone calls.
const PCM_RATE: u32 = 8000;
/// SpeechKit takes at most this many characters per request.
const MAX_CHARS: usize = 5000;

pub struct YandexTts {
    http: reqwest::Client,
    base_url: String,
    auth: YandexAuth,
    folder_id: Option<String>,
    voice: String,
    attempts: u32,
    backoff: Duration,
}

impl YandexTts {
    pub fn new(base_url: &str, auth: YandexAuth, folder_id: Option<String>, voice: &str) -> Self {
        Self {
            http: crate::http::client_builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            base_url: base_url.trim_end_matches('/').to_string(),
            auth,
            folder_id,
            voice: voice.to_string(),
            attempts: 3,
            backoff: Duration::from_millis(300),
        }
    }

    fn body(&self, text: &str, format: TtsFormat, voice: Option<&str>) -> Value {
        let spec = match format {
            TtsFormat::Pcm => {
                json!({"rawAudio": {"audioEncoding": "LINEAR16_PCM", "sampleRateHertz": PCM_RATE}})
            }
            TtsFormat::Opus => json!({"containerAudio": {"containerAudioType": "OGG_OPUS"}}),
        };
        json!({
            "text": text.chars().take(MAX_CHARS).collect::<String>(),
            "hints": [{"voice": voice.unwrap_or(&self.voice)}],
            "outputAudioSpec": spec,
        })
    }

    fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        let auth = match &self.auth {
            YandexAuth::ApiKey(k) => format!("Api-Key {k}"),
            YandexAuth::IamToken(t) => format!("Bearer {t}"),
        };
        let mut req = self
            .http
            .post(format!("{}/tts/v3/utteranceSynthesis", self.base_url))
            .header("Authorization", auth)
            .json(body);
        if let Some(folder) = &self.folder_id {
            req = req.header("x-folder-id", folder);
        }
        req
    }

    async fn start(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError> {
        let body = self.body(text, format, voice);
        let policy = RetryPolicy::new(self.backoff, self.attempts);
        let resp = send_retrying(
            &policy,
            || self.request(&body),
            |_, _| {
                metrics::counter!("callops_vendor_retries_total", "vendor" => "yandex")
                    .increment(1);
            },
        )
        .await
        .map_err(TtsError::from)?;
        Ok(TtsStream {
            sample_rate: PCM_RATE,
            chunks: Box::pin(audio_chunks(resp)),
        })
    }
}

/// The audio of an NDJSON answer, chunk by chunk as its lines arrive.
fn audio_chunks(
    resp: reqwest::Response,
) -> impl futures::Stream<Item = Result<Bytes, TtsError>> + Send {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut body = resp.bytes_stream();
        let mut pending: Vec<u8> = Vec::new();
        while let Some(part) = body.next().await {
            let part = match part {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx
                        .send(Err(TtsError::Transient(e.without_url().to_string())))
                        .await;
                    return;
                }
            };
            pending.extend_from_slice(&part);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if let Some(audio) = line_audio(&line) {
                    if tx.send(audio).await.is_err() {
                        return;
                    }
                }
            }
        }
        if let Some(audio) = line_audio(&pending) {
            let _ = tx.send(audio).await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// The audio of one NDJSON line (none for the last, text-only line, or a blank one).
fn line_audio(line: &[u8]) -> Option<Result<Bytes, TtsError>> {
    let text = std::str::from_utf8(line).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(Err(TtsError::Transient(format!("unreadable line: {e}")))),
    };
    if let Some(err) = v.get("error") {
        return Some(Err(TtsError::Transient(format!("SpeechKit: {err}"))));
    }
    let data = v["result"]["audioChunk"]["data"].as_str()?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map(Bytes::from)
            .map_err(|e| TtsError::Transient(format!("bad audio chunk: {e}"))),
    )
}

#[async_trait]
impl Tts for YandexTts {
    fn vendor(&self) -> SpeechVendor {
        SpeechVendor::Yandex
    }

    async fn synthesize_in(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError> {
        crate::telemetry::timed("yandex", "tts", self.start(text, format, voice)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_their_audio_and_the_text_only_line_none() {
        let line = br#"{"result":{"audioChunk":{"data":"AAEC"},"textChunk":{"text":"x"},"startMs":"0","lengthMs":"10"}}"#;
        assert_eq!(
            line_audio(line).unwrap().unwrap(),
            Bytes::from_static(&[0, 1, 2])
        );
        assert!(
            line_audio(br#"{"result":{"audioChunk":null,"textChunk":{"text":"x"}}}"#).is_none()
        );
        assert!(line_audio(b"  \n").is_none());
        assert!(
            line_audio(br#"{"error":{"grpcCode":16,"message":"Unauthenticated"}}"#)
                .unwrap()
                .is_err()
        );
    }
}
