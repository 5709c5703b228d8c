//! The speech part: which vendor transcribes and speaks for each use (`STT_PROVIDER`,
//! `TTS_PROVIDER`, and `AGENT_*` for live calls), with one SaluteSpeech client, and so one token,
//! shared by all of them. Live calls on SaluteSpeech or SpeechKit stream their audio (gRPC), with
//! batch recognition as the fallback. ElevenLabs speaks only.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, SpeechUse};
use crate::speech::grpc::{SaluteStream, YandexAuth, YandexStream};
use crate::speech::salute::{SaluteClient, SaluteConfig, SaluteStt, SaluteTts};
use crate::speech::streaming::{SpeechStream, StreamingRecognizer};
use crate::speech::{
    BatchRecognizer, ElevenLabsTts, OpenAiStt, OpenAiTts, Recognizer, SpeechVendor, Stt, Tts,
    YandexTts,
};

/// The speech clients of this process.
pub struct Speech {
    salute: Option<Arc<SaluteClient>>,
    openai_stt: Option<Arc<dyn Stt>>,
}

impl Speech {
    pub fn new(cfg: &Config) -> Self {
        let backoff = Duration::from_millis(cfg.service.retry_base_ms);
        let s = &cfg.speech;
        let salute = s.salute_auth_key.as_ref().map(|key| {
            SaluteClient::new(SaluteConfig {
                auth_url: s.salute_auth_url.clone(),
                api_url: s.salute_api_url.clone(),
                auth_key: key.expose().to_string(),
                scope: s.salute_scope.clone(),
                backoff: backoff.max(Duration::from_millis(50)),
            })
        });
        let openai_stt = cfg.openai.api_key.as_ref().map(|key| {
            Arc::new(
                OpenAiStt::new(&cfg.openai.base_url, key.expose(), &cfg.openai.stt_model)
                    .with_backoff(backoff, Duration::from_secs(300)),
            ) as Arc<dyn Stt>
        });
        Self { salute, openai_stt }
    }

    /// Speech-to-text of whole files for `use_`, when its vendor is configured (SpeechKit, which
    /// streams live calls only, leaves voice notes to the recordings' vendor).
    pub fn stt(&self, cfg: &Config, use_: SpeechUse) -> Option<Arc<dyn Stt>> {
        match cfg.speech.stt(use_) {
            SpeechVendor::OpenAi => self.openai_stt.clone(),
            // Refused by the settings' check: synthesis only.
            SpeechVendor::ElevenLabs => None,
            SpeechVendor::Yandex => match use_ {
                SpeechUse::Calls => self.stt(cfg, SpeechUse::Recordings),
                SpeechUse::Recordings => None,
            },
            SpeechVendor::Salute => {
                let stt = SaluteStt::new(self.salute.clone()?, &cfg.speech.salute_stt_model);
                let stt = match use_ {
                    // A caller waits for the answer: few attempts.
                    SpeechUse::Calls => stt.with_attempts(2),
                    SpeechUse::Recordings => stt.always_async(),
                };
                Some(Arc::new(stt))
            }
        }
    }

    /// Live recognition of a caller's utterances: streaming on SaluteSpeech and SpeechKit (with
    /// batch recognition when a stream fails), batch uploads on OpenAI.
    pub fn recognizer(&self, cfg: &Config) -> anyhow::Result<Option<Arc<dyn Recognizer>>> {
        let s = &cfg.speech;
        let Some(fallback) = self.stt(cfg, SpeechUse::Calls) else {
            return Ok(None);
        };
        let stream: Arc<dyn SpeechStream> = match s.stt(SpeechUse::Calls) {
            SpeechVendor::OpenAi | SpeechVendor::ElevenLabs => {
                return Ok(Some(Arc::new(BatchRecognizer::new(fallback))))
            }
            SpeechVendor::Salute => {
                let Some(client) = self.salute.clone() else {
                    return Ok(None);
                };
                Arc::new(
                    SaluteStream::new(client, &s.salute_grpc_url, &s.salute_stt_model)
                        .map_err(|e| anyhow::anyhow!("SALUTE_GRPC_URL: {e}"))?,
                )
            }
            SpeechVendor::Yandex => {
                let Some(auth) = yandex_auth(cfg) else {
                    return Ok(None);
                };
                Arc::new(
                    YandexStream::new(
                        &s.yandex_stt_url,
                        auth,
                        s.yandex_folder_id.clone(),
                        &s.yandex_stt_model,
                    )
                    .map_err(|e| anyhow::anyhow!("YANDEX_STT_URL: {e}"))?,
                )
            }
        };
        Ok(Some(Arc::new(StreamingRecognizer::new(stream, fallback))))
    }

    /// Text-to-speech for `use_`, when its vendor is configured.
    pub fn tts(&self, cfg: &Config, use_: SpeechUse) -> Option<Arc<dyn Tts>> {
        match cfg.speech.tts(use_) {
            SpeechVendor::Yandex => Some(Arc::new(YandexTts::new(
                &cfg.speech.yandex_tts_url,
                yandex_auth(cfg)?,
                cfg.speech.yandex_folder_id.clone(),
                &cfg.speech.yandex_voice,
            ))),
            SpeechVendor::OpenAi => {
                let key = cfg.openai.api_key.as_ref()?;
                Some(Arc::new(OpenAiTts::new(
                    &cfg.openai.base_url,
                    key.expose(),
                    &cfg.openai.tts_model,
                    &cfg.openai.tts_voice,
                )))
            }
            SpeechVendor::Salute => Some(Arc::new(SaluteTts::new(
                self.salute.clone()?,
                &cfg.speech.salute_voice,
            ))),
            SpeechVendor::ElevenLabs => {
                let s = &cfg.speech;
                Some(Arc::new(ElevenLabsTts::new(
                    &s.elevenlabs_api_url,
                    s.elevenlabs_api_key.as_ref()?.expose(),
                    &s.elevenlabs_model,
                    &s.elevenlabs_voice,
                )))
            }
        }
    }
}

/// SpeechKit's credentials: the API key, else the IAM token.
fn yandex_auth(cfg: &Config) -> Option<YandexAuth> {
    let s = &cfg.speech;
    match (&s.yandex_api_key, &s.yandex_iam_token) {
        (Some(k), _) => Some(YandexAuth::ApiKey(k.expose().to_string())),
        (None, Some(t)) => Some(YandexAuth::IamToken(t.expose().to_string())),
        (None, None) => None,
    }
}
