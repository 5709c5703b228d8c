//! The live dialog of one call. Frames from the line go through VAD and turn detection; a
//! finished caller turn is transcribed and answered by the LLM, whose reply is spoken sentence by
//! sentence into the playout queue, which a paced writer drains to the line. Caller speech of the
//! barge-in length while the agent talks flushes the playout and cancels the reply, keeping in
//! the history only what was heard. Silence is reprompted; opt-outs, limits and `end_call` end
//! the call after a goodbye.
//!
//! With a streaming recogniser the reply may start early (preemptive generation): at the first
//! short pause the model is asked with the interim text, and the reply's first sentence is
//! synthesised behind a closed gate. If the caller goes on, it is thrown away; if the turn's final
//! text is the interim text, it is committed and plays at once. Nothing of a reply that was not
//! committed is played, kept in the history or applied to the call state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::dialog::{caller_turn, coaching_note, model_messages, TurnRule};
use super::end_of_turn::EndOfTurn;
use super::screening::{Decision, Evidence, Screening, Settings as ScreeningSettings};
use super::script::OnVoicemail;
use super::script::Script;
use super::speaker::{Gate, GateRx, Source, SpeakEvent, Speaker};
use super::state::{CallState, EndReason, Outcome};
use crate::domain::AnsweredBy;
pub use crate::domain::Greeting;
use crate::domain::Speaker as Side;
pub use crate::domain::TurnTiming;
use crate::domain::Utterance;
use crate::llm::LlmClient;
use crate::speech::{Heard, RecognitionSession, Recognizer, SttError, Tts};
use crate::telephony::line::{HangupCause, Line, LineEvent};
use crate::telephony::media::{
    Frame, Pacer, PlayoutQueue, TurnConfig, TurnDetector, TurnEvent, Vad, FRAME_MS,
};

/// Limits and timings of the dialog.
#[derive(Debug, Clone)]
pub struct DialogSettings {
    /// When the agent says its greeting.
    pub greeting: Greeting,
    pub turn: TurnConfig,
    pub vad_threshold: f32,
    /// Silence after the agent finished speaking before a reprompt.
    pub reprompt_after: Duration,
    /// Unanswered reprompts before goodbye.
    pub max_reprompts: u32,
    pub max_duration: Duration,
    pub max_turns: u32,
    /// Playout queue length in frames.
    pub playout_frames: usize,
    pub max_tokens: u32,
    /// Telling people from machines and screeners before greeting (with `Greeting::AfterCallee`).
    pub screening: Option<ScreeningSettings>,
    /// With interim text from a streaming recogniser: a pause this long inside the caller's turn
    /// starts the reply early (preemptive generation). `None`: replies start at the end of turn.
    pub preempt_after: Option<Duration>,
}

impl Default for DialogSettings {
    fn default() -> Self {
        Self {
            greeting: Greeting::OnAnswer,
            turn: TurnConfig::default(),
            vad_threshold: 0.5,
            reprompt_after: Duration::from_secs(5),
            max_reprompts: 3,
            max_duration: Duration::from_secs(300),
            max_turns: 20,
            playout_frames: 25,
            max_tokens: 300,
            screening: None,
            preempt_after: Some(Duration::from_millis(200)),
        }
    }
}

impl DialogSettings {
    /// The settings a live call uses, from the agent's section of the configuration.
    pub fn from_section(agent: &crate::config::AgentSettings) -> Self {
        let defaults = Self::default();
        Self {
            turn: TurnConfig {
                min_speech: Duration::from_millis(agent.min_speech_ms),
                end_silence: Duration::from_millis(agent.end_silence_ms),
                barge_in: Duration::from_millis(agent.barge_in_ms),
                ..defaults.turn
            },
            greeting: agent.greeting(),
            reprompt_after: Duration::from_secs(agent.reprompt_sec),
            max_duration: Duration::from_secs(agent.max_call_duration_sec),
            max_turns: agent.max_dialog_turns,
            screening: agent.screening.then(ScreeningSettings::default),
            preempt_after: (agent.preempt_ms > 0).then(|| Duration::from_millis(agent.preempt_ms)),
            ..defaults
        }
    }
}

/// How the outside steers and follows one call while it runs.
#[derive(Debug, Clone, Default)]
pub struct CallControl {
    /// Cancelled: the agent stops what it says, says a polite goodbye and hangs up (`/hangup`,
    /// shutdown, a campaign stopped).
    pub hang_up: CancellationToken,
    /// Where the call's events go as they happen (never blocks the call: a consumer that lags
    /// loses events, not the dialog).
    pub events: Option<mpsc::Sender<CallEvent>>,
    /// A manager's hints, used by the agent in its next reply (live coaching from the chat).
    pub hints: Hints,
}

/// Hints for the agent, left by whoever steers the call and taken by the dialog before its next
/// reply (each once).
#[derive(Debug, Clone, Default)]
pub struct Hints(Arc<Mutex<Vec<String>>>);

impl Hints {
    pub fn push(&self, hint: String) {
        lock(&self.0).push(hint);
    }
    /// The hints left since the last take, oldest first.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0))
    }
    pub fn is_empty(&self) -> bool {
        lock(&self.0).is_empty()
    }
}

/// What happens in a call, as it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    Answered,
    /// A finished line of the transcript (the agent's as played, the caller's as recognised).
    Line(Utterance),
    /// A caller turn and the agent's answer to it, timed.
    Turn(TurnTiming),
    /// The call state after it changed (stage, contact, callback, outcome).
    State(CallState),
    Ended(EndReason),
}

/// The providers a call talks to.
#[derive(Clone)]
pub struct AgentDeps {
    pub recognizer: Arc<dyn Recognizer>,
    pub llm: Arc<LlmClient>,
    pub tts: Arc<dyn Tts>,
}

/// Everything a finished call produced.
#[derive(Debug, Clone)]
pub struct CallReport {
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub state: CallState,
    pub transcript: Vec<Utterance>,
    pub turns: Vec<TurnTiming>,
    /// Caller speech start → agent audio stopped, for every barge-in.
    pub barge_ins: Vec<Duration>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    /// The call's recording (a WAV file), when the line was recorded.
    pub recording: Option<Vec<u8>>,
    /// Replies started early on interim text, and how many of them were kept.
    pub early_replies: EarlyReplies,
}

