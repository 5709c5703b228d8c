//! Text-to-speech: one sentence in, a stream of audio bytes out, so playback can start on the
//! first chunk.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use super::SpeechVendor;

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

impl From<crate::retry::SendError> for TtsError {
    fn from(e: crate::retry::SendError) -> Self {
        match e {
            crate::retry::SendError::Refused(m) => TtsError::Rejected(m),
            crate::retry::SendError::GaveUp(m) => TtsError::Transient(m),
        }
    }
}

/// Audio as it arrives.
pub struct TtsStream {
    pub sample_rate: u32,
    pub chunks: Pin<Box<dyn Stream<Item = Result<Bytes, TtsError>> + Send>>,
}

#[async_trait]
pub trait Tts: Send + Sync + 'static {
    /// Which vendor speaks (a script names its voice per vendor).
    fn vendor(&self) -> SpeechVendor;

    /// Starts synthesis in `voice` (a name this vendor knows; `None`: the configured one);
    /// returns once the provider has answered (headers), before the audio.
    async fn synthesize_in(
        &self,
        text: &str,
        format: TtsFormat,
        voice: Option<&str>,
    ) -> Result<TtsStream, TtsError>;

    /// Starts synthesis in the configured voice.
    async fn synthesize(&self, text: &str, format: TtsFormat) -> Result<TtsStream, TtsError> {
        self.synthesize_in(text, format, None).await
    }
}
