//! Live speech-to-text, one caller utterance at a time. A [`RecognitionSession`] takes audio as
//! the caller speaks and gives the text when the turn ends: a streaming provider (SaluteSpeech,
//! SpeechKit) sends the audio as it comes; [`BatchRecognizer`] buffers it and uploads one WAV to
//! any [`Stt`] when the turn ends.

use std::sync::Arc;

use async_trait::async_trait;

use super::{joined_text, Stt, SttError};

#[async_trait]
pub trait Recognizer: Send + Sync + 'static {
    /// Opens a session for audio at `rate` Hz.
    fn open(&self, rate: u32) -> Box<dyn RecognitionSession>;
    /// The vendor that recognises (for per-vendor figures).
    fn vendor(&self) -> &'static str;
}

/// What one utterance was heard as.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Heard {
    /// Its text (empty when nothing was recognised).
    pub text: String,
    /// The stream failed and batch recognition gave the text.
    pub fell_back: bool,
}

impl Heard {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            fell_back: false,
        }
    }
}

#[async_trait]
pub trait RecognitionSession: Send {
    /// More of the caller's audio.
    fn push(&mut self, samples: &[i16]);
    /// What the caller has said so far, when the provider streams interim results.
    fn interim(&self) -> Option<String> {
        None
    }
    /// The utterance is over: what it was heard as.
    async fn finish(self: Box<Self>) -> Result<Heard, SttError>;
}

/// Uploads each utterance to an [`Stt`] as one WAV file.
pub struct BatchRecognizer {
    stt: Arc<dyn Stt>,
    vendor: &'static str,
}

impl BatchRecognizer {
    /// Over an OpenAI-compatible [`Stt`].
    pub fn new(stt: Arc<dyn Stt>) -> Self {
        Self {
            stt,
            vendor: "openai",
        }
    }

    /// Names another vendor for the figures.
    pub fn of_vendor(mut self, vendor: &'static str) -> Self {
        self.vendor = vendor;
        self
    }
}

struct BatchSession {
    stt: Arc<dyn Stt>,
    rate: u32,
    samples: Vec<i16>,
}

impl Recognizer for BatchRecognizer {
    fn open(&self, rate: u32) -> Box<dyn RecognitionSession> {
        Box::new(BatchSession {
            stt: self.stt.clone(),
            rate,
            samples: Vec::with_capacity(rate as usize * 5),
        })
    }

    fn vendor(&self) -> &'static str {
        self.vendor
    }
}

#[async_trait]
impl RecognitionSession for BatchSession {
    fn push(&mut self, samples: &[i16]) {
        self.samples.extend_from_slice(samples);
    }

    async fn finish(self: Box<Self>) -> Result<Heard, SttError> {
        if self.samples.is_empty() {
            return Ok(Heard::default());
        }
        let duration_ms = self.samples.len() as i64 * 1000 / i64::from(self.rate.max(1));
        let wav = wav_i16(&self.samples, self.rate);
        let segments = self.stt.transcribe(wav, duration_ms).await?;
        Ok(Heard::text(joined_text(&segments)))
    }
}

/// A 16-bit mono WAV file.
pub fn wav_i16(samples: &[i16], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// The samples of an 8 kHz 16-bit mono PCM WAV file (the telephone's rate); `None` otherwise.
pub fn pcm16_wav_samples(bytes: &[u8]) -> Option<Vec<i16>> {
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let (mut at, mut format_ok) = (12usize, false);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes.get(at + 4..at + 8)?.try_into().ok()?) as usize;
        let body = bytes.get(at + 8..(at + 8).checked_add(len)?.min(bytes.len()))?;
        if id == b"fmt " {
            let u16_at = |i: usize| Some(u16::from_le_bytes(body.get(i..i + 2)?.try_into().ok()?));
            let rate = u32::from_le_bytes(body.get(4..8)?.try_into().ok()?);
            format_ok = u16_at(0)? == 1 && u16_at(2)? == 1 && rate == 8000 && u16_at(14)? == 16;
        } else if id == b"data" {
            return format_ok.then(|| {
                body.chunks_exact(2)
                    .map(|p| i16::from_le_bytes([p[0], p[1]]))
                    .collect()
            });
        }
        at += 8 + len + (len & 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telephone_wavs_are_read_back_and_others_refused() {
        let samples = [0i16, 1000, -1000, 5];
        assert_eq!(
            pcm16_wav_samples(&wav_i16(&samples, 8000)),
            Some(samples.to_vec())
        );
        assert_eq!(pcm16_wav_samples(&wav_i16(&samples, 16000)), None);
        assert_eq!(pcm16_wav_samples(b"RIFF\0\0\0\0WAVEdata"), None);
        assert_eq!(pcm16_wav_samples(b""), None);
    }

    #[test]
    fn wav_header_is_readable() {
        let wav = wav_i16(&[0, 1000, -1000, 5], 8000);
        let pcm = crate::speech::audio::decode(&wav, Some("wav")).unwrap();
        assert_eq!(pcm.sample_rate, 8000);
        assert_eq!(pcm.channels[0].len(), 4);
    }
}