/// Preemptive generation in one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EarlyReplies {
    pub started: u32,
    pub committed: u32,
}

/// What the playout writer has sent.
#[derive(Default)]
struct Played {
    frames: HashMap<u64, u32>,
    first_at: HashMap<u64, Instant>,
    last_at: Option<Instant>,
}

/// A reply being spoken.
struct Reply {
    id: u64,
    task: JoinHandle<()>,
    /// Sentence tag → text and frames queued (once known).
    sentences: BTreeMap<u64, (String, Option<u32>)>,
    done: bool,
    interruptible: bool,
    /// The caller turn this answers.
    timing: Option<usize>,
    /// What holds a preemptive reply's audio until it is committed.
    gate: Option<Gate>,
}

/// A reply started on the interim text at a short pause, held behind its gate until the turn's
/// final text confirms it.
struct Preempt {
    reply: Reply,
    /// The interim text it answers.
    text: String,
    /// The utterance it belongs to.
    utterance: u64,
    /// The caller turn, once the utterance has ended.
    timing: Option<usize>,
    /// Its events so far (but usage), replayed in order when it is committed.
    events: Vec<SpeakEvent>,
}

/// At most this many early replies per utterance (each is a model request).
const MAX_PREEMPTS_PER_UTTERANCE: u32 = 3;

/// Why a preemptive reply was thrown away, for logs and metrics.
#[derive(Debug, Clone, Copy)]
enum Discard {
    CallerWentOn,
    TextChanged,
    NotAnswered,
    Failed,
}

impl Discard {
    fn as_str(self) -> &'static str {
        match self {
            Discard::CallerWentOn => "caller_went_on",
            Discard::TextChanged => "text_changed",
            Discard::NotAnswered => "not_answered",
            Discard::Failed => "failed",
        }
    }
}

/// The same words, whatever the case, punctuation and spacing (an interim text and a final one).
fn same_words(a: &str, b: &str) -> bool {
    fn words(s: &str) -> Vec<String> {
        s.to_lowercase()
            .replace('ё', "е")
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }
    words(a) == words(b)
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long a voicemail told by its words is given to beep before the message is left anyway.
const VOICEMAIL_BEEP_WAIT: Duration = Duration::from_secs(6);

/// Runs the dialog of one call until it ends.
pub async fn run_call(
    line: &mut dyn Line,
    script: &Script,
    deps: &AgentDeps,
    settings: &DialogSettings,
    control: &CallControl,
) -> CallReport {
    Dialog::new(line.sample_rate(), script, deps, settings, control)
        .run(line)
        .await
}

struct Dialog<'a> {
    rate: u32,
    script: &'a Script,
    deps: &'a AgentDeps,
    settings: &'a DialogSettings,
    control: &'a CallControl,
    /// The state last reported as an event.
    reported: CallState,
    start: Instant,
    started_at: DateTime<Utc>,
    /// The call state: this engine is its only writer (tool results arrive as events).
    state: CallState,
    queue: PlayoutQueue,
    played: Arc<Mutex<Played>>,
    history: Vec<Value>,
    transcript: Vec<Utterance>,
    timings: Vec<TurnTiming>,
    barge_ins: Vec<Duration>,
    reply: Option<Reply>,
    next_reply: u64,
    next_tag: u64,
    events_tx: mpsc::Sender<(u64, SpeakEvent)>,
    events_rx: mpsc::Receiver<(u64, SpeakEvent)>,
    stt_tx: mpsc::Sender<(usize, Result<Heard, SttError>)>,
    stt_rx: mpsc::Receiver<(usize, Result<Heard, SttError>)>,
    session: Option<Box<dyn RecognitionSession>>,
    stt_pending: usize,
    speech_started: Option<Instant>,
    overlapped: bool,
    barged: bool,
    silence_deadline: Option<Instant>,
    reprompts: u32,
    llm_failures: u32,
    tokens: (i64, i64, f64),
    hangup_now: bool,
    /// Waiting for the callee's first words before greeting (`Greeting::AfterCallee`).
    awaiting_greeting: bool,
    /// When to greet anyway if the callee stays silent.
    greeting_deadline: Option<Instant>,
    /// Telling who answered, until decided (or until a voicemail's beep, to leave a message).
    screening: Option<Screening>,
    /// The callee's first utterance was answered by the greeting: its turn is not the model's.
    swallow_turn: bool,
    /// Leaving a voicemail message: say it at the beep, or at this deadline without one.
    voicemail_deadline: Option<Instant>,
    screen_tx: mpsc::Sender<Result<String, SttError>>,
    screen_rx: mpsc::Receiver<Result<String, SttError>>,
    /// A reply started early, waiting for the turn's final text.
    preempt: Option<Preempt>,
    /// Counts the caller's utterances (a preemptive reply belongs to one).
    utterance: u64,
    preempts_this_utterance: u32,
    early: EarlyReplies,
}

impl<'a> Dialog<'a> {
    fn new(
        rate: u32,
        script: &'a Script,
        deps: &'a AgentDeps,
        settings: &'a DialogSettings,
        control: &'a CallControl,
    ) -> Self {
        let (events_tx, events_rx) = mpsc::channel(256);
        let (stt_tx, stt_rx) = mpsc::channel(8);
        let (screen_tx, screen_rx) = mpsc::channel(1);
        Self {
            rate,
            script,
            deps,
            settings,
            control,
            reported: CallState::default(),
            start: Instant::now(),
            started_at: Utc::now(),
            state: CallState::default(),
            queue: PlayoutQueue::new(settings.playout_frames),
            played: Arc::new(Mutex::new(Played::default())),
            history: Vec::new(),
            transcript: Vec::new(),
            timings: Vec::new(),
            barge_ins: Vec::new(),
            reply: None,
            next_reply: 1,
            next_tag: 1,
            events_tx,
            events_rx,
            stt_tx,
            stt_rx,
            session: None,
            stt_pending: 0,
            speech_started: None,
            overlapped: false,
            barged: false,
            silence_deadline: None,
            reprompts: 0,
            llm_failures: 0,
            tokens: (0, 0, 0.0),
            hangup_now: false,
            awaiting_greeting: false,
            greeting_deadline: None,
            screening: None,
            swallow_turn: false,
            voicemail_deadline: None,
            screen_tx,
            screen_rx,
            preempt: None,
            utterance: 0,
            preempts_this_utterance: 0,
            early: EarlyReplies::default(),
        }
    }

