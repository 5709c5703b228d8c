//! SaluteSpeech synthesis over REST: `text:synthesize` with `format=pcm16` (raw 16-bit mono at
//! the voice's rate: `_8000` voices for phone calls) or `format=opus` (voice notes), streamed as
//! it arrives.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;

use super::{SaluteClient, SaluteError};
use crate::speech::tts::{Tts, TtsError, TtsFormat, TtsStream};
use crate::speech::SpeechVendor;

/// SaluteSpeech takes at most this many characters per request.
const MAX_CHARS: usize = 4000;

pub struct SaluteTts {
    client: Arc<SaluteClient>,
    /// The voice's name (`May`), or a full voice id with its rate (`May_24000`).
    voice: String,
    attempts: u32,
}

impl SaluteTts {
    pub fn new(client: Arc<SaluteClient>, voice: &str) -> Self {
        Self {
            client,
            voice: voice.trim().to_string(),
            attempts: 3,
        }
    }

    /// The voice id and its sample rate: phone calls get the `_8000` voice, voice notes `_24000`,
    /// unless the setting names a rate itself.
    fn voice_for(&self, format: TtsFormat) -> (String, u32) {
        voice_id(&self.voice, format)
    }

    async fn start(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, SaluteError> {
        let (voice, sample_rate) = match voice {
            Some(v) => voice_id(v.trim(), format),
            None => self.voice_for(format),
        };
        let url = format!("{}/rest/v1/text:synthesize", self.client.api());
        let fmt = match format {
            TtsFormat::Pcm => "pcm16",
            TtsFormat::Opus => "opus",
        };
        let text: String = text.chars().take(MAX_CHARS).collect();
        let resp = self
            .client
            .send("text:synthesize", self.attempts, |http, token| {
                http.post(&url)
                    .bearer_auth(token)
                    .header("Content-Type", "application/text")
                    .query(&[("format", fmt), ("voice", voice.as_str())])
                    .body(text.clone())
            })
            .await?;
        let chunks = resp
            .bytes_stream()
            .map(|c| c.map_err(|e| TtsError::Transient(e.without_url().to_string())));
        Ok(TtsStream {
            sample_rate,
            chunks: Box::pin(chunks),
        })
    }
}

/// A voice's id and its sample rate: phone calls get the `_8000` voice, voice notes `_24000`,
/// unless `voice` names a rate itself.
fn voice_id(voice: &str, format: TtsFormat) -> (String, u32) {
    if let Some((_, rate)) = voice.rsplit_once('_') {
        if let Ok(rate) = rate.parse::<u32>() {
            return (voice.to_string(), rate);
        }
    }
    let rate = match format {
        TtsFormat::Pcm => 8000,
        TtsFormat::Opus => 24000,
    };
    (format!("{voice}_{rate}"), rate)
}

#[async_trait]
impl Tts for SaluteTts {
    fn vendor(&self) -> SpeechVendor {
        SpeechVendor::Salute
    }

    async fn synthesize_in(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError> {
        crate::telemetry::timed("salute", "tts", async {
            self.start(text, format, voice).await.map_err(|e| match e {
                SaluteError::Transient(m) => TtsError::Transient(m),
                SaluteError::Rejected(m) => TtsError::Rejected(m),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::salute::SaluteConfig;

    fn tts(voice: &str) -> SaluteTts {
        let client = SaluteClient::new(SaluteConfig {
            auth_url: "http://x/oauth".into(),
            api_url: "http://x".into(),
            auth_key: "k".into(),
            scope: "SALUTE_SPEECH_PERS".into(),
            backoff: std::time::Duration::from_millis(10),
        });
        SaluteTts::new(client, voice)
    }

    #[test]
    fn calls_get_the_telephone_voice_unless_one_is_named() {
        assert_eq!(
            tts("May").voice_for(TtsFormat::Pcm),
            ("May_8000".into(), 8000)
        );
        assert_eq!(
            tts("Nec").voice_for(TtsFormat::Opus),
            ("Nec_24000".into(), 24000)
        );
        assert_eq!(
            tts("Bys_24000").voice_for(TtsFormat::Pcm),
            ("Bys_24000".into(), 24000)
        );
    }
}
