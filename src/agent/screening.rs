//! Who answered: a person, a voicemail, an IVR menu or a call screener, told in the first seconds
//! of a call from how the callee's first words sound and what they say. IO-free: fed frame by
//! frame (with the VAD's verdict) and with the transcript of the first utterance when it is long.
//!
//! The evidence, strongest first:
//! - **a beep** (a pure tone of 800–1500 Hz lasting at least [`BEEP_MIN_MS`]): a voicemail
//!   recording from the end of it (that is when it is reported);
//! - **the words**: «оставьте сообщение после сигнала» (voicemail), «я голосовой помощник»,
//!   «что передать» (screener), «нажмите», «оставайтесь на линии» (IVR);
//! - **the timing**: a person says «Алло?» or «Да, слушаю» (under [`Settings::human_max_ms`]) and
//!   waits; a recording talks on for seconds. A long first utterance is held until its transcript
//!   says what it is; without telling words it stays uncertain (and is treated as a person).

use crate::domain::AnsweredBy;
use crate::telephony::media::frame::Frame;

/// The shortest tone taken for a beep.
pub const BEEP_MIN_MS: u64 = 140;
/// A tone this long is reported without waiting for its end.
pub const BEEP_MAX_MS: u64 = 2000;

/// Limits of the decision.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A first utterance no longer than this, followed by a pause, is a person.
    pub human_max_ms: u64,
    /// Silence that ends an utterance.
    pub pause_ms: u64,
    /// Speech going on this long is a recording or a robot (its words decide which).
    pub machine_min_ms: u64,
    /// Undecided by then (from the answer): uncertain.
    pub decide_within_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            human_max_ms: 1800,
            pause_ms: 500,
            machine_min_ms: 2500,
            decide_within_ms: 8000,
        }
    }
}

/// What gave the decision away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    Beep,
    Words,
    /// A short first utterance and a pause.
    ShortHello,
    /// A long first utterance whose words told nothing.
    LongWithoutWords,
    /// Nothing conclusive in time.
    Timeout,
}

/// A decision, with when it was made (ms from the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub who: AnsweredBy,
    pub by: Evidence,
    pub at_ms: u64,
}

/// The classifier of one call.
#[derive(Debug)]
pub struct Screening {
    s: Settings,
    now_ms: u64,
    /// The first utterance: (start, last voiced frame end).
    first: Option<(u64, u64)>,
    first_ended: bool,
    /// The first utterance ran long: its words decide.
    long: bool,
    tone: ToneRun,
    decided: Option<Decision>,
    beeped: bool,
}

impl Screening {
    pub fn new(s: Settings) -> Self {
        Self {
            s,
            now_ms: 0,
            first: None,
            first_ended: false,
            long: false,
            tone: ToneRun::default(),
            decided: None,
            beeped: false,
        }
    }

    /// The decision so far.
    pub fn decision(&self) -> Option<Decision> {
        self.decided
    }

    /// Whether the first utterance ran long and its transcript is awaited.
    pub fn wants_words(&self) -> bool {
        self.long && self.decided.is_none()
    }

    fn decide(&mut self, who: AnsweredBy, by: Evidence) -> Option<Decision> {
        let d = Decision {
            who,
            by,
            at_ms: self.now_ms,
        };
        self.decided = Some(d);
        Some(d)
    }

    /// One frame of the callee's audio, in order from the answer. Returns a decision when one is
    /// made; a beep after a voicemail (or an uncertain) decision is reported too, once, so a
    /// message can be left after it.
    pub fn push(&mut self, frame: &Frame, voiced: bool) -> Option<Decision> {
        let frame_ms = (frame.samples.len() as u64 * 1000) / u64::from(frame.rate.max(1));
        self.now_ms += frame_ms;
        if !self.beeped && self.tone.push(frame, frame_ms) {
            self.beeped = true;
            let after_human = matches!(
                self.decided.map(|d| d.who),
                Some(AnsweredBy::Human | AnsweredBy::Screener | AnsweredBy::Ivr)
            );
            if !after_human {
                return self.decide(AnsweredBy::Voicemail, Evidence::Beep);
            }
        }
        if self.decided.is_some() {
            return None;
        }
        if voiced && !self.first_ended {
            let start = self.first.map_or(self.now_ms - frame_ms, |f| f.0);
            self.first = Some((start, self.now_ms));
            if self.now_ms - start >= self.s.machine_min_ms {
                self.long = true;
            }
        } else if let Some((start, last)) = self.first {
            if !self.first_ended && self.now_ms - last >= self.s.pause_ms {
                self.first_ended = true;
                if !self.long && last - start <= self.s.human_max_ms {
                    return self.decide(AnsweredBy::Human, Evidence::ShortHello);
                }
                // Between a hello and a recording: the words decide.
                self.long = true;
            }
        }
        if self.now_ms >= self.s.decide_within_ms {
            return self.decide(AnsweredBy::Uncertain, Evidence::Timeout);
        }
        None
    }

