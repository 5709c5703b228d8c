//! Turn-taking: voiced/unvoiced frames become utterances. Speech must last `min_speech` to count
//! (shorter blips are dropped), ends after `end_silence` of quiet, and is cut at `max_utterance`.
//! `sustained` (speech for `barge_in`) is what may interrupt the agent; backchannels do not.

use std::collections::VecDeque;
use std::time::Duration;

use super::frame::{Frame, FRAME_MS};

#[derive(Debug, Clone)]
pub struct TurnConfig {
    pub min_speech: Duration,
    pub end_silence: Duration,
    pub max_utterance: Duration,
    /// Speech this long interrupts the agent.
    pub barge_in: Duration,
    /// Audio kept from before the detected start, so the first syllable reaches STT.
    pub pre_roll: Duration,
    /// A gap this long ends a not-yet-confirmed blip.
    pub blip_gap: Duration,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            min_speech: Duration::from_millis(250),
            end_silence: Duration::from_millis(600),
            max_utterance: Duration::from_secs(15),
            barge_in: Duration::from_millis(300),
            pre_roll: Duration::from_millis(200),
            blip_gap: Duration::from_millis(350),
        }
    }
}

/// What a frame changed.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// Speech confirmed; `audio` is everything from the pre-roll up to now.
    SpeechStarted { audio: Vec<i16> },
    /// Speech has gone on for the barge-in length.
    Sustained,
    /// The utterance ended (or was cut); `trailing_ms` of quiet followed its last voiced frame.
    Ended {
        audio: Vec<i16>,
        speech_ms: u64,
        trailing_ms: u64,
        cut: bool,
    },
    /// A blip shorter than the minimum speech (a backchannel, a cough) was dropped.
    Dropped { speech_ms: u64 },
}

enum State {
    Idle,
    Candidate {
        span: u64,
        gap: u64,
    },
    Speaking {
        span: u64,
        gap: u64,
        sustained: bool,
    },
}

