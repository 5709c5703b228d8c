//! Audio helpers for transcription: decode any common format (symphonia), split channels,
//! resample to 16 kHz (rubato), encode WAV for upload, and cut long audio at silences so every
//! upload stays under the provider's size limit. Bad input gives an [`AudioError`], never a panic.

use std::io::Cursor;

use rubato::{FftFixedInOut, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The rate every transcription upload uses.
pub const TARGET_RATE: u32 = 16_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    #[error("the file is empty")]
    Empty,
    #[error("not a recognised audio file: {0}")]
    Format(String),
    #[error("the audio could not be decoded: {0}")]
    Decode(String),
    #[error("the recording contains no sound (0 samples decoded)")]
    NoSamples,
    #[error("resampling failed: {0}")]
    Resample(String),
}

/// Decoded audio: one `Vec<f32>` per channel.
#[derive(Debug, Clone)]
pub struct Pcm {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Pcm {
    pub fn duration_ms(&self) -> i64 {
        let frames = self.channels.first().map_or(0, Vec::len) as i64;
        frames * 1000 / i64::from(self.sample_rate.max(1))
    }
}

/// Decodes `bytes` (wav, mp3, ogg/vorbis, flac); `ext` is a hint such as `mp3`.
pub fn decode(bytes: &[u8], ext: Option<&str>) -> Result<Pcm, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    if let Some(e) = ext {
        hint.with_extension(e);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| AudioError::Format(e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::Format("no audio track".into()))?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| AudioError::Format(e.to_string()))?;
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut sample_rate = track.codec_params.sample_rate.unwrap_or(0);
    let mut bad_packets = 0usize;
    let mut good_packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => {
                if good_packets > 0 {
                    // A truncated tail: keep what decoded.
                    break;
                }
                return Err(AudioError::Decode(e.to_string()));
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                good_packets += 1;
                let spec = *buf.spec();
                sample_rate = spec.rate;
                let n = spec.channels.count().max(1);
                if channels.is_empty() {
                    channels = vec![Vec::new(); n];
                }
                if n != channels.len() {
                    continue;
                }
                let mut sb = SampleBuffer::<f32>::new(buf.capacity() as u64, spec);
                sb.copy_interleaved_ref(buf);
                for frame in sb.samples().chunks(n) {
                    for (c, v) in frame.iter().enumerate() {
                        channels[c].push(*v);
                    }
                }
            }
            Err(SymphoniaError::DecodeError(_)) => {
                bad_packets += 1;
                if bad_packets > 50 && good_packets == 0 {
                    return Err(AudioError::Decode("no packet could be decoded".into()));
                }
            }
            Err(e) => return Err(AudioError::Decode(e.to_string())),
        }
    }
    if channels.iter().all(Vec::is_empty) || sample_rate == 0 {
        return Err(AudioError::NoSamples);
    }
    Ok(Pcm {
        sample_rate,
        channels,
    })
}

/// Resamples one channel to `to` Hz.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| AudioError::Resample(e.to_string());
    let mut rs =
        FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1).map_err(|e| err(&e))?;
    let expected = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let mut out = Vec::with_capacity(expected + 2048);
    let mut pos = 0;
    while samples.len() - pos >= rs.input_frames_next() {
        let n = rs.input_frames_next();
        let chunk = rs
            .process(&[&samples[pos..pos + n]], None)
            .map_err(|e| err(&e))?;
        out.extend_from_slice(&chunk[0]);
        pos += n;
    }
    if pos < samples.len() {
        let chunk = rs
            .process_partial(Some(&[&samples[pos..]]), None)
            .map_err(|e| err(&e))?;
        out.extend_from_slice(&chunk[0]);
    }
    let delay = rs.output_delay();
    while out.len() < delay + expected {
        let chunk = rs
            .process_partial::<&[f32]>(None, None)
            .map_err(|e| err(&e))?;
        if chunk[0].is_empty() {
            break;
        }
        out.extend_from_slice(&chunk[0]);
    }
    let end = (delay + expected).min(out.len());
    Ok(out[delay.min(end)..end].to_vec())
}

/// Averages all channels into one.
pub fn mixdown(pcm: &Pcm) -> Vec<f32> {
    let n = pcm.channels.len().max(1) as f32;
    let len = pcm.channels.iter().map(Vec::len).min().unwrap_or(0);
    (0..len)
        .map(|i| pcm.channels.iter().map(|c| c[i]).sum::<f32>() / n)
        .collect()
}

/// 16-bit PCM WAV bytes of a mono signal.
pub fn wav_bytes(samples: &[f32], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    if let Ok(mut w) = hound::WavWriter::new(&mut cursor, spec) {
        for s in samples {
            let v = (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
            if w.write_sample(v).is_err() {
                break;
            }
        }
        let _ = w.finalize();
    }
    cursor.into_inner()
}

/// A piece of a longer signal and where it starts.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub offset_ms: i64,
    pub samples: Vec<f32>,
}