    /// The transcript of the callee's first words. Telling words decide (even over a decision
    /// from the timing: a person's hello cannot say «оставьте сообщение»); a long utterance
    /// without them is uncertain.
    pub fn words(&mut self, text: &str) -> Option<Decision> {
        match (classify_words(text), self.decided) {
            (Some(who), None) => self.decide(who, Evidence::Words),
            (Some(who), Some(d)) if d.who != who && d.by != Evidence::Beep => {
                self.decide(who, Evidence::Words)
            }
            (None, None) if self.long => {
                self.decide(AnsweredBy::Uncertain, Evidence::LongWithoutWords)
            }
            _ => None,
        }
    }
}

const VOICEMAIL_BEEP: &[&str] = &["после сигнала", "после звукового сигнала", "после гудка"];
const SCREENER: &[&str] = &[
    "голосовой помощник",
    "голосовой ассистент",
    "виртуальный помощник",
    "виртуальный ассистент",
    "умный секретарь",
    "секретарь",
    "ассистент",
    "помощник абонента",
    "представьтесь",
    "как вас представить",
    "по какому вопросу",
    "что передать",
    "что ему передать",
    "что ей передать",
    "цель звонка",
];
const IVR: &[&str] = &[
    "нажмите",
    "для связи с оператором",
    "в тональном режиме",
    "добавочный",
    "оставайтесь на линии",
    "ваш звонок очень важен",
    "все операторы заняты",
];
const VOICEMAIL: &[&str] = &[
    "оставьте сообщение",
    "оставьте ваше сообщение",
    "оставьте голосовое сообщение",
    "оставь сообщение",
    "оставь голосовое",
    "автоответчик",
    "голосовой почт",
    "не может ответить",
    "не может сейчас ответить",
    "не может принять ваш звонок",
    "вне зоны действия",
    "выключен",
    "недоступен",
    "не отвечает",
];

/// What the words say about who speaks, if anything. A beep announced wins (screeners do not
/// record); then a screener (it may also say the person cannot answer); then a menu; then a
/// voicemail or the operator's announcement.
pub fn classify_words(text: &str) -> Option<AnsweredBy> {
    let t = text.to_lowercase().replace('ё', "е");
    let has = |list: &[&str]| list.iter().any(|p| t.contains(p));
    if has(VOICEMAIL_BEEP) {
        Some(AnsweredBy::Voicemail)
    } else if has(SCREENER) {
        Some(AnsweredBy::Screener)
    } else if has(IVR) {
        Some(AnsweredBy::Ivr)
    } else if has(VOICEMAIL) {
        Some(AnsweredBy::Voicemail)
    } else {
        None
    }
}

/// Consecutive frames dominated by one pure tone of 800–1500 Hz.
#[derive(Debug, Default)]
struct ToneRun {
    bin: Option<u32>,
    ms: u64,
}

/// Tones scanned for a beep, in steps of [`BEEP_STEP_HZ`] (800–1500 Hz). A 20 ms frame resolves
/// 50 Hz; half-steps keep a tone between two of them within a quarter of that.
const BEEP_FREQS: std::ops::RangeInclusive<u32> = 32..=60;
const BEEP_STEP_HZ: u32 = 25;