pub struct TurnDetector {
    cfg: TurnConfig,
    state: State,
    pre: VecDeque<Frame>,
    audio: Vec<i16>,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl TurnDetector {
    pub fn new(cfg: TurnConfig) -> Self {
        Self {
            cfg,
            state: State::Idle,
            pre: VecDeque::new(),
            audio: Vec::new(),
        }
    }

    pub fn config(&self) -> &TurnConfig {
        &self.cfg
    }

    /// Changes the quiet that ends the utterance from the next frame on (the end-of-turn policy
    /// adapts it to what the caller has said so far).
    pub fn set_end_silence(&mut self, end_silence: Duration) {
        self.cfg.end_silence = end_silence;
    }

    /// How long the caller has been quiet inside the current utterance: zero right after a
    /// voiced frame, `None` outside an utterance.
    pub fn pause(&self) -> Option<Duration> {
        match self.state {
            State::Speaking { gap, .. } => Some(Duration::from_millis(gap)),
            _ => None,
        }
    }

    /// True while an utterance is confirmed and going on.
    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speaking { .. })
    }

    /// Feeds one frame and whether it is voiced.
    pub fn push(&mut self, frame: &Frame, voiced: bool) -> Vec<TurnEvent> {
        let mut events = Vec::new();
        let pre_frames = (ms(self.cfg.pre_roll) / FRAME_MS) as usize;
        self.state = match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => {
                if voiced {
                    self.audio.clear();
                    for f in self.pre.drain(..) {
                        self.audio.extend_from_slice(&f.samples);
                    }
                    self.audio.extend_from_slice(&frame.samples);
                    self.check_start(FRAME_MS, 0, &mut events)
                } else {
                    self.pre.push_back(frame.clone());
                    while self.pre.len() > pre_frames {
                        self.pre.pop_front();
                    }
                    State::Idle
                }
            }
            State::Candidate { span, gap } => {
                self.audio.extend_from_slice(&frame.samples);
                if voiced {
                    self.check_start(span + gap + FRAME_MS, 0, &mut events)
                } else if gap + FRAME_MS >= ms(self.cfg.blip_gap) {
                    events.push(TurnEvent::Dropped { speech_ms: span });
                    self.audio.clear();
                    State::Idle
                } else {
                    State::Candidate {
                        span,
                        gap: gap + FRAME_MS,
                    }
                }
            }
            State::Speaking {
                span,
                gap,
                sustained,
            } => {
                self.audio.extend_from_slice(&frame.samples);
                let (span, gap) = if voiced {
                    (span + gap + FRAME_MS, 0)
                } else {
                    (span, gap + FRAME_MS)
                };
                let mut sustained = sustained;
                if !sustained && span >= ms(self.cfg.barge_in) {
                    sustained = true;
                    events.push(TurnEvent::Sustained);
                }
                let cut = span + gap >= ms(self.cfg.max_utterance);
                if gap >= ms(self.cfg.end_silence) || cut {
                    let mut audio = std::mem::take(&mut self.audio);
                    // Keep a little of the trailing quiet; drop the rest.
                    let keep_tail = 100.min(gap);
                    let drop = ((gap - keep_tail) * u64::from(frame.rate) / 1000) as usize;
                    audio.truncate(audio.len().saturating_sub(drop));
                    events.push(TurnEvent::Ended {
                        audio,
                        speech_ms: span,
                        trailing_ms: gap,
                        cut,
                    });
                    State::Idle
                } else {
                    State::Speaking {
                        span,
                        gap,
                        sustained,
                    }
                }
            }
        };
        events
    }

    fn check_start(&mut self, span: u64, gap: u64, events: &mut Vec<TurnEvent>) -> State {
        if span >= ms(self.cfg.min_speech) {
            events.push(TurnEvent::SpeechStarted {
                audio: self.audio.clone(),
            });
            let sustained = span >= ms(self.cfg.barge_in);
            if sustained {
                events.push(TurnEvent::Sustained);
            }
            State::Speaking {
                span,
                gap,
                sustained,
            }
        } else {
            State::Candidate { span, gap }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(d: &mut TurnDetector, voiced: bool, frames: usize) -> Vec<TurnEvent> {
        let f = Frame::silence(8000);
        (0..frames).flat_map(|_| d.push(&f, voiced)).collect()
    }

    #[test]
    fn the_pause_inside_an_utterance_is_measured_frame_by_frame() {
        let mut d = TurnDetector::new(TurnConfig::default());
        assert_eq!(d.pause(), None);
        run(&mut d, true, 25);
        assert_eq!(d.pause(), Some(Duration::ZERO));
        run(&mut d, false, 10);
        assert_eq!(d.pause(), Some(Duration::from_millis(200)));
        run(&mut d, true, 1);
        assert_eq!(d.pause(), Some(Duration::ZERO), "speech again: no pause");
        run(&mut d, false, 30);
        assert_eq!(d.pause(), None, "the turn ended");
    }

    #[test]
    fn a_longer_hold_keeps_a_mid_sentence_pause_inside_the_turn() {
        let mut d = TurnDetector::new(TurnConfig::default());
        run(&mut d, true, 25); // «Мне нужен офис…»
        d.set_end_silence(Duration::from_millis(1200));
        assert!(
            run(&mut d, false, 45)
                .iter()
                .all(|e| !matches!(e, TurnEvent::Ended { .. })),
            "a 900 ms pause does not end the turn"
        );
        run(&mut d, true, 25); // «…метров на двести»
        d.set_end_silence(Duration::from_millis(300)); // a finished sentence
        let ev = run(&mut d, false, 15);
        match &ev[..] {
            [TurnEvent::Ended {
                speech_ms,
                trailing_ms,
                ..
            }] => {
                assert_eq!(*speech_ms, 500 + 900 + 500);
                assert_eq!(*trailing_ms, 300);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn utterance_starts_after_min_speech_and_ends_after_silence() {
        let mut d = TurnDetector::new(TurnConfig::default());
        assert!(run(&mut d, false, 20).is_empty());
        assert!(run(&mut d, true, 12).is_empty());
        // The 13th voiced frame makes 260 ms; sustained only at 300 ms.
        let ev = run(&mut d, true, 1);
        assert!(matches!(ev[0], TurnEvent::SpeechStarted { .. }));
        assert_eq!(ev.len(), 1);
        let ev = run(&mut d, true, 2);
        assert_eq!(ev, vec![TurnEvent::Sustained]);
        let ev = run(&mut d, false, 29);
        assert!(ev.is_empty());
        let ev = run(&mut d, false, 1);
        match &ev[0] {
            TurnEvent::Ended {
                speech_ms,
                trailing_ms,
                cut,
                audio,
            } => {
                assert_eq!(*speech_ms, 300);
                assert_eq!(*trailing_ms, 600);
                assert!(!cut);
                // 200 ms pre-roll + 300 ms speech + 100 ms tail at 8 kHz.
                assert_eq!(audio.len(), 600 * 8);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_short_backchannel_is_dropped() {
        let mut d = TurnDetector::new(TurnConfig::default());
        run(&mut d, true, 10);
        let ev = run(&mut d, false, 20);
        assert_eq!(ev, vec![TurnEvent::Dropped { speech_ms: 200 }]);
        assert!(!d.in_speech());
    }

    #[test]
    fn short_gaps_inside_speech_do_not_end_it_and_long_speech_is_cut() {
        let mut d = TurnDetector::new(TurnConfig::default());
        let mut events = Vec::new();
        for _ in 0..200 {
            events.extend(run(&mut d, true, 20));
            events.extend(run(&mut d, false, 5));
        }
        let cuts: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, TurnEvent::Ended { cut: true, .. }))
            .collect();
        assert!(!cuts.is_empty());
        assert!(events
            .iter()
            .all(|e| !matches!(e, TurnEvent::Ended { cut: false, .. })));
    }
}
