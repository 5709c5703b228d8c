//! Audio helpers for transcription: decode any common format (symphonia), split channels,
//! resample to 16 kHz (rubato), encode WAV for upload, and cut long audio at silences so every
//! upload stays under the provider's size limit. Bad input gives an [`AudioError`], never a panic.

use std::io::Cursor;
use std::time::Duration;

use rubato::{FftFixedInOut, Resampler};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CodecParameters, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The rate every transcription upload uses.
pub const TARGET_RATE: u32 = 16_000;
/// Sample rates outside this range are refused: no telephone or studio recording uses them, and a
/// forged header with an absurd (or prime) rate would make the resampler allocate gigabytes.
pub const MIN_RATE: u32 = 4_000;
pub const MAX_RATE: u32 = 192_000;

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
    #[error("the sample rate {0} Hz is outside 4–192 kHz")]
    UnsupportedRate(u64),
    #[error("the recording is longer than the allowed {limit_secs} s ({why})")]
    TooLong { limit_secs: u64, why: String },
    #[error("decoding stopped: the transcription was cancelled")]
    Aborted,
}

/// How much audio one recording may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioLimits {
    pub max_duration: Duration,
    /// Whether the limit comes from the PBX's call duration (for the message).
    pub from_call: bool,
}

impl AudioLimits {
    /// The absolute maximum when nothing else is known (`MAX_RECORDING_MINUTES`, default 3 h).
    pub const DEFAULT_MAX: Duration = Duration::from_secs(3 * 3600);

    pub fn absolute(max: Duration) -> Self {
        Self {
            max_duration: max,
            from_call: false,
        }
    }

    /// For the recording of a call the PBX says lasted `call_secs`: that plus a margin (a minute
    /// and a tenth, for ringing and rounding), never more than `absolute`. An unknown (zero or
    /// negative) duration leaves the absolute maximum.
    pub fn for_call(call_secs: i64, absolute: Duration) -> Self {
        if call_secs <= 0 {
            return Self::absolute(absolute);
        }
        let secs = u64::try_from(call_secs).unwrap_or(u64::MAX);
        let margin = 60u64.saturating_add(secs / 10);
        let by_call = Duration::from_secs(secs.saturating_add(margin));
        if by_call < absolute {
            Self {
                max_duration: by_call,
                from_call: true,
            }
        } else {
            Self::absolute(absolute)
        }
    }

    fn max_frames(&self, rate: u32) -> u64 {
        self.max_duration.as_secs().saturating_mul(u64::from(rate))
    }

    fn too_long(&self, found_secs: u64) -> AudioError {
        let why = if self.from_call {
            format!("about {found_secs} s of audio, but the PBX reports a shorter call")
        } else {
            format!("about {found_secs} s of audio; MAX_RECORDING_MINUTES")
        };
        AudioError::TooLong {
            limit_secs: self.max_duration.as_secs(),
            why,
        }
    }
}

impl Default for AudioLimits {
    fn default() -> Self {
        Self::absolute(Self::DEFAULT_MAX)
    }
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

/// What a decoded stream held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    pub sample_rate: u32,
    pub channels: usize,
    pub frames: u64,
}

impl StreamInfo {
    pub fn duration_ms(&self) -> i64 {
        i64::try_from(self.frames.saturating_mul(1000) / u64::from(self.sample_rate.max(1)))
            .unwrap_or(i64::MAX)
    }
}

fn check_rate(rate: u64) -> Result<u32, AudioError> {
    match u32::try_from(rate) {
        Ok(r) if (MIN_RATE..=MAX_RATE).contains(&r) => Ok(r),
        _ => Err(AudioError::UnsupportedRate(rate)),
    }
}

fn open(
    bytes: &bytes::Bytes,
    ext: Option<&str>,
) -> Result<(Box<dyn FormatReader>, u32, CodecParameters), AudioError> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.clone())), Default::default());
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
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::Format("no audio track".into()))?;
    let (id, params) = (track.id, track.codec_params.clone());
    if let Some(rate) = params.sample_rate {
        check_rate(u64::from(rate))?;
    }
    Ok((format, id, params))
}

