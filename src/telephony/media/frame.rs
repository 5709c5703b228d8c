//! One 20 ms frame of mono 16-bit PCM at 8 or 16 kHz.

/// Length of every frame.
pub const FRAME_MS: u64 = 20;

/// A frame of audio; `samples.len()` is `rate / 50`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub rate: u32,
    pub samples: Vec<i16>,
}

impl Frame {
    /// Samples in one frame at `rate`.
    pub fn len_at(rate: u32) -> usize {
        (rate as u64 * FRAME_MS / 1000) as usize
    }

    pub fn silence(rate: u32) -> Self {
        Self {
            rate,
            samples: vec![0; Self::len_at(rate)],
        }
    }

    /// A frame from samples, padded with silence or cut to the frame length.
    pub fn from_samples(rate: u32, samples: &[i16]) -> Self {
        let mut s = samples.to_vec();
        s.resize(Self::len_at(rate), 0);
        Self { rate, samples: s }
    }

    /// Root mean square level, 0..=32768.
    pub fn rms(&self) -> f32 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let sum: f64 = self.samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / self.samples.len() as f64).sqrt() as f32
    }

    /// True when the frame carries more than faint noise.
    pub fn is_audible(&self) -> bool {
        self.rms() > 64.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_levels() {
        assert_eq!(Frame::len_at(8000), 160);
        assert_eq!(Frame::len_at(16000), 320);
        assert!(!Frame::silence(8000).is_audible());
        let f = Frame::from_samples(8000, &[1000; 10]);
        assert_eq!(f.samples.len(), 160);
        let loud = Frame::from_samples(8000, &[3000; 160]);
        assert!(loud.is_audible());
    }
}
