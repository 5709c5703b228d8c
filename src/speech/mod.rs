//! Speech: audio helpers, speech-to-text behind [`Stt`] (whole files) and [`Recognizer`] (one
//! live utterance), and text-to-speech behind [`Tts`]: OpenAI-compatible endpoints, SaluteSpeech, Yandex SpeechKit and
//! ElevenLabs.

pub mod audio;
mod elevenlabs_tts;
pub mod grpc;
mod openai_stt;
mod openai_tts;
pub mod prices;
pub mod salute;
pub mod streaming;
pub mod tts;
pub mod utterance;
mod vendor;
mod yandex_tts;

use async_trait::async_trait;

pub use elevenlabs_tts::ElevenLabsTts;
pub use openai_stt::OpenAiStt;
pub use openai_tts::OpenAiTts;
pub use prices::{PriceList, SpeechPrices};
pub use tts::{Tts, TtsError, TtsFormat, TtsStream};
pub use utterance::{BatchRecognizer, Heard, RecognitionSession, Recognizer};
pub use vendor::SpeechVendor;
pub use yandex_tts::YandexTts;

/// A transcribed stretch of speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SttError {
    /// Worth retrying later (429, 5xx, timeout, network).
    #[error("speech-to-text temporarily failed: {0}")]
    Transient(String),
    /// The provider refused the request for good (bad key, bad file).
    #[error("speech-to-text refused the audio: {0}")]
    Rejected(String),
}

/// Transcribes one mono WAV upload.
#[async_trait]
pub trait Stt: Send + Sync + 'static {
    /// `wav` is 16-bit mono; `duration_ms` is its length (used when the model gives no timings).
    async fn transcribe(&self, wav: Vec<u8>, duration_ms: i64) -> Result<Vec<Segment>, SttError> {
        self.transcribe_file(wav, "audio.wav", duration_ms).await
    }

    /// Transcribes a file in another container the provider accepts as is (a Telegram voice
    /// note is OGG/Opus); the extension of `file_name` tells its type.
    async fn transcribe_file(
        &self,
        audio: Vec<u8>,
        file_name: &str,
        duration_ms: i64,
    ) -> Result<Vec<Segment>, SttError>;
}

/// Joins segments into one line of text.
pub fn joined_text(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| s.text.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