impl ToneRun {
    /// Feeds a frame; true at the end of a tone that lasted [`BEEP_MIN_MS`] (a voicemail records
    /// from there), or once a tone has gone on for [`BEEP_MAX_MS`].
    fn push(&mut self, frame: &Frame, frame_ms: u64) -> bool {
        let tone = dominant_tone(frame);
        match tone {
            Some(bin) if self.bin.is_some_and(|b| b.abs_diff(bin) <= 2) => {
                self.ms += frame_ms;
                self.ms >= BEEP_MAX_MS
            }
            _ => {
                let ended_beep = self.ms >= BEEP_MIN_MS;
                self.bin = tone;
                self.ms = if tone.is_some() { frame_ms } else { 0 };
                ended_beep
            }
        }
    }
}

/// The step (32 = 800 Hz … 60 = 1500 Hz) holding most of a loud frame's energy, if one does.
fn dominant_tone(frame: &Frame) -> Option<u32> {
    let n = frame.samples.len();
    if n == 0 || frame.rms() < 300.0 {
        return None;
    }
    let energy: f64 = frame.samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    let mut best = (0u32, 0f64);
    for step in BEEP_FREQS {
        let p = goertzel(
            &frame.samples,
            f64::from(step * BEEP_STEP_HZ),
            f64::from(frame.rate),
        );
        if p > best.1 {
            best = (step, p);
        }
    }
    // A pure tone at a scanned frequency gives 1.0; between two steps at least ~0.8.
    let share = best.1 / (energy * n as f64 / 2.0);
    (share >= 0.7).then_some(best.0)
}