/// The length a container announces, by its header or by its packets' durations (demuxing only,
/// nothing decoded), so an over-long file is refused before any work or upload.
fn announced_secs(format: &mut dyn FormatReader, track: u32, params: &CodecParameters) -> u64 {
    let rate = u64::from(params.sample_rate.unwrap_or(0));
    let (numer, denom) = params
        .time_base
        .map(|tb| (u64::from(tb.numer), u64::from(tb.denom)))
        .filter(|(n, d)| *n > 0 && *d > 0)
        .unwrap_or((1, rate.max(1)));
    let to_secs = |ts: u64| ts.saturating_mul(numer) / denom;
    if let (Some(frames), true) = (params.n_frames, rate > 0) {
        return frames / rate;
    }
    let mut total = 0u64;
    while let Ok(packet) = format.next_packet() {
        if packet.track_id() == track {
            total = total.saturating_add(packet.dur());
        }
    }
    to_secs(total)
}

/// Decodes `bytes` (wav, mp3, ogg/vorbis, flac) block by block, handing each decoded block to
/// `sink` as one slice per channel, so a long recording is never held decoded in memory. The
/// sample rate must be within 4–192 kHz and the audio within `limits`; both are checked from the
/// header before decoding and again while decoding. `ext` is a hint such as `mp3`.
pub fn decode_blocks(
    bytes: bytes::Bytes,
    ext: Option<&str>,
    limits: AudioLimits,
    mut sink: impl FnMut(u32, &[Vec<f32>]) -> Result<(), AudioError>,
) -> Result<StreamInfo, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    {
        let (mut format, track, params) = open(&bytes, ext)?;
        let secs = announced_secs(format.as_mut(), track, &params);
        if secs > limits.max_duration.as_secs() {
            return Err(limits.too_long(secs));
        }
    }
    let (mut format, track_id, params) = open(&bytes, ext)?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| AudioError::Format(e.to_string()))?;
    let mut info = StreamInfo {
        sample_rate: params.sample_rate.unwrap_or(0),
        channels: 0,
        frames: 0,
    };
    let mut block: Vec<Vec<f32>> = Vec::new();
    let mut interleaved: Option<SampleBuffer<f32>> = None;
    let (mut bad_packets, mut good_packets) = (0usize, 0usize);
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
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(SymphoniaError::DecodeError(_)) => {
                bad_packets += 1;
                if bad_packets > 50 && good_packets == 0 {
                    return Err(AudioError::Decode("no packet could be decoded".into()));
                }
                continue;
            }
            Err(e) => return Err(AudioError::Decode(e.to_string())),
        };
        good_packets += 1;
        let spec = *buf.spec();
        let rate = check_rate(u64::from(spec.rate))?;
        if info.frames > 0 && rate != info.sample_rate {
            return Err(AudioError::Decode(
                "the sample rate changes mid-stream".into(),
            ));
        }
        info.sample_rate = rate;
        let n = spec.channels.count().max(1);
        if info.channels == 0 {
            info.channels = n;
            block = vec![Vec::new(); n];
        }
        if n != info.channels {
            continue;
        }
        let frames = buf.frames();
        info.frames = info.frames.saturating_add(frames as u64);
        if info.frames > limits.max_frames(rate) {
            return Err(limits.too_long(info.frames / u64::from(rate)));
        }
        let capacity = buf.capacity() as u64;
        let sb = match &mut interleaved {
            Some(sb) if sb.capacity() as u64 >= capacity * n as u64 => sb,
            slot => slot.insert(SampleBuffer::<f32>::new(capacity, spec)),
        };
        sb.copy_interleaved_ref(buf);
        for ch in &mut block {
            ch.clear();
        }
        for frame in sb.samples().chunks(n) {
            for (c, v) in frame.iter().enumerate() {
                block[c].push(*v);
            }
        }
        sink(rate, &block)?;
    }
    if info.frames == 0 || info.sample_rate == 0 {
        return Err(AudioError::NoSamples);
    }
    Ok(info)
}

/// Decodes a whole (short) file into memory, within the default limits.
pub fn decode(bytes: &[u8], ext: Option<&str>) -> Result<Pcm, AudioError> {
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let info = decode_blocks(
        bytes::Bytes::copy_from_slice(bytes),
        ext,
        AudioLimits::default(),
        |_, block| {
            if channels.is_empty() {
                channels = vec![Vec::new(); block.len()];
            }
            for (c, b) in channels.iter_mut().zip(block) {
                c.extend_from_slice(b);
            }
            Ok(())
        },
    )?;
    Ok(Pcm {
        sample_rate: info.sample_rate,
        channels,
    })
}

