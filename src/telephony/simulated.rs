//! An in-process phone line with a scripted callee, for tests, benchmarks and demos. The callee
//! sends a 20 ms frame every 20 ms (silence, or its current utterance), speaks Russian phrases
//! (espeak-ng recordings in `assets/callee`) when its cues come, and records every frame it hears
//! and when it spoke, so a test can check what the callee heard and a bench can time the agent
//! from the callee's side.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::line::{HangupCause, Line, LineEvent};
use super::media::{Frame, Pacer};

/// A phrase the callee can say.
#[derive(Debug, Clone)]
pub struct Clip {
    pub name: &'static str,
    pub text: &'static str,
    /// Mono 16-bit PCM at 8 kHz.
    pub samples: Arc<Vec<i16>>,
}

const CLIPS: &[(&str, &str, &[u8])] = &[
    ("hello", "Алло, да, слушаю.", include_bytes!("../../assets/callee/hello.wav")),
    ("interested", "Да, интересно, расскажите подробнее.", include_bytes!("../../assets/callee/interested.wav")),
    ("expensive", "Это слишком дорого для нас.", include_bytes!("../../assets/callee/expensive.wav")),
    ("contact", "Меня зовут Иван, я директор. Мой телефон: восемь девятьсот шестнадцать, сто двадцать три, сорок пять, шестьдесят семь.", include_bytes!("../../assets/callee/contact.wav")),
    ("optout", "Не звоните мне больше.", include_bytes!("../../assets/callee/optout.wav")),
    ("uhuh", "Угу.", include_bytes!("../../assets/callee/uhuh.wav")),
    ("interrupt", "Подождите, подождите, у меня вопрос.", include_bytes!("../../assets/callee/interrupt.wav")),
    ("bye", "Хорошо, спасибо, до свидания.", include_bytes!("../../assets/callee/bye.wav")),
    ("callback", "Перезвоните мне завтра в десять утра.", include_bytes!("../../assets/callee/callback.wav")),
    // Phrases said in two parts with a pause between (`assets/callee/make_paused.py`).
    ("office_1", "Мне нужен офис", include_bytes!("../../assets/callee/office_1.wav")),
    ("office_2", "метров на двести.", include_bytes!("../../assets/callee/office_2.wav")),
    ("storage_1", "Нам нужен склад в", include_bytes!("../../assets/callee/storage_1.wav")),
    ("storage_2", "Подольске, на тысячу метров.", include_bytes!("../../assets/callee/storage_2.wav")),
    ("budget_1", "Бюджет у нас, ну, э-э", include_bytes!("../../assets/callee/budget_1.wav")),
    ("budget_2", "около двух миллионов.", include_bytes!("../../assets/callee/budget_2.wav")),
    ("phone_1", "Мой номер восемь девятьсот шестнадцать", include_bytes!("../../assets/callee/phone_1.wav")),
    ("phone_2", "сто двадцать три, сорок пять, шестьдесят семь.", include_bytes!("../../assets/callee/phone_2.wav")),
    ("terms_1", "Цена нормальная, но", include_bytes!("../../assets/callee/terms_1.wav")),
    ("terms_2", "сроки нас не устраивают.", include_bytes!("../../assets/callee/terms_2.wav")),
];

/// The phrases said in two parts, by the name of their first part, with the second's.
pub const PAUSED_PHRASES: &[(&str, &str)] = &[
    ("office_1", "office_2"),
    ("storage_1", "storage_2"),
    ("budget_1", "budget_2"),
    ("phone_1", "phone_2"),
    ("terms_1", "terms_2"),
];

/// The built-in phrases, by name.
pub fn clips() -> Vec<Clip> {
    CLIPS
        .iter()
        .map(|(name, text, wav)| Clip {
            name,
            text,
            samples: Arc::new(wav_samples(wav)),
        })
        .collect()
}

/// One built-in phrase.
pub fn clip(name: &str) -> Option<Clip> {
    clips().into_iter().find(|c| c.name == name)
}

fn wav_samples(wav: &[u8]) -> Vec<i16> {
    // Committed files are plain 44-byte-header PCM WAVs.
    wav.get(44..)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect()
}

/// An envelope value above this (an RMS of 200) is speech.
const LOUD_ENVELOPE: f32 = 5.3;

