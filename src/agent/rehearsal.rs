//! Rehearsals in Telegram: a manager plays the callee in a private chat, by voice notes or text;
//! the agent answers with the same brain as on a live line (script, tools, state) and with voice
//! notes. `/stop` turns the rehearsal into a call with a transcript and timings, analysed with
//! `cold_call` and posted back to that chat. Each session is saved to the database after every
//! turn and restored at start-up, so a restart does not end a rehearsal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::dialog::{caller_turn, model_messages, take_back_turn, TurnRule};
use super::engine::CallReport;
use super::engine::DialogSettings;
use super::script::{Script, Scripts};
use super::speaker::{SpeakEvent, Speaker};
use super::state::{CallState, EndReason, ToolCall};
use crate::domain::Speaker as Side;
use crate::domain::{TurnTiming, Utterance};
use crate::llm::LlmClient;
use crate::speech::{joined_text, Stt, Tts, TtsFormat};
use crate::store::Store;
use crate::telephony::media::PlayoutQueue;

/// What rehearsals need.
pub struct RehearsalDeps {
    pub llm: Arc<LlmClient>,
    pub stt: Arc<dyn Stt>,
    pub tts: Arc<dyn Tts>,
    pub scripts: Arc<Scripts>,
    pub default_script: String,
    /// The same limits as a live call (turns, reply length).
    pub dialog: DialogSettings,
    store: Arc<dyn Store>,
    sessions: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<Session>>>>,
}

pub struct Session {
    pub script: Script,
    state: CallState,
    history: Vec<Value>,
    transcript: Vec<Utterance>,
    turns: Vec<TurnTiming>,
    start: Instant,
    started_at: DateTime<Utc>,
    tokens: (i64, i64, f64),
}

/// What is stored of a session between turns.
#[derive(Serialize, Deserialize)]
struct Saved {
    script: String,
    state: CallState,
    history: Vec<Value>,
    transcript: Vec<Utterance>,
    turns: Vec<TurnTiming>,
    started_at: DateTime<Utc>,
    tokens: (i64, i64, f64),
}

impl Session {
    fn saved(&self) -> Saved {
        Saved {
            script: self.script.name.clone(),
            state: self.state.clone(),
            history: self.history.clone(),
            transcript: self.transcript.clone(),
            turns: self.turns.clone(),
            started_at: self.started_at,
            tokens: self.tokens,
        }
    }

    fn restored(saved: Saved, script: Script) -> Self {
        let age = (Utc::now() - saved.started_at).to_std().unwrap_or_default();
        Self {
            script,
            state: saved.state,
            history: saved.history,
            transcript: saved.transcript,
            turns: saved.turns,
            start: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
            started_at: saved.started_at,
            tokens: saved.tokens,
        }
    }
}

/// What the model said for a turn: the reply, the messages its tool calls add to the history,
/// those calls checked (for the session's state), when the first token came, and tokens spent.
type Thought = (
    String,
    Vec<Value>,
    Vec<ToolCall>,
    Option<Instant>,
    (i64, i64, f64),
);

/// One agent answer.
pub struct Answer {
    pub text: String,
    /// OGG/Opus voice note, when synthesis worked.
    pub voice: Option<Vec<u8>>,
    /// The agent ended the conversation (goodbye, opt-out).
    pub ended: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RehearsalError {
    #[error("unknown script {0:?}; available: {1}")]
    UnknownScript(String, String),
    #[error("no rehearsal is running in this chat")]
    NotRunning,
    #[error("speech recognition failed: {0}")]
    Stt(String),
    #[error("the model failed: {0}")]
    Llm(String),
}

impl RehearsalDeps {
    pub fn new(
        llm: Arc<LlmClient>,
        stt: Arc<dyn Stt>,
        tts: Arc<dyn Tts>,
        scripts: Arc<Scripts>,
        default_script: String,
        dialog: DialogSettings,
        store: Arc<dyn Store>,
    ) -> Self {
        Self {
            llm,
            stt,
            tts,
            scripts,
            default_script,
            dialog,
            store,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Brings back the rehearsals that were running before a restart; returns how many.
    pub async fn restore(&self) -> Result<usize, crate::store::StoreError> {
        let mut restored = 0;
        for (chat, value) in self.store.rehearsals().await? {
            let saved: Saved = match serde_json::from_value(value) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(chat, error = %e, "a stored rehearsal cannot be read; dropped");
                    self.store.delete_rehearsal(chat).await?;
                    continue;
                }
            };
            let Some(script) = self.scripts.get(&saved.script).cloned() else {
                tracing::warn!(chat, script = %saved.script, "a stored rehearsal's script is gone; dropped");
                self.store.delete_rehearsal(chat).await?;
                continue;
            };
            self.sessions().insert(
                chat,
                Arc::new(tokio::sync::Mutex::new(Session::restored(saved, script))),
            );
            restored += 1;
        }
        Ok(restored)
    }