    fn ms(&self, at: Instant) -> i64 {
        at.saturating_duration_since(self.start).as_millis() as i64
    }

    async fn run(mut self, line: &mut dyn Line) -> CallReport {
        let (speaking_tx, mut speaking_rx) = watch::channel(false);
        let stop_writer = CancellationToken::new();
        let writer = tokio::spawn(write_playout(
            self.queue.clone(),
            line.sender(),
            self.played.clone(),
            speaking_tx,
            stop_writer.clone(),
        ));
        let mut vad = Vad::new(self.rate, self.settings.vad_threshold);
        let mut turns = TurnDetector::new(self.settings.turn.clone());
        let end_of_turn = EndOfTurn::around(self.settings.turn.end_silence);
        let max_end = self.start + self.settings.max_duration;
        let hard_end = max_end + Duration::from_secs(20);
        let mut limit_hit = false;
        let mut stopping = false;
        let mut writer_alive = true;

        loop {
            if self.hangup_now {
                break;
            }
            let silence = self.silence_deadline;
            tokio::select! {
                ev = line.recv() => match ev {
                    Some(LineEvent::Frame(frame)) => {
                        let voiced = vad.is_speech(&frame);
                        if let Some(d) = self.screening.as_mut().and_then(|sc| sc.push(&frame, voiced)) {
                            self.on_screened(d);
                        }
                        if let Some(s) = self.session.as_mut() {
                            if turns.in_speech() {
                                s.push(&frame.samples);
                            }
                        }
                        // The pause that ends the turn follows what was said so far (streaming
                        // recognisers only; otherwise the configured silence).
                        let hold = self
                            .session
                            .as_ref()
                            .and_then(|s| s.interim())
                            .map_or(self.settings.turn.end_silence, |t| end_of_turn.hold(&t));
                        turns.set_end_silence(hold);
                        for te in turns.push(&frame, voiced) {
                            self.on_turn_event(te);
                        }
                        self.on_pause(turns.pause());
                    }
                    Some(LineEvent::Answered) => {
                        tracing::info!("call answered");
                        self.emit(CallEvent::Answered);
                        match self.settings.greeting {
                            Greeting::OnAnswer => self.greet(),
                            Greeting::AfterCallee { silence } => {
                                self.awaiting_greeting = true;
                                self.greeting_deadline = Some(Instant::now() + silence);
                                self.screening = self.settings.screening.clone().map(Screening::new);
                            }
                        }
                    }
                    Some(LineEvent::Dtmf(d)) => tracing::info!(digit = %d, "DTMF from the caller"),
                    Some(LineEvent::Hangup(cause)) => {
                        tracing::info!(cause = cause.as_str(), "the line went down");
                        let st = &mut self.state;
                        if st.ending.is_none() {
                            st.ending = Some(EndReason::Hangup(cause));
                        }
                        break;
                    }
                    None => {
                        tracing::info!("the line went away without a hangup");
                        let st = &mut self.state;
                        if st.ending.is_none() {
                            st.ending = Some(EndReason::Hangup(HangupCause::Network));
                        }
                        break;
                    }
                },
                Some((reply, ev)) = self.events_rx.recv() => self.on_speak_event(reply, ev),
                Some((idx, result)) = self.stt_rx.recv() => self.on_transcript(idx, result),
                Some(result) = self.screen_rx.recv() => self.on_first_words(result),
                _ = sleep_until_opt(self.voicemail_deadline) => {
                    tracing::info!("no beep came: leaving the message anyway");
                    self.leave_voicemail();
                }
                changed = speaking_rx.changed(), if writer_alive => {
                    if changed.is_err() {
                        writer_alive = false;
                    } else if !*speaking_rx.borrow() {
                        self.maybe_finish_reply();
                    }
                }
                _ = sleep_until_opt(silence) => {
                    self.silence_deadline = None;
                    self.on_silence();
                }
                _ = sleep_until_opt(self.greeting_deadline) => {
                    tracing::debug!("the callee said nothing; greeting");
                    self.greet();
                }
                _ = tokio::time::sleep_until(max_end), if !limit_hit => {
                    limit_hit = true;
                    if self.state.ending.is_none() {
                        tracing::info!("maximum call duration reached");
                        self.cancel_reply(false);
                        self.state.ending = Some(EndReason::MaxDuration);
                        let text = self.script.goodbye_limit.clone();
                        self.say(Source::Fixed(text), false, None);
                    }
                }
                _ = self.control.hang_up.cancelled(), if !stopping => {
                    stopping = true;
                    if self.state.ending.is_none() {
                        tracing::info!("asked to hang up: saying goodbye");
                        self.cancel_reply(false);
                        self.state.ending = Some(EndReason::Stopped);
                        let text = self.script.goodbye_limit.clone();
                        self.say(Source::Fixed(text), false, None);
                    }
                }
                _ = tokio::time::sleep_until(hard_end) => {
                    tracing::warn!("the goodbye did not finish in time; hanging up");
                    break;
                }
            }
        }
        // Let the last frames go out, then stop the writer and hang up. What was played of a
        // reply cut by the end of the call (a hang-up mid-sentence) is kept in the transcript.
        stop_writer.cancel();
        let _ = writer.await;
        self.commit_reply(false);
        line.hangup().await;
        let duration = self.start.elapsed();
        let state = self.state.clone();
        self.report_state();
        if let Some(reason) = &state.ending {
            self.emit(CallEvent::Ended(reason.clone()));
        }
        tracing::info!(
            outcome = ?state.outcome.as_ref().map(|o| o.0.as_str()),
            ended = ?state.ending.as_ref().map(EndReason::code),
            secs = duration.as_secs_f64(),
            turns = state.turns,
            "call finished"
        );
        CallReport {
            started_at: self.started_at,
            duration,
            state,
            transcript: self.transcript,
            turns: self.timings,
            barge_ins: self.barge_ins,
            prompt_tokens: self.tokens.0,
            completion_tokens: self.tokens.1,
            cost_usd: self.tokens.2,
            recording: None,
            early_replies: self.early,
        }
    }