/// 10 ms RMS envelope.
fn envelope(samples: &[i16], rate: u32) -> Vec<f32> {
    let n = (rate / 100).max(1) as usize;
    samples
        .chunks(n)
        .map(|c| {
            let s: f64 = c.iter().map(|&x| f64::from(x).powi(2)).sum();
            ((s / c.len() as f64).sqrt() as f32 + 1.0).ln()
        })
        .collect()
}

fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if n < 5 {
        return -1.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f32>() / n as f32;
    let mb = b.iter().sum::<f32>() / n as f32;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (a[i] - ma, b[i] - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa == 0.0 || sbb == 0.0 {
        return -1.0;
    }
    sab / (saa * sbb).sqrt()
}

/// Which built-in phrase some audio is (what a fake speech-to-text answers), by the best match of
/// loudness envelopes over all alignments. `None` when nothing matches well.
pub fn identify(samples: &[i16], rate: u32) -> Option<&'static str> {
    let clips = clips();
    best_match(samples, rate, clip_envelopes().iter().map(Vec::as_slice)).map(|i| clips[i].text)
}

/// The envelope of each built-in clip (10 ms blocks at 8 kHz), in [`clips`]' order, worked out
/// once: recognising runs for every utterance and every interim result.
pub fn clip_envelopes() -> &'static [Vec<f32>] {
    static ENVELOPES: std::sync::OnceLock<Vec<Vec<f32>>> = std::sync::OnceLock::new();
    ENVELOPES.get_or_init(|| clips().iter().map(|c| envelope(&c.samples, 8000)).collect())
}

/// Samples per envelope block of a clip (10 ms at 8 kHz).
pub const ENVELOPE_BLOCK: usize = 80;

/// The words of some audio that may hold several built-in phrases with pauses between them (a
/// phrase said in two parts): each stretch of speech is identified on its own. `None` when no
/// stretch matches.
pub fn transcribe(samples: &[i16], rate: u32) -> Option<String> {
    let words: Vec<&str> = speech_stretches(samples, rate)
        .into_iter()
        .filter_map(|s| identify(s, rate))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// Quiet this long splits speech into stretches (longer than any pause inside one phrase).
const STRETCH_GAP_MS: usize = 450;

/// The stretches of speech in some audio, split at [`STRETCH_GAP_MS`] of quiet (with a little
/// quiet kept around each, as a phrase's own file has).
pub fn speech_stretches(samples: &[i16], rate: u32) -> Vec<&[i16]> {
    let block = (rate / 100).max(1) as usize;
    let loud: Vec<bool> = samples
        .chunks(block)
        .map(|c| {
            let e = c.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / c.len() as f64;
            e.sqrt() > 200.0
        })
        .collect();
    let gap = STRETCH_GAP_MS / 10;
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut last_loud = 0usize;
    for (i, &l) in loud.iter().enumerate() {
        if l {
            start.get_or_insert(i);
            last_loud = i;
        } else if let Some(s) = start {
            if i - last_loud >= gap {
                out.push((s, last_loud));
                start = None;
            }
        }
    }
    if let Some(s) = start {
        out.push((s, last_loud));
    }
    out.into_iter()
        .filter(|(a, b)| b - a >= 10)
        .map(|(a, b)| {
            let from = a.saturating_sub(10) * block;
            let to = ((b + 20) * block).min(samples.len());
            &samples[from.min(to)..to]
        })
        .collect()
}

/// Which of `known` (8 kHz samples) some audio is, by its index, as [`identify`] does for the
/// built-ins.
pub fn identify_among<'a>(
    samples: &[i16],
    rate: u32,
    known: impl Iterator<Item = &'a [i16]>,
) -> Option<usize> {
    let envelopes: Vec<Vec<f32>> = known.map(|k| envelope(k, 8000)).collect();
    best_match(samples, rate, envelopes.iter().map(Vec::as_slice))
}

/// [`identify_among`] over the known phrases' envelopes (see [`clip_envelopes`]).
pub fn best_match<'a>(
    samples: &[i16],
    rate: u32,
    known: impl Iterator<Item = &'a [f32]>,
) -> Option<usize> {
    let heard = envelope(samples, rate);
    // How much speech each holds: a short phrase is not a long one that starts alike.
    let loud = |env: &[f32]| env.iter().filter(|&&e| e > LOUD_ENVELOPE).count().max(1) as f32;
    let heard_loud = loud(&heard);
    let mut best: Option<(f32, usize)> = None;
    for (i, env) in known.enumerate() {
        let amount = heard_loud.min(loud(env)) / heard_loud.max(loud(env));
        let max_lag = heard.len().saturating_sub(env.len()) + 10;
        for lag in 0..=max_lag.min(heard.len()) {
            // Compare over the clip's length; a heard stretch much shorter than the clip scores low.
            let h = &heard[lag.min(heard.len())..];
            let coverage = h.len().min(env.len()) as f32 / env.len() as f32;
            let score = correlation(h, env) * coverage.min(1.0) * amount.sqrt();
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, i));
            }
        }
    }
    best.filter(|(s, _)| *s > 0.6).map(|(_, t)| t)
}