/// Converts one channel's stream of blocks from one rate to another, keeping state between blocks
/// and dropping the resampler's start-up delay.
pub struct ChannelResampler {
    inner: Option<FftFixedInOut<f32>>,
    pending: Vec<f32>,
    skip: usize,
    from: u32,
    to: u32,
    fed: u64,
    produced: u64,
}

impl ChannelResampler {
    pub fn new(from: u32, to: u32) -> Result<Self, AudioError> {
        check_rate(u64::from(from))?;
        check_rate(u64::from(to))?;
        let inner = if from == to {
            None
        } else {
            Some(
                FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1)
                    .map_err(|e| AudioError::Resample(e.to_string()))?,
            )
        };
        Ok(Self {
            skip: inner.as_ref().map_or(0, |r| r.output_delay()),
            inner,
            pending: Vec::new(),
            from,
            to,
            fed: 0,
            produced: 0,
        })
    }

    /// Feeds samples; appends whatever output is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.fed += input.len() as u64;
        let Some(rs) = self.inner.as_mut() else {
            out.extend_from_slice(input);
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut pos = 0;
        let mut fresh = Vec::new();
        while self.pending.len() - pos >= rs.input_frames_next() {
            let n = rs.input_frames_next();
            let chunk = rs
                .process(&[&self.pending[pos..pos + n]], None)
                .map_err(|e| AudioError::Resample(e.to_string()))?;
            fresh.extend_from_slice(&chunk[0]);
            pos += n;
        }
        self.pending.drain(..pos);
        self.emit(&fresh, out);
        Ok(())
    }

    /// Flushes the rest at the end of the stream (the output then has the exact expected length).
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let Some(rs) = self.inner.as_mut() else {
            return Ok(());
        };
        let err = |e: &dyn std::fmt::Display| AudioError::Resample(e.to_string());
        let expected = self.fed * u64::from(self.to) / u64::from(self.from);
        let mut fresh = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            let chunk = rs
                .process_partial(Some(&[&pending[..]]), None)
                .map_err(|e| err(&e))?;
            fresh.extend_from_slice(&chunk[0]);
        }
        let mut guard = 0;
        while self.produced + (fresh.len().saturating_sub(self.skip) as u64) < expected
            && guard < 64
        {
            let chunk = rs
                .process_partial::<&[f32]>(None, None)
                .map_err(|e| err(&e))?;
            if chunk[0].is_empty() {
                break;
            }
            fresh.extend_from_slice(&chunk[0]);
            guard += 1;
        }
        let before = out.len();
        self.emit(&fresh, out);
        let over = (self.produced).saturating_sub(expected) as usize;
        out.truncate(out.len() - over.min(out.len() - before));
        self.produced = self.produced.min(expected);
        Ok(())
    }

    fn emit(&mut self, fresh: &[f32], out: &mut Vec<f32>) {
        let drop = self.skip.min(fresh.len());
        self.skip -= drop;
        out.extend_from_slice(&fresh[drop..]);
        self.produced += (fresh.len() - drop) as u64;
    }
}

/// Resamples one channel to `to` Hz.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let mut rs = ChannelResampler::new(from, to)?;
    let mut out = Vec::with_capacity(samples.len() * to as usize / from as usize + 16);
    rs.push(samples, &mut out)?;
    rs.finish(&mut out)?;
    Ok(out)
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

/// Cuts a stream of samples into pieces of at most `max_secs`, each cut placed at the quietest
/// 100 ms in the last 30 s before the limit, so words are not split. Holds at most one piece.
pub struct Chunker {
    rate: u32,
    max: usize,
    search: usize,
    window: usize,
    buf: Vec<f32>,
    start: usize,
}

