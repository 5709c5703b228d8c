//! The recording of a live call in stereo: the agent on the left, the callee on the right, each
//! frame placed at the time it was sent or heard (the agent sends nothing while it is quiet), kept
//! as A-law (a byte a sample) and written out as a WAV file (format 6, G.711 A-law) that desktop
//! players and analysis tools read. IO-free.

use super::frame::Frame;
use super::g711::Law;

/// The longest recording kept: beyond it frames are dropped (memory stays bounded).
pub const MAX_SECS: u64 = 2 * 3600;

/// Which side a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Agent,
    Callee,
}

/// A call's two channels as they fill.
#[derive(Debug)]
pub struct StereoRecorder {
    rate: u32,
    left: Vec<u8>,
    right: Vec<u8>,
}

/// A-law's code for silence.
const SILENCE: u8 = 0xd5;

impl StereoRecorder {
    pub fn new(rate: u32) -> Self {
        Self {
            rate,
            left: Vec::new(),
            right: Vec::new(),
        }
    }

    /// Places `frame` of `side` at `at_ms` from the start (resampled frames of another rate are
    /// not expected: a line has one rate both ways).
    pub fn push(&mut self, side: Side, at_ms: u64, frame: &Frame) {
        if frame.rate != self.rate || at_ms > MAX_SECS * 1000 {
            return;
        }
        let channel = match side {
            Side::Agent => &mut self.left,
            Side::Callee => &mut self.right,
        };
        let start = (at_ms * u64::from(self.rate) / 1000) as usize;
        let encoded = Law::A.encode(&frame.samples);
        // Frames follow each other with a little clock jitter: they join up unless a real pause
        // (more than half a frame) lies between them, which is kept as silence.
        if start > channel.len() + encoded.len() / 2 {
            channel.resize(start, SILENCE);
        }
        channel.extend_from_slice(&encoded);
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Seconds recorded so far.
    pub fn secs(&self) -> f64 {
        self.left.len().max(self.right.len()) as f64 / f64::from(self.rate)
    }

    /// The WAV file: stereo, A-law, interleaved.
    pub fn into_wav(mut self) -> Vec<u8> {
        let n = self.left.len().max(self.right.len());
        self.left.resize(n, SILENCE);
        self.right.resize(n, SILENCE);
        let data_len = (n * 2) as u32;
        let mut out = Vec::with_capacity(58 + n * 2);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(50 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&18u32.to_le_bytes());
        out.extend_from_slice(&6u16.to_le_bytes()); // G.711 A-law
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&self.rate.to_le_bytes());
        out.extend_from_slice(&(self.rate * 2).to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        // Non-PCM formats carry a fact chunk with the sample count.
        out.extend_from_slice(b"fact");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for (l, r) in self.left.iter().zip(&self.right) {
            out.push(*l);
            out.push(*r);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loud(v: i16) -> Frame {
        Frame::from_samples(8000, &[v; 160])
    }

    #[test]
    fn each_side_lands_on_its_channel_at_its_time() {
        let mut r = StereoRecorder::new(8000);
        r.push(Side::Callee, 0, &loud(8000));
        r.push(Side::Callee, 20, &loud(8000));
        // The agent speaks later, after a silence it did not send.
        r.push(Side::Agent, 1000, &loud(-8000));
        let wav = r.into_wav();
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u16::from_le_bytes([wav[20], wav[21]]), 6, "A-law");
        assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "stereo");
        let data = &wav[58..];
        assert_eq!(
            data.len(),
            (8000 + 160) * 2,
            "to the end of the agent's frame"
        );
        let left: Vec<i16> = Law::A.decode(&data.iter().step_by(2).copied().collect::<Vec<_>>());
        let right: Vec<i16> =
            Law::A.decode(&data.iter().skip(1).step_by(2).copied().collect::<Vec<_>>());
        assert!(
            right[..320].iter().all(|&s| s > 7000),
            "the callee from the start"
        );
        assert!(right[320..].iter().all(|&s| s.abs() < 16));
        assert!(
            left[..8000].iter().all(|&s| s.abs() < 16),
            "agent quiet for 1 s"
        );
        assert!(left[8000..].iter().all(|&s| s < -7000), "then the agent");
        // The file's own size fields agree with it.
        let riff = u32::from_le_bytes(wav[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, wav.len());
        let decoded = crate::speech::audio::decode(&wav, Some("wav"));
        assert!(
            decoded.is_ok(),
            "our own decoder reads it: {:?}",
            decoded.err()
        );
    }

    #[test]
    fn a_frame_of_another_rate_or_past_the_limit_is_dropped() {
        let mut r = StereoRecorder::new(8000);
        r.push(Side::Agent, 0, &Frame::from_samples(16000, &[1000; 320]));
        r.push(Side::Agent, MAX_SECS * 1000 + 20, &loud(100));
        assert_eq!(r.secs(), 0.0);
    }
}
