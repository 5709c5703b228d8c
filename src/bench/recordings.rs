//! `callops bench recordings`: the hostile recordings that once took the service down (an absurd
//! sample rate, 1 Hz, a 109-minute file for a 120-second call) and one long genuine call, each run
//! through the real transcription path with an instant in-process STT. Prints the outcome, the
//! uploads made and the peak RSS of the process while that file was handled (VmHWM, reset before
//! each file through `/proc/self/clear_refs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use async_trait::async_trait;

use crate::analysis::transcribe::transcribe;
use crate::domain::Speaker;
use crate::speech::audio::AudioLimits;
use crate::speech::{Segment, Stt, SttError};

/// A speech-to-text that answers every upload at once with one line, counting the uploads.
#[derive(Default)]
pub struct InstantStt {
    pub uploads: AtomicUsize,
}

#[async_trait]
impl Stt for InstantStt {
    async fn transcribe(&self, _wav: Vec<u8>, ms: i64) -> Result<Vec<Segment>, SttError> {
        self.uploads.fetch_add(1, Ordering::SeqCst);
        Ok(vec![Segment {
            start_ms: 0,
            end_ms: ms,
            text: "алло".into(),
        }])
    }
    async fn transcribe_file(&self, _: Vec<u8>, _: &str, _: i64) -> Result<Vec<Segment>, SttError> {
        Err(SttError::Rejected("unused".into()))
    }
}

/// A 16-bit stereo PCM WAV of `frames` frames whose header claims `rate`.
pub fn stereo_wav_claiming(rate: u32, frames: usize) -> Vec<u8> {
    let data = u32::try_from(frames * 4).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + frames * 4);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&data.saturating_add(36).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.wrapping_mul(4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for i in 0..frames {
        let v = (((i % 20) as i16) - 10) * 300;
        out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run() -> anyhow::Result<()> {
    let roles = vec![Speaker::Manager, Speaker::Client];
    let cases: Vec<(&str, u32, usize, i64)> = vec![
        ("4 KB WAV claiming 4294967291 Hz", 4_294_967_291, 1000, 120),
        ("20 KB WAV claiming 1 Hz", 1, 5000, 120),
        (
            "200 MB WAV, 109 min, PBX says 120 s",
            8000,
            109 * 60 * 8000,
            120,
        ),
        (
            "96 MB WAV, 50 min genuine call",
            8000,
            50 * 60 * 8000,
            50 * 60,
        ),
    ];
    println!(
        "{:<40} {:>9} {:>8} {:>9} {:>11}  outcome",
        "file", "size MB", "uploads", "secs", "peak RSS MB"
    );
    for (name, rate, frames, pbx_secs) in cases {
        let bytes = stereo_wav_claiming(rate, frames);
        let size = bytes.len() as f64 / (1024.0 * 1024.0);
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let stt = InstantStt::default();
        let started = Instant::now();
        let limits = AudioLimits::for_call(pbx_secs, AudioLimits::DEFAULT_MAX);
        let result = transcribe(&stt, bytes, Some("wav"), &roles, limits).await;
        let secs = started.elapsed().as_secs_f64();
        let peak = status_mb("VmHWM:").unwrap_or(f64::NAN);
        let outcome = match result {
            Ok(t) => format!(
                "transcribed: {} utterances, {} s",
                t.utterances.len(),
                t.duration_ms / 1000
            ),
            Err(e) => format!("refused: {e}"),
        };
        println!(
            "{name:<40} {size:>9.1} {:>8} {secs:>9.2} {peak:>11.0}{}  {outcome}",
            stt.uploads.load(Ordering::SeqCst),
            if reset { "" } else { "*" }
        );
    }
    println!("peak RSS includes the file itself (held as downloaded); * = could not reset VmHWM");
    Ok(())
}