/// When the callee does the next thing.
#[derive(Debug, Clone)]
pub enum Cue {
    /// Once the agent has spoken and then been quiet this long.
    AgentQuietFor(Duration),
    /// Once the agent has been talking this long (to interrupt it).
    AgentTalkingFor(Duration),
    /// This long after the previous step (or the answer).
    After(Duration),
}

#[derive(Debug, Clone)]
pub enum Step {
    Say(Clip, Cue),
    Hangup(Cue),
}

/// What the callee said and heard.
#[derive(Debug, Default, Clone)]
pub struct CalleeLog {
    pub answered_at: Option<Instant>,
    /// (text, first frame sent, last frame sent).
    pub said: Vec<(String, Instant, Instant)>,
    /// Every audible agent frame and when it arrived.
    pub heard: Vec<(Instant, Frame)>,
    pub agent_hung_up: bool,
    pub callee_hung_up: bool,
}

impl CalleeLog {
    /// Agent speech as runs of audible frames separated by `gap` or more: (start, end, frames).
    pub fn agent_runs(&self, gap: Duration) -> Vec<(Instant, Instant, Vec<Frame>)> {
        let mut runs: Vec<(Instant, Instant, Vec<Frame>)> = Vec::new();
        for (at, f) in &self.heard {
            match runs.last_mut() {
                Some((_, end, frames)) if *at - *end < gap => {
                    *end = *at;
                    frames.push(f.clone());
                }
                _ => runs.push((*at, *at, vec![f.clone()])),
            }
        }
        runs
    }
}

/// The line side the dialog engine holds.
pub struct SimulatedLine {
    rate: u32,
    inbound: mpsc::Receiver<LineEvent>,
    outbound: mpsc::Sender<Frame>,
    hangup: CancellationToken,
    log: Arc<Mutex<CalleeLog>>,
}

/// A handle to the callee's record.
#[derive(Clone)]
pub struct CalleeHandle {
    log: Arc<Mutex<CalleeLog>>,
}