impl Chunker {
    pub fn new(rate: u32, max_secs: u32) -> Self {
        let rate_us = rate as usize;
        let max = (max_secs as usize * rate_us).max(rate_us);
        Self {
            rate,
            max,
            search: (30 * rate_us).min(max / 2),
            window: (rate_us / 10).max(1),
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Adds samples; returns the pieces that are complete.
    pub fn push(&mut self, samples: &[f32]) -> Vec<Chunk> {
        self.buf.extend_from_slice(samples);
        let mut out = Vec::new();
        while self.buf.len() > self.max {
            let hi = self.max;
            let lo = hi - self.search;
            let mut best = hi;
            let mut best_energy = f32::MAX;
            let mut w = lo;
            while w + self.window <= hi {
                let e: f32 = self.buf[w..w + self.window].iter().map(|s| s * s).sum();
                if e < best_energy {
                    best_energy = e;
                    best = w + self.window / 2;
                }
                w += self.window;
            }
            out.push(self.piece(best));
        }
        out
    }

    /// The last piece (none when nothing is left).
    pub fn finish(mut self) -> Option<Chunk> {
        (!self.buf.is_empty()).then(|| self.piece(self.buf.len()))
    }

    fn piece(&mut self, len: usize) -> Chunk {
        let samples: Vec<f32> = self.buf.drain(..len).collect();
        let chunk = Chunk {
            offset_ms: (self.start as i64) * 1000 / i64::from(self.rate),
            samples,
        };
        self.start += len;
        chunk
    }
}

/// Cuts `samples` into pieces as [`Chunker`] does.
pub fn chunk_at_silences(samples: &[f32], rate: u32, max_secs: u32) -> Vec<Chunk> {
    let mut chunker = Chunker::new(rate, max_secs);
    let mut out = chunker.push(samples);
    out.extend(chunker.finish());
    if out.is_empty() {
        out.push(Chunk {
            offset_ms: 0,
            samples: Vec::new(),
        });
    }
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

    /// A WAV whose header claims `rate` (the sample data is whatever it is).
    pub(crate) fn wav_claiming(rate: u32, samples: usize) -> Vec<u8> {
        let mut wav = stereo_wav_bytes(&vec![0.1; samples], &vec![0.1; samples], 8000);
        wav[24..28].copy_from_slice(&rate.to_le_bytes());
        wav[28..32].copy_from_slice(&rate.wrapping_mul(4).to_le_bytes());
        wav
    }

    #[test]
    fn absurd_sample_rates_are_refused_before_decoding() {
        for rate in [4_294_967_291u32, 1, 3_999, 192_001] {
            let err = decode(&wav_claiming(rate, 1000), Some("wav")).unwrap_err();
            assert_eq!(err, AudioError::UnsupportedRate(u64::from(rate)), "{rate}");
        }
        assert!(decode(&wav_claiming(192_000, 1000), Some("wav")).is_ok());
        assert!(ChannelResampler::new(4_294_967_291, TARGET_RATE).is_err());
    }

    #[test]
    fn audio_longer_than_the_limit_is_refused_from_the_header() {
        let wav = stereo_wav_bytes(&tone(300.0, 5.0, 8000), &tone(300.0, 5.0, 8000), 8000);
        let limits = AudioLimits::absolute(Duration::from_secs(4));
        let mut blocks = 0;
        let err = decode_blocks(wav.into(), Some("wav"), limits, |_, _| {
            blocks += 1;
            Ok(())
        })
        .unwrap_err();
        assert!(
            matches!(err, AudioError::TooLong { limit_secs: 4, .. }),
            "{err}"
        );
        assert_eq!(blocks, 0, "nothing decoded");
        let call = AudioLimits::for_call(120, AudioLimits::DEFAULT_MAX);
        assert_eq!(
            (call.max_duration, call.from_call),
            (Duration::from_secs(192), true)
        );
        assert_eq!(
            AudioLimits::for_call(0, AudioLimits::DEFAULT_MAX),
            AudioLimits::default()
        );
        assert_eq!(
            AudioLimits::for_call(i64::MAX, AudioLimits::DEFAULT_MAX),
            AudioLimits::default()
        );
    }

    #[test]
    fn streaming_resampling_matches_the_whole_signal() {
        let s = tone(440.0, 2.0, 8000);
        let mut rs = ChannelResampler::new(8000, TARGET_RATE).unwrap();
        let mut out = Vec::new();
        for block in s.chunks(1152) {
            rs.push(block, &mut out).unwrap();
        }
        rs.finish(&mut out).unwrap();
        assert_eq!(out.len(), 32_000);
        let hz = zero_crossing_hz(&out, TARGET_RATE);
        assert!((hz - 440.0).abs() < 10.0, "{hz}");
        // A prime rate within bounds still works, with a bounded FFT.
        let odd = resample(&tone(440.0, 1.0, 44_101), 44_101, TARGET_RATE).unwrap();
        assert_eq!(odd.len(), 16_000);
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