    /// Saves a session; a failure is logged (the rehearsal goes on in memory).
    async fn persist(&self, chat: i64, session: &Session) {
        let value = serde_json::to_value(session.saved()).unwrap_or_default();
        if let Err(e) = self.store.save_rehearsal(chat, &value).await {
            tracing::warn!(chat, error = %e, "saving the rehearsal failed; it lives on in memory");
        }
    }

    fn sessions(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<tokio::sync::Mutex<Session>>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_running(&self, chat: i64) -> bool {
        self.sessions().contains_key(&chat)
    }

    /// Starts (or restarts) a rehearsal; returns the greeting.
    pub async fn start(&self, chat: i64, script: Option<&str>) -> Result<Answer, RehearsalError> {
        let name = script
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.default_script);
        let script = self
            .scripts
            .get(name)
            .or_else(|| {
                script
                    .is_none()
                    .then(|| self.scripts.default_script())
                    .flatten()
            })
            .cloned()
            .ok_or_else(|| {
                RehearsalError::UnknownScript(name.into(), self.scripts.names().join(", "))
            })?;
        let greeting = script.opening();
        let mut session = Session {
            script,
            state: CallState::default(),
            history: Vec::new(),
            transcript: Vec::new(),
            turns: Vec::new(),
            start: Instant::now(),
            started_at: Utc::now(),
            tokens: (0, 0, 0.0),
        };
        session
            .history
            .push(json!({"role": "assistant", "content": greeting}));
        session.transcript.push(Utterance {
            speaker: Side::Agent,
            start_ms: 0,
            end_ms: 0,
            text: greeting.clone(),
        });
        self.persist(chat, &session).await;
        let script_voice = session
            .script
            .voice_for(self.tts.vendor())
            .map(str::to_string);
        self.sessions()
            .insert(chat, Arc::new(tokio::sync::Mutex::new(session)));
        let voice = self.voice(&greeting, script_voice.as_deref()).await;
        Ok(Answer {
            text: greeting,
            voice,
            ended: false,
        })
    }

    /// The manager's voice note (OGG/Opus as Telegram sends it).
    pub async fn voice_turn(
        &self,
        chat: i64,
        ogg: Vec<u8>,
        duration_secs: u32,
    ) -> Result<Answer, RehearsalError> {
        let received = Instant::now();
        let segments = self
            .stt
            .transcribe_file(ogg, "voice.ogg", i64::from(duration_secs) * 1000)
            .await
            .map_err(|e| RehearsalError::Stt(e.to_string()))?;
        let text = joined_text(&segments);
        self.turn(chat, &text, received, true).await
    }

    /// The manager's text message.
    pub async fn text_turn(&self, chat: i64, text: &str) -> Result<Answer, RehearsalError> {
        self.turn(chat, text, Instant::now(), false).await
    }

    async fn turn(
        &self,
        chat: i64,
        text: &str,
        received: Instant,
        spoken: bool,
    ) -> Result<Answer, RehearsalError> {
        let session = self
            .sessions()
            .get(&chat)
            .cloned()
            .ok_or(RehearsalError::NotRunning)?;
        let mut s = session.lock().await;
        let ms =
            |at: Instant, s: &Session| at.saturating_duration_since(s.start).as_millis() as i64;
        let mut timing = TurnTiming {
            turn: s.turns.len() as u32 + 1,
            caller_end_ms: ms(received, &s),
            ..Default::default()
        };
        if spoken {
            timing.stt_done_ms = Some(ms(Instant::now(), &s));
        }
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(RehearsalError::Stt("nothing was recognised".into()));
        }
        let before = (s.history.len(), s.transcript.len());
        let now_ms = ms(Instant::now(), &s);
        s.transcript.push(Utterance {
            speaker: Side::Client,
            start_ms: now_ms,
            end_ms: now_ms,
            text: text.clone(),
        });
        s.history.push(json!({"role": "user", "content": text}));
        let rule = {
            let session = &mut *s;
            caller_turn(
                &mut session.state,
                &session.script,
                &text,
                self.dialog.max_turns,
            )
        };
        let (reply, ended) = match rule {
            TurnRule::OptOut(bye) | TurnRule::TurnLimit(bye) => (bye, true),
            TurnRule::Answer => {
                let messages = model_messages(&s.script, &s.state, &s.history);
                // The client already retried 429/5xx with backoff; a failure now takes the turn
                // back, so the manager can simply send it again.
                let result = self.think(s.state.clone(), messages).await;
                let (reply, added, calls, first_token, tokens) = match result {
                    Ok(r) => r,
                    Err(e) => {
                        s.history.truncate(before.0);
                        s.transcript.truncate(before.1);
                        take_back_turn(&mut s.state);
                        return Err(e);
                    }
                };
                for call in &calls {
                    s.state.apply_call(call);
                }
                timing.llm_first_token_ms = first_token.map(|t| ms(t, &s));
                timing.first_sentence_ms = timing.llm_first_token_ms;
                s.history.extend(added);
                s.tokens.0 += tokens.0;
                s.tokens.1 += tokens.1;
                s.tokens.2 += tokens.2;
                let ended = s.state.ending.is_some();
                (reply, ended)
            }
        };
        let tts_start = Instant::now();
        let script_voice = s.script.voice_for(self.tts.vendor()).map(str::to_string);
        let voice = self.voice(&reply, script_voice.as_deref()).await;
        if voice.is_some() {
            timing.tts_first_byte_ms = Some(ms(tts_start, &s));
        }
        timing.first_audio_ms = Some(ms(Instant::now(), &s));
        let at = ms(Instant::now(), &s);
        if !reply.is_empty() {
            s.history
                .push(json!({"role": "assistant", "content": reply}));
            s.transcript.push(Utterance {
                speaker: Side::Agent,
                start_ms: at,
                end_ms: at,
                text: reply.clone(),
            });
        }
        s.turns.push(timing);
        self.persist(chat, &s).await;
        Ok(Answer {
            text: reply,
            voice,
            ended,
        })
    }

