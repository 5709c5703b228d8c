//! Speech: audio helpers and speech-to-text behind the [`Stt`] trait (OpenAI-compatible first).

pub mod audio;
mod openai_stt;

use async_trait::async_trait;

pub use openai_stt::OpenAiStt;

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
    async fn transcribe(&self, wav: Vec<u8>, duration_ms: i64) -> Result<Vec<Segment>, SttError>;
}