/// The power of `freq` in `samples` (Goertzel).
fn goertzel(samples: &[i16], freq: f64, rate: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;

    fn tone(freq: f64, amp: f64, offset: usize) -> Frame {
        let s: Vec<i16> = (0..160)
            .map(|i| {
                let t = (offset + i) as f64 / f64::from(RATE);
                (amp * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            })
            .collect();
        Frame::from_samples(RATE, &s)
    }

    /// Speech-like: two wandering harmonics and noise, loud.
    fn speechy(i: usize) -> Frame {
        let f0 = 120.0 + (i % 7) as f64 * 15.0;
        let s: Vec<i16> = (0..160)
            .map(|k| {
                let t = (i * 160 + k) as f64 / f64::from(RATE);
                let v = 3000.0 * (2.0 * std::f64::consts::PI * f0 * t).sin()
                    + 2000.0 * (2.0 * std::f64::consts::PI * f0 * 3.0 * t).sin()
                    + ((k * 7919 + i * 104_729) % 1000) as f64
                    - 500.0;
                v as i16
            })
            .collect();
        Frame::from_samples(RATE, &s)
    }

    /// Feeds `ms` of frames (voiced or silent); returns the decisions made.
    fn feed(sc: &mut Screening, ms: u64, voiced: bool, at: &mut usize) -> Vec<Decision> {
        let mut out = Vec::new();
        for _ in 0..ms / 20 {
            let f = if voiced {
                speechy(*at)
            } else {
                Frame::silence(RATE)
            };
            *at += 1;
            out.extend(sc.push(&f, voiced));
        }
        out
    }

    #[test]
    fn a_short_hello_and_a_pause_is_a_person_at_the_pause() {
        let mut sc = Screening::new(Settings::default());
        let mut at = 0;
        assert!(feed(&mut sc, 400, false, &mut at).is_empty());
        assert!(feed(&mut sc, 800, true, &mut at).is_empty());
        let d = feed(&mut sc, 600, false, &mut at);
        assert_eq!(
            d,
            vec![Decision {
                who: AnsweredBy::Human,
                by: Evidence::ShortHello,
                at_ms: 1700
            }]
        );
        assert!(!sc.wants_words());
    }

    #[test]
    fn a_long_greeting_waits_for_its_words() {
        let mut sc = Screening::new(Settings::default());
        let mut at = 0;
        // Sentences with short gaps: one long utterance.
        for _ in 0..3 {
            assert!(feed(&mut sc, 1200, true, &mut at).is_empty());
            assert!(feed(&mut sc, 300, false, &mut at).is_empty());
        }
        assert!(sc.wants_words());
        let d = sc
            .words("Абонент не может ответить. Оставьте сообщение после сигнала.")
            .unwrap();
        assert_eq!((d.who, d.by), (AnsweredBy::Voicemail, Evidence::Words));
        let mut sc = Screening::new(Settings::default());
        let mut at = 0;
        feed(&mut sc, 2600, true, &mut at);
        assert_eq!(
            sc.words("Добрый день, слушаю вас внимательно")
                .map(|d| d.who),
            Some(AnsweredBy::Uncertain)
        );
    }

    #[test]
    fn a_beep_is_a_voicemail_and_speech_is_no_beep() {
        let mut sc = Screening::new(Settings::default());
        let mut at = 0;
        feed(&mut sc, 3000, true, &mut at);
        assert_eq!(sc.decision(), None, "speech alone is not a beep");
        let mut got = Vec::new();
        for i in 0..10 {
            got.extend(sc.push(&tone(1000.0, 8000.0, i * 160), false));
        }
        assert!(got.is_empty(), "reported when the beep ends");
        got.extend(sc.push(&Frame::silence(RATE), false));
        assert_eq!(
            got.iter().map(|d| (d.who, d.by)).collect::<Vec<_>>(),
            vec![(AnsweredBy::Voicemail, Evidence::Beep)]
        );
        assert_eq!(
            got[0].at_ms,
            3000 + 200 + 20,
            "at the first frame after the beep"
        );
        // Between two scanned steps (1025 Hz) and at the edges of the range it is still heard.
        for f in [825.0, 1025.0, 1475.0] {
            let mut sc = Screening::new(Settings::default());
            let mut beeps: Vec<_> = (0..10)
                .filter_map(|i| sc.push(&tone(f, 6000.0, i * 160), false))
                .collect();
            beeps.extend(sc.push(&Frame::silence(RATE), false));
            assert_eq!(beeps.len(), 1, "{f} Hz");
        }
        // A 425 Hz dial tone or a 100 ms blip is no beep.
        let mut sc = Screening::new(Settings::default());
        assert!((0..20).all(|i| sc.push(&tone(425.0, 8000.0, i * 160), false).is_none()));
        let mut sc = Screening::new(Settings::default());
        for i in 0..5 {
            assert!(sc.push(&tone(1000.0, 8000.0, i * 160), false).is_none());
        }
        assert!(
            sc.push(&Frame::silence(RATE), false).is_none(),
            "100 ms is a blip"
        );
        // A tone that does not stop is reported all the same.
        let mut sc = Screening::new(Settings::default());
        let n = (BEEP_MAX_MS / 20) as usize;
        let d: Vec<_> = (0..n + 5)
            .filter_map(|i| sc.push(&tone(1000.0, 8000.0, i * 160), false))
            .collect();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].at_ms, BEEP_MAX_MS);
    }

    #[test]
    fn silence_until_the_limit_is_uncertain() {
        let mut sc = Screening::new(Settings::default());
        let mut at = 0;
        let d = feed(&mut sc, 8000, false, &mut at);
        assert_eq!(
            d.iter().map(|d| (d.who, d.by, d.at_ms)).collect::<Vec<_>>(),
            vec![(AnsweredBy::Uncertain, Evidence::Timeout, 8000)]
        );
    }

    #[test]
    fn words_name_voicemail_screener_and_menu() {
        for (text, who) in [
            ("Здравствуйте, я голосовой помощник Олег. Абонент не может ответить, что ему передать?", AnsweredBy::Screener),
            ("Алло, это секретарь. Представьтесь, пожалуйста.", AnsweredBy::Screener),
            ("Абонент не может ответить. Оставьте сообщение после звукового сигнала.", AnsweredBy::Voicemail),
            ("Аппарат абонента выключен или находится вне зоны действия сети.", AnsweredBy::Voicemail),
            ("Для связи с оператором нажмите ноль.", AnsweredBy::Ivr),
            ("Ваш звонок очень важен для нас, оставайтесь на линии.", AnsweredBy::Ivr),
        ] {
            assert_eq!(classify_words(text), Some(who), "{text}");
        }
        for text in [
            "Алло",
            "Да, слушаю",
            "Кто это?",
            "Алло, здравствуйте, говорите",
        ] {
            assert_eq!(classify_words(text), None, "{text}");
        }
    }
}
