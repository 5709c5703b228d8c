//! Voice activity per 20 ms frame with earshot (a small pure-Rust network working on 16 ms
//! frames at 16 kHz). 8 kHz line audio is upsampled first; the frame is speech when any of the
//! detector's windows inside it scores at or above the threshold.
//!
//! A near-silent frame is never speech, so after a few of them in a row the detector (and the
//! upsampling before it) is not run at all until sound returns, and then starts afresh: on a
//! phone line most of the time one side is quiet, and this is most of the detector's cost.

use earshot::Detector;

use super::frame::Frame;
use super::resample::StreamResampler;

const WINDOW: usize = 256;
/// RMS below which a frame is silence whatever the detector says (about -54 dBFS).
const ENERGY_FLOOR: f32 = 64.0;
/// Near-silent frames in a row after which the detector rests (short gaps inside speech keep
/// its context).
const REST_AFTER: u32 = 5;

pub struct Vad {
    detector: Box<Detector>,
    upsample: Option<StreamResampler>,
    buf: Vec<i16>,
    threshold: f32,
    rate: u32,
    /// Near-silent frames in a row.
    quiet: u32,
}

impl Vad {
    /// A detector for frames at `rate` (8 or 16 kHz).
    pub fn new(rate: u32, threshold: f32) -> Self {
        Self {
            detector: Detector::default_boxed(),
            upsample: if rate == 16000 {
                None
            } else {
                StreamResampler::new(rate, 16000).ok()
            },
            buf: Vec::with_capacity(WINDOW * 3),
            threshold,
            rate,
            quiet: 0,
        }
    }

    /// The highest score in this frame, 0..=1.
    pub fn score(&mut self, frame: &Frame) -> f32 {
        match self.upsample.as_mut() {
            Some(rs) => match rs.push(&frame.samples) {
                Ok(s) => self.buf.extend_from_slice(&s),
                Err(_) => return 0.0,
            },
            None => self.buf.extend_from_slice(&frame.samples),
        }
        let mut best: f32 = 0.0;
        let mut pos = 0;
        while self.buf.len() - pos >= WINDOW {
            best = best.max(self.detector.predict_i16(&self.buf[pos..pos + WINDOW]));
            pos += WINDOW;
        }
        self.buf.drain(..pos);
        best
    }

    /// Voiced when the detector says so and the frame is not near-silent. The level gate ends a
    /// turn on the first truly quiet frame instead of after the detector's context lag (~100 ms).
    pub fn is_speech(&mut self, frame: &Frame) -> bool {
        if frame.rms() >= ENERGY_FLOOR {
            self.quiet = 0;
            return self.score(frame) >= self.threshold;
        }
        self.quiet = self.quiet.saturating_add(1);
        match self.quiet.cmp(&REST_AFTER) {
            std::cmp::Ordering::Less => {
                self.score(frame);
            }
            std::cmp::Ordering::Equal => self.rest(),
            std::cmp::Ordering::Greater => {}
        }
        false
    }

    /// Forgets the sound so far: the next frame is scored as the start of a stream.
    fn rest(&mut self) {
        self.detector.reset();
        self.buf.clear();
        if self.upsample.is_some() {
            self.upsample = StreamResampler::new(self.rate, 16000).ok();
        }
    }
}
