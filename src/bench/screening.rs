//! `callops bench screening`: how well the classifier of who answered ([`crate::agent::screening`])
//! does on the clip set in `assets/screening` (espeak-ng Russian voices: people's hellos,
//! voicemail greetings with and without a beep, AI secretaries, IVR menus; see `make_clips.py`).
//!
//! Each clip is played as a call would hear it: 300 ms of silence after the answer, the clip,
//! then silence, frame by frame through the same VAD as live calls. When the classifier asks for
//! the words of a long first utterance, they arrive [`STT_DELAY_MS`] after the callee pauses, as
//! the clip's own text (a perfect speech-to-text: the figures leave recognition errors out). The
//! same clips are also run on audio alone (no words ever), to show what the timing and the beep
//! tell by themselves.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::agent::screening::{Decision, Evidence, Screening, Settings};
use crate::domain::AnsweredBy;
use crate::telephony::media::frame::Frame;
use crate::telephony::media::vad::Vad;

/// Speech-to-text latency assumed for the first utterance.
pub const STT_DELAY_MS: u64 = 400;
/// Silence after the answer, before the callee's side plays.
const LEAD_MS: u64 = 300;
/// How long each call is followed.
const FOLLOW_MS: u64 = 10_000;
const RATE: u32 = 8000;

/// One clip of the set.
#[derive(Debug, Clone)]
pub struct Clip {
    pub file: String,
    pub kind: AnsweredBy,
    pub words: String,
    pub samples: Vec<i16>,
}

/// How one clip was classified.
#[derive(Debug, Clone)]
pub struct Classified {
    pub file: String,
    pub kind: AnsweredBy,
    pub with_words: Decision,
    pub audio_only: Decision,
}

/// The clip set's directory in the source tree.
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/screening")
}

/// Reads `clips.tsv` and its WAV files (8 kHz, 16-bit mono).
pub fn load(dir: &Path) -> anyhow::Result<Vec<Clip>> {
    let index = std::fs::read_to_string(dir.join("clips.tsv"))
        .with_context(|| format!("reading {}/clips.tsv", dir.display()))?;
    let mut clips = Vec::new();
    for line in index
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut cols = line.splitn(3, '\t');
        let (Some(file), Some(kind), Some(words)) = (cols.next(), cols.next(), cols.next()) else {
            anyhow::bail!("bad line in clips.tsv: {line:?}");
        };
        let kind = AnsweredBy::parse(kind).with_context(|| format!("unknown kind {kind:?}"))?;
        let bytes = std::fs::read(dir.join(file)).with_context(|| format!("reading {file}"))?;
        let samples = crate::speech::utterance::pcm16_wav_samples(&bytes)
            .with_context(|| format!("{file} is not 8 kHz 16-bit mono WAV"))?;
        clips.push(Clip {
            file: file.to_string(),
            kind,
            words: words.to_string(),
            samples,
        });
    }
    Ok(clips)
}

/// Plays one clip into a classifier, with or without its words.
pub fn classify(clip: &Clip, with_words: bool) -> Decision {
    let mut sc = Screening::new(Settings::default());
    let mut vad = Vad::new(RATE, 0.5);
    let lead = vec![0i16; (RATE as u64 * LEAD_MS / 1000) as usize];
    let total = (RATE as u64 * FOLLOW_MS / 1000) as usize;
    let mut audio: Vec<i16> = lead
        .into_iter()
        .chain(clip.samples.iter().copied())
        .collect();
    audio.resize(total.max(audio.len()), 0);
    let settings = Settings::default();
    let mut words_at: Option<u64> = None;
    let mut quiet_ms = 0u64;
    let mut last = None;
    for (i, chunk) in audio.chunks(Frame::len_at(RATE)).enumerate() {
        let frame = Frame::from_samples(RATE, chunk);
        let now_ms = (i as u64 + 1) * 20;
        let voiced = vad.is_speech(&frame);
        quiet_ms = if voiced { 0 } else { quiet_ms + 20 };
        if let Some(d) = sc.push(&frame, voiced) {
            last = Some(d);
            if d.by == Evidence::Beep || !sc.wants_words() {
                return d;
            }
        }
        if with_words && sc.wants_words() && words_at.is_none() && quiet_ms >= settings.pause_ms {
            words_at = Some(now_ms + STT_DELAY_MS);
        }
        if words_at.is_some_and(|at| now_ms >= at) {
            words_at = Some(u64::MAX);
            if let Some(d) = sc.words(&clip.words) {
                return d;
            }
        }
    }
    last.or(sc.decision()).unwrap_or(Decision {
        who: AnsweredBy::Uncertain,
        by: Evidence::Timeout,
        at_ms: FOLLOW_MS,
    })
}