    /// Sends an event to whoever follows the call, without ever waiting for them.
    fn emit(&self, event: CallEvent) {
        if let Some(tx) = &self.control.events {
            if tx.try_send(event).is_err() {
                tracing::debug!("a call event was dropped (the follower lags or left)");
            }
        }
    }

    /// Reports the call state when it changed since the last report.
    fn report_state(&mut self) {
        let now = self.state.clone();
        if now != self.reported {
            self.reported = now.clone();
            self.emit(CallEvent::State(now));
        }
    }

    /// Says the script's greeting (once).
    fn greet(&mut self) {
        self.awaiting_greeting = false;
        self.greeting_deadline = None;
        // Greeted while the callee's first words are still being heard: they were its answer.
        self.swallow_turn = self.session.is_some();
        if self
            .screening
            .as_ref()
            .is_some_and(|sc| sc.decision().is_none())
        {
            self.state.answered_by = Some(AnsweredBy::Uncertain);
        }
        self.screening = None;
        let greeting = self.script.opening();
        self.say(Source::Fixed(greeting), true, None);
    }

    /// The transcript of the callee's long first utterance, for the classifier.
    fn on_first_words(&mut self, result: Result<String, SttError>) {
        let text = result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "speech-to-text of the first words failed");
            String::new()
        });
        let decided = match self.screening.as_mut() {
            Some(sc) => sc.words(&text),
            None => return,
        };
        if let Some(d) = decided {
            self.on_screened(d);
        }
    }

    /// Acts on who answered, as the script says.
    fn on_screened(&mut self, d: Decision) {
        let plan = &self.script.screening;
        tracing::info!(who = d.who.as_str(), by = ?d.by, at_ms = d.at_ms, "told who answered");
        self.state.answered_by = Some(d.who);
        metrics::counter!("callops_agent_answered_by_total", "who" => d.who.as_str()).increment(1);
        match d.who {
            AnsweredBy::Human | AnsweredBy::Uncertain => {
                if self.awaiting_greeting {
                    self.greet();
                }
            }
            AnsweredBy::Screener => {
                self.awaiting_greeting = false;
                self.greeting_deadline = None;
                self.screening = None;
                let intro = plan
                    .screener_intro
                    .clone()
                    .unwrap_or_else(|| self.script.opening());
                self.swallow_turn = self.session.is_some();
                self.say(Source::Fixed(intro), true, None);
            }
            AnsweredBy::Ivr => self.end_with_machine(EndReason::Ivr),
            AnsweredBy::Voicemail => match plan.voicemail {
                OnVoicemail::HangUp => self.end_with_machine(EndReason::Voicemail {
                    message_left: false,
                }),
                OnVoicemail::LeaveMessage if d.by == Evidence::Beep => self.leave_voicemail(),
                OnVoicemail::LeaveMessage => {
                    // Told by its words: the beep is still to come.
                    self.awaiting_greeting = false;
                    self.greeting_deadline = None;
                    if self.voicemail_deadline.is_none() {
                        self.voicemail_deadline = Some(Instant::now() + VOICEMAIL_BEEP_WAIT);
                    }
                }
            },
        }
        self.report_state();
    }

    /// Nobody to talk to: the call ends without a word.
    fn end_with_machine(&mut self, reason: EndReason) {
        self.cancel_reply(false);
        self.awaiting_greeting = false;
        self.greeting_deadline = None;
        self.screening = None;
        self.state.outcome = Some((Outcome::NoConversation, reason.code().to_string()));
        self.state.ending = Some(reason);
        self.hangup_now = true;
    }

    /// Says the script's voicemail message (after the beep), then hangs up.
    fn leave_voicemail(&mut self) {
        // A beep after an uncertain start: whatever the agent was saying goes to no one.
        self.cancel_reply(false);
        self.voicemail_deadline = None;
        self.screening = None;
        self.awaiting_greeting = false;
        self.greeting_deadline = None;
        let Some(message) = self.script.screening.voicemail_message.clone() else {
            return self.end_with_machine(EndReason::Voicemail {
                message_left: false,
            });
        };
        let reason = EndReason::Voicemail { message_left: true };
        self.state.outcome = Some((Outcome::NoConversation, reason.code().to_string()));
        self.state.ending = Some(reason);
        self.say(Source::Fixed(message), false, None);
    }

    fn agent_busy(&self) -> bool {
        self.reply.is_some() || !self.queue.is_empty()
    }

    fn on_turn_event(&mut self, ev: TurnEvent) {
        let now = Instant::now();
        match ev {
            TurnEvent::SpeechStarted { audio } => {
                let started = now
                    - Duration::from_millis(
                        (audio.len() as u64 * 1000 / u64::from(self.rate))
                            .saturating_sub(self.settings.turn.pre_roll.as_millis() as u64),
                    );
                self.speech_started = Some(started);
                self.utterance += 1;
                self.preempts_this_utterance = 0;
                if self.preempt.is_some() {
                    self.discard_preempt(Discard::CallerWentOn);
                }
                // The callee is speaking: the greeting waits for the end of their words.
                self.greeting_deadline = None;
                self.overlapped = self.agent_busy();
                self.barged = false;
                self.silence_deadline = None;
                let mut s = self.deps.recognizer.open(self.rate);
                s.push(&audio);
                self.session = Some(s);
            }
            TurnEvent::Sustained => {
                let interruptible = self.reply.as_ref().is_some_and(|r| r.interruptible);
                if self.overlapped && interruptible {
                    self.barged = true;
                    let flushed = self.queue.flush();
                    if let Some(started) = self.speech_started {
                        let took = now.saturating_duration_since(started)
                            + Duration::from_millis(FRAME_MS / 2);
                        self.barge_ins.push(took);
                        metrics::histogram!("callops_agent_barge_in_seconds")
                            .record(took.as_secs_f64());
                    }
                    tracing::info!(flushed, "barge-in: the caller interrupted");
                    self.cancel_reply(true);
                }
            }
            TurnEvent::Ended {
                trailing_ms,
                cut,
                speech_ms,
                ..
            } => {
                let session = self.session.take();
                if std::mem::take(&mut self.swallow_turn) {
                    tracing::debug!(speech_ms, "the callee's hello, answered by the greeting");
                    return;
                }
                if self.awaiting_greeting {
                    if let Some(sc) = &self.screening {
                        // A long first utterance: its words tell a recording from a person.
                        if sc.wants_words() {
                            if let Some(session) = session {
                                let tx = self.screen_tx.clone();
                                tokio::spawn(async move {
                                    let _ = tx.send(session.finish().await.map(|h| h.text)).await;
                                });
                            }
                        }
                        // Otherwise the classifier decides at the pause (or times out).
                        return;
                    }
                    // "Алло?" before the greeting: answered by the greeting, not by the model.
                    tracing::debug!(speech_ms, "the callee spoke first; greeting");
                    self.greet();
                    return;
                }
                if self.overlapped && !self.barged {
                    tracing::debug!(
                        speech_ms,
                        "speech over the agent without interrupting; ignored"
                    );
                    return;
                }
                if cut {
                    tracing::info!("a caller utterance reached the maximum length and was cut");
                }
                let end = now - Duration::from_millis(trailing_ms);
                self.timings.push(TurnTiming {
                    turn: self.timings.len() as u32 + 1,
                    caller_end_ms: self.ms(end),
                    stt_vendor: Some(self.deps.recognizer.vendor().to_string()),
                    speech_ms: Some(speech_ms as i64),
                    ..Default::default()
                });
                metrics::counter!("callops_stt_audio_seconds_total", "vendor" => self.deps.recognizer.vendor())
                    .increment(speech_ms / 1000);
                let idx = self.timings.len() - 1;
                let utterance = self.utterance;
                if let Some(p) = self.preempt.as_mut().filter(|p| p.utterance == utterance) {
                    p.timing = Some(idx);
                }
                if let Some(session) = session {
                    self.stt_pending += 1;
                    let tx = self.stt_tx.clone();
                    tokio::spawn(async move {
                        let r = session.finish().await;
                        let _ = tx.send((idx, r)).await;
                    });
                }
                let start_ms = self.speech_started.map_or(self.ms(end), |s| self.ms(s));
                self.transcript.push(Utterance {
                    speaker: Side::Client,
                    start_ms,
                    end_ms: self.ms(end),
                    text: String::new(),
                });
            }
            TurnEvent::Dropped { speech_ms } => {
                tracing::debug!(speech_ms, "short sound dropped (backchannel or noise)");
                self.session = None;
                if self.awaiting_greeting {
                    if let Greeting::AfterCallee { silence } = self.settings.greeting {
                        self.greeting_deadline = Some(now + silence);
                    }
                    return;
                }
                if !self.agent_busy() && self.stt_pending == 0 && self.state.ending.is_none() {
                    self.arm_silence();
                }
            }
        }
    }

    fn on_transcript(&mut self, idx: usize, result: Result<Heard, SttError>) {
        self.stt_pending = self.stt_pending.saturating_sub(1);
        let now = Instant::now();
        let fell_back = result.as_ref().map_or(true, |h| h.fell_back);
        let result = result.map(|h| h.text);
        if let Some(t) = self.timings.get_mut(idx) {
            t.stt_fallback = fell_back;
            t.stt_done_ms = Some(now.saturating_duration_since(self.start).as_millis() as i64);
            metrics::histogram!("callops_agent_stage_seconds", "stage" => "stt")
                .record((t.stt_done_ms.unwrap_or(0) - t.caller_end_ms) as f64 / 1000.0);
        }
        let caller_end = self.timings.get(idx).map(|t| t.caller_end_ms);
        // Fill the matching client line of the transcript.
        let slot = self.transcript.iter_mut().rev().find(|u| {
            u.speaker == Side::Client && Some(u.end_ms) == caller_end && u.text.is_empty()
        });
        let text = match result {
            Ok(t) => t.trim().to_string(),
            Err(e) => {
                tracing::warn!(error = %e, "speech-to-text failed for a caller turn");
                String::new()
            }
        };
        if let Some(u) = slot {
            u.text = text.clone();
            if !text.is_empty() {
                let line = u.clone();
                self.emit(CallEvent::Line(line));
            }
        }
        self.transcript.retain(|u| {
            !(u.speaker == Side::Client && u.text.is_empty() && Some(u.end_ms) == caller_end)
        });
        // A reply started early for this turn is committed only if the turn is answered as usual.
        let early = self.preempt.as_ref().is_some_and(|p| p.timing == Some(idx));
        if early && (self.state.ending.is_some() || text.is_empty()) {
            self.discard_preempt(Discard::NotAnswered);
        }
        if self.state.ending.is_some() {
            return;
        }
        if text.is_empty() {
            if !self.agent_busy() {
                self.arm_silence();
            }
            return;
        }
        self.reprompts = 0;
        self.history.push(json!({"role": "user", "content": text}));
        let rule = caller_turn(&mut self.state, self.script, &text, self.settings.max_turns);
        if early && !matches!(rule, TurnRule::Answer) {
            self.discard_preempt(Discard::NotAnswered);
        }
        match rule {
            TurnRule::Answer => {}
            TurnRule::OptOut(bye) => {
                tracing::info!("the caller opted out");
                self.cancel_reply(false);
                self.say(Source::Fixed(bye), false, Some(idx));
                return;
            }
            TurnRule::TurnLimit(bye) => {
                tracing::info!(turns = self.state.turns, "maximum dialog turns reached");
                self.cancel_reply(false);
                self.say(Source::Fixed(bye), false, Some(idx));
                return;
            }
        }
        let confirmed = early
            && self.control.hints.is_empty()
            && self
                .preempt
                .as_ref()
                .is_some_and(|p| same_words(&p.text, &text));
        match self.preempt.take() {
            Some(p) if confirmed => self.commit_preempt(p, idx),
            other => {
                self.preempt = other;
                if early {
                    self.discard_preempt(Discard::TextChanged);
                }
                self.answer(Some(idx));
            }
        }
    }

    /// Watches the pause inside the caller's utterance: speech again throws an early reply
    /// away; a long enough pause starts one.
    fn on_pause(&mut self, pause: Option<Duration>) {
        let Some(after) = self.settings.preempt_after else {
            return;
        };
        let utterance = self.utterance;
        match pause {
            Some(p) if p.is_zero() => {
                let ongoing = self
                    .preempt
                    .as_ref()
                    .is_some_and(|p| p.utterance == utterance && p.timing.is_none());
                if ongoing {
                    self.discard_preempt(Discard::CallerWentOn);
                }
            }
            Some(p) if p >= after && self.preempt.is_none() => self.preempt(),
            _ => {}
        }
    }

    /// Starts a reply on the interim text, held until the turn's final text confirms it.
    fn preempt(&mut self) {
        let allowed = self.preempts_this_utterance < MAX_PREEMPTS_PER_UTTERANCE
            && !self.awaiting_greeting
            && !self.swallow_turn
            // Speech over the agent counts once it has interrupted it.
            && (!self.overlapped || self.barged)
            && !self.agent_busy()
            && self.state.ending.is_none()
            && self.stt_pending == 0
            && self.control.hints.is_empty();
        if !allowed {
            return;
        }
        let Some(text) = self.session.as_ref().and_then(|s| s.interim()) else {
            return;
        };
        let text = text.trim().to_string();
        if text.is_empty() {
            return;
        }
        // As the turn would be taken: a goodbye (opt-out, turn limit) is never said early.
        let mut state = self.state.clone();
        if !matches!(
            caller_turn(&mut state, self.script, &text, self.settings.max_turns),
            TurnRule::Answer
        ) {
            return;
        }
        self.preempts_this_utterance += 1;
        self.early.started += 1;
        let mut history = self.history.clone();
        history.push(json!({"role": "user", "content": text}));
        let messages = model_messages(self.script, &state, &history);
        let (gate, held) = Gate::closed();
        let mut reply = self.start_reply(Source::Llm(messages), true, None, state, Some(held));
        reply.gate = Some(gate);
        tracing::debug!(
            n = self.preempts_this_utterance,
            "a pause in the caller's turn: the reply starts early"
        );
        self.preempt = Some(Preempt {
            reply,
            text,
            utterance: self.utterance,
            timing: None,
            events: Vec::new(),
        });
    }

    /// Throws the early reply away: nothing of it was played, kept or applied.
    fn discard_preempt(&mut self, why: Discard) {
        if self.preempt.take().is_some() {
            tracing::debug!(why = why.as_str(), "the early reply is thrown away");
            metrics::counter!("callops_agent_preempts_total", "result" => why.as_str())
                .increment(1);
        }
    }

    /// The final text is what the early reply answered: it becomes the reply and plays now.
    fn commit_preempt(&mut self, p: Preempt, idx: usize) {
        self.cancel_reply(false);
        self.silence_deadline = None;
        let Preempt {
            mut reply, events, ..
        } = p;
        reply.timing = Some(idx);
        if let Some(gate) = &reply.gate {
            gate.open();
        }
        let id = reply.id;
        self.reply = Some(reply);
        self.early.committed += 1;
        tracing::debug!("the early reply is committed");
        metrics::counter!("callops_agent_preempts_total", "result" => "committed").increment(1);
        for ev in events {
            self.on_speak_event(id, ev);
        }
    }

    /// Asks the model for the next reply.
    fn answer(&mut self, timing: Option<usize>) {
        self.cancel_reply(false);
        for hint in self.control.hints.take() {
            tracing::info!("the agent takes a manager's hint");
            self.history.push(coaching_note(&hint));
        }
        let messages = model_messages(self.script, &self.state, &self.history);
        self.say(Source::Llm(messages), true, timing);
    }

    fn say(&mut self, source: Source, interruptible: bool, timing: Option<usize>) {
        self.silence_deadline = None;
        let state = self.state.clone();
        let reply = self.start_reply(source, interruptible, timing, state, None);
        self.reply = Some(reply);
    }

    /// Starts speaking `source` in a task of its own (behind `gate`, if given).
    fn start_reply(
        &mut self,
        source: Source,
        interruptible: bool,
        timing: Option<usize>,
        state: CallState,
        gate: Option<GateRx>,
    ) -> Reply {
        let id = self.next_reply;
        self.next_reply += 1;
        let first_tag = self.next_tag;
        // Leave room for the tags this reply may use.
        self.next_tag += 1000;
        if let Source::Fixed(text) = &source {
            tracing::debug!(chars = text.len(), "agent says a fixed phrase");
        }
        let speaker = Speaker {
            llm: self.deps.llm.clone(),
            tts: self.deps.tts.clone(),
            queue: self.queue.clone(),
            rate: self.rate,
            state,
            max_tokens: self.settings.max_tokens,
            max_rounds: 3,
            gate,
            voice: self
                .script
                .voice_for(self.deps.tts.vendor())
                .map(str::to_string),
        };
        let events = self.events_tx.clone();
        let task = tokio::spawn(speaker.run(source, first_tag, events, id));
        Reply {
            id,
            task,
            sentences: BTreeMap::new(),
            done: false,
            interruptible,
            timing,
            gate: None,
        }
    }

    fn timing_mut(&mut self, reply: u64) -> Option<&mut TurnTiming> {
        let r = self.reply.as_ref().filter(|r| r.id == reply)?;
        let idx = r.timing?;
        self.timings.get_mut(idx)
    }

    fn on_speak_event(&mut self, reply: u64, ev: SpeakEvent) {
        if let Some(p) = self.preempt.as_mut().filter(|p| p.reply.id == reply) {
            match ev {
                // Tokens are spent whether or not the reply is kept.
                SpeakEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                    cost_usd,
                } => add_usage(&mut self.tokens, prompt_tokens, completion_tokens, cost_usd),
                SpeakEvent::Failed(e) => {
                    tracing::debug!(error = %e, "the early reply failed");
                    self.discard_preempt(Discard::Failed);
                }
                ev => p.events.push(ev),
            }
            return;
        }
        if let SpeakEvent::Tools { results, .. } = &ev {
            // The single writer of the call state applies what the model's tools decided; they
            // are facts of the call even when the caller cut the reply off.
            for call in results.iter().filter_map(|r| r.call.as_ref()) {
                self.state.apply_call(call);
            }
        }
        if self.reply.as_ref().map(|r| r.id) != Some(reply) {
            return; // a cancelled reply
        }
        let start = self.start;
        let ms = |at: Instant| at.saturating_duration_since(start).as_millis() as i64;
        match ev {
            SpeakEvent::FirstToken(at) => {
                self.llm_failures = 0;
                if let Some(t) = self.timing_mut(reply) {
                    t.llm_first_token_ms.get_or_insert(ms(at));
                }
            }
            SpeakEvent::SentenceReady { tag, text, at } => {
                if let Some(t) = self.timing_mut(reply) {
                    t.first_sentence_ms.get_or_insert(ms(at));
                }
                if let Some(r) = self.reply.as_mut() {
                    r.sentences.insert(tag, (text, None));
                }
            }
            SpeakEvent::TtsFirstByte { at, .. } => {
                if let Some(t) = self.timing_mut(reply) {
                    t.tts_first_byte_ms.get_or_insert(ms(at));
                }
            }
            SpeakEvent::SentenceQueued { tag, frames } => {
                if let Some(r) = self.reply.as_mut() {
                    if let Some(s) = r.sentences.get_mut(&tag) {
                        s.1 = Some(frames);
                    }
                }
            }
            SpeakEvent::Tools { messages, results } => {
                self.history.extend(messages);
                if results.iter().any(|r| r.opted_out) {
                    if let Some(r) = self.reply.as_mut() {
                        r.interruptible = false;
                    }
                }
            }
            SpeakEvent::Usage {
                prompt_tokens,
                completion_tokens,
                cost_usd,
            } => add_usage(&mut self.tokens, prompt_tokens, completion_tokens, cost_usd),
            SpeakEvent::Failed(e) => {
                tracing::warn!(error = %e, "the agent's reply failed");
                self.llm_failures += 1;
                let timing = self.reply.as_ref().and_then(|r| r.timing);
                let nothing_said = self.reply.as_ref().is_some_and(|r| r.sentences.is_empty());
                self.reply = None;
                if self.llm_failures >= 2 {
                    let st = &mut self.state;
                    if st.ending.is_none() {
                        st.ending = Some(EndReason::Failure(e.chars().take(200).collect()));
                    }
                    let bye = format!("{} {}", self.script.apology, self.script.goodbye_limit);
                    self.say(Source::Fixed(bye), false, timing);
                } else if nothing_said && self.state.ending.is_none() {
                    self.answer(timing);
                } else {
                    self.maybe_finish_reply();
                }
            }
            SpeakEvent::Done => {
                if let Some(r) = self.reply.as_mut() {
                    r.done = true;
                }
                self.maybe_finish_reply();
            }
        }
    }

    /// A reply is over when its task is done and the playout has drained.
    fn maybe_finish_reply(&mut self) {
        let finished = self.reply.as_ref().is_some_and(|r| r.done) && self.queue.is_empty();
        if !finished {
            return;
        }
        self.commit_reply(false);
        if self.state.ending.is_some() {
            self.hangup_now = true;
            return;
        }
        if self.stt_pending == 0 && self.session.is_none() {
            self.arm_silence();
        }
    }

    fn cancel_reply(&mut self, barge_in: bool) {
        if self.reply.is_none() {
            return;
        }
        self.queue.flush();
        self.commit_reply(barge_in);
    }

    /// Puts what was actually played of the current reply into the history and transcript.
    fn commit_reply(&mut self, interrupted: bool) {
        let Some(reply) = self.reply.take() else {
            return;
        };
        let now = Instant::now();
        let played = lock(&self.played);
        let mut text = Vec::new();
        let mut first_at: Option<Instant> = None;
        for (tag, (sentence, total)) in &reply.sentences {
            let n = played.frames.get(tag).copied().unwrap_or(0);
            if n == 0 {
                break;
            }
            if first_at.is_none() {
                first_at = played.first_at.get(tag).copied();
            }
            match total {
                Some(total) if n >= *total => text.push(sentence.clone()),
                Some(total) => {
                    text.push(partial(sentence, n, *total));
                    break;
                }
                None => {
                    // Still being synthesised when cut: estimate by speech rate (~70 ms per char).
                    let est = (sentence.chars().count() as u32 * 70 / FRAME_MS as u32).max(1);
                    text.push(partial(sentence, n.min(est), est));
                    break;
                }
            }
        }
        let last_at = played.last_at;
        drop(played);
        // Every sentence handed to synthesis is billed, heard or not.
        let chars: usize = reply
            .sentences
            .values()
            .map(|(s, _)| s.chars().count())
            .sum();
        if chars > 0 {
            let vendor = self.deps.tts.vendor().as_str();
            metrics::counter!("callops_tts_characters_total", "vendor" => vendor)
                .increment(chars as u64);
            if let Some(t) = reply.timing.and_then(|idx| self.timings.get_mut(idx)) {
                t.tts_vendor = Some(vendor.to_string());
                *t.tts_chars.get_or_insert(0) += chars as i64;
            }
        }
        if let (Some(idx), Some(first)) = (reply.timing, first_at) {
            if let Some(t) = self.timings.get_mut(idx) {
                let first_ms = first.saturating_duration_since(self.start).as_millis() as i64;
                t.first_audio_ms.get_or_insert(first_ms);
                let v2v = first_ms - t.caller_end_ms;
                metrics::histogram!("callops_agent_voice_to_voice_seconds")
                    .record(v2v as f64 / 1000.0);
                for (stage, at) in [
                    ("llm_first_token", t.llm_first_token_ms),
                    ("first_sentence", t.first_sentence_ms),
                    ("tts_first_byte", t.tts_first_byte_ms),
                ] {
                    if let Some(at) = at {
                        // An early reply may have its first token before the turn ended.
                        metrics::histogram!("callops_agent_stage_seconds", "stage" => stage)
                            .record((at - t.caller_end_ms).max(0) as f64 / 1000.0);
                    }
                }
                if interrupted {
                    t.barge_in_ms =
                        Some(now.saturating_duration_since(self.start).as_millis() as i64);
                }
            }
        }
        let spoken = text.join(" ");
        if spoken.is_empty() {
            return;
        }
        self.history
            .push(json!({"role": "assistant", "content": spoken}));
        let start_ms = first_at.map_or(self.ms(now), |f| self.ms(f));
        let end_ms = if interrupted {
            self.ms(now)
        } else {
            last_at.map_or(self.ms(now), |l| self.ms(l) + FRAME_MS as i64)
        };
        let line = Utterance {
            speaker: Side::Agent,
            start_ms,
            end_ms,
            text: spoken,
        };
        self.emit(CallEvent::Line(line.clone()));
        if let Some(t) = reply.timing.and_then(|idx| self.timings.get(idx)) {
            self.emit(CallEvent::Turn(t.clone()));
        }
        self.report_state();
        self.transcript.push(line);
        self.transcript.sort_by_key(|u| u.start_ms);
    }

    fn arm_silence(&mut self) {
        self.silence_deadline = Some(Instant::now() + self.settings.reprompt_after);
    }

    fn on_silence(&mut self) {
        if self.agent_busy() || self.stt_pending > 0 || self.session.is_some() {
            return;
        }
        if self.state.ending.is_some() {
            self.hangup_now = true;
            return;
        }
        if self.reprompts < self.settings.max_reprompts {
            let text = self.script.reprompts[self.reprompts as usize % self.script.reprompts.len()]
                .clone();
            self.reprompts += 1;
            tracing::info!(n = self.reprompts, "caller silent; reprompting");
            self.say(Source::Fixed(text), true, None);
        } else {
            tracing::info!("no answer to reprompts; saying goodbye");
            {
                let st = &mut self.state;
                st.ending = Some(EndReason::Silence);
                if st.outcome.is_none() {
                    st.outcome = Some((Outcome::NoConversation, "собеседник не отвечает".into()));
                }
            }
            let bye = self.script.goodbye_silence.clone();
            self.say(Source::Fixed(bye), false, None);
        }
    }
}

