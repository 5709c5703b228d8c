//! Text-to-speech: one sentence in, a stream of audio bytes out, so playback can start on the
//! first chunk.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// What the caller needs back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtsFormat {
    /// Raw 16-bit little-endian mono PCM at [`TtsStream::sample_rate`] (live calls).
    Pcm,
    /// OGG/Opus (Telegram voice notes).
    Opus,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TtsError {
    #[error("text-to-speech temporarily failed: {0}")]
    Transient(String),
    #[error("text-to-speech refused the request: {0}")]
    Rejected(String),
}

/// Audio as it arrives.
pub struct TtsStream {
    pub sample_rate: u32,
    pub chunks: Pin<Box<dyn Stream<Item = Result<Bytes, TtsError>> + Send>>,
}

#[async_trait]
pub trait Tts: Send + Sync + 'static {
    /// Starts synthesis; returns once the provider has answered (headers), before the audio.
    async fn synthesize(&self, text: &str, format: TtsFormat) -> Result<TtsStream, TtsError>;
}