/// Every clip, both ways.
pub fn evaluate(clips: &[Clip]) -> Vec<Classified> {
    clips
        .iter()
        .map(|c| Classified {
            file: c.file.clone(),
            kind: c.kind,
            with_words: classify(c, true),
            audio_only: classify(c, false),
        })
        .collect()
}

fn percentile(v: Vec<u64>, p: f64) -> u64 {
    let mut v: Vec<f64> = v.into_iter().map(|x| x as f64).collect();
    let q = super::agent::percentile(&mut v, p);
    if q.is_nan() {
        0
    } else {
        q as u64
    }
}

/// Prints the per-clip table, the accuracy and the time to decision.
pub async fn run(dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = dir.unwrap_or_else(default_dir);
    let clips = load(&dir)?;
    let started = std::time::Instant::now();
    let results = tokio::task::spawn_blocking({
        let clips = clips.clone();
        move || evaluate(&clips)
    })
    .await?;
    let took = started.elapsed();
    println!(
        "{:<18} {:<10} {:<22} {:>7}   audio only",
        "clip", "truth", "with words (by)", "at ms"
    );
    for r in &results {
        println!(
            "{:<18} {:<10} {:<22} {:>7}   {} ({:?})",
            r.file,
            r.kind.as_str(),
            format!("{} ({:?})", r.with_words.who.as_str(), r.with_words.by),
            r.with_words.at_ms,
            r.audio_only.who.as_str(),
            r.audio_only.by
        );
    }
    let n = results.len();
    let right = results
        .iter()
        .filter(|r| r.with_words.who == r.kind)
        .count();
    let humans = results
        .iter()
        .filter(|r| r.kind == AnsweredBy::Human)
        .count();
    let humans_hung_up = results
        .iter()
        .filter(|r| r.kind == AnsweredBy::Human && r.with_words.who.is_machine())
        .count();
    // Audio alone can only tell a person (short hello) from the rest (a machine or unknown).
    let audio_right = results
        .iter()
        .filter(|r| match r.kind {
            AnsweredBy::Human => r.audio_only.who == AnsweredBy::Human,
            _ => r.audio_only.who != AnsweredBy::Human,
        })
        .count();
    let times: Vec<u64> = results.iter().map(|r| r.with_words.at_ms).collect();
    let human_times: Vec<u64> = results
        .iter()
        .filter(|r| r.kind == AnsweredBy::Human)
        .map(|r| r.with_words.at_ms)
        .collect();
    println!();
    println!(
        "clips: {n} ({humans} people, {} machines or screeners); speech-to-text assumed perfect, {STT_DELAY_MS} ms after the pause",
        n - humans
    );
    println!(
        "accuracy with words: {right}/{n} = {:.1} %; people taken for a machine: {humans_hung_up}",
        right as f64 * 100.0 / n as f64
    );
    println!(
        "audio alone, person vs the rest: {audio_right}/{n} = {:.1} %",
        audio_right as f64 * 100.0 / n as f64
    );
    println!(
        "time to decision from the answer: p50 {} ms, p95 {} ms, max {} ms; people: p50 {} ms, max {} ms",
        percentile(times.clone(), 0.5),
        percentile(times.clone(), 0.95),
        times.iter().max().copied().unwrap_or(0),
        percentile(human_times.clone(), 0.5),
        human_times.iter().max().copied().unwrap_or(0),
    );
    println!(
        "CPU: {:.1} ms for {} calls of {} s ({:.2} % of one core per call)",
        took.as_secs_f64() * 1000.0,
        2 * n,
        FOLLOW_MS / 1000,
        took.as_secs_f64() * 100.0
            / (2 * n) as f64
            / Duration::from_millis(FOLLOW_MS).as_secs_f64()
    );
    Ok(())
}
