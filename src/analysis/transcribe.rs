//! From recording bytes to speaker-labelled utterances: stereo recordings are split by channel
//! (roles from `CHANNEL_ROLES`), each channel transcribed and the results merged by time; mono
//! recordings give one unlabelled transcript. Long audio is cut at silences under the upload limit.

use crate::domain::Utterance;
use crate::speech::audio::{self, AudioError, TARGET_RATE};
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
    #[error("bad audio: {0}")]
    Audio(#[from] AudioError),
    #[error(transparent)]
    Stt(#[from] SttError),
}

/// Longest upload piece: 16 kHz 16-bit mono is 32 kB/s, so 600 s is ~19 MB, under the 25 MB limit.
pub const MAX_CHUNK_SECS: u32 = 600;

/// A channel counts as silent below this RMS (a one-sided recording of a stereo file).
const SILENT_RMS: f32 = 0.001;

fn rms(s: &[f32]) -> f32 {
    if s.is_empty() {
        return 0.0;
    }
    (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt()
}

/// Transcribes a recording.
pub async fn transcribe(
    stt: &dyn Stt,
    bytes: &[u8],
    ext: Option<&str>,
    roles: &[String],
) -> Result<Transcript, TranscribeError> {
    let pcm = audio::decode(bytes, ext)?;
    let duration_ms = pcm.duration_ms();
    let stereo = pcm.channels.len() >= 2;
    let tracks: Vec<(String, Vec<f32>)> = if stereo {
        pcm.channels
            .iter()
            .take(2)
            .enumerate()
            .map(|(i, ch)| {
                let role = roles
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("channel{}", i + 1));
                (role, ch.clone())
            })
            .collect()
    } else {
        vec![("unknown".to_string(), audio::mixdown(&pcm))]
    };
    // Channels are transcribed at the same time: a stereo call costs one STT round trip, not two.
    let rate = pcm.sample_rate;
    let jobs = tracks
        .into_iter()
        .filter(|(_, samples)| rms(samples) >= SILENT_RMS)
        .map(|(role, samples)| async move {
            let samples = audio::resample(&samples, rate, TARGET_RATE)?;
            let mut out = Vec::new();
            for chunk in audio::chunk_at_silences(&samples, TARGET_RATE, MAX_CHUNK_SECS) {
                let len_ms = chunk.samples.len() as i64 * 1000 / i64::from(TARGET_RATE);
                let wav = audio::wav_bytes(&chunk.samples, TARGET_RATE);
                for seg in stt.transcribe(wav, len_ms).await? {
                    out.push(Utterance {
                        speaker: role.clone(),
                        start_ms: chunk.offset_ms + seg.start_ms,
                        end_ms: chunk.offset_ms + seg.end_ms,
                        text: seg.text,
                    });
                }
            }
            Ok::<_, TranscribeError>(out)
        });
    let mut utterances = Vec::new();
    for part in futures::future::join_all(jobs).await {
        utterances.extend(part?);
    }
    utterances.sort_by_key(|u| (u.start_ms, u.end_ms));
    Ok(Transcript {
        utterances,
        mono: !stereo,
        duration_ms,
    })
}