    /// Runs the live brain (same tools and loop as on a call) and collects the reply.
    async fn think(
        &self,
        state: CallState,
        messages: Vec<Value>,
    ) -> Result<Thought, RehearsalError> {
        let speaker = Speaker {
            llm: self.llm.clone(),
            tts: self.tts.clone(),
            queue: PlayoutQueue::new(1),
            rate: 8000,
            state,
            max_tokens: self.dialog.max_tokens,
            max_rounds: 3,
            gate: None,
            voice: None,
        };
        let (sent_tx, mut sent_rx) = mpsc::channel(64);
        let (ev_tx, mut ev_rx) = mpsc::channel(256);
        let work = speaker.converse(messages, 1, &sent_tx, &ev_tx, 1);
        let result = tokio::time::timeout(Duration::from_secs(60), work)
            .await
            .map_err(|_| RehearsalError::Llm("timed out".into()))?;
        drop(sent_tx);
        drop(ev_tx);
        result.map_err(RehearsalError::Llm)?;
        let mut sentences = Vec::new();
        while let Some((_, s)) = sent_rx.recv().await {
            sentences.push(s);
        }
        let (mut added, mut calls, mut first, mut tokens) =
            (Vec::new(), Vec::new(), None, (0, 0, 0.0));
        while let Some((_, ev)) = ev_rx.recv().await {
            match ev {
                SpeakEvent::FirstToken(at) => first = first.or(Some(at)),
                SpeakEvent::Tools { messages, results } => {
                    added.extend(messages);
                    calls.extend(results.into_iter().filter_map(|r| r.call));
                }
                SpeakEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                    cost_usd,
                } => {
                    tokens.0 += prompt_tokens;
                    tokens.1 += completion_tokens;
                    tokens.2 += cost_usd;
                }
                _ => {}
            }
        }
        Ok((sentences.join(" "), added, calls, first, tokens))
    }

    /// A voice note of `text` (in the script's `voice` for this vendor, if it names one), or
    /// `None` if synthesis failed (the text is still sent).
    async fn voice(&self, text: &str, voice: Option<&str>) -> Option<Vec<u8>> {
        if text.trim().is_empty() {
            return None;
        }
        let stream = match self.tts.synthesize_in(text, TtsFormat::Opus, voice).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "voice note synthesis failed");
                return None;
            }
        };
        let mut bytes = Vec::new();
        let mut chunks = stream.chunks;
        while let Some(c) = chunks.next().await {
            match c {
                Ok(c) => bytes.extend_from_slice(&c),
                Err(e) => {
                    tracing::warn!(error = %e, "voice note synthesis broke off");
                    return None;
                }
            }
        }
        (!bytes.is_empty()).then_some(bytes)
    }

    /// The report of a rehearsal, ready to be recorded: the script name, a key that is the same
    /// for every call on this session (so recording twice stores one call) and the report. The
    /// session stays until [`Self::forget`], so a failure to record loses nothing.
    pub async fn report(&self, chat: i64) -> Result<(String, String, CallReport), RehearsalError> {
        let session = self
            .sessions()
            .get(&chat)
            .cloned()
            .ok_or(RehearsalError::NotRunning)?;
        let s = session.lock().await;
        let mut state = s.state.clone();
        if state.ending.is_none() {
            state.ending = Some(EndReason::Completed("репетиция остановлена".into()));
        }
        Ok((
            s.script.name.clone(),
            format!("rehearsal:{chat}:{}", s.started_at.timestamp_millis()),
            CallReport {
                started_at: s.started_at,
                duration: s.start.elapsed(),
                state,
                transcript: s.transcript.clone(),
                turns: s.turns.clone(),
                barge_ins: Vec::new(),
                prompt_tokens: s.tokens.0,
                completion_tokens: s.tokens.1,
                cost_usd: s.tokens.2,
                recording: None,
                early_replies: Default::default(),
            },
        ))
    }

    /// Ends a rehearsal for good (after it was recorded).
    pub async fn forget(&self, chat: i64) -> Result<(), crate::store::StoreError> {
        self.sessions().remove(&chat);
        self.store.delete_rehearsal(chat).await
    }
}
