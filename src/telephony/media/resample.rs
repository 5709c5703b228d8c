//! Streaming sample-rate conversion (rubato) and cutting a sample stream into 20 ms frames.
//!
//! TTS arrives at 24 kHz in chunks of any size; the line wants 8 or 16 kHz frames. The resampler
//! keeps state between chunks so there are no clicks at chunk borders, and drops rubato's
//! start-up delay so no silence is added before the first word.

use rubato::{FftFixedInOut, Resampler};

use super::frame::Frame;

/// Converts a stream of i16 samples from one rate to another.
pub struct StreamResampler {
    inner: Option<FftFixedInOut<f32>>,
    pending: Vec<f32>,
    /// Output samples still to drop (the resampler's delay).
    skip: usize,
    from: u32,
    to: u32,
    fed: u64,
    produced: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("resampling failed: {0}")]
pub struct ResampleError(String);

impl StreamResampler {
    /// A resampler working in 20 ms input chunks.
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        let inner = if from == to {
            None
        } else {
            let chunk = Frame::len_at(from);
            Some(
                FftFixedInOut::<f32>::new(from as usize, to as usize, chunk, 1)
                    .map_err(|e| ResampleError(e.to_string()))?,
            )
        };
        let skip = inner.as_ref().map_or(0, |r| r.output_delay());
        Ok(Self {
            inner,
            pending: Vec::new(),
            skip,
            from,
            to,
            fed: 0,
            produced: 0,
        })
    }

    /// Feeds samples; returns whatever output is ready.
    pub fn push(&mut self, input: &[i16]) -> Result<Vec<i16>, ResampleError> {
        self.fed += input.len() as u64;
        let Some(rs) = self.inner.as_mut() else {
            return Ok(input.to_vec());
        };
        self.pending
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        let mut out = Vec::new();
        let mut pos = 0;
        while self.pending.len() - pos >= rs.input_frames_next() {
            let n = rs.input_frames_next();
            let chunk = rs
                .process(&[&self.pending[pos..pos + n]], None)
                .map_err(|e| ResampleError(e.to_string()))?;
            out.extend_from_slice(&chunk[0]);
            pos += n;
        }
        self.pending.drain(..pos);
        Ok(self.emit(out))
    }

    /// Flushes what is left at the end of a stream.
    pub fn finish(&mut self) -> Result<Vec<i16>, ResampleError> {
        let Some(rs) = self.inner.as_mut() else {
            return Ok(Vec::new());
        };
        let expected = self.fed * u64::from(self.to) / u64::from(self.from);
        let mut out = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        let mut first = true;
        while self.produced + (out.len() as u64) < expected + self.skip as u64 {
            let chunk = if first && !pending.is_empty() {
                rs.process_partial(Some(&[&pending[..]]), None)
            } else {
                rs.process_partial::<&[f32]>(None, None)
            }
            .map_err(|e| ResampleError(e.to_string()))?;
            first = false;
            if chunk[0].is_empty() {
                break;
            }
            out.extend_from_slice(&chunk[0]);
        }
        let mut samples = self.emit(out);
        let room = expected.saturating_sub(self.produced - samples.len() as u64);
        samples.truncate(room as usize);
        Ok(samples)
    }

    fn emit(&mut self, out: Vec<f32>) -> Vec<i16> {
        let drop = self.skip.min(out.len());
        self.skip -= drop;
        let samples: Vec<i16> = out[drop..]
            .iter()
            .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        self.produced += samples.len() as u64;
        samples
    }
}

/// Cuts a stream of samples into whole frames, keeping the remainder for the next push.
pub struct Framer {
    rate: u32,
    rest: Vec<i16>,
}

impl Framer {
    pub fn new(rate: u32) -> Self {
        Self {
            rate,
            rest: Vec::new(),
        }
    }

    pub fn push(&mut self, samples: &[i16]) -> Vec<Frame> {
        self.rest.extend_from_slice(samples);
        let n = Frame::len_at(self.rate);
        let whole = self.rest.len() / n * n;
        let frames = self.rest[..whole]
            .chunks(n)
            .map(|c| Frame {
                rate: self.rate,
                samples: c.to_vec(),
            })
            .collect();
        self.rest.drain(..whole);
        frames
    }

    /// The last partial frame, padded with silence.
    pub fn finish(&mut self) -> Option<Frame> {
        if self.rest.is_empty() {
            return None;
        }
        let f = Frame::from_samples(self.rate, &self.rest);
        self.rest.clear();
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((i as f32 * freq * std::f32::consts::TAU / rate as f32).sin() * 10000.0) as i16
            })
            .collect()
    }

    #[test]
    fn converts_24k_to_8k_in_odd_chunks_keeping_length_and_pitch() {
        let input = sine(440.0, 24000, 24000);
        let mut rs = StreamResampler::new(24000, 8000).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(1234) {
            out.extend(rs.push(chunk).unwrap());
        }
        out.extend(rs.finish().unwrap());
        assert_eq!(out.len(), 8000);
        let f: Vec<f32> = out.iter().map(|&s| f32::from(s) / 32768.0).collect();
        let hz = crate::speech::audio::zero_crossing_hz(&f[400..7600], 8000);
        assert!((hz - 440.0).abs() < 10.0, "{hz}");
        // No start-up silence: the first frame already carries the tone.
        assert!(Frame::from_samples(8000, &out[..160]).is_audible());
    }

    #[test]
    fn framer_cuts_and_pads() {
        let mut fr = Framer::new(8000);
        assert_eq!(fr.push(&[1; 100]).len(), 0);
        assert_eq!(fr.push(&[1; 300]).len(), 2);
        let last = fr.finish().unwrap();
        assert_eq!(last.samples.len(), 160);
        assert_eq!(last.samples[79], 1);
        assert_eq!(last.samples[80], 0);
        assert!(fr.finish().is_none());
    }
}