impl CalleeHandle {
    pub fn log(&self) -> CalleeLog {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl SimulatedLine {
    /// Starts a callee that answers after `answer_after` and then follows `steps`. With
    /// `linger`, a callee out of steps stays on the line silently this long before hanging up.
    pub fn start(
        steps: Vec<Step>,
        answer_after: Duration,
        linger: Duration,
    ) -> (Self, CalleeHandle) {
        let rate = 8000;
        let (in_tx, in_rx) = mpsc::channel(64);
        let (out_tx, out_rx) = mpsc::channel(64);
        let hangup = CancellationToken::new();
        let log = Arc::new(Mutex::new(CalleeLog::default()));
        tokio::spawn(callee(
            rate,
            steps,
            answer_after,
            linger,
            in_tx,
            out_rx,
            hangup.clone(),
            log.clone(),
        ));
        (
            Self {
                rate,
                inbound: in_rx,
                outbound: out_tx,
                hangup,
                log: log.clone(),
            },
            CalleeHandle { log },
        )
    }
}

#[async_trait]
impl Line for SimulatedLine {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    async fn recv(&mut self) -> Option<LineEvent> {
        self.inbound.recv().await
    }

    fn sender(&self) -> mpsc::Sender<Frame> {
        self.outbound.clone()
    }

    async fn hangup(&mut self) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .agent_hung_up = true;
        self.hangup.cancel();
    }
}

#[allow(clippy::too_many_arguments)]
async fn callee(
    rate: u32,
    steps: Vec<Step>,
    answer_after: Duration,
    linger: Duration,
    tx: mpsc::Sender<LineEvent>,
    mut rx: mpsc::Receiver<Frame>,
    hangup: CancellationToken,
    log: Arc<Mutex<CalleeLog>>,
) {
    tokio::select! {
        _ = tokio::time::sleep(answer_after) => {}
        _ = hangup.cancelled() => return,
    }
    if tx.send(LineEvent::Answered).await.is_err() {
        return;
    }
    let mut step_at = Instant::now();
    log.lock().unwrap_or_else(|p| p.into_inner()).answered_at = Some(step_at);
    let mut steps = steps.into_iter();
    let mut next = steps.next();
    let mut speaking: Option<(Clip, usize, Instant)> = None;
    let mut agent_last: Option<Instant> = None;
    let mut agent_since: Option<Instant> = None;
    let mut idle_since = Instant::now();
    let n = Frame::len_at(rate);
    let mut pacer = Pacer::new();
    loop {
        // Agent frames are taken as they arrive (exact arrival times); our own frames every 20 ms.
        tokio::select! {
            _ = pacer.tick() => {}
            f = rx.recv() => {
                let Some(f) = f else { return };
                let now = Instant::now();
                if f.is_audible() {
                    if agent_last.is_none_or(|l| now - l > Duration::from_millis(200)) {
                        agent_since = Some(now);
                    }
                    agent_last = Some(now);
                    log.lock().unwrap_or_else(|p| p.into_inner()).heard.push((now, f));
                }
                continue;
            }
            _ = hangup.cancelled() => return,
        }
        let now = Instant::now();
        let agent_talking = agent_last.is_some_and(|l| now - l < Duration::from_millis(60));
        if speaking.is_none() {
            let due = match &next {
                Some(Step::Say(_, cue)) | Some(Step::Hangup(cue)) => match cue {
                    Cue::After(d) => now - step_at >= *d,
                    Cue::AgentQuietFor(d) => {
                        agent_last.is_some_and(|l| l > step_at && now - l >= *d)
                    }
                    Cue::AgentTalkingFor(d) => {
                        agent_talking && agent_since.is_some_and(|s| s > step_at && now - s >= *d)
                    }
                },
                None => false,
            };
            if due {
                match next.take() {
                    Some(Step::Say(c, _)) => speaking = Some((c, 0, now)),
                    Some(Step::Hangup(_)) => {
                        log.lock().unwrap_or_else(|p| p.into_inner()).callee_hung_up = true;
                        let _ = tx.send(LineEvent::Hangup(HangupCause::Remote)).await;
                        return;
                    }
                    None => {}
                }
                next = steps.next();
            }
            if next.is_none() && speaking.is_none() && now - idle_since > linger {
                log.lock().unwrap_or_else(|p| p.into_inner()).callee_hung_up = true;
                let _ = tx.send(LineEvent::Hangup(HangupCause::Remote)).await;
                return;
            }
        }
        let frame = match speaking.as_mut() {
            Some((clip, pos, started)) => {
                let end = (*pos + n).min(clip.samples.len());
                let f = Frame::from_samples(rate, &clip.samples[*pos..end]);
                *pos = end;
                if *pos >= clip.samples.len() {
                    let text = clip.text.to_string();
                    log.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .said
                        .push((text, *started, now));
                    speaking = None;
                    step_at = now;
                    idle_since = now;
                }
                f
            }
            None => Frame::silence(rate),
        };
        if tx.send(LineEvent::Frame(frame)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clip_is_recognised_with_padding_around_it() {
        for c in clips() {
            let mut padded = vec![0i16; 1600];
            padded.extend_from_slice(&c.samples);
            padded.extend(vec![0i16; 800]);
            assert_eq!(identify(&padded, 8000), Some(c.text), "{}", c.name);
        }
        assert_eq!(identify(&vec![0i16; 8000], 8000), None);
    }

    #[test]
    fn a_phrase_said_in_two_parts_is_transcribed_whole() {
        for c in clips() {
            assert_eq!(
                speech_stretches(&c.samples, 8000).len(),
                1,
                "{} has no pause of {STRETCH_GAP_MS} ms inside",
                c.name
            );
        }
        for (first, second) in PAUSED_PHRASES {
            let (a, b) = (clip(first).unwrap(), clip(second).unwrap());
            let mut audio = vec![0i16; 800];
            audio.extend_from_slice(&a.samples);
            audio.extend(vec![0i16; 8000 * 6 / 10]);
            audio.extend_from_slice(&b.samples);
            audio.extend(vec![0i16; 2400]);
            assert_eq!(
                transcribe(&audio, 8000),
                Some(format!("{} {}", a.text, b.text)),
                "{first}"
            );
        }
    }
}