/// Adds a model request's tokens and cost to the call's.
fn add_usage(tokens: &mut (i64, i64, f64), prompt: i64, completion: i64, cost_usd: f64) {
    tokens.0 += prompt;
    tokens.1 += completion;
    tokens.2 += cost_usd;
}

/// The first `played/total` share of a sentence's words, marked as cut off.
fn partial(sentence: &str, played: u32, total: u32) -> String {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let n = (words.len() as u64 * u64::from(played) / u64::from(total.max(1))) as usize;
    if n == 0 {
        return String::new();
    }
    format!("{}…", words[..n.min(words.len())].join(" "))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Drains the playout queue to the line at one frame per 20 ms. Starts a fresh clock when audio
/// starts after silence, so the first frame of a reply goes out at once.
async fn write_playout(
    queue: PlayoutQueue,
    out: mpsc::Sender<Frame>,
    played: Arc<Mutex<Played>>,
    speaking: watch::Sender<bool>,
    stop: CancellationToken,
) {
    let mut pacer = Pacer::new();
    loop {
        tokio::select! {
            _ = queue.readable() => {}
            _ = stop.cancelled() => return,
        }
        pacer.restart();
        let _ = speaking.send(true);
        loop {
            tokio::select! {
                _ = pacer.tick() => {}
                _ = stop.cancelled() => return,
            }
            let Some(q) = queue.pop() else {
                break;
            };
            let now = Instant::now();
            {
                let mut p = lock(&played);
                *p.frames.entry(q.tag).or_insert(0) += 1;
                p.first_at.entry(q.tag).or_insert(now);
                p.last_at = Some(now);
            }
            if out.send(q.frame).await.is_err() {
                return;
            }
        }
        let _ = speaking.send(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_configuration() {
        use std::collections::BTreeMap;
        let values: BTreeMap<String, String> = [
            ("MAX_CALL_DURATION_SEC", "120"),
            ("MAX_DIALOG_TURNS", "8"),
            ("AGENT_REPROMPT_SEC", "7"),
            ("AGENT_MIN_SPEECH_MS", "200"),
            ("AGENT_END_SILENCE_MS", "700"),
            ("AGENT_BARGE_IN_MS", "400"),
            ("AGENT_GREETING", "callee"),
            ("AGENT_GREETING_WAIT_MS", "1200"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let cfg = crate::config::Config::from_values(&values, crate::config::Purpose::Tooling)
            .expect("config");
        let s = DialogSettings::from_section(&cfg.agent);
        assert_eq!(s.max_duration, Duration::from_secs(120));
        assert_eq!(s.max_turns, 8);
        assert_eq!(s.reprompt_after, Duration::from_secs(7));
        assert_eq!(s.turn.min_speech, Duration::from_millis(200));
        assert_eq!(s.turn.end_silence, Duration::from_millis(700));
        assert_eq!(s.turn.barge_in, Duration::from_millis(400));
        assert_eq!(s.turn.max_utterance, Duration::from_secs(15));
        assert_eq!(
            s.greeting,
            Greeting::AfterCallee {
                silence: Duration::from_millis(1200)
            }
        );
        assert_eq!(DialogSettings::default().greeting, Greeting::OnAnswer);

        let bad: BTreeMap<String, String> = [
            ("AGENT_END_SILENCE_MS", "5"),
            ("MAX_DIALOG_TURNS", "0"),
            ("AGENT_GREETING", "later"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let err = crate::config::Config::from_values(&bad, crate::config::Purpose::Tooling)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AGENT_END_SILENCE_MS")
                && err.contains("MAX_DIALOG_TURNS")
                && err.contains("AGENT_GREETING"),
            "{err}"
        );
    }

    #[test]
    fn an_interim_text_matches_its_final_whatever_the_punctuation() {
        assert!(same_words("нам нужен склад", "Нам нужен склад."));
        assert!(same_words("ещё  раз, да", "Еще раз — да!"));
        assert!(!same_words(
            "нам нужен склад",
            "Нам нужен склад в Подольске."
        ));
        assert!(!same_words("", "Да."));
    }

    #[test]
    fn partial_keeps_the_played_share_of_words() {
        assert_eq!(partial("раз два три четыре", 2, 4), "раз два…");
        assert_eq!(partial("раз два", 0, 4), "");
    }
}