/// Cuts `samples` into pieces of at most `max_secs`, each cut placed at the quietest 100 ms in the
/// last 30 s before the limit, so words are not split.
pub fn chunk_at_silences(samples: &[f32], rate: u32, max_secs: u32) -> Vec<Chunk> {
    let rate_us = rate as usize;
    let max = (max_secs as usize * rate_us).max(rate_us);
    let window = (rate_us / 10).max(1);
    let search = (30 * rate_us).min(max / 2);
    let mut out = Vec::new();
    let mut start = 0;
    while samples.len() - start > max {
        let hi = start + max;
        let lo = hi - search;
        let mut best = hi;
        let mut best_energy = f32::MAX;
        let mut w = lo;
        while w + window <= hi {
            let e: f32 = samples[w..w + window].iter().map(|s| s * s).sum();
            if e < best_energy {
                best_energy = e;
                best = w + window / 2;
            }
            w += window;
        }
        out.push(Chunk {
            offset_ms: (start as i64) * 1000 / i64::from(rate),
            samples: samples[start..best].to_vec(),
        });
        start = best;
    }
    out.push(Chunk {
        offset_ms: (start as i64) * 1000 / i64::from(rate),
        samples: samples[start..].to_vec(),
    });
    out
}

/// Test and demo signals: a sine tone (in `[-0.5, 0.5]`).
pub fn tone(freq: f32, secs: f32, rate: u32) -> Vec<f32> {
    let n = (secs * rate as f32) as usize;
    (0..n)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// A stereo 16-bit WAV file from two channels (for tests and demos).
pub fn stereo_wav_bytes(left: &[f32], right: &[f32], rate: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::new());
    if let Ok(mut w) = hound::WavWriter::new(&mut cursor, spec) {
        for i in 0..left.len().max(right.len()) {
            for ch in [left, right] {
                let s = ch.get(i).copied().unwrap_or(0.0);
                let _ = w.write_sample((s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16);
            }
        }
        let _ = w.finalize();
    }
    cursor.into_inner()
}

/// The dominant frequency of a signal by zero crossings (used by tests' fake STT).
pub fn zero_crossing_hz(samples: &[f32], rate: u32) -> f32 {
    if samples.len() < 2 {
        return 0.0;
    }
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    crossings as f32 * rate as f32 / (2.0 * samples.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stereo_wav_round_trips_and_resamples() {
        let left = tone(440.0, 1.0, 8000);
        let right = tone(880.0, 1.0, 8000);
        let bytes = stereo_wav_bytes(&left, &right, 8000);
        let pcm = decode(&bytes, Some("wav")).unwrap();
        assert_eq!((pcm.sample_rate, pcm.channels.len()), (8000, 2));
        assert_eq!(pcm.duration_ms(), 1000);
        let up = resample(&pcm.channels[1], 8000, TARGET_RATE).unwrap();
        assert!((up.len() as i64 - 16000).abs() <= 2, "{}", up.len());
        let hz = zero_crossing_hz(&up, TARGET_RATE);
        assert!((hz - 880.0).abs() < 20.0, "{hz}");
    }

    #[test]
    fn garbage_and_empty_input_are_errors_not_panics() {
        assert_eq!(decode(&[], None).unwrap_err(), AudioError::Empty);
        assert!(decode(b"<html>Not found</html>", Some("mp3")).is_err());
        assert!(decode(&[0u8; 5000], Some("mp3")).is_err());
        let mut wav = stereo_wav_bytes(&tone(440.0, 0.5, 8000), &tone(440.0, 0.5, 8000), 8000);
        wav.truncate(30);
        assert!(decode(&wav, Some("wav")).is_err());
        let mut noise = vec![0u8; 4096];
        for (i, b) in noise.iter_mut().enumerate() {
            *b = (i * 7919 % 251) as u8;
        }
        assert!(decode(&noise, None).is_err());
    }

    #[test]
    fn chunks_cut_in_silence_and_cover_everything() {
        let rate = 1000;
        let mut s = tone(100.0, 50.0, rate);
        for v in &mut s[40_000..40_300] {
            *v = 0.0;
        }
        let chunks = chunk_at_silences(&s, rate, 45);
        assert_eq!(chunks.len(), 2);
        let cut = chunks[1].offset_ms;
        assert!((40_000..=40_300).contains(&cut), "cut at {cut} ms");
        assert_eq!(
            chunks.iter().map(|c| c.samples.len()).sum::<usize>(),
            s.len()
        );
    }
}
