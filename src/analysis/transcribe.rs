//! From recording bytes to speaker-labelled utterances: stereo recordings are split by channel
//! (roles from `CHANNEL_ROLES`), each channel transcribed and the results merged by time; mono
//! recordings give one unlabelled transcript. Long audio is cut at silences under the upload limit.
//!
//! Decoding, resampling and cutting run on a blocking thread as a stream: each channel's pieces go
//! to its uploader through a one-slot queue, so memory holds the file once plus a piece or two per
//! channel however long the call is. Silent pieces (the far side of a one-sided recording) are not
//! uploaded.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::domain::Speaker;
use crate::domain::Utterance;
use crate::speech::audio::{self, AudioError, AudioLimits, Chunk, StreamInfo, TARGET_RATE};
use crate::speech::{Stt, SttError};

/// A transcript and how it was made.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub utterances: Vec<Utterance>,
    pub mono: bool,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TranscribeError {
    /// (Not a `source`: the message already says it, and chains would print it twice.)
    #[error("bad audio: {0}")]
    Audio(AudioError),
    #[error(transparent)]
    Stt(#[from] SttError),
}

impl From<AudioError> for TranscribeError {
    fn from(e: AudioError) -> Self {
        TranscribeError::Audio(e)
    }
}

/// Longest upload piece: 16 kHz 16-bit mono is 32 kB/s, so 600 s is ~19 MB, under the 25 MB limit.
pub const MAX_CHUNK_SECS: u32 = 600;

/// A piece counts as silent below this RMS (e.g. one side of a one-sided stereo recording).
const SILENT_RMS: f32 = 0.001;

fn rms(s: &[f32]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt()
}

/// One upload: a WAV piece of a channel and where it starts.
struct Piece {
    offset_ms: i64,
    len_ms: i64,
    wav: Vec<u8>,
}

/// One channel on the decoding thread: resampler, cutter and the queue to its uploader.
struct Track {
    resampler: audio::ChannelResampler,
    chunker: audio::Chunker,
    scratch: Vec<f32>,
    tx: mpsc::Sender<Piece>,
}

/// Queues a piece for upload unless it is silent.
fn send(tx: &mpsc::Sender<Piece>, chunk: Chunk) -> Result<(), AudioError> {
    if rms(&chunk.samples) < SILENT_RMS {
        return Ok(());
    }
    let piece = Piece {
        offset_ms: chunk.offset_ms,
        len_ms: chunk.samples.len() as i64 * 1000 / i64::from(TARGET_RATE),
        wav: audio::wav_bytes(&chunk.samples, TARGET_RATE),
    };
    tx.blocking_send(piece).map_err(|_| AudioError::Aborted)
}

impl Track {
    fn push(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.scratch.clear();
        self.resampler.push(samples, &mut self.scratch)?;
        for chunk in self.chunker.push(&self.scratch) {
            send(&self.tx, chunk)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), AudioError> {
        self.scratch.clear();
        self.resampler.finish(&mut self.scratch)?;
        let Track {
            mut chunker,
            scratch,
            tx,
            ..
        } = self;
        let mut last = chunker.push(&scratch);
        last.extend(chunker.finish());
        for chunk in last {
            send(&tx, chunk)?;
        }
        Ok(())
    }
}

/// Decodes on the calling (blocking) thread, feeding the first two channels (or the only one).
fn decode_into(
    bytes: bytes::Bytes,
    ext: Option<&str>,
    limits: AudioLimits,
    txs: Vec<mpsc::Sender<Piece>>,
) -> Result<StreamInfo, AudioError> {
    let mut txs = txs.into_iter();
    let mut tracks: Vec<Track> = Vec::new();
    let info = audio::decode_blocks(bytes, ext, limits, |rate, block| {
        if tracks.is_empty() {
            let n = if block.len() >= 2 { 2 } else { 1 };
            for tx in txs.by_ref().take(n) {
                tracks.push(Track {
                    resampler: audio::ChannelResampler::new(rate, TARGET_RATE)?,
                    chunker: audio::Chunker::new(TARGET_RATE, MAX_CHUNK_SECS),
                    scratch: Vec::new(),
                    tx,
                });
            }
        }
        for (track, samples) in tracks.iter_mut().zip(block) {
            track.push(samples)?;
        }
        Ok(())
    })?;
    for track in tracks {
        track.finish()?;
    }
    Ok(info)
}

/// Transcribes a recording within `limits`.
pub async fn transcribe(
    stt: &dyn Stt,
    bytes: impl Into<bytes::Bytes>,
    ext: Option<&str>,
    roles: &[Speaker],
    limits: AudioLimits,
) -> Result<Transcript, TranscribeError> {
    let bytes: bytes::Bytes = bytes.into();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..2).map(|_| mpsc::channel::<Piece>(1)).unzip();
    let ext_owned = ext.map(str::to_string);
    let decoder =
        tokio::task::spawn_blocking(move || decode_into(bytes, ext_owned.as_deref(), limits, txs));
    let roles: Arc<[Speaker]> = roles.into();
    // Channels are transcribed at the same time: a stereo call costs one STT round trip, not two.
    let uploads = rxs.into_iter().enumerate().map(|(i, mut rx)| {
        let roles = roles.clone();
        async move {
            let mut out = Vec::new();
            let mut role = None;
            while let Some(piece) = rx.recv().await {
                let speaker =
                    *role.get_or_insert_with(|| roles.get(i).copied().unwrap_or(Speaker::Unknown));
                for seg in stt.transcribe(piece.wav, piece.len_ms).await? {
                    out.push(Utterance {
                        speaker,
                        start_ms: piece.offset_ms + seg.start_ms,
                        end_ms: piece.offset_ms + seg.end_ms,
                        text: seg.text,
                    });
                }
            }
            Ok::<_, SttError>(out)
        }
    });
    let (decoded, parts) = tokio::join!(decoder, futures::future::join_all(uploads));
    let mut utterances = Vec::new();
    let mut stt_error = None;
    for part in parts {
        match part {
            Ok(u) => utterances.extend(u),
            Err(e) => stt_error = stt_error.or(Some(e)),
        }
    }
    if let Some(e) = stt_error {
        return Err(e.into());
    }
    let info = decoded.map_err(|e| AudioError::Decode(format!("the decoder stopped: {e}")))??;
    let mono = info.channels < 2;
    if mono {
        for u in &mut utterances {
            u.speaker = Speaker::Unknown;
        }
    }
    utterances.sort_by_key(|u| (u.start_ms, u.end_ms));
    Ok(Transcript {
        utterances,
        mono,
        duration_ms: info.duration_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::speech::Segment;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers every upload with one segment naming its dominant frequency.
    #[derive(Default)]
    struct ToneStt {
        uploads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Stt for ToneStt {
        async fn transcribe(&self, wav: Vec<u8>, ms: i64) -> Result<Vec<Segment>, SttError> {
            self.uploads.fetch_add(1, Ordering::SeqCst);
            let pcm =
                audio::decode(&wav, Some("wav")).map_err(|e| SttError::Rejected(e.to_string()))?;
            let hz = audio::zero_crossing_hz(&pcm.channels[0], pcm.sample_rate);
            Ok(vec![Segment {
                start_ms: 0,
                end_ms: ms,
                text: format!("{:.0}", (hz / 100.0).round() * 100.0),
            }])
        }
        async fn transcribe_file(
            &self,
            _: Vec<u8>,
            _: &str,
            _: i64,
        ) -> Result<Vec<Segment>, SttError> {
            Err(SttError::Rejected("not here".into()))
        }
    }

    fn roles() -> Vec<Speaker> {
        vec![Speaker::Manager, Speaker::Client]
    }

    #[tokio::test]
    async fn stereo_channels_get_their_roles_and_silence_is_not_uploaded() {
        let stt = ToneStt::default();
        let left = audio::tone(400.0, 3.0, 8000);
        let right = vec![0.0; left.len()];
        let wav = audio::stereo_wav_bytes(&left, &right, 8000);
        let t = transcribe(
            &stt,
            wav,
            Some("wav"),
            &roles(),
            AudioLimits::for_call(3, AudioLimits::DEFAULT_MAX),
        )
        .await
        .unwrap();
        assert!(!t.mono);
        assert_eq!(t.duration_ms, 3000);
        assert_eq!(
            stt.uploads.load(Ordering::SeqCst),
            1,
            "the silent side is not uploaded"
        );
        assert_eq!(t.utterances.len(), 1);
        assert_eq!(
            (
                t.utterances[0].speaker.as_str(),
                t.utterances[0].text.as_str()
            ),
            ("manager", "400")
        );
    }

    #[tokio::test]
    async fn a_recording_longer_than_the_call_is_refused_before_any_upload() {
        let stt = ToneStt::default();
        let tone = audio::tone(300.0, 200.0, 8000);
        let wav = audio::stereo_wav_bytes(&tone, &tone, 8000);
        let err = transcribe(
            &stt,
            wav,
            Some("wav"),
            &roles(),
            AudioLimits::for_call(10, AudioLimits::DEFAULT_MAX),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                TranscribeError::Audio(AudioError::TooLong { limit_secs: 71, .. })
            ),
            "{err}"
        );
        assert_eq!(stt.uploads.load(Ordering::SeqCst), 0);
    }
}
